"""Which earlier rule shadows each rule, without comparing every pair.

A rule is dead when an earlier rule always matches (no condition) or when `implies(its shape,
the earlier shape)` holds. Asking `implies` of every earlier rule costs n²/2 calls: two million
for 2,000 rules. Instead every earlier shape is filed in an index under *anchors*: keys that any
shape implying it must carry. A keyword list `any = ["deadlock", "race"]` is filed under each of
its words, because a shape that implies it has an `any` list inside it, or an `all` list sharing
one of them; a `words > 1000` count under its family (the same count of the same text), where a
lookup keeps only the ranges that contain the asking range. A shape is then compared only with
the earlier shapes filed under one of the anchors it carries, in file order, and the first that
it implies is the answer — the same answer as the pairwise loop (`first_shadows_pairwise`), which
`tests/test_lint_scale.py` checks on generated policies.

The anchors mirror `implication.implies` case by case (see `_needs` and `_carries`); a new kind
of implication there needs its anchor here, or the fast check would miss what the slow one finds.
For every pair, `implies(a, b)` ⇒ `_needs(b)` is None (filed where every shape looks) or
`_needs(b)` and `_carries(a)` share a key whose ranges, if any, contain each other.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter, defaultdict
from typing import Any, Callable, Iterable, Sequence

from .implication import TRUE, UNBOUNDED, implies, languages_of, range_ends, range_within

__all__ = ["first_shadows", "first_shadows_pairwise"]

_RANGES = ("count", "signal", "score", "spend", "similar")  # leaves compared by range containment

Anchor = tuple[tuple[Any, ...], Any]  # (key, range or None)
Group = list[Anchor]  # anchors a shape carries, of which one, any one, is enough to look up
Frequency = Callable[[tuple[Any, ...]], int]  # how many shapes carry a key


def _family(leaf: tuple[Any, ...]) -> tuple[Any, ...]:
    return ("range", leaf[0], leaf[1], leaf[2])


def _rarest(keys: Iterable[tuple[Any, ...]], frequency: Frequency) -> tuple[Any, ...]:
    return min(keys, key=lambda key: (frequency(key), key))


def _leaf_needs(leaf: tuple[Any, ...], frequency: Frequency) -> list[Anchor]:
    kind = leaf[0]
    if kind == "kw":
        _, which, (source, case, _mode), words = leaf
        if which == "any":  # implied by an `any` list within it, or an `all` sharing a word
            return [(("kw-any", source, case, w), None) for w in words] + [(("kw-any-empty", source, case), None)]
        lists = "kw-all" if which == "all" else "kw-none"  # implied by a list holding all of its words
        if not words:
            return [((lists + "-empty", source, case), None)]
        return [(_rarest(((lists, source, case, w) for w in words), frequency), None)]
    if kind == "language":
        return [(("language", leaf[1], c), None) for c in languages_of(leaf)] + [(("language-none", leaf[1]), None)]
    if kind in _RANGES:
        return [(_family(leaf), leaf[3])]
    return [(("same", leaf), None)]  # regex and path leaves imply only themselves


def _leaf_carries(leaf: tuple[Any, ...]) -> list[Group]:
    kind = leaf[0]
    if kind == "kw":
        _, which, (source, case, _mode), words = leaf
        if which == "any":  # all of its words are in any list it implies: looking up one will do
            return [[(("kw-any", source, case, w), None) for w in words] or [(("kw-any-empty", source, case), None)]]
        lists = "kw-all" if which == "all" else "kw-none"
        groups = [[((lists, source, case, w), None)] for w in words] + [[((lists + "-empty", source, case), None)]]
        if which == "all":
            groups += [[(("kw-any", source, case, w), None)] for w in words]
        return groups
    if kind == "language":
        codes = languages_of(leaf)
        return [[(("language", leaf[1], c), None) for c in codes] or [(("language-none", leaf[1]), None)]]
    if kind in _RANGES:
        return [[(_family(leaf), leaf[3])]]
    return [[(("same", leaf), None)]]


def _needs(shape: tuple[Any, ...], frequency: Frequency) -> list[Anchor] | None:
    """Anchors of which a shape implying `shape` carries at least one (None: it cannot be told)."""
    kind = shape[0]
    if kind == "all":  # every part must be implied: one part's anchors will do, the rarest
        best: list[Anchor] | None = None
        for part in shape[1]:
            keys = _needs(part, frequency)
            if keys is not None and (best is None or _cost(keys, frequency) < _cost(best, frequency)):
                best = keys
        return best
    if kind == "any":
        if not shape[1]:
            return [(("any-empty",), None)]
        out: list[Anchor] = []
        for part in shape[1]:
            keys = _needs(part, frequency)
            if keys is None:
                return None
            out += keys
        return out
    if kind == "not":  # not y implies not x when x implies y: what x carries, reversed
        return [(("not", key), None) for group in _carries(shape[1]) for key, _ in group] + [(("not-any",), None)]
    return _leaf_needs(shape, frequency)


def _carries(shape: tuple[Any, ...]) -> list[Group]:
    """Groups of anchors `shape` carries: it can imply only a shape whose needs hold an anchor
    of one of the groups. Every anchor of a group is necessary, so looking up one is enough."""
    kind = shape[0]
    if kind in ("all", "any"):
        if kind == "any" and not shape[1]:
            return [[(("any-empty",), None)]]
        return [group for part in shape[1] for group in _carries(part)]
    if kind == "not":
        inner = _needs(shape[1], lambda key: 0)
        return [[(("not-any",), None)]] if inner is None else [[(("not", key), None)] for key, _ in inner]
    return _leaf_carries(shape)


def _cost(keys: list[Anchor], frequency: Frequency) -> int:
    return sum(frequency(key) for key, _ in keys)


class _Ranges:
    """The earlier shapes filed under one range family, with the range each was filed with.

    A rule that is nothing but the range ("bare") is left out when an earlier bare rule's range
    contains it: whatever implies it implies the earlier one too, which comes first. Ranges
    bounded on one side only (`words > N`) are then kept as successive records, in file order
    with ever lower floors (or higher ceilings), and those that contain a range are the tail
    of that list from a bisection. Other ranges are scanned.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.bottom, self.top = UNBOUNDED["count" if kind == "count" else "real"]
        self.floors: tuple[list[Any], list[int]] = ([], [])  # bare [low, top]: negated lows, positions
        self.ceilings: tuple[list[Any], list[int]] = ([], [])  # bare [bottom, high]: highs, positions
        self.bare: list[tuple[Any, int]] = []  # bare, bounded both ways
        self.parts: list[tuple[Any, int]] = []  # part of a larger shape

    def add(self, interval: Any, index: int, bare: bool) -> None:
        low, high = range_ends(self.kind, interval)
        if not bare:
            self.parts.append((interval, index))
        elif high == self.top:
            self._record(self.floors, _Negated(low), index)
        elif low == self.bottom:
            self._record(self.ceilings, high, index)
        elif not any(range_within(self.kind, interval, other) for other, _ in self.bare):
            self.bare.append((interval, index))

    @staticmethod
    def _record(records: tuple[list[Any], list[int]], key: Any, index: int) -> None:
        keys, positions = records
        if not keys or key > keys[-1]:  # otherwise the last record, earlier, contains it
            keys.append(key)
            positions.append(index)

    def containing(self, interval: Any) -> Iterable[int]:
        """Positions, in file order, of the earlier shapes filed with a range containing `interval`."""
        low, high = range_ends(self.kind, interval)
        tails = (self.floors[1][bisect.bisect_left(self.floors[0], _Negated(low)):],
                 self.ceilings[1][bisect.bisect_left(self.ceilings[0], high):])
        scanned = ([index for other, index in entries if range_within(self.kind, interval, other)] for entries in (self.bare, self.parts))
        return heapq.merge(*tails, *scanned)


