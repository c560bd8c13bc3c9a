"""The Redis state backend: one view of spend, rate limits and circuits across every replica.

Counters change only inside Lua scripts (check every limit, then `INCRBYFLOAT` every counter, or
touch none), so concurrent replicas never race a read-modify-write. Circuit-breaker openings
and Retry-After cooldowns go into one hash that every replica polls every `sync_interval_ms`,
so a model one replica has seen fail is skipped by all of them within that interval.

The client is redis-py's synchronous one with a short timeout (`timeout_ms`): a request's path
makes one call (the reserve script, about a PING's round trip on loopback), and settlements that
only give back part of a reservation are queued for a background thread that sends them in
batches. When Redis cannot
be reached the backend falls back at once to a local ledger seeded with the last values it
saw, and a background thread probes Redis; meanwhile each request either goes on being
counted locally (`on_unavailable = "local"`: fail open) or is refused when a limit counts it
(`"refuse"`: fail closed). When Redis answers again the thread catches up: the increments made
while it was away are added, or — when Redis came back empty (restarted without persistence,
or flushed), which a changed epoch key shows — every increment this replica made to counters
still live is added again, so the totals are right after the restart.

Every increment sent carries an operation id, and the script that applies it sets a marker for
that id in the same atomic step. A call whose reply is lost (a timeout on a loaded machine, a
connection cut mid-reply) may or may not have been applied: it is never sent blind again, but
kept in an outbox and later settled against its marker — applied if the marker is absent, left
alone if present, undone if the request was refused locally meanwhile. A replay after a restart
is one such operation, so a replay interrupted halfway is not counted twice either.

Needs the optional client: `pip install 'rulerouter[redis]'`. Not for Redis Cluster: a
script's keys must live on one node.
"""

from __future__ import annotations

import atexit
import threading
import time
import uuid
import weakref
from collections import deque
from typing import Any, Callable

from ..errors import UsageError
from ..policy.limits import State
from .memory import MemoryLedger
from .redis_circuits import RedisCircuits
from .redis_ledger import RedisLedger, ms

__all__ = ["RedisCircuits", "RedisLedger", "RedisState"]

Listener = Callable[[str, dict[str, Any]], None]

# KEYS: the epoch, then each check's key and the key of its previous window, then the operation's
# marker. ARGV: the epoch expected, the slack, then per check: limit ('' = none), amount, expiry
# (ms), weight; then the marker's expiry (ms). Returns {-2, epoch} when the epoch is not the one
# expected; else {index or -1, raw values…}: for each check, its counter and its previous
# window's counter (after adding, when admitted; the marker is set only then).
_RESERVE = """
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {-2, epoch or ''} end
local slack = tonumber(ARGV[2])
local n = (#KEYS - 2) / 2
local raw, prev = {}, {}
for i = 1, n do
  raw[i] = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local w = tonumber(ARGV[3 + (i - 1) * 4 + 3])
  prev[i] = 0
  if w > 0 then prev[i] = tonumber(redis.call('GET', KEYS[2 * i + 1]) or '0') end
end
local out = {-1}
for i = 1, n do
  local base = 3 + (i - 1) * 4
  local limit = ARGV[base]
  local value = raw[i] + tonumber(ARGV[base + 3]) * prev[i]
  if limit ~= '' and value + tonumber(ARGV[base + 1]) > tonumber(limit) * slack then out[1] = i - 1 end
end
if out[1] == -1 then
  for i = 1, n do
    local base = 3 + (i - 1) * 4
    raw[i] = tonumber(redis.call('INCRBYFLOAT', KEYS[2 * i], ARGV[base + 1]))
    redis.call('PEXPIREAT', KEYS[2 * i], ARGV[base + 2])
  end
  redis.call('SET', KEYS[#KEYS], '1', 'PXAT', ARGV[#ARGV])
end
for i = 1, n do
  out[#out + 1] = tostring(raw[i])
  out[#out + 1] = tostring(prev[i])
end
return out
"""

