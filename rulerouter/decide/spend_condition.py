"""The matcher of `when.spend`: the fraction of a budget used, which the caller hands to decide.

Deciding stays pure: the router reads each budget's spend for the request's scope from its
state backend *before* deciding and passes the fractions in `Inputs.spend` (`route --spend`
and policy tests pass them by hand). A budget the caller gave no figure for counts as 0.
"""

from __future__ import annotations

from ..policy.schema import SpendCondition
from .inputs import Inputs
from .matcher import Matcher, _bounds, _shown_bounds, _within

__all__ = ["SpendTest"]


class SpendTest(Matcher):
    __slots__ = ("budget", "bounds")

    def __init__(self, spec: SpendCondition) -> None:
        self.budget = spec.budget
        self.bounds = _bounds(spec)

    def fraction(self, inputs: Inputs) -> float:
        spend = inputs.spend
        return float(spend.get(self.budget, 0.0)) if spend else 0.0

    def __call__(self, inputs: Inputs) -> bool:
        return _within(self.fraction(inputs), self.bounds)

    def explain(self, inputs: Inputs) -> str:
        given = bool(inputs.spend) and self.budget in inputs.spend  # type: ignore[operator]
        seen = f"{self.fraction(inputs):.1%} used" if given else "0% (no spend given)"
        verdict = "holds" if self(inputs) else "does not hold"
        return f"spend of budget '{self.budget}' = {seen}; {_shown_bounds(self.bounds)} {verdict}"