class _Negated:
    """Orders like the negated value: floors kept in a list that bisect can search, ascending."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Negated) -> bool:
        return bool(other.value < self.value)

    def __gt__(self, other: _Negated) -> bool:
        return bool(other.value > self.value)


class _Index:
    def __init__(self, frequency: Frequency) -> None:
        self.frequency = frequency
        self.plain: defaultdict[tuple[Any, ...], list[int]] = defaultdict(list)
        self.ranges: dict[tuple[Any, ...], _Ranges] = {}
        self.everywhere: list[int] = []  # shapes without anchors: compared with every later one

    def add(self, index: int, shape: tuple[Any, ...]) -> None:
        keys = _needs(shape, self.frequency)
        if keys is None:
            self.everywhere.append(index)
            return
        for key, interval in keys:
            if interval is None:
                self.plain[key].append(index)
            else:
                ranges = self.ranges.get(key)
                if ranges is None:
                    ranges = self.ranges[key] = _Ranges(key[1])
                ranges.add(interval, index, bare=len(keys) == 1 and shape[0] == key[1])

    def candidates(self, groups: list[Group]) -> Iterable[int]:
        """Positions of the earlier shapes a shape carrying `groups` may imply, in file order
        (some more than once), produced as they are read: the caller stops at the first."""
        found: list[Iterable[int]] = [self.everywhere]
        for group in groups:
            key, interval = group[0] if len(group) == 1 else min(group, key=lambda anchor: len(self.plain.get(anchor[0], ())))
            if interval is None:
                found.append(self.plain.get(key, ()))
            elif key in self.ranges:
                found.append(self.ranges[key].containing(interval))
        return heapq.merge(*found)


def first_shadows(rules: Sequence[tuple[tuple[Any, ...], bool]]) -> list[int | None]:
    """For each rule, given as (shape, can shadow later rules), the position of the first earlier
    rule that shadows it — one that can shadow and has no condition or is implied — or None."""
    carried = [_carries(shape) for shape, _ in rules]
    counts = Counter(key for groups in carried for group in groups for key, _ in group)
    index = _Index(lambda key: counts.get(key, 0))
    shapes: list[tuple[Any, ...]] = []
    first_true: int | None = None
    out: list[int | None] = []
    for position, (shape, shadows_later) in enumerate(rules):
        found = first_true
        tried = -1
        for other in index.candidates(carried[position]):
            if found is not None and other > found:
                break
            if other != tried and implies(shape, shapes[other]):
                found = other
                break
            tried = other
        out.append(found)
        shapes.append(shape)
        if shadows_later:
            if shape == TRUE:
                if first_true is None:
                    first_true = position
            else:
                index.add(position, shape)
    return out


def first_shadows_pairwise(rules: Sequence[tuple[tuple[Any, ...], bool]]) -> list[int | None]:
    """What `first_shadows` answers, by definition: every rule against every earlier one, in
    order (n²/2 `implies` calls). Kept for the tests and the benchmark that compare the two."""
    out: list[int | None] = []
    for position, (shape, _) in enumerate(rules):
        found = None
        for other in range(position):
            other_shape, shadows_later = rules[other]
            if shadows_later and (other_shape == TRUE or implies(shape, other_shape)):
                found = other
                break
        out.append(found)
    return out
