"""The report as one self-contained HTML page: inline CSS and SVG charts, no scripts, no fetches.

Charts: the tier mix, cost by model, routed cost against the baseline, and — when the log spans
more than one day — requests per day by tier and cost per day against the baseline.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render_html"]

_PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac", "#eeca3b")
_ROUTED, _BASELINE = "#4c78a8", "#bab0ac"


def _money(value: float) -> str:
    return f"${value:,.4f}" if abs(value) < 10 else f"${value:,.2f}"


def _hbars(chart_id: str, rows: list[tuple[str, float, str, str]], width: int = 640) -> str:
    """Horizontal bars: (label, value, text shown at the bar's end, colour)."""
    bar_h, gap, label_w = 22, 10, 170
    top = max((value for _, value, _, _ in rows), default=0) or 1
    height = len(rows) * (bar_h + gap) + gap
    parts = [f'<svg id="{chart_id}" class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for index, (label, value, text, colour) in enumerate(rows):
        y = gap + index * (bar_h + gap)
        length = max(1.0, (width - label_w - 110) * value / top) if value > 0 else 0
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="{colour}"><title>{escape(label)}: {escape(text)}</title></rect>')
        parts.append(f'<text x="{label_w + length + 6:.1f}" y="{y + 16}">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _columns(chart_id: str, days: list[str], series: list[tuple[str, str, list[float]]], *, stacked: bool, money: bool, width: int = 760) -> str:
    """Columns per day: several series side by side, or stacked."""
    height, left, bottom, top_pad = 260, 70, 40, 14
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    totals = [sum(s[2][i] for s in series) for i in range(len(days))] if stacked else [max(s[2][i] for s in series) for i in range(len(days))]
    top = max(totals, default=0) or 1
    slot = plot_w / max(len(days), 1)
    bar_w = slot * 0.7 / (1 if stacked else len(series))
    parts = [f'<svg id="{chart_id}" class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for fraction in (0, 0.5, 1):
        y = top_pad + plot_h * (1 - fraction)
        label = _money(top * fraction) if money else f"{top * fraction:.0f}"
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for i, day in enumerate(days):
        x0 = left + i * slot + slot * 0.15
        base = 0.0
        for j, (name, colour, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / top
            x = x0 if stacked else x0 + j * bar_w
            y = top_pad + plot_h - h - (plot_h * base / top if stacked else 0)
            shown = _money(value) if money else f"{value:g}"
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}"><title>{escape(day)} {escape(name)}: {shown}</title></rect>')
            if stacked:
                base += value
        if len(days) <= 31:
            parts.append(f'<text x="{x0 + slot * 0.35:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="small">{escape(day[5:])}</text>')
    parts.append("</svg>")
    legend = "".join(f'<span class="key"><i style="background:{c}"></i>{escape(n)}</span>' for n, c, _ in series)
    return f'{"".join(parts)}<div class="legend">{legend}</div>'


def render_html(report: dict[str, Any], *, title: str = "rulerouter report") -> str:
    tiers = list(report["tier_mix"])
    colours = {t: _PALETTE[i % len(_PALETTE)] for i, t in enumerate(tiers)}
    tier_rows = [(t, share, f"{share:.1%} ({report['by_tier'][t]['requests']})", colours[t]) for t, share in report["tier_mix"].items()]
    model_rows = [
        (m, v["cost"], _money(v["cost"]) + (f" + {v['unknown_cost']} unknown" if v["unknown_cost"] else ""), _PALETTE[i % len(_PALETTE)])
        for i, (m, v) in enumerate(sorted(report["by_model"].items(), key=lambda kv: -kv[1]["cost"]))
    ]
    cards = [
        ("requests", f"{report['requests']:,}"),
        ("days", f"{report['days']} ({report['first_day']} – {report['last_day']})"),
        ("fallback rate", f"{report['fallback_rate']:.1%}"),
        ("escalation rate", f"{report['escalation_rate']:.1%}"),
        ("error rate", f"{report['error_rate']:.1%}"),
        ("total cost", _money(report["total_cost"]) + (f" (+{report['requests_with_unknown_cost']} unknown)" if report["requests_with_unknown_cost"] else "")),
    ]
    sections = [
        '<section><h2>Tier mix</h2>' + _hbars("tier-mix", tier_rows) + "</section>",
        '<section><h2>Cost by model</h2><p class="note">Every attempt counts: failed ones, judge calls and escalations included.</p>' + _hbars("cost-by-model", model_rows) + "</section>",
    ]
    baseline = report.get("baseline")
    if baseline is not None:
        cards.insert(0, ("saving vs " + str(baseline["model"]), f"{baseline['saving_share']:.1%}"))
        rows = [
            ("routed", baseline["routed_cost"], _money(baseline["routed_cost"]), _ROUTED),
            (f"all to {baseline['model']}", baseline["baseline_cost"], _money(baseline["baseline_cost"]), _BASELINE),
        ]
        per_30 = baseline["per_30_days"]
        left_out = baseline["requests_left_out"]
        left_out_note = f"; {left_out:,} left out (errors or unknown cost)" if left_out else ""
        sections.append(
            f'<section><h2>Saving against {escape(str(baseline["model"]))}</h2>'
            f'<p class="note">The same answers\' tokens at {escape(str(baseline["model"]))}\'s prices '
            f'(${baseline["price"]["input_per_mtok"]:g} / ${baseline["price"]["output_per_mtok"]:g} per million input / output tokens), '
            f'over {baseline["requests_compared"]:,} answered requests with a known cost{left_out_note}.</p>'
            + _hbars("saving", rows)
            + f'<p>Saving: <b>{_money(baseline["saving"])}</b> ({baseline["saving_share"]:.1%}) — '
            f'{_money(baseline["per_day"]["saving"])} per day, {_money(per_30["saving"])} per 30 days '
            f'({_money(per_30["routed_cost"])} routed against {_money(per_30["baseline_cost"])}).</p></section>'
        )
    days = list(report["per_day"])
    if len(days) > 1:
        per_day = report["per_day"]
        tier_series = [(t, colours[t], [float(per_day[d]["by_tier"].get(t, 0)) for d in days]) for t in tiers]
        sections.append('<section><h2>Requests per day, by tier</h2>' + _columns("requests-over-time", days, tier_series, stacked=True, money=False) + "</section>")
        if baseline is not None:
            cost_series = [
                ("routed", _ROUTED, [per_day[d]["routed_cost"] for d in days]),
                (f"all to {baseline['model']}", _BASELINE, [per_day[d]["baseline_cost"] for d in days]),
            ]
            sections.append('<section><h2>Cost per day against the baseline</h2>' + _columns("cost-over-time", days, cost_series, stacked=False, money=True) + "</section>")
    card_html = "".join(f'<div class="card"><div class="label">{escape(k)}</div><div class="value">{escape(v)}</div></div>' for k, v in cards)
    rule_rows = "".join(f"<tr><td>{escape(r)}</td><td>{n:,}</td></tr>" for r, n in report["rule_hits"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 860px; color: #222; }}
h1 {{ font-size: 1.5rem; margin-bottom: .2rem; }} h2 {{ font-size: 1.1rem; margin: 1.6rem 0 .4rem; }}
.cards {{ display: flex; flex-wrap: wrap; gap: .6rem; margin: 1rem 0; }}
.card {{ border: 1px solid #ddd; border-radius: 6px; padding: .5rem .8rem; min-width: 120px; }}
.card .label {{ color: #666; font-size: .8rem; }} .card .value {{ font-size: 1.15rem; font-weight: 600; }}
.chart text {{ font-size: 12px; fill: #333; }} .chart .small {{ font-size: 10px; }} .grid {{ stroke: #e5e5e5; }}
.note {{ color: #555; font-size: .85rem; margin: 0 0 .4rem; }}
.legend .key {{ margin-right: 1rem; font-size: .85rem; }} .legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
table {{ border-collapse: collapse; }} td {{ padding: 2px 12px 2px 0; }}
</style></head>
<body>
<h1>{escape(title)}</h1>
<div class="cards">{card_html}</div>
{''.join(sections)}
<section><h2>Rule hits</h2><table>{rule_rows}</table></section>
</body></html>
"""
