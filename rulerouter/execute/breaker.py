"""Per-model circuit breakers, and the waits upstreams ask for with Retry-After.

closed ──N consecutive failures──▶ open ──cool-down over──▶ half-open (one probe admitted)
  ▲                                  ▲                            │
  └──────────── probe succeeds ──────┴──────── probe fails ───────┘

While open, a model is skipped (its fallbacks are tried instead), so a dead provider costs no
time. A 429 with Retry-After also marks the model unavailable until then, for every request.
Safe to share between threads and between sync and async callers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["Breakers"]


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
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.enabled = enabled
        self.clock = clock
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def _state(self, model: str) -> _State:
        state = self._states.get(model)
        if state is None:
            state = self._states[model] = _State()
        return state

    def admit(self, model: str) -> str | None:
        """None if a call to `model` may go ahead now, else why it is skipped."""
        with self._lock:
            state = self._states.get(model)
            if state is None:
                return None
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
            return max(0.0, state.wait_until - self.clock()) if state is not None else 0.0

    def success(self, model: str) -> None:
        with self._lock:
            state = self._states.get(model)
            if state is not None:
                state.failures = 0
                state.open_until = 0.0
                state.probing = False

    def failure(self, model: str) -> None:
        with self._lock:
            state = self._state(model)
            state.failures += 1
            if state.probing or (self.enabled and state.failures >= self.failure_threshold and state.open_until == 0.0):
                state.open_until = self.clock() + self.cooldown_s
                state.opened += 1
            state.probing = False

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

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Per-model state for health checks and metrics."""
        now = self.clock()
        with self._lock:
            return {
                model: {
                    "state": "open" if state.open_until > now else ("half_open" if state.open_until else "closed"),
                    "consecutive_failures": state.failures,
                    "times_opened": state.opened,
                    "retry_after_s": max(0.0, state.wait_until - now),
                }
                for model, state in self._states.items()
            }
