"""Matchers of `when.signals`, `when.language` and `when.score`.

Each reads the request's cached `Signals` for its text source (computing the groups it needs on
first use) and compares numbers with bounds resolved at compile time. Apart from `conditions`
so that module stays readable; `build_matcher` there builds these too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..policy.schema import LanguageCondition, ScoreCondition, SignalBounds
from ..policy.vocabulary import SIGNALS
from .inputs import Inputs
from .matcher import Matcher, _bounds, _shown_bounds, _within
from .signals import INDEX, signals_of

if TYPE_CHECKING:
    from .scores import CompiledScore

__all__ = ["LanguageTest", "ScoreTest", "SignalTest"]


def _shown(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) and not value.is_integer() else str(int(value))


class SignalTest(Matcher):
    """Thresholds on signals (`when.signals`); every signal named must be within its bounds."""

    __slots__ = ("source", "checks")

    def __init__(self, specs: dict[str, SignalBounds], source: str) -> None:
        self.source = source
        for name in specs:
            if name not in SIGNALS:
                raise ValueError(f"unknown signal '{name}'")
        self.checks = tuple((name, INDEX[name], _bounds(spec)) for name, spec in specs.items())

    def __call__(self, inputs: Inputs) -> bool:
        signals = signals_of(inputs, self.source)
        for _, index, bounds in self.checks:
            if not _within(signals.at(index), bounds):
                return False
        return True

    def explain(self, inputs: Inputs) -> str:
        signals = signals_of(inputs, self.source)
        parts = []
        for name, _, bounds in self.checks:
            verdict = "holds" if _within(signals[name], bounds) else "does not hold"
            parts.append(f"{name} = {_shown(signals[name])}; {_shown_bounds(bounds)} {verdict}")
        return f"signals (in {self.source}): " + ", ".join(parts)


class LanguageTest(Matcher):
    """The guessed language of the text is (or is not) one of the codes given."""

    __slots__ = ("source", "allowed", "banned")

    def __init__(self, spec: LanguageCondition, source: str) -> None:
        self.source = source
        self.allowed = frozenset(spec.in_) if spec.in_ is not None else None
        self.banned = frozenset(spec.not_in or ())

    def __call__(self, inputs: Inputs) -> bool:
        language = signals_of(inputs, self.source).get_language()
        return (self.allowed is None or language in self.allowed) and language not in self.banned

    def explain(self, inputs: Inputs) -> str:
        language = signals_of(inputs, self.source).get_language()
        tests = []
        if self.allowed is not None:
            tests.append(f"in {sorted(self.allowed)}")
        if self.banned:
            tests.append(f"not in {sorted(self.banned)}")
        verdict = "holds" if self(inputs) else "does not hold"
        return f"language (in {self.source}) = {language}; {' and '.join(tests)} {verdict}"


class ScoreTest(Matcher):
    """A weighted score compared with thresholds; the score is worked out once per request."""

    __slots__ = ("source", "score", "bounds", "key")

    def __init__(self, spec: ScoreCondition, score: CompiledScore, source: str) -> None:
        self.source = source
        self.score = score
        self.bounds = _bounds(spec)
        # Keyed by the compiled score itself: two policies with a score of the same name but
        # other weights never share a cached value, even on one `Inputs`.
        self.key = ("score", score, source)

    def value(self, inputs: Inputs) -> float:
        cache = inputs._cache
        value = cache.get(self.key)
        if value is None:
            value = cache[self.key] = self.score.value(signals_of(inputs, self.source))
        return value

    def __call__(self, inputs: Inputs) -> bool:
        return _within(self.value(inputs), self.bounds)

    def explain(self, inputs: Inputs) -> str:
        value = self.value(inputs)
        verdict = "holds" if _within(value, self.bounds) else "does not hold"
        terms = self.score.explain(signals_of(inputs, self.source))
        return f"score '{self.score.name}' (in {self.source}) = {value:.3f}; {_shown_bounds(self.bounds)} {verdict}: {terms}"
