"""A request refused by a budget or rate limit: the one decision every front door renders.

The router decides (`BudgetExceeded`, `RateLimited`, or `LimitExceeded` with `unavailable`
when the limits cannot be checked and the rule file says to fail closed); `refusal_for` turns
that into a status, a message and headers once, and each API's front door puts them in its own
error shape (OpenAI's `{"error": {...}}` in `app.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import BudgetExceeded, LimitExceeded, RateLimited

__all__ = ["Refusal", "refusal_for"]


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 429, or 503 when the limits could not be checked at all
    kind: str  # "budget", "requests", "tokens" or "unavailable"
    message: str
    headers: tuple[tuple[bytes, bytes], ...]


def refusal_for(error: LimitExceeded) -> Refusal:
    retry = str(max(1, math.ceil(error.retry_after_s))).encode()
    name = error.name.encode()
    if error.unavailable:
        return Refusal(503, "unavailable", str(error), ((b"retry-after", retry),))
    if isinstance(error, RateLimited):
        headers = ((b"retry-after", retry), (b"x-rulerouter-rate-limit", name),
                   (f"x-ratelimit-limit-{error.kind}".encode(), str(error.per_minute).encode()))
        return Refusal(429, error.kind, str(error), headers)
    assert isinstance(error, BudgetExceeded)
    resets = datetime.fromtimestamp(error.resets_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return Refusal(429, "budget", str(error), ((b"x-rulerouter-budget", name), (b"x-rulerouter-budget-resets-at", resets)))
