"""Per-model circuit breakers, and the waits upstreams ask for with Retry-After.

closed ──N consecutive failures──▶ open ──cool-down over──▶ half-open (one probe admitted)
  ▲                                  ▲                            │
  └──────────── probe succeeds ──────┴──────── probe fails ───────┘

While open, a model is skipped (its fallbacks are tried instead), so a dead provider costs no
time. A 429 with Retry-After also marks the model unavailable until then, for every request.
Safe to share between threads and between sync and async callers.

Given a `SharedCircuits` store (the Redis state backend's), a circuit this process opens and a
Retry-After it is told are published, and those published by other replicas are respected:
a model any replica has seen fail is skipped by all. Consecutive failures are counted by each
replica; the half-open probe is made by whichever replica calls the model first afterwards.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

__all__ = ["Breakers", "SharedCircuits"]


class SharedCircuits(Protocol):
    """Circuit state every replica sees. Times are wall-clock seconds (`time.time()`)."""

    def opened(self, model: str, until: float) -> None: ...

    def waiting(self, model: str, until: float) -> None: ...

    def closed(self, model: str) -> None: ...

    def until(self, model: str) -> tuple[float, float]:
        """(open until, wait until) as last known; zeros when nothing is known."""


@dataclass(slots=True)
class _State:
    failures: int = 0
    open_until: float = 0.0
    probing: bool = False
    wait_until: float = 0.0  # from Retry-After
    opened: int = 0  # times this breaker opened (for metrics)


class Breakers:
    def __init__(
        self,
        failure_threshold: int,
        cooldown_s: float,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedCircuits | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.enabled = enabled
        self.clock = clock
        self.shared = shared
        self.wall = wall
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def _state(self, model: str) -> _State:
        state = self._states.get(model)
        if state is None:
            state = self._states[model] = _State()
        return state

    def _remote(self, model: str) -> tuple[float, float]:
        """Seconds left of another replica's (open, wait) for `model`; zeros when none."""
        if self.shared is None:
            return 0.0, 0.0
        open_until, wait_until = self.shared.until(model)
        if not (open_until or wait_until):
            return 0.0, 0.0
        now = self.wall()
        return max(0.0, open_until - now) if self.enabled else 0.0, max(0.0, wait_until - now)

    def admit(self, model: str) -> str | None:
        """None if a call to `model` may go ahead now, else why it is skipped."""
        open_left, wait_left = self._remote(model)
        if wait_left > 0:
            return f"asked to wait {wait_left:.1f}s more (Retry-After, seen by the replicas)"
        with self._lock:
            state = self._states.get(model)
            if state is None or (state.open_until == 0.0 and state.wait_until <= self.clock()):
                # Not open here: open if another replica opened it.
                return f"circuit open for {open_left:.1f}s more (opened by another replica)" if open_left > 0 else None
            now = self.clock()
            if state.wait_until > now:
                return f"asked to wait {state.wait_until - now:.1f}s more (Retry-After)"
            if not self.enabled or state.open_until == 0.0:
                return None
            if now < state.open_until:
                return f"circuit open for {state.open_until - now:.1f}s more after {state.failures} consecutive failures"
            if state.probing:
                return "circuit half-open: a probe is in flight"
            state.probing = True  # this caller is the probe
            return None

    def wait_remaining(self, model: str) -> float:
        """Seconds until the model's Retry-After has passed (0.0 when it has, or there is none)."""
        with self._lock:
            state = self._states.get(model)
            local = max(0.0, state.wait_until - self.clock()) if state is not None else 0.0
        return max(local, self._remote(model)[1])

    def success(self, model: str) -> None:
        with self._lock:
            state = self._states.get(model)
            if state is not None:
                state.failures = 0
                state.open_until = 0.0
                state.probing = False
        if self.shared is not None:
            self.shared.closed(model)

    def failure(self, model: str) -> None:
        with self._lock:
            state = self._state(model)
            state.failures += 1
            opened = state.probing or (self.enabled and state.failures >= self.failure_threshold and state.open_until == 0.0)
            if opened:
                state.open_until = self.clock() + self.cooldown_s
                state.opened += 1
            state.probing = False
        if opened and self.shared is not None:
            self.shared.opened(model, self.wall() + self.cooldown_s)

    def release(self, model: str) -> None:
        """A call ended without telling us anything about the model (e.g. it was cancelled)."""
        with self._lock:
            state = self._states.get(model)
            if state is not None:
                state.probing = False

    def wait(self, model: str, seconds: float) -> None:
        """The model asked us to wait (Retry-After): skip it until then."""
        with self._lock:
            state = self._state(model)
            state.wait_until = max(state.wait_until, self.clock() + seconds)
        if self.shared is not None:
            self.shared.waiting(model, self.wall() + seconds)

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Per-model state for health checks and metrics (other replicas' openings included)."""
        now = self.clock()
        with self._lock:
            out: dict[str, dict[str, object]] = {
                model: {
                    "state": "open" if state.open_until > now else ("half_open" if state.open_until else "closed"),
                    "consecutive_failures": state.failures,
                    "times_opened": state.opened,
                    "retry_after_s": max(0.0, state.wait_until - now),
                }
                for model, state in self._states.items()
            }
        for model in getattr(self.shared, "mirror", {}) if self.shared is not None else ():
            open_left, wait_left = self._remote(model)
            entry = out.setdefault(model, {"state": "closed", "consecutive_failures": 0, "times_opened": 0, "retry_after_s": 0.0})
            if open_left > 0:
                entry["state"] = "open"
            entry["retry_after_s"] = max(float(entry["retry_after_s"]), wait_left)  # type: ignore[arg-type]
        return out