# KEYS: the epoch, then counters, then the operation's marker. ARGV: the epoch expected, then per
# counter: delta, expiry (ms); then the marker's expiry (ms) and the mode: '1' apply once (not
# when the marker is there), '0' undo (only when it is). Returns {-2, epoch} for another epoch,
# {-3} when the operation is already as wanted, else {-1, the counters' values…}.
_ADD = """
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {-2, epoch or ''} end
local seen = redis.call('EXISTS', KEYS[#KEYS]) == 1
local sign = 1
if ARGV[#ARGV] == '1' then
  if seen then return {-3} end
  redis.call('SET', KEYS[#KEYS], '1', 'PXAT', ARGV[#ARGV - 1])
else
  if not seen then return {-3} end
  redis.call('DEL', KEYS[#KEYS])
  sign = -1
end
local out = {-1}
for i = 2, #KEYS - 1 do
  out[i] = redis.call('INCRBYFLOAT', KEYS[i], tostring(sign * tonumber(ARGV[2 * i - 2])))
  redis.call('PEXPIREAT', KEYS[i], ARGV[2 * i - 1])
end
return out
"""

Entry = tuple[str, float, float]  # a counter's key, the delta, when it expires (seconds)

# How long an operation's marker lives (at most: never past its counters). An operation in doubt
# is settled at the first catch-up after Redis answers again, so this bounds the partition it
# survives; it also bounds the markers Redis holds to about ten minutes of requests.
MARKER_TTL_S = 600.0


_OPEN: weakref.WeakSet[RedisState] = weakref.WeakSet()
_BATCH_S = 0.01  # how long queued settlements wait for others to join them


@atexit.register
def _settle_all() -> None:
    """At exit, settle what is still queued: a reservation left in place would count forever."""
    for state in list(_OPEN):
        try:
            state._settle()
        except Exception:
            pass


