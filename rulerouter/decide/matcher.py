"""The base of every compiled condition: a callable that answers True or False for a request.

Kept in its own module so the condition matchers (`conditions`) and the signal matchers
(`signal_matchers`) can share it without importing each other.
"""

from __future__ import annotations

from .inputs import Inputs

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
