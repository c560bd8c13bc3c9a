"""What a call cost, from the rule file's prices. Unknown is unknown, never zero."""

from __future__ import annotations

from ..policy.schema import Price
from .result import Usage

__all__ = ["cost_of", "sum_costs"]


def cost_of(price: Price | None, usage: Usage | None, ok: bool) -> float | None:
    """US dollars for one attempt.

    A failed attempt that reported no usage cost nothing (0.0). Otherwise the cost is unknown
    (None) when the model has no price or a successful reply carried no usage.
    """
    if usage is None:
        return None if ok else 0.0
    if price is None:
        return None
    dollars = usage.prompt_tokens * price.input_per_mtok + usage.completion_tokens * price.output_per_mtok
    if usage.cached_tokens and price.cached_input_per_mtok is not None:
        dollars += usage.cached_tokens * (price.cached_input_per_mtok - price.input_per_mtok)
    if usage.cache_write_tokens and price.cache_write_per_mtok is not None:
        dollars += usage.cache_write_tokens * (price.cache_write_per_mtok - price.input_per_mtok)
    return dollars / 1_000_000


def sum_costs(costs: list[float | None]) -> float | None:
    """The total, or None when any part is unknown."""
    total = 0.0
    for cost in costs:
        if cost is None:
            return None
        total += cost
    return total
