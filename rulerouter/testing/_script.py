"""The loopback upstream's state: what each model answers next, and what was asked.

Kept apart from the HTTP code so the queue-then-default order is one small function. A model's
queue is consumed one behaviour per request, in order; when it is empty the model's default
answers, then the global default. The state is shared between the server's event loop and the
test's thread, so every read-modify-write holds one lock (uncontended: a few tens of ns).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable

from ._behaviours import Behaviour, Faults, RecordedRequest, Reply, Source, Status

__all__ = ["Script"]


class Script:
    """Per-model queues and defaults, the record of requests, and the faults injected so far."""

    def __init__(self, default: Source | None = None, *, models: Iterable[str] = (), record: bool = True):
        self._initial_default: Source = Reply() if default is None else _checked(default, as_default=True)
        self._default = self._initial_default
        self._record = record
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Behaviour | object]] = {}
        self._defaults: dict[str, Source] = {}
        self._requests: list[RecordedRequest] = []
        self._injected: Counter[str] = Counter()
        self._advertised = tuple(models)
        self._known: dict[str, None] = dict.fromkeys(self._advertised)

    # -- what a test declares -------------------------------------------------------------------
    def enqueue(self, model: str, behaviours: Iterable[Source]) -> None:
        items = [_checked(b, as_default=False) for b in behaviours]
        with self._lock:
            self._queues.setdefault(model, deque()).extend(items)
            self._known.setdefault(model, None)

    def set_default(self, source: Source, model: str | None = None) -> None:
        source = _checked(source, as_default=True)
        with self._lock:
            if model is None:
                self._default = source
            else:
                self._defaults[model] = source
                self._known.setdefault(model, None)

    def clear(self) -> None:
        """Forget the recorded requests and the injected-fault counts."""
        with self._lock:
            self._requests.clear()
            self._injected.clear()

    def reset(self) -> None:
        """`clear()`, and also drop every queue and default (back to the constructor's default)."""
        with self._lock:
            self._requests.clear()
            self._injected.clear()
            self._queues.clear()
            self._defaults.clear()
            self._default = self._initial_default
            self._known = dict.fromkeys(self._advertised)

    # -- what a test reads ----------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def injected(self) -> dict[str, int]:
        with self._lock:
            return dict(self._injected)

    def pending(self) -> dict[str, int]:
        """Scripted behaviours not consumed yet, by model (models with an empty queue omitted)."""
        with self._lock:
            return {model: len(queue) for model, queue in self._queues.items() if queue}

    def models(self) -> list[str]:
        """Models advertised, scripted or asked for so far, in first-seen order."""
        with self._lock:
            return list(self._known)

    # -- what the server does -------------------------------------------------------------------
    def record(self, request: RecordedRequest) -> None:
        if self._record:
            with self._lock:
                self._requests.append(request)

    def decide(self, request: RecordedRequest) -> Behaviour:
        """The behaviour that answers `request`; also noted on the record."""
        model = request.model or ""
        injected = False
        with self._lock:
            self._known.setdefault(model, None)
            queue = self._queues.get(model)
            source = queue.popleft() if queue else self._defaults.get(model, self._default)
            if isinstance(source, Faults):
                fault = source.draw()
                if fault is None:
                    source = source.otherwise
                else:
                    source, injected = fault, True
                    self._injected[fault.kind] += 1
        behaviour = source if isinstance(source, Behaviour) else _call_hook(source, request)
        request.behaviour, request.injected = behaviour, injected
        return behaviour


def _call_hook(hook: object, request: RecordedRequest) -> Behaviour:
    # A failing hook answers 500 with the reason, so the test sees it instead of a hang.
    try:
        behaviour = hook(request)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - reported to the client, by design
        return Status(500, f"loopback upstream: hook {hook!r} raised {exc!r}", code_str="hook_error")
    if not isinstance(behaviour, Behaviour):
        return Status(500, f"loopback upstream: hook {hook!r} returned {behaviour!r}, not a behaviour",
                      code_str="hook_error")
    return behaviour


def _checked(source: object, *, as_default: bool) -> Source:
    if isinstance(source, Behaviour) or (isinstance(source, Faults) and as_default):
        return source
    if isinstance(source, Faults):
        raise TypeError("Faults is a default (up.default(Faults(...))), not a queued behaviour")
    if callable(source):
        return source  # type: ignore[return-value]
    raise TypeError(f"expected a behaviour such as Reply('...') or a hook, got {source!r}")
