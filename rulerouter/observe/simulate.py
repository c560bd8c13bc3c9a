"""What would a policy cost? Decide a file of prompts without calling any model, and price it.

Each prompt is decided by the policy; its input tokens are estimated from its text (about four
characters per token, system prompt and every message included) and its output tokens are
given (per prompt, or one figure for all). The cost per tier comes from the policy's prices and
is set against sending everything to a baseline model. With two policies, every prompt is
decided by both, and the report says how many change tier, which rules cause it, and the cost
difference — what a rule edit does to cost, before it is deployed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..boundary import InvalidInput, read_json_lines
from ..decide.compile import CompiledPolicy, Decision
from ..decide.inputs import Inputs, estimate_tokens
from ..policy.schema import Price

__all__ = ["SimItem", "compare", "read_prompts", "simulate"]


@dataclass(frozen=True)
class SimItem:
    line: int
    kwargs: dict[str, Any]
    input_tokens: int
    output_tokens: int | None
    count: int


@dataclass
class ReadPrompts:
    items: list[SimItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_FIELDS = ("prompt", "messages", "system_prompt", "metadata", "request")


def read_prompts(path: str | Path) -> ReadPrompts:
    """Prompts from JSON lines: a string, or an object with prompt/messages (+ system_prompt,
    metadata, request), optional `output_tokens` and `count` (how many such requests).

    Every line that is not one — not JSON (read as every JSONL file is, `boundary.read_json_lines`),
    a prompt that is not text, a value the request boundary refuses — is a `path:line: why`
    problem, never an empty prompt. Raises `OSError`, or `InvalidInput` for a file that is not UTF-8.
    """
    out = ReadPrompts()
    for line in read_json_lines(Path(path).read_bytes(), str(path)):
        number, record = line.number, line.value
        if line.problem is not None:
            out.problems.append(str(line.problem))
            continue
        if isinstance(record, str):
            record = {"prompt": record}
        if not isinstance(record, dict) or not any(k in record for k in ("prompt", "messages", "request")):
            out.problems.append(f"{path}:{number}: needs a prompt, messages or request")
            continue
        count = record.get("count", 1)
        output = record.get("output_tokens")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            out.problems.append(f"{path}:{number}: 'count' must be a positive integer")
            continue
        if output is not None and (not isinstance(output, int) or isinstance(output, bool) or output < 0):
            out.problems.append(f"{path}:{number}: 'output_tokens' must be a non-negative integer")
            continue
        if "request" in record and not isinstance(record["request"], dict):
            out.problems.append(f"{path}:{number}: 'request' must be an object (a chat-completions request body)")
            continue
        kwargs = {k: record[k] for k in _FIELDS if k in record}
        try:
            inputs = Inputs(kwargs.get("prompt"), kwargs.get("messages"), kwargs.get("system_prompt"), kwargs.get("metadata"), kwargs.get("request"))
        except InvalidInput as exc:
            out.problems.append(f"{path}:{number}: {exc}")
            continue
        out.items.append(SimItem(number, kwargs, estimate_tokens(inputs.text("all")), output, count))
    return out


def _price(compiled: CompiledPolicy, model: str) -> Price | None:
    spec = compiled.policy.models.get(model)
    return spec.price if spec is not None else None


def _cost(price: Price | None, tokens_in: int, tokens_out: int) -> float | None:
    if price is None:
        return None
    return (tokens_in * price.input_per_mtok + tokens_out * price.output_per_mtok) / 1_000_000


def _decide(compiled: CompiledPolicy, item: SimItem) -> Decision:
    k = item.kwargs
    return compiled.decide(Inputs(k.get("prompt"), k.get("messages"), k.get("system_prompt"), k.get("metadata"), k.get("request")))


def simulate(compiled: CompiledPolicy, items: list[SimItem], *, output_tokens: int, baseline: str | None = None, baseline_price: Price | None = None) -> dict[str, Any]:
    tiers: defaultdict[str, dict[str, Any]] = defaultdict(lambda: {"requests": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0, "unknown_cost": 0, "model": None})
    rules: defaultdict[str, int] = defaultdict(int)
    total = 0
    routed = base = 0.0
    unknown = 0
    for item in items:
        decision = _decide(compiled, item)
        out_tokens = item.output_tokens if item.output_tokens is not None else output_tokens
        row = tiers[decision.tier]
        row["model"] = decision.model
        row["requests"] += item.count
        row["input_tokens"] += item.input_tokens * item.count
        row["output_tokens"] += out_tokens * item.count
        rules[decision.rule or "(default)"] += item.count
        total += item.count
        cost = _cost(_price(compiled, decision.model), item.input_tokens, out_tokens)
        if cost is None:
            row["unknown_cost"] += item.count
            unknown += item.count
            continue
        row["cost"] += cost * item.count
        routed += cost * item.count
        if baseline_price is not None:
            base += _cost(baseline_price, item.input_tokens, out_tokens) * item.count  # type: ignore[operator]
    if total == 0:
        raise ValueError("no prompts to simulate")
    report: dict[str, Any] = {
        "requests": total,
        "tiers": {t: {**v, "share": v["requests"] / total, "cost": round(v["cost"], 10)} for t, v in sorted(tiers.items())},
        "rule_hits": dict(sorted(rules.items())),
        "routed_cost": round(routed, 10),
        "requests_with_unknown_cost": unknown,
    }
    if baseline_price is not None:
        report["baseline"] = {
            "model": baseline,
            "baseline_cost": round(base, 10),
            "routed_cost": round(routed, 10),
            "saving": round(base - routed, 10),
            "saving_share": (base - routed) / base if base else 0.0,
            "requests_left_out": unknown,
        }
    return report


def compare(first: CompiledPolicy, second: CompiledPolicy, items: list[SimItem], *, output_tokens: int) -> dict[str, Any]:
    """How many prompts change tier between two policies, why, and what it does to cost."""
    changes: defaultdict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"requests": 0, "because": defaultdict(int)})
    changed = total = 0
    cost = {"first": 0.0, "second": 0.0}
    unknown = {"first": 0, "second": 0}
    for item in items:
        a = _decide(first, item)
        b = _decide(second, item)
        out_tokens = item.output_tokens if item.output_tokens is not None else output_tokens
        total += item.count
        for key, compiled, decision in (("first", first, a), ("second", second, b)):
            value = _cost(_price(compiled, decision.model), item.input_tokens, out_tokens)
            if value is None:
                unknown[key] += item.count
            else:
                cost[key] += value * item.count
        if a.tier != b.tier:
            changed += item.count
            row = changes[(a.tier, b.tier)]
            row["requests"] += item.count
            row["because"][f"{a.rule or '(default)'} -> {b.rule or '(default)'}"] += item.count
    return {
        "requests": total,
        "changed": changed,
        "changed_share": changed / total if total else 0.0,
        "changes": [
            {"from": src, "to": dst, "requests": v["requests"], "because": dict(sorted(v["because"].items(), key=lambda kv: -kv[1]))}
            for (src, dst), v in sorted(changes.items(), key=lambda kv: -kv[1]["requests"])
        ],
        "first_cost": round(cost["first"], 10),
        "second_cost": round(cost["second"], 10),
        "cost_difference": round(cost["second"] - cost["first"], 10),
        "requests_with_unknown_cost": unknown,
    }
