"""Weighted scores: a `[scores.NAME]` table compiled into a small object that sums signals.

    feature_i = min(signal_i, cap_i) / cap_i                    (0..1; cap: the signal's default
                                                                 or the score's `caps`)
    sum       = bias + Σ weight_i × feature_i
    score     = sum, or 1 / (1 + e^-sum) with `logistic = true`

Kept apart from `signals` (what is measured) and `conditions` (what is compared) because
`rulerouter tune` uses the same arithmetic to turn signals into the features it fits weights on.
The range a score can reach, which lint checks thresholds against, is worked out from the same
formula in `rulerouter.policy.lint_signals`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from ..policy.schema import Score
from ..policy.vocabulary import SIGNALS, logistic
from .signals import INDEX, Signals, plan_for

if TYPE_CHECKING:
    from .classifier import Classifier

__all__ = ["CompiledScore", "compile_scores", "feature"]


def feature(value: float, cap: float) -> float:
    """A signal's value scaled to 0..1 by its cap."""
    if value <= 0 or cap <= 0:
        return 0.0
    return 1.0 if value >= cap else value / cap


class CompiledScore:
    """A score ready to evaluate: (signal, weight, cap) terms in file order."""

    __slots__ = ("name", "bias", "logistic", "terms", "learned", "plan", "_weight_at", "_per_unit_at")

    def __init__(self, name: str, spec: Score, classifiers: Mapping[str, Classifier] | None = None) -> None:
        self.name = name
        self.bias = spec.bias
        self.logistic = spec.logistic
        terms = []
        # Class probabilities of learned classifiers (`task.complex`): (name, classifier, class, weight, cap).
        learned = []
        for signal, weight in spec.weights.items():
            if "." in signal:
                owner, _, label = signal.partition(".")
                classifier = (classifiers or {}).get(owner)
                if classifier is None or label not in classifier.index:
                    raise ValueError(f"score '{name}' weighs unknown learned signal '{signal}'")
                learned.append((signal, classifier, classifier.index[label], weight, spec.caps.get(signal, 1.0)))
                continue
            if signal not in SIGNALS:
                raise ValueError(f"score '{name}' weighs unknown signal '{signal}'")
            terms.append((signal, weight, spec.caps.get(signal, SIGNALS[signal].cap)))
        self.terms = tuple(terms)
        self.learned = tuple(learned)
        # For value(): weight and 1/cap by signal slot (0 for signals the score does not weigh),
        # so the sum runs over the few signals that are not 0 instead of over every term.
        live = [(s, w, c) for s, w, c in terms if w and c > 0]
        self.plan = plan_for(s for s, _, _ in live)
        self._weight_at = [0.0] * len(INDEX)
        self._per_unit_at = [0.0] * len(INDEX)
        for signal, weight, cap in live:
            self._weight_at[INDEX[signal]] = weight
            self._per_unit_at[INDEX[signal]] = 1.0 / cap

    def value(self, signals: Signals) -> float:
        signals.ensure(self.plan)
        total = self.bias
        weight_at, per_unit_at = self._weight_at, self._per_unit_at
        for index, value in signals.nonzero():
            weight = weight_at[index]
            if weight:
                scaled = value * per_unit_at[index]
                total += weight * (scaled if scaled < 1.0 else 1.0)
        for _, classifier, index, weight, cap in self.learned:
            total += weight * feature(classifier.probabilities(signals.inputs, signals.source)[index], cap)
        return logistic(total) if self.logistic else total

    def explain(self, signals: Signals) -> str:
        """The score term by term: `bias 0.10 + reasoning 2/3 × 0.90 (+0.60) + … = 0.83`."""
        parts = [f"bias {self.bias:+.3g}"]
        total = self.bias
        for signal, weight, cap in self.terms:
            value = signals[signal]
            contribution = weight * feature(value, cap) + 0.0  # no "-0"
            total += contribution
            parts.append(f"{signal} {_number(value)}/{_number(cap)} × {weight:.3g} ({contribution:+.3g})")
        for signal, classifier, index, weight, cap in self.learned:
            value = classifier.probabilities(signals.inputs, signals.source)[index]
            contribution = weight * feature(value, cap) + 0.0
            total += contribution
            parts.append(f"{signal} {value:.3f}/{_number(cap)} × {weight:.3g} ({contribution:+.3g})")
        text = " + ".join(parts)
        if self.logistic:
            return f"logistic({text} = {total:.3g}) = {logistic(total):.3f}"
        return f"{text} = {total:.3f}"


def _number(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) and not value.is_integer() else str(int(value))


def compile_scores(specs: Mapping[str, Score], classifiers: Mapping[str, Classifier] | None = None) -> dict[str, CompiledScore]:
    """The policy's scores. They share one plan: the first score a request needs computes the
    signals of all of them at once, which costs less than topping up group by group."""
    compiled = {name: CompiledScore(name, spec, classifiers) for name, spec in specs.items()}
    shared = plan_for(s for score in compiled.values() for s, w, c in score.terms if w and c > 0)
    for score in compiled.values():
        score.plan = shared
    return compiled
