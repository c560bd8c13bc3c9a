"""A learned text classifier, compiled from its model file for deciding in microseconds.

The model is a multinomial logistic regression over the distinct n-gram features of
`rulerouter.decide.text_features`: for each class c,

    logit_c = bias_c + (Σ over the text's distinct features of weight_c[feature]) / √n

with n the number of distinct features in the text (so long and short texts get comparable
sums: each present feature weighs 1/√n, the text's feature vector has unit length), and the
class probabilities are the softmax of the logits.

Speed. The weights live in a `FeatureTable` (`rulerouter.decide.feature_table`) that the policy
shares between all its classifiers and example sets: one lookup per feature of the request
serves them all, and this class only reads its class sums from the table's result. Standing
alone (tools, tests, training), a classifier makes a table of its own.
"""

from __future__ import annotations

import math
from typing import Iterator

from ..policy.model_file import ModelFile
from .feature_table import OFFSET, FeatureTable, Measured
from .inputs import Inputs
from .text_features import Features, Key, extract, features_of, key_of, name_of

__all__ = ["Classifier"]


class Classifier:
    """A compiled model: `probabilities(inputs, source)` gives one probability per class."""

    __slots__ = ("name", "classes", "index", "model", "_bias", "_scale", "_table", "_first")

    def __init__(self, name: str, model: ModelFile) -> None:
        self.name = name
        self.model = model
        self.classes = model.classes
        self.index = {c: i for i, c in enumerate(model.classes)}
        self._bias = model.bias
        self._scale = model.scale
        self._table: FeatureTable | None = None
        self._first = 0

    def rows(self) -> Iterator[tuple[Key, tuple[int, ...]]]:
        """(feature key, quantised weight per class) for every feature of the model."""
        for name, row in self.model.weights.items():
            yield key_of(name), row

    def attach(self, table: FeatureTable, first: int) -> None:
        """Read class sums from `table`'s fields `first`, `first + 1`, … (one per class)."""
        self._table, self._first = table, first

    def _own_table(self) -> FeatureTable:
        return self._table if self._table is not None else FeatureTable([self], [])

    def _from(self, measured: Measured) -> tuple[float, ...]:
        count, fields = measured
        per = self._scale / math.sqrt(count) if count else 0.0
        offset = fields[0] * OFFSET  # every hit added OFFSET to each class field
        logits = []  # loops, not comprehensions: on Python 3.11 each comprehension is a call
        for b, s in zip(self._bias, fields[self._first:self._first + len(self._bias)]):
            logits.append(b + (s - offset) * per)
        top = max(logits)
        exps = []
        for x in logits:
            exps.append(math.exp(x - top))
        norm = sum(exps)
        return tuple([e / norm for e in exps])

    def probabilities(self, inputs: Inputs, source: str) -> tuple[float, ...]:
        cache = inputs._cache
        key = (self, source)
        found = cache.get(key)
        if found is None:
            found = cache[key] = self._from((self._table or self._own_table()).measure(inputs, source))
        return found  # type: ignore[no-any-return]

    def probabilities_of(self, text: str) -> dict[str, float]:
        """Class → probability for a text (for tools and tests; deciding uses `probabilities`)."""
        return dict(zip(self.classes, self.probabilities_of_features(extract(text))))

    def probabilities_of_features(self, features: Features) -> tuple[float, ...]:
        """One probability per class for features already extracted (training reuses them)."""
        return self._from(self._own_table().measure_features(features))

    def top_features(self, features: Features, class_index: int, limit: int = 5) -> list[tuple[str, float]]:
        """The n-grams that weigh most for one class in this text, with their share of its logit."""
        per = self._scale / math.sqrt(features.count) if features.count else 0.0
        weights = self.model.weights
        contributions = []
        for name in map(name_of, features.keys):
            row = weights.get(name)
            if row is not None:
                contributions.append((name, row[class_index] * per))
        contributions.sort(key=lambda item: (-item[1], item[0]))
        return [(name, value) for name, value in contributions[:limit] if value > 0]

    def explain(self, inputs: Inputs, source: str) -> str:
        probabilities = self.probabilities(inputs, source)
        top = max(range(len(probabilities)), key=probabilities.__getitem__)
        shown = ", ".join(f"{c} {p:.2f}" for c, p in sorted(zip(self.classes, probabilities), key=lambda x: -x[1]))
        grams = self.top_features(features_of(inputs, source), top)
        weighed = ", ".join(f"{_shown_feature(n)} {v:+.2f}" for n, v in grams) or "no known n-gram"
        return f"classifier '{self.name}': {shown}; most weight for {self.classes[top]}: {weighed}"


def _shown_feature(name: str) -> str:
    kind, text = name[:2], name[2:]
    label = {"w:": "", "p:": "prefix ", "s:": "punctuation "}[kind]
    return f"{label}'{text}'"
