"""Similarity of a request to example prompts (`when.similar`), on the classifiers' features.

Each example and the request become the *set* of their features (words, prefixes,
punctuation runs: `rulerouter.decide.text_features`); similarity is the cosine of
those sets, |A ∩ B| / √(|A|·|B|), from 0 (nothing shared) to 1 (the same features). The
request is compared with every example and the nearest one counts.

Speed. The shared-feature counts |A ∩ B| of every example come out of the policy's
`FeatureTable` (`rulerouter.decide.feature_table`) in the same lookup pass that serves the
classifiers: each example is one 16-bit field of the table's values. What is left here is one
C-level `map` over the counts and the 1/√|B| of each example, and a `max`.
"""

from __future__ import annotations

import math
from operator import mul
from typing import Sequence

from .feature_table import FeatureTable, Measured
from .inputs import Inputs
from .text_features import Key, extract

__all__ = ["ExampleSet"]


class ExampleSet:
    """Examples compiled for similarity; `nearest(inputs, source)` → (similarity, example index)."""

    __slots__ = ("label", "examples", "keys", "_per_size", "_table", "_first")

    def __init__(self, examples: Sequence[str], label: str) -> None:
        self.label = label
        self.examples = tuple(examples)
        self.keys: tuple[frozenset[Key], ...] = tuple(frozenset(extract(e).keys) for e in self.examples)
        self._per_size = tuple(1 / math.sqrt(len(k)) if k else 0.0 for k in self.keys)
        self._table: FeatureTable | None = None
        self._first = 0

    def attach(self, table: FeatureTable, first: int) -> None:
        """Read shared-feature counts from `table`'s fields `first`, `first + 1`, … (one per example)."""
        self._table, self._first = table, first

    def _own_table(self) -> FeatureTable:
        return self._table if self._table is not None else FeatureTable([], [self])

    def _from(self, measured: Measured) -> tuple[float, int]:
        count, fields = measured
        if not fields[0] or not self.examples:
            return 0.0, 0
        # float × int (not int × float): one dispatch fewer per example, the same product.
        scores = list(map(mul, self._per_size, fields[self._first:self._first + len(self.examples)]))
        best = max(scores)
        return best / math.sqrt(count), scores.index(best)

    def nearest(self, inputs: Inputs, source: str) -> tuple[float, int]:
        cache = inputs._cache
        key = (self, source)
        found = cache.get(key)
        if found is None:
            found = cache[key] = self._from((self._table or self._own_table()).measure(inputs, source))
        return found  # type: ignore[no-any-return]

    def nearest_to(self, text: str) -> tuple[float, str]:
        """(similarity, nearest example) for a text (for tools and tests)."""
        value, index = self._from(self._own_table().measure_features(extract(text)))
        return value, self.examples[index]
