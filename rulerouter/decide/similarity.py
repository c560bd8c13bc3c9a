"""Similarity of a request to example prompts (`when.similar`), on the classifiers' features.

Each example and the request become the *set* of their n-gram features (words, bigrams,
prefixes, punctuation runs: `rulerouter.decide.text_features`); similarity is the cosine of
those sets, |A ∩ B| / √(|A|·|B|), from 0 (nothing shared) to 1 (the same features). The
request is compared with every example and the nearest one counts.

Speed. Compiling numbers every feature that occurs in any example and stores each example as
a Python integer with one bit per feature it holds. A request's features are looked up once
(one `map(dict.get, …)` per kind, C-level), OR-ed into one integer, and each example costs
one `&` and one `bit_count()` — no per-feature Python code.
"""

from __future__ import annotations

import math
from functools import reduce
from itertools import repeat
from operator import or_
from typing import Any, Sequence

from .inputs import Inputs
from .text_features import Features, extract, features_of

__all__ = ["ExampleSet"]

_KINDS = ("words", "bigrams", "prefixes", "punctuation")


def _distinct(features: Features) -> list[set[Any]]:
    return [set(getattr(features, kind)) for kind in _KINDS]


class ExampleSet:
    """Examples compiled for similarity; `nearest(inputs, source)` → (similarity, example index)."""

    __slots__ = ("label", "examples", "_tables", "_bits", "_sizes")

    def __init__(self, examples: Sequence[str], label: str) -> None:
        self.label = label
        self.examples = tuple(examples)
        tables: list[dict[Any, int]] = [{} for _ in _KINDS]
        bits, sizes = [], []
        for example in self.examples:
            value = 0
            kinds = _distinct(extract(example))
            for table, items in zip(tables, kinds):
                for item in items:
                    bit = table.get(item)
                    if bit is None:
                        bit = table[item] = 1 << sum(len(t) for t in tables)
                    value |= bit
            bits.append(value)
            sizes.append(sum(len(items) for items in kinds))
        self._tables = tables
        self._bits = tuple(bits)
        self._sizes = tuple(sizes)

    def _nearest(self, features: Features) -> tuple[float, int]:
        kinds = _distinct(features)
        size = sum(len(items) for items in kinds)
        if not size:
            return 0.0, 0
        found = 0
        for table, items in zip(self._tables, kinds):
            if items:
                found = reduce(or_, map(table.get, items, repeat(0)), found)
        best, best_index = 0.0, 0
        if found:
            for index, (bits, count) in enumerate(zip(self._bits, self._sizes)):
                shared = (found & bits).bit_count()
                if shared:
                    value = shared / math.sqrt(size * count)
                    if value > best:
                        best, best_index = value, index
        return best, best_index

    def nearest(self, inputs: Inputs, source: str) -> tuple[float, int]:
        cache = inputs._store()
        key = (self, source)
        found = cache.get(key)
        if found is None:
            found = cache[key] = self._nearest(features_of(inputs, source))
        return found  # type: ignore[no-any-return]

    def nearest_to(self, text: str) -> tuple[float, str]:
        """(similarity, nearest example) for a text (for tools and tests)."""
        value, index = self._nearest(extract(text))
        return value, self.examples[index]
