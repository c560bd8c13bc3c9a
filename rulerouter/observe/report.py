"""Reports from a decision log: what routing did and what it saved, computed, never asserted.

The log is the JSON-lines event stream the router writes (`[log] destination = "…"`). Only
`request` events are counted; other events (policy loads) are passed over. A line that is not
JSON, or a request event missing a field, is reported with its line number and the rest is
still counted.

The saving is worked out per answered request from its own tokens: what the answer's tokens
would have cost at the baseline model's prices, against what the request actually cost —
every attempt included (failed ones, judge calls, escalations). Requests whose cost is unknown
(a model without a price, an answer without usage) are left out of the comparison and counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..boundary import InvalidInput, check, read_json_lines
from ..policy.schema import Price

__all__ = ["LogRequest", "ReadLog", "build_report", "read_log", "spend_by_budget"]


@dataclass(frozen=True, slots=True)
class LogRequest:
    day: str
    tier: str
    decided_tier: str
    rule: str | None
    model: str | None
    ok: bool
    fallback: bool
    escalated: bool
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    latency_ms: float
    attempt_costs: tuple[tuple[str, float | None], ...]
    budgets: tuple[tuple[str, str, str], ...] = ()  # (budget, scope, window) that counted it


@dataclass
class ReadLog:
    requests: list[LogRequest] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lines: int = 0
    other_events: int = 0
    refused: dict[tuple[str, str], int] = field(default_factory=dict)  # (limit, reason) -> requests refused


def _day(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("'time' is missing or not a string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'time' is not an ISO timestamp: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).date().isoformat()


def _number(event: dict[str, Any], key: str, kind: type | tuple[type, ...], optional: bool = True) -> Any:
    value = event.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"'{key}' is not a number: {value!r}")
    return value


def _request(event: dict[str, Any]) -> LogRequest:
    tier = event.get("tier")
    if not isinstance(tier, str):
        raise ValueError("'tier' is missing or not a string")
    attempts = event.get("attempts", [])
    if not isinstance(attempts, list):
        raise ValueError("'attempts' is not a list")
    costs = []
    for attempt in attempts:
        if not isinstance(attempt, dict) or not isinstance(attempt.get("model"), str):
            raise ValueError("an attempt has no model")
        cost = attempt.get("cost")
        costs.append((attempt["model"], float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None))
    budgets = event.get("budgets", [])
    if not isinstance(budgets, list) or not all(isinstance(b, dict) and all(isinstance(b.get(k), str) for k in ("name", "scope", "window"))
                                                for b in budgets):
        raise ValueError("'budgets' is not a list of {name, scope, window}")
    return LogRequest(
        day=_day(event.get("time")),
        tier=tier,
        decided_tier=event.get("decided_tier") if isinstance(event.get("decided_tier"), str) else tier,
        rule=event.get("rule") if isinstance(event.get("rule"), str) else None,
        model=event.get("model") if isinstance(event.get("model"), str) else None,
        ok=event.get("outcome") == "ok",
        fallback=bool(event.get("fallback")),
        escalated=bool(event.get("escalated")),
        prompt_tokens=_number(event, "prompt_tokens", int),
        completion_tokens=_number(event, "completion_tokens", int),
        cost=_number(event, "cost", (int, float)),
        latency_ms=_number(event, "latency_ms", (int, float)) or 0.0,
        attempt_costs=tuple(costs),
        budgets=tuple((b["name"], b["scope"], b["window"]) for b in budgets),
    )


def read_log(path: str | Path) -> ReadLog:
    """Every request event of a log, and a `path:line: problem` for every line that is not one."""
    out = ReadLog()
    data = Path(path).read_bytes()
    out.lines = data.count(b"\n") + (not data.endswith(b"\n") and bool(data))
    for line in read_json_lines(data, str(path)):
        number = line.number
        if line.problem is not None:
            out.problems.append(f"{line.problem} (a truncated line?)")
            continue
        try:
            event = check(line.value, "", sent=False)[0]  # text repaired; NaN, 1e999, a 5,000-digit figure refused
        except InvalidInput as exc:
            out.problems.append(f"{path}:{number}: {exc}")
            continue
        if not isinstance(event, dict):
            out.problems.append(f"{path}:{number}: not a JSON object")
            continue
        if event.get("event") == "request_refused" and isinstance(event.get("limit"), str):
            key = (event["limit"], str(event.get("reason")))
            out.refused[key] = out.refused.get(key, 0) + 1
        if event.get("event") != "request":
            out.other_events += 1
            continue
        try:
            out.requests.append(_request(event))
        except ValueError as exc:
            out.problems.append(f"{path}:{number}: {exc}")
    return out


def _cost_at(price: Price, prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1_000_000


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def spend_by_budget(requests: list[LogRequest], refused: dict[tuple[str, str], int] | None = None,
                    limits: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """What each budget counted, per scope and window: requests, spend (known costs), share of the limit."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in requests:
        spent = sum(c for _, c in r.attempt_costs if c is not None)  # what the budget itself counted
        for name, scope, window in r.budgets:
            row = rows.setdefault((name, scope, window), {"budget": name, "scope": scope, "window": window, "requests": 0, "spent_usd": 0.0})
            row["requests"] += 1
            row["spent_usd"] += spent
    out = []
    for key in sorted(rows):
        row = rows[key]
        row["spent_usd"] = round(row["spent_usd"], 10)
        limit = (limits or {}).get(row["budget"])
        if limit is not None:
            row["limit_usd"] = limit
            row["share"] = row["spent_usd"] / limit
        out.append(row)
    for (name, reason), count in sorted((refused or {}).items()):
        out.append({"budget": name, "scope": "*", "window": "*", "requests": 0, "spent_usd": 0.0, "refused": count, "reason": reason})
    return out


