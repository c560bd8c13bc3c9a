"""A learned text classifier, compiled from its model file for deciding in microseconds.

The model is a multinomial logistic regression over the n-gram features of
`rulerouter.decide.text_features`: for each class c,

    logit_c = bias_c + (Σ over the text's feature occurrences of weight_c[feature]) / √n

with n the number of feature occurrences (so long and short texts get comparable sums), and
the class probabilities are the softmax of the logits.

Speed. Compiling packs each feature's integer weights for every class into one Python
integer (each class in its own bit field, offset so that every field is non-negative), in one
dictionary per feature kind. Deciding is then one `map(dict.get, …)` and one `sum` per kind —
C-level loops, no per-feature Python code — and the class totals are read back from the
fields of the sum. A feature the model does not know looks up 0 and adds nothing.
"""

from __future__ import annotations

import math
from itertools import repeat
from typing import Any

from ..policy.model_file import ModelFile
from .inputs import Inputs
from .text_features import Features, extract, features_of

__all__ = ["Classifier"]

_OFFSET_BITS = 31  # every quantised weight lies in (-2**31, 2**31): see model_file
_OFFSET = 1 << _OFFSET_BITS
_COUNT_BITS = 24  # feature occurrences per text: far more than a sampled text can hold
_FIELD = _OFFSET_BITS + 1 + _COUNT_BITS


class Classifier:
    """A compiled model: `probabilities(inputs, source)` gives one probability per class."""

    __slots__ = ("name", "classes", "index", "model", "_bias", "_scale", "_words", "_bigrams", "_prefixes",
                 "_punctuation", "_mask")

    def __init__(self, name: str, model: ModelFile) -> None:
        self.name = name
        self.model = model
        self.classes = model.classes
        self.index = {c: i for i, c in enumerate(model.classes)}
        self._bias = model.bias
        self._scale = model.scale
        self._mask = (1 << _FIELD) - 1
        tables: dict[str, dict[Any, int]] = {"w:": {}, "b:": {}, "p:": {}, "s:": {}}
        for feature, row in model.weights.items():
            packed = 0
            for c, q in enumerate(row):
                packed |= (q + _OFFSET) << (c * _FIELD)
            kind, text = feature[:2], feature[2:]
            if kind == "b:":
                first, _, second = text.partition(" ")
                tables[kind][(first, second)] = packed
            else:
                tables[kind][text] = packed
        self._words, self._bigrams = tables["w:"], tables["b:"]
        self._prefixes, self._punctuation = tables["p:"], tables["s:"]

    def _totals(self, features: Features) -> tuple[list[int], int]:
        """Each class's sum of quantised weights over the known features, and how many were known."""
        hits = 0
        total = 0
        for table, items in ((self._words, features.words), (self._bigrams, features.bigrams),
                             (self._prefixes, features.prefixes), (self._punctuation, features.punctuation)):
            if items and table:
                found = list(map(table.get, items, repeat(0)))
                hits += len(found) - found.count(0)
                total += sum(found)
        mask, offset = self._mask, hits * _OFFSET
        return [((total >> (c * _FIELD)) & mask) - offset for c in range(len(self.classes))], hits

    def _probabilities(self, features: Features) -> tuple[float, ...]:
        sums, _ = self._totals(features)
        per = self._scale / math.sqrt(features.count) if features.count else 0.0
        logits = [b + s * per for b, s in zip(self._bias, sums)]
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        norm = sum(exps)
        return tuple(e / norm for e in exps)

    def probabilities(self, inputs: Inputs, source: str) -> tuple[float, ...]:
        cache = inputs._store()
        key = (self, source)
        found = cache.get(key)
        if found is None:
            found = cache[key] = self._probabilities(features_of(inputs, source))
        return found  # type: ignore[no-any-return]

    def probabilities_of(self, text: str) -> dict[str, float]:
        """Class → probability for a text (for tools and tests; deciding uses `probabilities`)."""
        return dict(zip(self.classes, self._probabilities(extract(text))))

    def top_features(self, features: Features, class_index: int, limit: int = 5) -> list[tuple[str, float]]:
        """The n-grams that weigh most for one class in this text, with their share of its logit."""
        per = self._scale / math.sqrt(features.count) if features.count else 0.0
        weights = self.model.weights
        contributions: dict[str, float] = {}
        for name in features.strings():
            row = weights.get(name)
            if row is not None:
                contributions[name] = contributions.get(name, 0.0) + row[class_index] * per
        ranked = sorted(contributions.items(), key=lambda item: (-item[1], item[0]))
        return [(name, value) for name, value in ranked[:limit] if value > 0]

    def explain(self, inputs: Inputs, source: str) -> str:
        probabilities = self.probabilities(inputs, source)
        top = max(range(len(probabilities)), key=probabilities.__getitem__)
        shown = ", ".join(f"{c} {p:.2f}" for c, p in sorted(zip(self.classes, probabilities), key=lambda x: -x[1]))
        grams = self.top_features(features_of(inputs, source), top)
        weighed = ", ".join(f"{_shown_feature(n)} {v:+.2f}" for n, v in grams) or "no known n-gram"
        return f"classifier '{self.name}': {shown}; most weight for {self.classes[top]}: {weighed}"


def _shown_feature(name: str) -> str:
    kind, text = name[:2], name[2:]
    label = {"w:": "", "b:": "", "p:": "prefix ", "s:": "punctuation "}[kind]
    return f"{label}'{text}'"
