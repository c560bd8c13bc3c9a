"""The exceptions rulerouter raises.

    RuleRouterError
    ├── PolicyError          a rule file (or policy-test file) has errors; carries every diagnostic
    ├── UsageError           a caller passed arguments that cannot work (e.g. no prompt at all)
    └── LimitExceeded        refused before any model was called, by the rule file's limits
        ├── BudgetExceeded   a budget's limit for its window is reached (the gateway's 429)
        └── RateLimited      requests or tokens per minute are used up (429 with Retry-After)

Execution errors (upstream failures, broken streams) join this tree in
`rulerouter.execute.result`. This module imports nothing of rulerouter's, so every stage can
raise these errors.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence


class _Problem(Protocol):
    """What an error needs of a diagnostic (`rulerouter.policy.diagnostics.Diagnostic`)."""

    @property
    def is_error(self) -> bool: ...

    def sort_key(self) -> Any: ...

    def format(self) -> str: ...

__all__ = ["BudgetExceeded", "LimitExceeded", "PolicyError", "RateLimited", "RuleRouterError", "UsageError"]


class RuleRouterError(Exception):
    """Base class of every error rulerouter raises on purpose."""


class UsageError(RuleRouterError, ValueError):
    """The call itself cannot work, whatever the policy says."""


class PolicyError(RuleRouterError):
    """A rule file could not be loaded. `diagnostics` holds every problem found, sorted."""

    def __init__(self, diagnostics: Sequence[_Problem]):
        self.diagnostics = sorted(diagnostics, key=lambda d: d.sort_key())
        errors = [d for d in self.diagnostics if d.is_error]
        listed = "\n".join(d.format() for d in self.diagnostics)
        super().__init__(f"{len(errors)} error(s) in rule file:\n{listed}")


class LimitExceeded(RuleRouterError):
    """A request refused by a budget or rate limit of the rule file; no model was called.

    `name` is the budget or rate limit, `scope` whom it counts for this request (`"everyone"`,
    a key's id, or the metadata value), `retry_after_s` when trying again can succeed.
    Raised as itself (not a subclass) with `unavailable = True` when the limits could not be
    checked at all: the shared state backend is unreachable and `[state] on_unavailable =
    "refuse"` says to fail closed.
    """

    def __init__(self, message: str, *, name: str, scope: str, retry_after_s: float, unavailable: bool = False) -> None:
        super().__init__(message)
        self.name = name
        self.scope = scope
        self.retry_after_s = retry_after_s
        self.unavailable = unavailable


class BudgetExceeded(LimitExceeded):
    """A budget has been spent for its window: says which, how much was spent and when it resets."""

    def __init__(self, message: str, *, name: str, scope: str, retry_after_s: float, spent_usd: float,
                 limit_usd: float, window: str, resets_at: float) -> None:
        super().__init__(message, name=name, scope=scope, retry_after_s=retry_after_s)
        self.budget = name
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        self.window = window
        self.resets_at = resets_at  # seconds since the epoch (UTC): the window's end


class RateLimited(LimitExceeded):
    """A rate limit's requests or tokens per minute are used up; `retry_after_s` says for how long."""

    def __init__(self, message: str, *, name: str, scope: str, retry_after_s: float, kind: str, used: float, per_minute: int) -> None:
        super().__init__(message, name=name, scope=scope, retry_after_s=retry_after_s)
        self.kind = kind  # "requests" or "tokens"
        self.used = used
        self.per_minute = per_minute
