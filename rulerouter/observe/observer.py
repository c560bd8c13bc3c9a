"""The observer: one structured event per routed call, and the metrics, from one place.

An `Observer` is what a router reports to: it counts every call in its `Metrics` and, when
the rule file's `[log]` table asks for events, writes one `request` event per call to its
`EventLog` (`events.py`). Prompt and answer text are left out unless `include_text = true`.
Embedding services can also receive every event as a dict with `Observer.add_sink()`.

Event kinds: `request` (a routed call that was answered or failed), `request_refused` (a
budget or rate limit said no before any call), `budget_warning` (a budget's spend passed one of
its `warn_at` fractions), `policy_loaded`, `policy_reloaded` and `policy_reload_failed`; the
state backend adds `state_unavailable` and `state_restored`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..errors import BudgetExceeded, LimitExceeded, RateLimited
from ..execute.redact import Redactor
from ..policy.schema import Log
from .events import EventLog
from .metrics import Metrics

if TYPE_CHECKING:  # results exist once the executor (and its result module) has loaded
    from ..execute.result import Attempt, ExecutionError, Result

__all__ = ["Observer", "policy_event", "request_event"]

Sink = Callable[[dict[str, Any]], None]


def _attempt_event(attempt: Attempt) -> dict[str, Any]:
    usage = attempt.usage
    return {
        "model": attempt.model,
        "purpose": attempt.purpose,
        "outcome": attempt.outcome,
        "error_kind": attempt.error_kind,
        "status": attempt.status,
        "latency_ms": round(attempt.latency_s * 1000, 3),
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "cost": attempt.cost,
        "waited_ms": round(attempt.waited_s * 1000, 3),
        "message": attempt.message,
    }


def request_event(
    *,
    request_id: str,
    decided_tier: str,
    rule: str | None,
    stream: bool,
    result: Result | None = None,
    error: ExecutionError | None = None,
    latency_s: float,
    include_text: bool = False,
    prompt: str | None = None,
) -> dict[str, Any]:
    """The `request` event of one routed call, from its result or its error."""
    attempts = result.attempts if result is not None else (error.attempts if error is not None else [])
    costs = [a.cost for a in attempts]
    known = all(c is not None for c in costs)
    answer = result.usage if result is not None else None
    event: dict[str, Any] = {
        "request_id": request_id,
        "outcome": "ok" if result is not None else "error",
        "tier": result.tier if result is not None else decided_tier,
        "decided_tier": decided_tier,
        "rule": rule,
        "model": result.model_used if result is not None else None,
        "attempt": result.attempt if result is not None else None,
        "stream": stream,
        "fallback": bool(result is not None and result.attempt > 1),
        "escalated": bool(result is not None and result.escalated),
        "escalation_reason": result.escalation_reason if result is not None else None,
        "judge_score": result.judge_score if result is not None else None,
        "prompt_tokens": answer.prompt_tokens if answer is not None else None,
        "completion_tokens": answer.completion_tokens if answer is not None else None,
        "cost": round(sum(c for c in costs if c is not None), 10) if known else None,
        "cost_known": known,
        "latency_ms": round(latency_s * 1000, 3),
        "attempts": [_attempt_event(a) for a in attempts],
    }
    budgets = result.budgets if result is not None else (error.budgets if error is not None else [])
    if budgets:
        event["budgets"] = budgets
    repaired = result.repaired if result is not None else (error.repaired if error is not None else ())
    if repaired:
        event["repaired"] = list(repaired)  # field names only: the text itself is never logged unless asked
    if error is not None:
        event["error"] = {"type": type(error).__name__, "message": error.summary}
        from ..execute.result import Cancelled

        if isinstance(error, Cancelled):  # the caller left: say so, and what is known to have been spent
            event["outcome"] = "cancelled"
            event["cost_so_far"] = round(sum(c for c in costs if c is not None), 10)
    if include_text:
        event["prompt"] = prompt
        event["answer"] = result.content if result is not None else None
    return event


def policy_event(checked: Any) -> dict[str, Any]:
    """The `policy_loaded` / `policy_reloaded` event of a checked rule file."""
    policy = checked.policy
    return {
        "path": checked.path,
        "rules": len(policy.rules) if policy is not None else None,
        "tiers": sorted(policy.tiers) if policy is not None else None,
        "errors": [d.format() for d in checked.diagnostics if d.is_error],
        "warnings": [d.format() for d in checked.diagnostics if not d.is_error],
    }


class Observer:
    """Where a router reports what it did: metrics always, events when configured."""

    def __init__(self, settings: Log, redact: Redactor, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.events = EventLog(settings, redact)
        self._redact = redact
        self._sinks: list[Sink] = []

    def scrub(self, text: str) -> str:
        """`text` with every secret this router knows (API keys, client keys) masked."""
        return self._redact(text)

    def add_sink(self, sink: Sink) -> None:
        """Also send every event, as a dict with an `event` key, to `sink` (already scrubbed)."""
        self._sinks.append(sink)

    def emit(self, kind: str, fields: dict[str, Any]) -> None:
        self.events.emit(kind, fields)
        if self._sinks:
            event = {"event": kind, **self.events._clean(fields)}
            for sink in self._sinks:
                sink(event)

    @property
    def wants_events(self) -> bool:
        return self.events._logger is not None or bool(self._sinks)

    def answered(self, result: Result, *, stream: bool = False, prompt: str | None = None) -> None:
        self.metrics.record(
            tier=result.tier,
            model=result.model_used,
            rule=result.rule,
            outcome="ok",
            attempts=result.attempts,
            latency_s=result.latency_s,
            fallback=result.attempt > 1,
            escalated=result.escalated,
            stream=stream,
        )
        if self.wants_events:
            self.emit("request", request_event(
                request_id=result.request_id, decided_tier=result.decided_tier, rule=result.rule, stream=stream,
                result=result, latency_s=result.latency_s, include_text=self.settings.include_text, prompt=prompt,
            ))

    def failed(self, error: ExecutionError, *, tier: str, rule: str | None, latency_s: float, stream: bool = False, prompt: str | None = None) -> None:
        last_model = error.attempts[-1].model if error.attempts else "(none)"
        kind = {"AllAttemptsFailed": "all_failed", "UpstreamRejected": "rejected", "StreamInterrupted": "stream_interrupted",
                "Cancelled": "cancelled"}.get(type(error).__name__, "error")
        self.metrics.record(tier=tier, model=last_model, rule=rule, outcome=kind, attempts=error.attempts, latency_s=latency_s, stream=stream)
        if self.wants_events:
            self.emit("request", request_event(
                request_id=error.request_id or "", decided_tier=tier, rule=rule, stream=stream, error=error,
                latency_s=latency_s, include_text=self.settings.include_text, prompt=prompt,
            ))

    def refused(self, error: LimitExceeded, *, tier: str, rule: str | None) -> None:
        if error.unavailable:
            reason = "unavailable"
        elif isinstance(error, RateLimited):
            reason = error.kind
        else:
            reason = "budget"
        self.metrics.record_refusal(error.name, reason)
        if self.wants_events:
            fields: dict[str, Any] = {"limit": error.name, "reason": reason, "scope": error.scope, "tier": tier, "rule": rule,
                                      "retry_after_s": round(error.retry_after_s, 3), "message": str(error)}
            if isinstance(error, BudgetExceeded):
                fields.update(spent_usd=round(error.spent_usd, 10), limit_usd=error.limit_usd, window=error.window)
            self.emit("request_refused", fields)

    def flush(self) -> None:
        """Write out any events still waiting in the buffer."""
        self.events.flush()

    def close(self) -> None:
        self.events.close()
