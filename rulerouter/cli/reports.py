"""Commands that look at cost: report (from a decision log) and simulate (before deploying)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import PolicyError
from ..observe.report import build_report, read_log, spend_by_budget
from ..observe.report_html import render_html
from ..observe.simulate import compare, read_prompts, simulate
from ..policy.diagnostics import format_text
from ..policy.schema import Price
from ..router import Router
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    OUTPUT_TOKENS,
    Exit,
    add_config_arg,
    load_router,
    usage_error,
)
from .files import output_target, write_atomically


def _baseline(router: Router | None, name: str | None) -> tuple[str | None, Price | None]:
    if name is None:
        return None, None
    assert router is not None
    model = router.policy.models.get(name)
    if model is None:
        usage_error(f"--baseline {name!r} is not a model of {router.path} (models: {', '.join(sorted(router.policy.models))})")
    if model.price is None:
        usage_error(f"--baseline {name!r} has no price in {router.path}; a saving cannot be computed against it")
    return name, model.price


def _problems(problems: list[str], limit: int = 20) -> None:
    for line in problems[:limit]:
        print(line, file=sys.stderr)
    if len(problems) > limit:
        print(f"… and {len(problems) - limit} more problem line(s)", file=sys.stderr)


def _write(text: str, output: str | None, target: Path | None = None) -> None:
    if output is None or target is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        write_atomically(target, [text])
    except OSError as exc:
        raise Exit(2, f"rulerouter: cannot write {output}: {exc.strerror or exc}") from None
    print(f"wrote {output}", file=sys.stderr)


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _report_text(report: dict[str, Any]) -> str:
    lines = [
        f"requests: {report['requests']} ({report['answered']} answered) over {report['days']} day(s), {report['first_day']} to {report['last_day']}",
        f"fallback rate {_pct(report['fallback_rate'])}, escalation rate {_pct(report['escalation_rate'])}, error rate {_pct(report['error_rate'])}",
        "",
        f"{'tier':<16}{'share':>8}{'requests':>10}{'cost':>14}",
    ]
    for tier, row in report["by_tier"].items():
        unknown = f" (+{row['unknown_cost']} unknown)" if row["unknown_cost"] else ""
        lines.append(f"{tier:<16}{_pct(report['tier_mix'][tier]):>8}{row['requests']:>10}{row['cost']:>14.6f}{unknown}")
    lines += ["", f"{'model':<24}{'answered':>9}{'attempts':>9}{'cost':>14}"]
    for model, row in report["by_model"].items():
        unknown = f" (+{row['unknown_cost']} unknown)" if row["unknown_cost"] else ""
        lines.append(f"{model:<24}{row['answered']:>9}{row['attempts']:>9}{row['cost']:>14.6f}{unknown}")
    lines += ["", f"total cost: ${report['total_cost']:.6f}" + (f" (+{report['requests_with_unknown_cost']} requests of unknown cost)" if report["requests_with_unknown_cost"] else "")]
    if report.get("budgets"):
        lines += ["", f"{'budget':<20}{'scope':<18}{'window':<18}{'requests':>9}{'spent':>12}{'of limit':>10}"]
        for row in report["budgets"]:
            if "refused" in row:
                lines.append(f"{row['budget']:<20}{'':<18}{'':<18}  refused {row['refused']} ({row['reason']})")
                continue
            share = _pct(row["share"]) if "share" in row else "?"
            lines.append(f"{row['budget']:<20}{row['scope'][:17]:<18}{row['window']:<18}{row['requests']:>9}{row['spent_usd']:>12.6f}{share:>10}")
    baseline = report.get("baseline")
    if baseline:
        lines += [
            f"against sending everything to {baseline['model']} (the same answers' tokens at its prices, {baseline['requests_compared']} requests compared"
            + (f", {baseline['requests_left_out']} left out: errors or unknown cost" if baseline["requests_left_out"] else "") + "):",
            f"  routed ${baseline['routed_cost']:.6f} vs ${baseline['baseline_cost']:.6f} -> saving ${baseline['saving']:.6f} ({_pct(baseline['saving_share'])})",
            f"  per day: ${baseline['per_day']['routed_cost']:.4f} vs ${baseline['per_day']['baseline_cost']:.4f}, saving ${baseline['per_day']['saving']:.4f}",
            f"  per 30 days: ${baseline['per_30_days']['routed_cost']:.2f} vs ${baseline['per_30_days']['baseline_cost']:.2f}, saving ${baseline['per_30_days']['saving']:.2f}",
        ]
    if report["days"] > 1 or len(report["per_day"]) > 1:
        lines += ["", f"{'day':<12}{'requests':>9}{'routed':>14}{'baseline':>14}"]
        for day, row in report["per_day"].items():
            lines.append(f"{day:<12}{row['requests']:>9}{row['routed_cost']:>14.6f}{row['baseline_cost']:>14.6f}")
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> int:
    target = output_target(args.output, "--output", {"LOG.jsonl": args.log, "-c": args.config}) if args.output else None
    router = load_router(args) if args.baseline or args.config else None
    baseline, price = _baseline(router, args.baseline)
    try:
        log = read_log(args.log)
    except OSError as exc:
        raise Exit(2, f"rulerouter: cannot read {args.log}: {exc.strerror or exc}") from None
    _problems(log.problems)
    try:
        report = build_report(log.requests, baseline=baseline, baseline_price=price)
    except ValueError:
        raise Exit(EXIT_FAILED, f"rulerouter: {args.log} holds no request events ({log.lines} line(s), {len(log.problems)} unreadable, "
                                f"{log.other_events} other event(s)); nothing to report") from None
    report["log"] = {"path": args.log, "lines": log.lines, "problems": len(log.problems), "other_events": log.other_events}
    limits = {b.name: b.limit_usd for b in router.policy.budgets} if router is not None else None
    budgets = spend_by_budget(log.requests, log.refused, limits)
    if budgets:
        report["budgets"] = budgets
    if args.format == "json":
        _write(json.dumps(report, indent=2), args.output, target)
    elif args.format == "html":
        _write(render_html(report, title=f"rulerouter report — {Path(args.log).name}"), args.output, target)
    else:
        _write(_report_text(report), args.output, target)
    return EXIT_OK


def _simulate_text(report: dict[str, Any]) -> str:
    lines = [f"{report['requests']} requests decided (no model called)", "", f"{'tier':<14}{'model':<22}{'share':>8}{'in tok':>14}{'out tok':>14}{'cost':>14}"]
    for tier, row in report["tiers"].items():
        unknown = f" (+{row['unknown_cost']} unknown)" if row["unknown_cost"] else ""
        lines.append(f"{tier:<14}{row['model']:<22}{_pct(row['share']):>8}{row['input_tokens']:>14,}{row['output_tokens']:>14,}{row['cost']:>14.4f}{unknown}")
    lines.append(f"\nrouted cost: ${report['routed_cost']:.4f}")
    baseline = report.get("baseline")
    if baseline:
        lines.append(f"all to {baseline['model']}: ${baseline['baseline_cost']:.4f} -> saving ${baseline['saving']:.4f} ({_pct(baseline['saving_share'])})")
    return "\n".join(lines)


def _compare_text(result: dict[str, Any], first: str, second: str) -> str:
    lines = [f"{result['changed']} of {result['requests']} requests ({_pct(result['changed_share'])}) change tier from {first} to {second}"]
    for change in result["changes"]:
        lines.append(f"  {change['from']} -> {change['to']}: {change['requests']}")
        for because, count in change["because"].items():
            lines.append(f"      rule {because}: {count}")
    lines.append(f"cost: ${result['first_cost']:.4f} -> ${result['second_cost']:.4f} ({result['cost_difference']:+.4f})")
    return "\n".join(lines)


def cmd_simulate(args: argparse.Namespace) -> int:
    router = load_router(args)
    try:
        prompts = read_prompts(args.prompts)
    except OSError as exc:
        raise Exit(2, f"rulerouter: cannot read {args.prompts}: {exc.strerror or exc}") from None
    _problems(prompts.problems)
    if not prompts.items:
        raise Exit(EXIT_FAILED, f"rulerouter: {args.prompts} holds no usable prompts")
    if args.compare:
        try:
            other = Router.from_file(args.compare)
        except PolicyError as exc:
            raise Exit(EXIT_FAILED, format_text(exc.diagnostics)) from None
        result = compare(router.compiled, other.compiled, prompts.items, output_tokens=args.output_tokens)
        text = json.dumps(result, indent=2) if args.format == "json" else _compare_text(result, router.path, other.path)
    else:
        baseline, price = _baseline(router, args.baseline)
        report = simulate(router.compiled, prompts.items, output_tokens=args.output_tokens, baseline=baseline, baseline_price=price)
        text = json.dumps(report, indent=2) if args.format == "json" else _simulate_text(report)
    _write(text, None)
    if prompts.problems:  # the figures leave those lines out: not a result to take as the whole file's
        print(f"rulerouter: {len(prompts.problems)} line(s) of {args.prompts} could not be decided and are left out of the figures",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="tier mix, rates, cost and savings from a decision log")
    report.add_argument("log", metavar="LOG.jsonl", help="the router's event log ([log] destination)")
    add_config_arg(report)
    report.add_argument("--baseline", metavar="MODEL", help="compare against sending everything to this model (priced in the -c file)")
    report.add_argument("--format", choices=("text", "json", "html"), default="text")
    report.add_argument("--output", metavar="FILE", help="write here instead of standard output")
    report.set_defaults(handler=cmd_report)

    sim = commands.add_parser("simulate", help="decide a file of prompts without calling models, and price it")
    sim.add_argument("prompts", metavar="PROMPTS.jsonl", help="one prompt per line: a string, or an object with prompt/messages, output_tokens, count")
    add_config_arg(sim)
    sim.add_argument("--baseline", metavar="MODEL", help="compare against sending everything to this model")
    sim.add_argument("--output-tokens", type=OUTPUT_TOKENS, default=500, metavar="N", help="output tokens per request when a prompt does not say (default 500)")
    sim.add_argument("--compare", metavar="OTHER.toml", help="decide with both policies and show what changes")
    sim.add_argument("--format", choices=("text", "json"), default="text")
    sim.set_defaults(handler=cmd_simulate)
