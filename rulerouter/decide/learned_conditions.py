"""Matchers of learned signals (`when.signals."task.complex"`) and of `when.similar`.

A classifier's probabilities and a request's similarity to an example set are worked out once
per request and text source (cached on `Inputs`), however many rules compare them.
`explain()` names the n-grams that weighed most for the winning class, or the nearest example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping

from ..policy.schema import SignalBounds, SimilarCondition
from .inputs import Inputs
from .matcher import Matcher, _bounds, _shown_bounds, _within

if TYPE_CHECKING:  # built by the compiler only for a policy that has them
    from .classifier import Classifier
    from .similarity import ExampleSet

__all__ = ["ClassifierTest", "Learned", "SimilarTest", "learned_signal"]


class Learned:
    """What learned conditions compile against: the policy's classifiers and example sets."""

    __slots__ = ("classifiers", "example_set")

    def __init__(self, classifiers: Mapping[str, Classifier], example_set: Callable[[SimilarCondition], ExampleSet]) -> None:
        self.classifiers = classifiers
        self.example_set = example_set


def _inline_examples(spec: SimilarCondition) -> ExampleSet:
    from .similarity import ExampleSet

    return ExampleSet(spec.examples if isinstance(spec.examples, list) else (), "examples")


NOTHING_LEARNED = Learned({}, _inline_examples)


def learned_signal(name: str, classifiers: Mapping[str, Classifier]) -> tuple[Classifier, int]:
    """The classifier and class index a `CLASSIFIER.CLASS` signal name stands for."""
    owner, _, label = name.partition(".")
    classifier = classifiers.get(owner)
    if classifier is None:
        raise ValueError(f"unknown classifier '{owner}' (signal '{name}')")
    if label not in classifier.index:
        raise ValueError(f"classifier '{owner}' has no class '{label}'")
    return classifier, classifier.index[label]


class ClassifierTest(Matcher):
    """Bounds on class probabilities of learned classifiers; every one named must hold."""

    __slots__ = ("source", "checks")

    def __init__(self, specs: Mapping[str, SignalBounds], source: str, classifiers: Mapping[str, Classifier]) -> None:
        self.source = source
        self.checks = tuple((name, *learned_signal(name, classifiers), _bounds(spec)) for name, spec in specs.items())

    def __call__(self, inputs: Inputs) -> bool:
        for _, classifier, index, bounds in self.checks:
            if not _within(classifier.probabilities(inputs, self.source)[index], bounds):
                return False
        return True

    def explain(self, inputs: Inputs) -> str:
        parts, seen = [], []
        for name, classifier, index, bounds in self.checks:
            value = classifier.probabilities(inputs, self.source)[index]
            verdict = "holds" if _within(value, bounds) else "does not hold"
            parts.append(f"{name} = {value:.3f}; {_shown_bounds(bounds)} {verdict}")
            if classifier not in seen:
                seen.append(classifier)
        details = "; ".join(c.explain(inputs, self.source) for c in seen)
        return f"signals (in {self.source}): " + ", ".join(parts) + f" [{details}]"


class SimilarTest(Matcher):
    """The text's similarity to its nearest example, compared with bounds."""

    __slots__ = ("source", "examples", "bounds")

    def __init__(self, spec: SimilarCondition, source: str, learned: Learned) -> None:
        self.source = spec.text or source
        self.examples = learned.example_set(spec)
        self.bounds = _bounds(spec)

    def __call__(self, inputs: Inputs) -> bool:
        return _within(self.examples.nearest(inputs, self.source)[0], self.bounds)

    def explain(self, inputs: Inputs) -> str:
        value, index = self.examples.nearest(inputs, self.source)
        verdict = "holds" if _within(value, self.bounds) else "does not hold"
        example = self.examples.examples[index]
        shown = example if len(example) <= 70 else example[:67] + "…"
        nearest = f"nearest example {index + 1} of {len(self.examples.examples)} {shown!r}" if value else "no example shares a feature"
        return (f"similar to {self.examples.label} (in {self.source}) = {value:.3f}; {_shown_bounds(self.bounds)} "
                f"{verdict}; {nearest}")
