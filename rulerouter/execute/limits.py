"""Budgets and rate limits: checked before a request's first call, settled after its last.

The bookkeeping is pure; the counters live in a `Ledger` the executor is given (in-process or
on Redis, from `rulerouter.state`), whose `reserve` is atomic: every counter a request touches is
checked and incremented in one step, or none is. So the limits hold across threads, tasks and
replicas without read-modify-write races.

Before the call, each budget that counts the request reserves an estimate of its cost: the
input tokens estimated from the text (four characters a token) at the decided model's input
price, plus `max_tokens` (or the budget's `reserve_output_tokens`) at its output price. A request
is refused when spent + reserved + its estimate would pass the limit. After the call, the
reservation is replaced by the real cost of every attempt (failed ones and judge calls included).
Hence the bound on overshoot: a budget's final spend is at most its limit plus, for the requests
in flight when the last one was admitted, what each cost beyond its reservation.

Rate limits count requests (1 each) and tokens (the input estimate, then the real total) per
sliding minute: this minute's count plus the previous minute's, weighted by how much of it is
still inside the last 60 seconds.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

from ..errors import BudgetExceeded, LimitExceeded, RateLimited
from ..policy.jsonpath import compile_path
from ..policy.limits import Budget, RateLimit
from ..policy.schema import Policy

if TYPE_CHECKING:
    from .result import Attempt

__all__ = ["SLACK", "Admission", "Check", "Ledger", "LedgerUnavailable", "Limits", "output_tokens_of", "window_of"]

_LENGTH = {"minute": 60, "hour": 3600, "day": 86_400}
_LABEL = {"minute": "%Y-%m-%dT%H:%MZ", "hour": "%Y-%m-%dT%HZ", "day": "%Y-%m-%d", "month": "%Y-%m"}
_PLAIN = re.compile(r"[\w.@+-]{1,64}", re.ASCII)
NONE = "(none)"
#: A check fits when value + amount ≤ limit × SLACK: sums of dollar amounts carry float error.
SLACK = 1 + 1e-9


@dataclass(slots=True)
class Check:
    """One counter a request adds to, and the limit it must stay within (None: count only).

    The value compared is the counter plus `prev_weight` × the counter `prev_key` (a sliding
    window); `expires_at` (seconds since the epoch) is when the counter may be forgotten.
    """

    key: str
    limit: float | None
    amount: float
    expires_at: float
    prev_key: str | None = None
    prev_weight: float = 0.0


class LedgerUnavailable(Exception):
    """The ledger cannot answer and its settings say to fail closed."""


class Ledger(Protocol):
    """Counters every request shares (`rulerouter.state` has one in-process and one on Redis)."""

    def read(self, keys: Sequence[str]) -> list[float]:
        """The current value of each counter (0.0 for one never written or expired)."""

    def reserve(self, checks: Sequence[Check]) -> tuple[int, list[float]]:
        """Atomically: if every check fits, add every amount and return (-1, the new values);
        else add nothing and return (the index of the first that does not fit, current values)."""

    def add(self, entries: Sequence[tuple[str, float, float]], done: Callable[[list[float]], None] | None = None) -> None:
        """Add (key, delta, expires_at) to each counter, then call `done(new values)`: at once, or
        later from another thread (the Redis ledger settles off the request's path)."""

    def once(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is claimed (across every replica), False after."""


def window_of(window: str, now: float) -> tuple[float, float, str]:
    """The calendar window (UTC) holding `now`: its start, its end and its label."""
    if window == "month":
        moment = datetime.fromtimestamp(now, timezone.utc)
        start = datetime(moment.year, moment.month, 1, tzinfo=timezone.utc)
        end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=timezone.utc)
        return start.timestamp(), end.timestamp(), start.strftime(_LABEL[window])
    length = _LENGTH[window]
    start = now // length * length
    return start, start + length, datetime.fromtimestamp(start, timezone.utc).strftime(_LABEL[window])


def _shown(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # pragma: no cover - json values are always dumpable
        return repr(value)


def _key_part(scope: str) -> str:
    """A scope as it goes into a counter's key: itself when short and plain, else a digest."""
    if _PLAIN.fullmatch(scope):
        return scope
    return "h" + hashlib.sha256(scope.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class _Scoped:
    """Whom a budget or rate limit counts: everyone, the caller's key, or a metadata value."""

    def __init__(self, per: str) -> None:
        self.per = per
        self.finder = compile_path(per) if per.startswith("$") else None

    def scope(self, metadata: Any, client: str | None) -> str:
        if self.finder is None:
            return "everyone" if self.per == "everyone" else (client or NONE)
        found = self.finder(metadata if metadata is not None else {})
        return _shown(found[0]) if found else NONE


@dataclass(slots=True)
class _Reserved:
    check: Check
    kind: str  # "cost", "tokens" or "requests"
    scope: str
    budget: Budget | None = None
    rate: RateLimit | None = None
    window: str = ""  # the budget window's label


@dataclass(slots=True)
class Admission:
    """What an admitted request reserved; settled once, when the request ends."""

    reserved: list[_Reserved]
    downgrade_to: str | None = None
    downgraded_by: str | None = None
    counted: list[dict[str, str]] = field(default_factory=list)  # budgets that count it: name, scope, window


def _retry_after(now: float, limit: float, amount: float, current: float, previous: float) -> float:
    """Seconds until `amount` fits a sliding minute holding `current` now and `previous` before."""
    elapsed = now % 60
    room = limit - amount - current
    if room >= 0 and previous > 0:  # this minute's count fits: wait for the previous one to slide out
        return max(60 * (1 - room / previous) - elapsed, 0.001)
    if limit - amount < 0:
        return 60.0
    # Next minute, this minute's count becomes the previous one and slides out in turn.
    slide = 60 * (1 - (limit - amount) / current) if current > 0 else 0.0
    return (60 - elapsed) + max(slide, 0.0)


class Limits:
    """The policy's budgets and rate limits over a ledger. One per executor."""

    def __init__(self, policy: Policy, ledger: Ledger, *, clock: Callable[[], float] = time.time,
                 warn: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.ledger = ledger
        self.clock = clock
        self.warn = warn or (lambda fields: None)  # where `budget_warning` events go
        self.budgets = [(budget, _Scoped(budget.per)) for budget in policy.budgets]
        self.rates = [(rate, _Scoped(rate.per)) for rate in policy.rate_limits]
        self._tier_models = {name: tier.model for name, tier in policy.tiers.items()}
        self._prices = {name: model.price for name, model in policy.models.items()}
        self._windows: dict[str, tuple[float, float, str]] = {}  # the current window of each length

    def _window(self, window: str, now: float) -> tuple[float, float, str]:
        current = self._windows.get(window)
        if current is None or not current[0] <= now < current[1]:
            current = self._windows[window] = window_of(window, now)
        return current

    @property
    def active(self) -> bool:
        return bool(self.budgets or self.rates)

    # ---- before deciding ------------------------------------------------------------------------

    def scopes(self, metadata: Any, client: str | None) -> tuple[list[str], list[str]]:
        """Each budget's and each rate limit's scope for this request, worked out once."""
        return ([scoped.scope(metadata, client) for _, scoped in self.budgets],
                [scoped.scope(metadata, client) for _, scoped in self.rates])

    def _budget_key(self, budget: Budget, scope: str, label: str) -> str:
        return f"b:{budget.name}:{label}:{_key_part(scope)}"

    def spend(self, scopes: tuple[list[str], list[str]], names: frozenset[str]) -> dict[str, float]:
        """The fraction of each named budget used (spent + reserved) for this request's scope."""
        now = self.clock()
        wanted = [(budget, scope) for (budget, _), scope in zip(self.budgets, scopes[0]) if budget.name in names]
        keys = [self._budget_key(budget, scope, self._window(budget.window, now)[2]) for budget, scope in wanted]
        try:
            values = self.ledger.read(keys)
        except LedgerUnavailable as exc:
            raise self._unavailable(exc) from None
        return {budget.name: value / budget.limit_usd for (budget, _), value in zip(wanted, values)}

    # ---- before the first call ------------------------------------------------------------------

    def _estimate(self, model: str, input_tokens: int, output_tokens: int | None, budget: Budget) -> float:
        price = self._prices.get(model)
        if price is None:
            return 0.0
        out = budget.reserve_output_tokens if output_tokens is None else output_tokens
        return (input_tokens * price.input_per_mtok + out * price.output_per_mtok) / 1_000_000

    def _checks(self, now: float, scopes: tuple[list[str], list[str]], model: str, input_tokens: int,
                output_tokens: int | None, unchecked: frozenset[str]) -> list[_Reserved]:
        out: list[_Reserved] = []
        minute = int(now // 60)
        weight = 1.0 - (now - minute * 60) / 60
        expires = (minute + 2) * 60.0
        for (rate, _), scope in zip(self.rates, scopes[1]):
            part = _key_part(scope)
            for kind, limit, amount in (("requests", rate.requests_per_minute, 1.0), ("tokens", rate.tokens_per_minute, float(input_tokens))):
                if limit is not None:
                    key = f"r:{rate.name}:{kind}:{minute}:{part}"
                    previous = f"r:{rate.name}:{kind}:{minute - 1}:{part}"
                    out.append(_Reserved(Check(key, float(limit), amount, expires, previous, weight), kind, scope, rate=rate))
        for (budget, _), scope in zip(self.budgets, scopes[0]):
            _, end, label = self._window(budget.window, now)
            limit = None if budget.name in unchecked else budget.limit_usd
            estimate = self._estimate(model, input_tokens, output_tokens, budget)
            out.append(_Reserved(Check(self._budget_key(budget, scope, label), limit, estimate, end + 60), "cost", scope, budget=budget, window=label))
        return out

    def admit(self, scopes: tuple[list[str], list[str]], model: str, input_tokens: int,
              output_tokens: int | None) -> Admission:
        """Reserve this request's share of every limit, or raise `LimitExceeded` saying which is spent.

        A `downgrade` budget that is spent moves the request to its tier (the returned
        admission says which); a `refuse` budget or a rate limit raises.
        """
        now = self.clock()
        unchecked: frozenset[str] = frozenset()
        downgrade: tuple[str, str] | None = None
        while True:
            reserved = self._checks(now, scopes, model, input_tokens, output_tokens, unchecked)
            try:
                blocked, values = self.ledger.reserve([r.check for r in reserved])
            except LedgerUnavailable as exc:
                raise self._unavailable(exc) from None
            if blocked < 0:
                break
            item = reserved[blocked]
            budget = item.budget
            if budget is None:
                raise self._rate_limited(now, item)
            if budget.on_exceeded == "refuse" or downgrade is not None:
                raise self._budget_exceeded(now, item, values[blocked])
            assert budget.downgrade_to is not None
            downgrade = (budget.downgrade_to, budget.name)
            model = self._tier_models[budget.downgrade_to]
            unchecked = frozenset(b.name for b, _ in self.budgets if b.on_exceeded == "downgrade")
        admission = Admission(reserved)
        if downgrade is not None:
            admission.downgrade_to, admission.downgraded_by = downgrade
        for item, value in zip(reserved, values):
            if item.budget is not None:
                admission.counted.append({"name": item.budget.name, "scope": item.scope, "window": item.window})
                self._warn_if_crossed(item, value - item.check.amount, value)
        return admission

    # ---- after the last call --------------------------------------------------------------------

    def settle(self, admission: Admission, attempts: Sequence[Attempt]) -> None:
        """Replace the reservations by what the request really cost and used."""
        cost = sum(a.cost for a in attempts if a.cost is not None)
        tokens = sum(a.usage.total_tokens for a in attempts if a.usage is not None)
        changed = []
        for item in admission.reserved:
            if item.kind == "requests":
                continue
            delta = (cost if item.kind == "cost" else tokens) - item.check.amount
            if delta:
                changed.append((item, delta))
        if not changed:
            return
        def warn(values: list[float]) -> None:
            for (item, delta), value in zip(changed, values):
                if item.budget is not None and delta > 0:
                    self._warn_if_crossed(item, value - delta, value)

        self.ledger.add([(item.check.key, delta, item.check.expires_at) for item, delta in changed], warn)

    def _warn_if_crossed(self, item: _Reserved, before: float, after: float) -> None:
        budget = item.budget
        assert budget is not None
        for fraction in budget.warn_at:
            line = fraction * budget.limit_usd
            if before < line <= after and self.ledger.once(f"w:{item.check.key}:{fraction:g}", item.check.expires_at):
                self.warn({"budget": budget.name, "scope": item.scope, "window": item.window,
                           "fraction": fraction, "spent_usd": round(after, 10), "limit_usd": budget.limit_usd})

    # ---- refusals -------------------------------------------------------------------------------

    def _budget_exceeded(self, now: float, item: _Reserved, value: float) -> BudgetExceeded:
        budget = item.budget
        assert budget is not None
        _, end, label = window_of(budget.window, now)
        resets = datetime.fromtimestamp(end, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        alone = " (this request's estimate alone is over it)" if item.check.amount > budget.limit_usd else ""
        message = (f"budget '{budget.name}' is spent for {item.scope}: ${value:.6f} of ${budget.limit_usd:g} used this {budget.window} "
                   f"({label}, UTC; requests in flight included){alone}; it resets at {resets}")
        return BudgetExceeded(message, name=budget.name, scope=item.scope, retry_after_s=max(end - now, 0.001),
                              spent_usd=value, limit_usd=budget.limit_usd, window=label, resets_at=end)

    def _rate_limited(self, now: float, item: _Reserved) -> RateLimited:
        check = item.check
        assert check.limit is not None and check.prev_key is not None and item.rate is not None
        name = item.rate.name
        try:
            current, previous = self.ledger.read([check.key, check.prev_key])
        except LedgerUnavailable:
            current, previous = check.limit, 0.0
        used = current + previous * check.prev_weight
        wait = _retry_after(now, check.limit, check.amount, current, previous)
        alone = "; this request alone is over it" if check.amount > check.limit else ""
        message = (f"rate limit '{name}' reached for {item.scope}: {used:.0f} of {check.limit:.0f} {item.kind} in the last minute"
                   f"{alone}; retry after {math.ceil(wait)}s")
        return RateLimited(message, name=name, scope=item.scope, retry_after_s=wait, kind=item.kind, used=used,
                           per_minute=int(check.limit))

    def _unavailable(self, exc: LedgerUnavailable) -> LimitExceeded:
        return LimitExceeded(f"the shared state backend is unreachable ({exc}), and [state] on_unavailable = \"refuse\": "
                             "requests that budgets or rate limits count are refused until it is back",
                             name="state", scope="everyone", retry_after_s=1.0, unavailable=True)


def output_tokens_of(params: Mapping[str, Any]) -> int | None:
    """The output tokens a request asks to be capped at, if it says."""
    for key in ("max_completion_tokens", "max_tokens"):
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None