class RedisState:
    """Counters and circuits on Redis, with a local fallback and catch-up (see the module)."""

    kind = "redis"

    def __init__(self, url: str, settings: State, *, clock: Callable[[], float] = time.time) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise UsageError("[state] names a Redis URL, but the redis client is not installed: pip install 'rulerouter[redis]'") from None
        timeout = settings.timeout_ms / 1000
        self._errors_type: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                           retry=Retry(NoBackoff(), 1), health_check_interval=0)
        self.settings = settings
        self.clock = clock
        self.prefix = settings.key_prefix + ":"
        self.fail_closed = settings.on_unavailable == "refuse"
        self.interval = settings.sync_interval_ms / 1000
        self._reserve = self.client.register_script(_RESERVE)
        self._add = self.client.register_script(_ADD)
        self._lock = threading.RLock()
        self._epoch: str | None = None
        self.up = True  # optimistic until a call fails
        self.local = MemoryLedger(clock)  # the fallback while Redis is away
        self._seen: dict[str, tuple[float, float]] = {}  # last values Redis gave: key -> (value, expires_at)
        self._mine: dict[str, list[float]] = {}  # all this replica added: key -> [total, expires_at]
        self._pending: dict[str, list[float]] = {}  # added locally while Redis was away
        # Operations whose outcome on Redis is unknown: (marker key, entries, wanted applied).
        self._outbox: list[tuple[str, list[Entry], bool]] = []
        self.errors = 0
        self.outages = 0
        self._down_since = 0.0
        self._listeners: list[Listener] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.queue: deque[tuple[list[tuple[str, float, float]], Callable[[list[float]], None] | None]] = deque()
        self.wake = threading.Event()  # settlements are waiting
        self.queued = self.applied = 0  # settlements queued and applied so far
        self.ledger = RedisLedger(self)
        self.circuits = RedisCircuits(self)
        _OPEN.add(self)

    # ---- life -----------------------------------------------------------------------------------

    def listen(self, listener: Listener) -> None:
        """Call `listener(kind, fields)` on `state_unavailable` and `state_restored`."""
        self._listeners.append(listener)

    def _tell(self, kind: str, fields: dict[str, Any]) -> None:
        for listener in self._listeners:
            try:
                listener(kind, fields)
            except Exception:
                pass  # a listener must never break counting

    def started(self) -> None:
        """On first use: read the shared circuits once, then keep them (and the outage) in sync."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self.call(self.circuits.poll)
                    self._thread = threading.Thread(target=self._run, name="rulerouter-state", daemon=True)
                    self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._settle()
        if self.up and self._pending:
            try:
                self._catch_up()
            except self._errors_type:
                pass  # Redis is away at shutdown: what this replica owed it is lost with the process
        self.client.close()
        _OPEN.discard(self)

    def health(self) -> dict[str, Any]:
        return {"backend": "redis", "shared": True, "available": self.up, "errors": self.errors, "outages": self.outages,
                "on_unavailable": self.settings.on_unavailable}

    # ---- being up or down -----------------------------------------------------------------------

    def key(self, name: str) -> str:
        return self.prefix + name

    def _went_down(self, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            if not self.up:
                return
            self.up = False
            self.outages += 1
            self._down_since = self.clock()
            self.local = MemoryLedger(self.clock)
            now = self.clock()
            self.local.add([(key, value, expires) for key, (value, expires) in self._seen.items() if expires > now])
        self._tell("state_unavailable", {"backend": "redis", "error": f"{type(exc).__name__}: {exc}",
                                         "on_unavailable": self.settings.on_unavailable})
        self.started()

    def _ensure_epoch(self) -> str:
        """The epoch Redis holds (made if missing); replays this replica's counts if it changed."""
        epoch_key = self.key("epoch")
        self.client.set(epoch_key, uuid.uuid4().hex, nx=True)
        current = self.client.get(epoch_key)
        epoch = current.decode() if isinstance(current, bytes) else str(current)
        if self._epoch is not None and epoch != self._epoch:
            # Redis is new: everything this replica counted in live windows is owed to it, as one
            # operation (what was pending or in doubt is part of it).
            now = self.clock()
            live = [(k, v[0], v[1]) for k, v in self._mine.items() if v[1] > now]
            self._pending.clear()
            self._outbox = [(self.op_key(), live, True)] if live else []
        self._epoch = epoch
        return epoch

    def op_key(self) -> str:
        """A fresh operation marker's key."""
        return self.key("op:" + uuid.uuid4().hex)

    def marker_expiry(self, expires: Any) -> int:
        """When an operation's marker expires (ms), given its counters' expiries (seconds)."""
        cap = self.clock() + MARKER_TTL_S
        return ms(min(max(expires, default=cap), cap))

    def add_call(self, entries: list[Entry], op: str, wanted: bool, client: Any = None) -> Any:
        """Run (or queue on `client`, a pipeline) the ADD script for one operation."""
        args: list[Any] = [self._epoch or ""]
        for _, delta, expires in entries:
            args += [repr(delta), ms(expires)]
        args += [self.marker_expiry(e for _, _, e in entries), "1" if wanted else "0"]
        return self._add(keys=[self.key("epoch")] + [key for key, _, _ in entries] + [op], args=args, client=client)

    def doubt(self, op: str, entries: list[Entry], wanted: bool) -> None:
        """An operation was sent and its reply lost: settle it against its marker later."""
        with self._lock:
            self._outbox.append((op, entries, wanted))

    def _flush_outbox(self) -> None:
        """Settle every operation in doubt (with the lock held); on a failure the rest stay."""
        while self._outbox:
            op, entries, wanted = self._outbox[0]
            if entries and int(self.add_call(entries, op, wanted)[0]) == -2:
                return  # another epoch meanwhile: the next catch-up rebuilds the outbox
            self._outbox.pop(0)

    def new_epoch(self) -> None:
        """A script saw another epoch: catch up with it (replaying), or go local if Redis fails."""
        try:
            with self._lock:
                self._ensure_epoch()
                self._flush_outbox()
        except self._errors_type as exc:
            self._went_down(exc)

    def _catch_up(self) -> None:
        """Redis answers again: add what was counted while it was away (or replay, if it is new).

        Holds the lock throughout, so nothing counted locally meanwhile can slip between what is
        sent and what is forgotten; requests wait for it (a pipeline on a Redis that just answered).
        """
        with self._lock:
            pending = self._pending
            before = self._epoch
            self._ensure_epoch()  # owes everything (and forgets what was pending) when Redis is new
            replayed = before is not None and self._epoch != before
            if self._pending:  # one operation, so that a lost reply cannot make it count twice
                self._outbox.append((self.op_key(), [(k, d, e) for k, (d, e) in self._pending.items()], True))
                self._pending = {}
            self._flush_outbox()  # on failure what is in doubt stays, and the next probe settles it
            was_down = not self.up
            self.up = True
            outage = self.clock() - self._down_since
        if was_down:
            self._tell("state_restored", {"backend": "redis", "outage_s": round(outage, 3), "replayed": replayed,
                                          "counters_caught_up": len(pending)})

    def _owe(self, key: str, delta: float, expires: float) -> None:
        item = self._pending.get(key)
        if item is None:
            self._pending[key] = [delta, expires]
        else:
            item[0] += delta
            item[1] = max(item[1], expires)

    def record(self, key: str, delta: float, expires: float, *, remote: bool) -> None:
        """Note an increment this replica made (remote: on Redis; else owed to it)."""
        item = self._mine.get(key)
        if item is None:
            if len(self._mine) > 4096:
                now = self.clock()
                self._mine = {k: v for k, v in self._mine.items() if v[1] > now}
            self._mine[key] = [delta, expires]
        else:
            item[0] += delta
        if not remote:
            self._owe(key, delta, expires)

    def _run(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            self.wake.wait(self.interval)
            if self.queue:
                self._stop.wait(_BATCH_S)  # let settlements gather: one pipeline, fewer wake-ups
            self.wake.clear()
            try:
                self._settle()
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.interval
                    if not self.up or self._pending or self._outbox:
                        self.client.ping()
                        self._catch_up()
                    self.circuits.poll()
            except self._errors_type as exc:
                if self.up:
                    self._went_down(exc)
            except Exception as exc:  # never let the thread die: the next tick tries again
                self._tell("state_unavailable", {"backend": "redis", "error": f"{type(exc).__name__}: {exc}"})
        self._settle()  # closing: nothing queued is lost

    def _settle(self) -> None:
        """Apply every queued settlement: one pipeline of ADD scripts, or locally when Redis is away."""
        batch = []
        while self.queue:
            batch.append(self.queue.popleft())
        if not batch:
            return
        replies: list[Any] = [None] * len(batch)
        ops = [self.op_key() for _ in batch]
        lost = False  # sent, and the replies lost: each may or may not have been applied
        if self.up:
            for _ in range(2):
                try:
                    pipe = self.client.pipeline(transaction=False)
                    for (entries, _), op in zip(batch, ops):
                        self.add_call(entries, op, True, client=pipe)
                    replies = pipe.execute()
                except self._errors_type as exc:
                    self._went_down(exc)
                    replies = [None] * len(batch)
                    lost = True
                    break
                if not any(r is not None and int(r[0]) == -2 for r in replies):
                    break
                self.new_epoch()  # Redis came back empty: replay, then send this batch again
                replies = [None] * len(batch)
        for (entries, done), reply, op in zip(batch, replies, ops):
            remote = reply is not None and int(reply[0]) != -2
            with self._lock:
                if remote:
                    values = [float(v) for v in reply[1:]]
                else:
                    values = self.local.add(entries)
                    if lost:
                        self.doubt(op, list(entries), True)
                for (key, delta, expires), value in zip(entries, values):
                    self.record(key, delta, expires, remote=remote or lost)  # in doubt: owed through the outbox
                    self._seen[key] = (value, expires)
            self.applied += 1
            if done is not None:
                try:
                    done(values)
                except Exception:
                    pass  # a warning that cannot be told must not stop settling

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every settlement queued so far has been applied (for tests and shutdown)."""
        target = self.queued
        deadline = time.monotonic() + timeout
        while self.applied < target and time.monotonic() < deadline:
            self.wake.set()
            time.sleep(0.001)

    def call(self, action: Callable[[], Any]) -> Any:
        """Run one Redis action; None (and the backend marked down) when Redis cannot answer."""
        if not self.up:
            return None
        try:
            if self._epoch is None:
                with self._lock:
                    if self._epoch is None:
                        self._ensure_epoch()
            return action()
        except self._errors_type as exc:
            self._went_down(exc)
            return None
