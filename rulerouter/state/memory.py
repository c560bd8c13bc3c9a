"""The in-process state backend: counters in a dict under a lock. Nothing to install.

Every router of the process that is handed the same `MemoryState` shares its counters (the
gateway keeps one across hot reloads, so a reload does not forget what was spent). Each
`serve` process, and each `--workers` worker, has its own: for one view across processes,
configure Redis (`rulerouter.state.redis`).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

from ..execute.limits import SLACK, Check

__all__ = ["MemoryLedger", "MemoryState"]

_PRUNE_EVERY = 4096


class MemoryLedger:
    """The `rulerouter.execute.limits.Ledger` of one process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._values: dict[str, list[float]] = {}  # key -> [value, expires_at]
        self._lock = threading.Lock()
        self._writes = 0

    def _get(self, key: str, now: float) -> float:
        item = self._values.get(key)
        return item[0] if item is not None and item[1] > now else 0.0

    def _add(self, key: str, delta: float, expires_at: float, now: float) -> float:
        item = self._values.get(key)
        if item is None or item[1] <= now:
            item = self._values[key] = [0.0, expires_at]
        item[0] += delta
        item[1] = max(item[1], expires_at)
        self._writes += 1
        if self._writes % _PRUNE_EVERY == 0:
            self._values = {k: v for k, v in self._values.items() if v[1] > now}
        return item[0]

    def read(self, keys: Sequence[str]) -> list[float]:
        with self._lock:
            now = self.clock()
            return [self._get(key, now) for key in keys]

    def reserve(self, checks: Sequence[Check]) -> tuple[int, list[float]]:
        with self._lock:
            now = self.clock()
            values = []
            for check in checks:
                value = self._get(check.key, now)
                if check.prev_key is not None and check.prev_weight:
                    value += check.prev_weight * self._get(check.prev_key, now)
                values.append(value)
            for index, (check, value) in enumerate(zip(checks, values)):
                if check.limit is not None and value + check.amount > check.limit * SLACK:
                    return index, values
            for check in checks:
                self._add(check.key, check.amount, check.expires_at, now)
            return -1, [value + check.amount for check, value in zip(checks, values)]

    def add(self, entries: Sequence[tuple[str, float, float]], done: Callable[[list[float]], None] | None = None) -> list[float]:
        with self._lock:
            now = self.clock()
            values = [self._add(key, delta, expires_at, now) for key, delta, expires_at in entries]
        if done is not None:
            done(values)
        return values

    def once(self, key: str, expires_at: float) -> bool:
        with self._lock:
            now = self.clock()
            if self._get(key, now):
                return False
            self._add(key, 1.0, expires_at, now)
            return True

    def snapshot(self) -> dict[str, tuple[float, float]]:
        """Every live counter: key -> (value, expires_at)."""
        with self._lock:
            now = self.clock()
            return {k: (v[0], v[1]) for k, v in self._values.items() if v[1] > now}


class MemoryState:
    """Counters in this process; circuit breakers stay each router's own."""

    kind = "memory"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.ledger = MemoryLedger(clock)
        self.circuits = None  # no shared breaker state: each executor's breakers are the truth

    def listen(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        """Nothing to tell: the in-process backend is never unavailable."""

    def flush(self, timeout: float = 5.0) -> None:
        """Nothing waits: settlements apply at once."""

    def health(self) -> dict[str, Any]:
        return {"backend": "memory", "shared": False, "available": True}

    def close(self) -> None:
        pass
