"""The `Ledger` of the Redis state backend (`redis.py`): atomic scripts on Redis, local while it is away."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..execute.limits import SLACK, Check, LedgerUnavailable
from .memory import MemoryLedger

__all__ = ["RedisLedger", "ms"]


def ms(seconds: float) -> int:
    """Seconds since the epoch as Redis takes them (PEXPIREAT, PXAT): milliseconds."""
    return int(seconds * 1000)


class RedisLedger:
    """The `Ledger` of `RedisState`: atomic scripts on Redis, the local ledger while it is away."""

    def __init__(self, state: Any) -> None:  # the RedisState it belongs to
        self.state = state

    def _local(self, what: str) -> MemoryLedger:
        if self.state.fail_closed and what != "add":
            raise LedgerUnavailable("Redis is unreachable")
        return self.state.local

    def _epoch_changed(self, reply: Any) -> bool:
        """True (after catching up with the new epoch) when a script found another epoch."""
        if reply is not None and int(reply[0]) == -2:
            self.state.new_epoch()
            return True
        return False

    def read(self, keys: Sequence[str]) -> list[float]:
        state = self.state
        full = [state.key(k) for k in keys]
        reply = state.call(lambda: state.client.mget(full)) if full else []
        if reply is None:
            return self._local("read").read(full)
        return [float(v) if v is not None else 0.0 for v in reply]

    def reserve(self, checks: Sequence[Check]) -> tuple[int, list[float]]:
        state = self.state
        keys = [state.key("epoch")]
        args: list[Any] = ["", repr(SLACK)]
        for check in checks:
            keys += [state.key(check.key), state.key(check.prev_key or "none")]
            args += ["" if check.limit is None else repr(check.limit), repr(check.amount), ms(check.expires_at), repr(check.prev_weight)]
        op = state.op_key()
        keys.append(op)
        args.append(state.marker_expiry(c.expires_at for c in checks))
        errors = state.errors
        for _ in range(2):
            args[0] = state._epoch or ""
            reply = state.call(lambda: state._reserve(keys=keys, args=args))
            if not self._epoch_changed(reply):
                break
        else:
            reply = None  # the epoch changed twice in a row: count locally, catch up later
        if reply is None:
            # A call that failed may still have been applied: then it is settled against its marker.
            return self._reserve_locally(checks, op if state.errors > errors else None)
        blocked = int(reply[0])
        raw = [float(v) for v in reply[1:]]
        values = [raw[2 * i] + check.prev_weight * raw[2 * i + 1] for i, check in enumerate(checks)]
        now = state.clock()
        with state._lock:
            for i, check in enumerate(checks):
                state._seen[state.key(check.key)] = (raw[2 * i], check.expires_at)
                if check.prev_key is not None:
                    state._seen[state.key(check.prev_key)] = (raw[2 * i + 1], check.expires_at - 60)
                if blocked < 0:
                    state.record(state.key(check.key), check.amount, check.expires_at, remote=True)
            if len(state._seen) > 4096:
                state._seen = {k: v for k, v in state._seen.items() if v[1] > now}
        return blocked, values

    def _reserve_locally(self, checks: Sequence[Check], op: str | None = None) -> tuple[int, list[float]]:
        """Reserve on the local ledger. `op`: the marker of a reservation sent to Redis whose reply
        was lost, which is then made to agree with this one (kept if admitted, undone if not)."""
        state = self.state
        local = [Check(state.key(c.key), c.limit, c.amount, c.expires_at, state.key(c.prev_key) if c.prev_key else None, c.prev_weight)
                 for c in checks]
        entries = [(c.key, c.amount, c.expires_at) for c in local]
        with state._lock:
            try:
                blocked, values = self._local("reserve").reserve(local)
            except LedgerUnavailable:
                if op is not None:
                    state.doubt(op, entries, False)  # refused here: undone there, if it was applied
                raise
            if op is not None:
                state.doubt(op, entries, blocked < 0)
            if blocked < 0:
                for check in local:
                    state.record(check.key, check.amount, check.expires_at, remote=op is not None)
        return blocked, values

    def add(self, entries: Sequence[tuple[str, float, float]], done: Callable[[list[float]], None] | None = None) -> None:
        """Settle. What only gives back part of a reservation (every delta ≤ 0) is queued for the
        state thread, off the request's path: a counter that is briefly too high refuses early,
        never late. A request that cost more than it reserved is settled at once, so the overshoot
        bound still counts only the requests in flight."""
        state = self.state
        state.queue.append(([(state.key(key), delta, expires) for key, delta, expires in entries], done))
        state.queued += 1
        if any(delta > 0 for _, delta, _ in entries):
            state._settle()
        else:
            if len(state.queue) == 1:  # the first of a batch wakes the thread
                state.wake.set()
            state.started()

    def once(self, key: str, expires_at: float) -> bool:
        state = self.state
        full = state.key(key)
        reply = state.call(lambda: state.client.set(full, "1", nx=True, pxat=ms(expires_at)))
        if reply is None and not state.up:
            return state.local.once(full, expires_at)
        return bool(reply)


