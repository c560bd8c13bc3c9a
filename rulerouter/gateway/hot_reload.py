"""Hot reload: the policy a gateway serves, swapped atomically when its file changes.

`PolicyHolder` keeps the router built from the last good version of the rule file. A watcher
polls the identity (inode, size, modification time) of the file and of every file it refers to
(classifier models, example lists) a few times a second, and SIGHUP forces a check. A new version is linted and compiled off the event loop; when it is valid the
holder's `router` is replaced in one assignment, so a request that already holds the old router
finishes on the old policy, and the old router's connections are closed once its last request
has ended. When the new version is invalid — or the file is missing, or its providers cannot be
built (a base URL or proxy in the environment that is not one) — the last good policy keeps
serving, a `policy_reload_failed` event carries every diagnostic with its line and column, and
`last_reload` (shown by `/readyz`) says when and why until a reload succeeds.
Metrics are shared by every generation, so counters do not reset on reload.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import RuleRouterError, UsageError
from ..observe.metrics import Metrics
from ..observe.observer import policy_event
from ..policy.load import Checked, check_file
from ..policy.schema import Log
from ..router import Router
from ..state import StateBackend, state_for

__all__ = ["PolicyHolder"]


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class PolicyHolder:
    def __init__(self, path: Path, checked: Checked, *, env: Mapping[str, str] | None, log: Log | None, secrets: Sequence[str] = ()) -> None:
        self.path = path
        self.env = env
        self.log = log
        self.secrets = list(secrets)  # the gateway's client keys: scrubbed from events like upstream keys
        self.metrics = Metrics()
        assert checked.policy is not None
        # Counters and shared breaker state outlive reloads, like the metrics: a reload does not
        # forget what was spent. `[state]` itself is read once, at start.
        self.state: StateBackend = state_for(checked.policy.state, env)
        self.state.listen(lambda kind, fields: self.router.observer.emit(kind, fields))
        self._state_settings = checked.policy.state
        self.generation = 1
        self.router = self._router(checked)  # raises UsageError when its providers cannot be built: the gateway does not start
        self.last_reload: dict[str, Any] | None = None  # the last reload attempt: when, and why it failed (None: none yet)
        self._files: tuple[Path, ...] = checked.resources.files
        self._identity = self._identities()
        self._in_flight: dict[int, int] = {}
        self._retired: list[Router] = []
        self._lock = asyncio.Lock()

    def _router(self, checked: Checked) -> Router:
        router = Router(checked, env=self.env, metrics=self.metrics, log=self.log, secrets=self.secrets, state=self.state)
        unreachable = router.executor.providers.unreachable  # built now: a provider URL that is not one fails here
        if unreachable:  # a gateway exists to call models: not without their endpoint (at start, or on a reload)
            raise UsageError("; ".join(sorted(set(unreachable.values()))))
        return router

    def _failed(self, reason: str, event: dict[str, Any]) -> bool:
        """Record a reload that did not happen: the event, and `last_reload` for /readyz."""
        router = self.router
        router.observer.emit("policy_reload_failed", {**event, "reason": reason, "serving_generation": self.generation})
        errors = [router.observer.scrub(str(e)) for e in event.get("errors", [])]
        self.last_reload = {"ok": False, "time": _now(), "reason": reason, "errors": errors[:20], "error_count": len(errors),
                            "serving_generation": self.generation}
        return False

    # ---- requests -------------------------------------------------------------------------------

    def acquire(self) -> Router:
        router = self.router
        key = id(router)
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return router

    async def release(self, router: Router) -> None:
        key = id(router)
        left = self._in_flight.get(key, 1) - 1
        if left:
            self._in_flight[key] = left
            return
        self._in_flight.pop(key, None)
        if router in self._retired:
            self._retired.remove(router)
            await router.aclose()

    # ---- reloading ------------------------------------------------------------------------------

    def _identities(self) -> tuple[tuple[int, int, int] | None, ...]:
        return tuple(_identity(path) for path in (self.path, *self._files))

    def changed(self) -> bool:
        return self._identities() != self._identity

    async def reload(self, reason: str) -> bool:
        """Check the file again; swap it in when valid. True when the policy changed."""
        async with self._lock:
            before = self._identities()
            checked = await asyncio.to_thread(check_file, self.path, self.env)
            files = checked.resources.files
            # The files this version names (which may differ from the last one's), as they were
            # before reading: a change while checking is seen on the next poll.
            self._identity = before if files == self._files else tuple(_identity(p) for p in (self.path, *files))
            self._files = files
            current = self.router
            if not checked.ok:
                return self._failed(reason, policy_event(checked))
            try:
                router = await asyncio.to_thread(self._router, checked)
            except RuleRouterError as exc:
                return self._failed(reason, {**policy_event(checked), "errors": [str(exc)]})
            self.router = router  # one assignment: requests already holding `current` finish on it
            self.generation += 1
            event = {**policy_event(checked), "reason": reason, "generation": self.generation}
            if checked.policy is not None and checked.policy.state != self._state_settings:
                event["warnings"] = [*event["warnings"], "[state] changed: the state backend is chosen at start; restart the gateway to use the new one"]
            router.observer.emit("policy_reloaded", event)
            self.last_reload = {"ok": True, "time": _now(), "reason": reason, "generation": self.generation}
            if self._in_flight.get(id(current), 0):
                self._retired.append(current)
            else:
                await current.aclose()
            return True

    async def watch(self, interval: float = 0.25) -> None:
        """Poll the file until cancelled; reload on any change of its identity."""
        while True:
            await asyncio.sleep(interval)
            if self.changed():
                try:
                    await self.reload("file changed")
                except Exception as exc:  # a reload must never take the gateway down
                    self._failed("file changed", {"path": str(self.path), "errors": [f"{type(exc).__name__}: {exc}"]})

    async def close(self) -> None:
        for router in [*self._retired, self.router]:
            await router.aclose()
        self._retired.clear()
        self.state.close()
