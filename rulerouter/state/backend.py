"""Choosing the state backend a router uses, from the rule file's `[state]` table."""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Protocol

from ..execute.limits import Ledger
from ..policy.limits import State
from .memory import MemoryState

__all__ = ["StateBackend", "state_for"]


class StateBackend(Protocol):
    kind: str
    ledger: Ledger
    circuits: Any  # the shared breaker store, or None when breakers are each executor's own

    def listen(self, listener: Callable[[str, dict[str, Any]], None]) -> None: ...

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every settlement queued so far has been applied."""

    def health(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def state_for(settings: State, env: Mapping[str, str] | None = None) -> StateBackend:
    """In-process state, or Redis when `settings.redis_url_env` names a variable that is set."""
    environ = os.environ if env is None else env
    url = environ.get(settings.redis_url_env) if settings.redis_url_env else None
    if not url:
        return MemoryState()
    from .redis import RedisState  # needs the optional `redis` client

    return RedisState(url, settings)
