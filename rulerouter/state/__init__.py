"""Stage 4, state: counters and state shared by every request — and, on Redis, every replica.

Budgets' spend, rate limits' counts, circuit-breaker state and Retry-After cooldowns live in a
state backend that `Router` hands to its executor: in-process by default (nothing to install),
Redis when the rule file's `[state] redis_url_env` names a variable holding its URL.

    memory.py   the in-process backend: counters in a dict under a lock
    redis.py           the Redis backend: its life, outages, catch-up, queued settlements
    redis_ledger.py    its ledger: Lua-atomic reserve and add, the local ledger while Redis is away
    redis_circuits.py  circuit openings and Retry-After cooldowns, published and polled
    backend.py  choosing the backend from `[state]` and the environment

May import `rulerouter.execute` (the interfaces it implements: `Ledger`, the breaker store),
`rulerouter.decide` and `rulerouter.policy`; never `rulerouter.observe`, its peer.
"""

from .._lazy import lazy_exports

__all__ = ["MemoryLedger", "MemoryState", "StateBackend", "state_for"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "StateBackend": ".backend",
    "state_for": ".backend",
    "MemoryLedger": ".memory",
    "MemoryState": ".memory",
})
