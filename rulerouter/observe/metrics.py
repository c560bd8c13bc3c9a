"""Routing metrics: the article's `RoutingMetrics`, safe under concurrency, plus Prometheus.

One `Metrics` per router counts every routed call: requests by tier, model, rule and outcome;
attempts by model, purpose and error kind; tokens and cost per model; fallbacks, escalations,
errors; latency. `summary()` returns the figures as a dict; `prometheus()` renders them in the
Prometheus text exposition format for the gateway's `/metrics`.

Label values come only from the policy (tier, model and rule names) and from fixed sets
(outcomes, purposes, error kinds), so the number of series stays bounded whatever the traffic.
Updates take one lock for a few dictionary increments; latency percentiles come from a ring of
the last 10,000 requests.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from ..execute.result import Attempt, Usage

__all__ = ["LATENCY_BUCKETS", "Metrics", "labels"]

#: Histogram buckets for request latency, in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_RING = 10_000


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    rank = q * (len(sorted_values) - 1)
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(names: tuple[str, ...], values: tuple[Any, ...]) -> str:
    """A Prometheus label set, values escaped."""
    return "{" + ",".join(f'{n}="{_escape(str(v))}"' for n, v in zip(names, values)) + "}"


class Metrics:
    """Counters for one router. Every method is safe to call from many threads and tasks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
            self.attempts: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
            self.tokens: defaultdict[tuple[str, str], int] = defaultdict(int)
            self.cost: defaultdict[str, float] = defaultdict(float)
            self.unknown_cost: defaultdict[str, int] = defaultdict(int)
            self.fallbacks = 0
            self.escalations = 0
            self.errors = 0
            self.streams = 0
            self.refused: defaultdict[tuple[str, str], int] = defaultdict(int)
            self.connections_refused: defaultdict[str, int] = defaultdict(int)
            self.buckets: defaultdict[str, list[int]] = defaultdict(lambda: [0] * (len(LATENCY_BUCKETS) + 1))
            self.latency_sum: defaultdict[str, float] = defaultdict(float)
            self._ring: list[float] = []
            self._ring_at = 0

    def record(
        self,
        *,
        tier: str,
        model: str,
        rule: str | None,
        outcome: str,
        attempts: Iterable[Attempt],
        latency_s: float,
        fallback: bool = False,
        escalated: bool = False,
        stream: bool = False,
    ) -> None:
        """Count one routed call. `outcome` is "ok" or the error's kind (e.g. "all_failed")."""
        rule_label = rule or "(default)"
        with self._lock:
            self.requests[(tier, model, rule_label, outcome)] += 1
            for attempt in attempts:
                self.attempts[(attempt.model, attempt.purpose, attempt.outcome, attempt.error_kind or "")] += 1
                usage: Usage | None = attempt.usage
                if usage is not None:
                    self.tokens[(attempt.model, "prompt")] += usage.prompt_tokens
                    self.tokens[(attempt.model, "completion")] += usage.completion_tokens
                if attempt.cost is None:
                    self.unknown_cost[attempt.model] += 1
                else:
                    self.cost[attempt.model] += attempt.cost
            self.fallbacks += fallback
            self.escalations += escalated
            self.errors += outcome != "ok"
            self.streams += stream
            self.buckets[tier][bisect_left(LATENCY_BUCKETS, latency_s)] += 1
            self.latency_sum[tier] += latency_s
            if len(self._ring) < _RING:
                self._ring.append(latency_s)
            else:
                self._ring[self._ring_at] = latency_s
                self._ring_at = (self._ring_at + 1) % _RING

    def record_refusal(self, limit: str, reason: str) -> None:
        """Count a request refused by a budget or rate limit (`reason`: budget, requests, tokens, unavailable)."""
        with self._lock:
            self.refused[(limit, reason)] += 1

    def record_connection_refused(self, reason: str) -> None:
        """Count a connection the gateway's server refused before its request reached the app
        (`reason`: headers_too_large, too_many_headers, uri_too_long, request_timeout, too_many_connections, …)."""
        with self._lock:
            self.connections_refused[reason] += 1

    _KEYED = ("requests", "attempts", "tokens", "cost", "unknown_cost", "refused", "connections_refused")
    _TOTALS = ("fallbacks", "escalations", "errors", "streams")

    def export(self) -> dict[str, Any]:
        """Every counter as JSON-ready data, for adding into another process's `Metrics`."""
        with self._lock:
            out: dict[str, Any] = {name: [[*(k if isinstance(k, tuple) else (k,)), v] for k, v in getattr(self, name).items()]
                                   for name in self._KEYED}
            out.update({name: getattr(self, name) for name in self._TOTALS})
            out["buckets"] = {tier: list(counts) for tier, counts in self.buckets.items()}
            out["latency_sum"] = dict(self.latency_sum)
            return out

    def absorb(self, exported: dict[str, Any]) -> None:
        """Add counters `export()`ed elsewhere (another worker's) into these."""
        with self._lock:
            for name in self._KEYED:
                series = getattr(self, name)
                for *key, value in exported.get(name, ()):
                    series[tuple(key) if len(key) > 1 else key[0]] += value
            for name in self._TOTALS:
                setattr(self, name, getattr(self, name) + exported.get(name, 0))
            for tier, counts in exported.get("buckets", {}).items():
                mine = self.buckets[tier]
                for i, count in enumerate(counts[: len(mine)]):
                    mine[i] += count
            for tier, total in exported.get("latency_sum", {}).items():
                self.latency_sum[tier] += total

    def summary(self) -> dict[str, Any]:
        """The figures as plain data: counts, rates, tokens and cost per model, latency."""
        with self._lock:
            total = sum(self.requests.values())
            by_tier: defaultdict[str, int] = defaultdict(int)
            by_rule: defaultdict[str, int] = defaultdict(int)
            for (tier, _, rule, _), count in self.requests.items():
                by_tier[tier] += count
                by_rule[rule] += count
            models = sorted({m for m, _ in self.tokens} | set(self.cost) | set(self.unknown_cost))
            per_model = {
                model: {
                    "prompt_tokens": self.tokens.get((model, "prompt"), 0),
                    "completion_tokens": self.tokens.get((model, "completion"), 0),
                    "cost": round(self.cost.get(model, 0.0), 10),
                    "attempts_with_unknown_cost": self.unknown_cost.get(model, 0),
                }
                for model in models
            }
            ring = sorted(self._ring)
            rate = (lambda n: n / total) if total else (lambda n: 0.0)
            return {
                "total_requests": total,
                "tier_distribution": {tier: rate(count) for tier, count in sorted(by_tier.items())},
                "rule_hits": dict(sorted(by_rule.items())),
                "fallback_rate": rate(self.fallbacks),
                "escalation_rate": rate(self.escalations),
                "error_rate": rate(self.errors),
                "streams": self.streams,
                "refused": {f"{limit}:{reason}": count for (limit, reason), count in sorted(self.refused.items())},
                "models": per_model,
                "total_cost": round(sum(self.cost.values()), 10),
                "cost_complete": not any(self.unknown_cost.values()),
                "latency_ms": {
                    "p50": _percentile(ring, 0.5) * 1000,
                    "p90": _percentile(ring, 0.9) * 1000,
                    "p99": _percentile(ring, 0.99) * 1000,
                },
            }

    def prometheus(self, extra: Iterable[str] = ()) -> str:
        """Prometheus text exposition (version 0.0.4) of every counter and histogram."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        with self._lock:
            labelled: tuple[tuple[str, str, tuple[str, ...], dict[Any, Any], str], ...] = (
                ("rulerouter_requests_total", "Routed calls by tier, model used, rule and outcome.", ("tier", "model", "rule", "outcome"), self.requests, "d"),
                ("rulerouter_attempts_total", "Upstream attempts by model, purpose, outcome and error kind.", ("model", "purpose", "outcome", "error_kind"), self.attempts, "d"),
                ("rulerouter_tokens_total", "Tokens reported by upstreams, by model and kind.", ("model", "kind"), self.tokens, "d"),
                ("rulerouter_cost_usd_total", "Cost in US dollars from the policy's prices, by model.", ("model",), self.cost, ".10g"),
                ("rulerouter_unknown_cost_attempts_total", "Attempts whose cost is unknown (no price or no usage).", ("model",), self.unknown_cost, "d"),
                ("rulerouter_refused_total", "Requests refused by a budget or rate limit, by limit and reason.", ("limit", "reason"), self.refused, "d"),
                ("rulerouter_connections_refused_total", "Connections the gateway's server refused before the request reached it (head too large or too slow, too many connections), by reason.", ("reason",), self.connections_refused, "d"),
            )
            for name, help_text, label_names, series, number in labelled:
                family(name, "counter", help_text)
                for key, value in sorted(series.items()):
                    values = key if isinstance(key, tuple) else (key,)
                    lines.append(f"{name}{labels(label_names, values)} {value:{number}}")
            for name, value, help_text in (
                ("rulerouter_fallbacks_total", self.fallbacks, "Calls answered after a retry or by a fallback model."),
                ("rulerouter_escalations_total", self.escalations, "Answers re-run on a stronger tier after verification."),
                ("rulerouter_errors_total", self.errors, "Calls that ended without an answer."),
            ):
                family(name, "counter", help_text)
                lines.append(f"{name} {value}")
            family("rulerouter_request_duration_seconds", "histogram", "Latency of routed calls, by tier.")
            for tier, counts in sorted(self.buckets.items()):
                cumulative = 0
                for bound, count in zip(LATENCY_BUCKETS, counts):
                    cumulative += count
                    lines.append(f'rulerouter_request_duration_seconds_bucket{{tier="{_escape(tier)}",le="{bound}"}} {cumulative}')
                cumulative += counts[-1]
                lines.append(f'rulerouter_request_duration_seconds_bucket{{tier="{_escape(tier)}",le="+Inf"}} {cumulative}')
                lines.append(f'rulerouter_request_duration_seconds_sum{{tier="{_escape(tier)}"}} {self.latency_sum[tier]:.6f}')
                lines.append(f'rulerouter_request_duration_seconds_count{{tier="{_escape(tier)}"}} {cumulative}')
        lines.extend(extra)
        return "\n".join(lines) + "\n"