def build_report(requests: list[LogRequest], *, baseline: str | None = None, baseline_price: Price | None = None) -> dict[str, Any]:
    """Tier mix, rates, cost per tier and model, and the saving against the baseline model."""
    total = len(requests)
    if total == 0:
        raise ValueError("the log holds no request events")
    tiers: defaultdict[str, dict[str, Any]] = defaultdict(lambda: {"requests": 0, "cost": 0.0, "unknown_cost": 0})
    models: defaultdict[str, dict[str, Any]] = defaultdict(lambda: {"answered": 0, "attempts": 0, "cost": 0.0, "unknown_cost": 0})
    rules: defaultdict[str, int] = defaultdict(int)
    days: defaultdict[str, dict[str, Any]] = defaultdict(lambda: {"requests": 0, "routed_cost": 0.0, "baseline_cost": 0.0, "compared": 0, "by_tier": defaultdict(int)})
    compared = left_out = 0
    routed_total = baseline_total = 0.0
    for r in requests:
        tier = tiers[r.tier]
        tier["requests"] += 1
        rules[r.rule or "(default)"] += 1
        day = days[r.day]
        day["requests"] += 1
        day["by_tier"][r.tier] += 1
        if r.cost is None:
            tier["unknown_cost"] += 1
        else:
            tier["cost"] += r.cost
        if r.ok and r.model:
            models[r.model]["answered"] += 1
        for model, cost in r.attempt_costs:
            models[model]["attempts"] += 1
            if cost is None:
                models[model]["unknown_cost"] += 1
            else:
                models[model]["cost"] += cost
        if baseline_price is None:
            continue
        if r.ok and r.cost is not None and r.prompt_tokens is not None and r.completion_tokens is not None:
            base = _cost_at(baseline_price, r.prompt_tokens, r.completion_tokens)
            compared += 1
            routed_total += r.cost
            baseline_total += base
            day["routed_cost"] += r.cost
            day["baseline_cost"] += base
            day["compared"] += 1
        else:
            left_out += 1
    span = sorted(days)
    calendar_days = (datetime.fromisoformat(span[-1]) - datetime.fromisoformat(span[0])).days + 1
    report: dict[str, Any] = {
        "requests": total,
        "answered": sum(1 for r in requests if r.ok),
        "first_day": span[0],
        "last_day": span[-1],
        "days": calendar_days,
        "tier_mix": {t: _share(v["requests"], total) for t, v in sorted(tiers.items())},
        "fallback_rate": _share(sum(r.fallback for r in requests), total),
        "escalation_rate": _share(sum(r.escalated for r in requests), total),
        "error_rate": _share(sum(not r.ok for r in requests), total),
        "rule_hits": dict(sorted(rules.items())),
        "by_tier": {t: {**v, "cost": round(v["cost"], 10)} for t, v in sorted(tiers.items())},
        "by_model": {m: {**v, "cost": round(v["cost"], 10)} for m, v in sorted(models.items())},
        "total_cost": round(sum(v["cost"] for v in tiers.values()), 10),
        "requests_with_unknown_cost": sum(v["unknown_cost"] for v in tiers.values()),
        "per_day": {
            d: {
                "requests": v["requests"],
                "routed_cost": round(v["routed_cost"], 10),
                "baseline_cost": round(v["baseline_cost"], 10),
                "by_tier": dict(sorted(v["by_tier"].items())),
            }
            for d, v in sorted(days.items())
        },
    }
    if baseline_price is not None:
        saving = baseline_total - routed_total
        report["baseline"] = {
            "model": baseline,
            "price": {"input_per_mtok": baseline_price.input_per_mtok, "output_per_mtok": baseline_price.output_per_mtok},
            "requests_compared": compared,
            "requests_left_out": left_out,
            "routed_cost": round(routed_total, 10),
            "baseline_cost": round(baseline_total, 10),
            "saving": round(saving, 10),
            "saving_share": _share(saving, baseline_total),
            "per_day": {"routed_cost": routed_total / calendar_days, "baseline_cost": baseline_total / calendar_days, "saving": saving / calendar_days},
            "per_30_days": {"routed_cost": routed_total / calendar_days * 30, "baseline_cost": baseline_total / calendar_days * 30, "saving": saving / calendar_days * 30},
        }
    return report
