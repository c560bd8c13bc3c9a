"""The base of every compiled condition: a callable that answers True or False for a request.

Kept in its own module so the condition matchers (`conditions`) and the signal matchers
(`signal_matchers`) can share it without importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .inputs import Inputs

if TYPE_CHECKING:
    from ..policy.schema import SignalBounds

__all__ = ["Always", "Matcher"]


class Matcher:
    """Base of every compiled condition."""

    __slots__ = ()

    def __call__(self, inputs: Inputs) -> bool:
        raise NotImplementedError

    def explain(self, inputs: Inputs) -> str:
        raise NotImplementedError


class Always(Matcher):
    __slots__ = ()

    def __call__(self, inputs: Inputs) -> bool:
        return True

    def explain(self, inputs: Inputs) -> str:
        return "no condition (always applies)"


# Bounds on a number (`gt`, `gte`, `lt`, `lte`), resolved once at compile time: shared by the
# matchers of signals, learned signals, similarity and spend.


def _bounds(spec: SignalBounds) -> tuple[tuple[str, float, Callable[[float, float], bool]], ...]:
    ops = (
        (">", spec.gt, float.__gt__),
        (">=", spec.gte, float.__ge__),
        ("<", spec.lt, float.__lt__),
        ("<=", spec.lte, float.__le__),
    )
    return tuple((op, float(bound), cmp) for op, bound, cmp in ops if bound is not None)


def _within(value: float, bounds: tuple[tuple[str, float, Callable[[float, float], bool]], ...]) -> bool:
    value = float(value)
    for _, bound, cmp in bounds:
        if not cmp(value, bound):
            return False
    return True


def _shown_bounds(bounds: tuple[tuple[str, float, Any], ...]) -> str:
    return " and ".join(f"{op} {bound:g}" for op, bound, _ in bounds)
