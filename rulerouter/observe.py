"""Observe: one structured event per routed call, and the metrics, from one place.

Events are rendered by a structlog pipeline built for this router alone (no global structlog
configuration is touched, so an application's own logging is left as it is): a scrubber that
removes anything credential-shaped, an ISO timestamp, then JSON lines or a human-readable
console line, written to stderr, stdout or a file — as the rule file's `[log]` table says.
Prompt and answer text are left out unless `include_text = true`. Embedding services can also
receive every event as a dict with `Observer.add_sink()`.

Event kinds: `request` (a routed call that was answered or failed), `policy_loaded`,
`policy_reloaded` and `policy_reload_failed`.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import IO, Any, Callable

import structlog

from .metrics import Metrics
from .result import Attempt, ExecutionError, Result
from .schema import Log
from .upstream import Redactor

__all__ = ["EventLog", "Observer", "policy_event", "request_event"]

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
    if error is not None:
        event["error"] = {"type": type(error).__name__, "message": error.summary}
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


_WRITERS: weakref.WeakSet[_BufferedWriter] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    for writer in list(_WRITERS):
        writer.flush()


class _BufferedWriter:
    """A structlog logger that writes lines in batches instead of one write and flush per event.

    Lines are flushed when 64 KiB are waiting, when the oldest has waited 0.2 s (checked on
    each write and by a daemon thread), and on close — so a busy gateway makes a handful of
    write calls a second instead of one per request, and a quiet one still shows each event
    within a fraction of a second.
    """

    _LIMIT = 64 * 1024
    _DELAY = 0.2

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._size = 0
        self._since = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="rulerouter-events", daemon=True)
        self._thread.start()
        _WRITERS.add(self)

    def msg(self, message: str) -> None:
        with self._lock:
            if not self._lines:
                self._since = time.monotonic()
            self._lines.append(message + "\n")
            self._size += len(message) + 1
            if self._size >= self._LIMIT or time.monotonic() - self._since >= self._DELAY:
                self._flush_locked()

    info = msg

    def _flush_locked(self) -> None:
        if self._lines:
            lines, self._lines, self._size = self._lines, [], 0
            try:
                self._stream.write("".join(lines))
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken destination must not break routing

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _tick(self) -> None:
        while not self._stop.wait(self._DELAY):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()


class EventLog:
    """Renders events through a private structlog pipeline to stderr, stdout or a file."""

    def __init__(self, settings: Log, redact: Redactor) -> None:
        self.settings = settings
        self._redact = redact
        self._file: IO[str] | None = None
        destination = settings.destination
        if destination == "off":
            self._logger = None
            return
        if destination == "stderr":
            stream: IO[str] = sys.stderr
        elif destination == "stdout":
            stream = sys.stdout
        else:
            path = Path(destination)
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = self._file = path.open("a", encoding="utf-8")
        renderer: Any = (
            structlog.processors.JSONRenderer(ensure_ascii=False)
            if settings.format == "json"
            else structlog.dev.ConsoleRenderer(colors=False, sort_keys=False, timestamp_key="time")
        )

        def render_scrubbed(logger: Any, method: str, event: dict[str, Any]) -> str:
            # One scrub of the rendered line instead of one per field: a key is removed wherever
            # it hides (prompt, message, nested attempt), and replacements never touch quotes.
            return self._redact(renderer(logger, method, event))

        # bind() once: structlog's lazy proxy would otherwise build a new logger per event.
        self._writer = _BufferedWriter(stream)
        self._logger = structlog.wrap_logger(
            self._writer,
            processors=[structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"), render_scrubbed],
            context_class=dict,
        ).bind()

    def _clean(self, value: Any) -> Any:
        """Scrub every string of an event (for sinks, which receive dicts, not lines)."""
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._clean(v) for v in value]
        return value

    def emit(self, kind: str, fields: dict[str, Any]) -> None:
        if self._logger is not None:
            self._logger.info(kind, **fields)

    def flush(self) -> None:
        if self._logger is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._logger is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()
            self._file = None


class Observer:
    """Where a router reports what it did: metrics always, events when configured."""

    def __init__(self, settings: Log, redact: Redactor, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.events = EventLog(settings, redact)
        self._redact = redact
        self._sinks: list[Sink] = []

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
        kind = {"AllAttemptsFailed": "all_failed", "UpstreamRejected": "rejected", "StreamInterrupted": "stream_interrupted"}.get(type(error).__name__, "error")
        self.metrics.record(tier=tier, model=last_model, rule=rule, outcome=kind, attempts=error.attempts, latency_s=latency_s, stream=stream)
        if self.wants_events:
            self.emit("request", request_event(
                request_id=error.request_id or "", decided_tier=tier, rule=rule, stream=stream, error=error,
                latency_s=latency_s, include_text=self.settings.include_text, prompt=prompt,
            ))

    def flush(self) -> None:
        """Write out any events still waiting in the buffer."""
        self.events.flush()

    def close(self) -> None:
        self.events.close()
