"""One dictionary lookup per feature of a request, for every learned signal of a policy.

A policy may use several classifiers and several example sets; all of them read the same
features of the same text. Compiling merges them into one table: feature key → one Python
integer holding, in fixed-width bit fields,

* a count, 1 in every entry: the sum says how many of the text's features the table knows;
* for every class of every classifier, its quantised weight q plus 2^15 (32 bits a field, so
  the sum over every feature of a sampled text cannot overflow into the next field);
* for every example of every example set, 1 when the example holds the feature (8 or 16 bits
  a field: a shared-feature count).

Measuring a request is then `filter(None, map(table.get, keys))` and `sum` over each kind of
feature — C-level loops, no Python code per feature — and the sum's bytes, unpacked by one
precompiled `struct` format, give every classifier's class sums and every example's
shared-feature count at once, as one tuple of integers (`Measured`). A feature no member knows
looks up nothing and costs nothing more.
"""

from __future__ import annotations

import struct
from typing import Iterable, Protocol, Sequence

from ..policy.model_file import LIMIT
from .inputs import Inputs
from .text_features import Features, Key, extract

__all__ = ["ExampleMember", "FeatureTable", "Measured", "WeightMember"]


class WeightMember(Protocol):
    """A classifier, as the table sees it (`rulerouter.decide.classifier.Classifier`)."""

    @property
    def classes(self) -> Sequence[str]: ...
    def rows(self) -> Iterable[tuple[Key, Sequence[int]]]: ...
    def attach(self, table: FeatureTable, slot: int) -> None: ...


class ExampleMember(Protocol):
    """An example set, as the table sees it (`rulerouter.decide.similarity.ExampleSet`)."""

    @property
    def examples(self) -> Sequence[str]: ...
    @property
    def keys(self) -> Sequence[frozenset[Key]]: ...
    def attach(self, table: FeatureTable, slot: int) -> None: ...


OFFSET = LIMIT  # added to every weight so that each field stays non-negative
_CLASS_BITS, _EXAMPLE_BITS = 32, 16


Measured = tuple[int, tuple[int, ...]]
"""What one table found in one text: (its distinct features, known or not; the fields of the
sum). Field 0 counts the features some member knows (the hits), then one field per class
(Σ (q + OFFSET) over the hits), then one per example (features it shares with the text);
`attach` tells each member the index of its first field."""


class FeatureTable:
    """The merged table of some classifiers and example sets; each member gets its fields.

    Layout of a value, from the lowest bits: a 32-bit count (1 in every entry, so the sum says
    how many features were found), a 32-bit field per class, then a field per example — 8 bits
    when every example has fewer than 256 features (the narrower the integers, the cheaper the
    sum), else 16.
    """

    __slots__ = ("_table", "_length", "_unpack")

    def __init__(self, classifiers: Sequence[WeightMember], example_sets: Sequence[ExampleMember]) -> None:
        classes = sum(len(c.classes) for c in classifiers)
        examples = sum(len(e.examples) for e in example_sets)
        largest = max((len(keys) for e in example_sets for keys in e.keys), default=0)
        example_bits = 8 if largest < 256 else _EXAMPLE_BITS
        base = 1 + sum(OFFSET << (_CLASS_BITS * (1 + i)) for i in range(classes))
        table: dict[Key, int] = {}
        slot = 0
        for classifier in classifiers:
            classifier.attach(self, 1 + slot)
            for key, row in classifier.rows():
                value = table.get(key, base)
                for c, q in enumerate(row, 1 + slot):
                    value += q << (_CLASS_BITS * c)
                table[key] = value
            slot += len(classifier.classes)
        first = _CLASS_BITS * (1 + classes)
        slot = 0
        for example_set in example_sets:
            example_set.attach(self, 1 + classes + slot)
            for i, keys in enumerate(example_set.keys, slot):
                bit = 1 << (first + example_bits * i)
                for key in keys:
                    table[key] = table.get(key, base) + bit
            slot += len(example_set.examples)
        self._table = table
        self._length = (first + example_bits * examples) // 8
        self._unpack = struct.Struct(f"<{1 + classes}I{examples}{'B' if example_bits == 8 else 'H'}").unpack

    def measure_features(self, features: Features) -> Measured:
        get = self._table.get  # the three kinds of feature share no key: each is summed apart
        total = sum(filter(None, map(get, features.prefixes)), sum(filter(None, map(get, features.words))))
        if features.punctuation:
            total += sum(filter(None, map(get, features.punctuation)))
        return features.count, self._unpack(total.to_bytes(self._length, "little"))

    def measure(self, inputs: Inputs, source: str) -> Measured:
        """The (cached) measurement of one text source of a request."""
        cache = inputs._cache
        key = (self, source)
        found = cache.get(key)
        if found is None:
            found = cache[key] = self.measure_features(extract(inputs.text(source)))
        return found  # type: ignore[no-any-return]
