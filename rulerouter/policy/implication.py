"""Does one condition imply another? Used by lint to find rules that can never fire.

A rule is dead when every request it matches is already matched by an earlier rule. Deciding
that in general is as hard as the conditions are rich, so this answers a sound, incomplete
question: `implies(a, b)` is True only when every request satisfying `a` surely satisfies `b`
(identical conditions, keyword lists that are subsets, count ranges that are contained, and
the obvious consequences of `all` / `any`). When unsure it says False, so lint never calls a
live rule dead. `shadowing` files shapes by what can imply them; a new case here needs its
anchor there.
"""

from __future__ import annotations

import json
from typing import Any

from .schema import Condition
from .vocabulary import LANGUAGES

__all__ = ["TRUE", "UNBOUNDED", "implies", "intersect", "is_empty", "languages_of", "normalise", "range_ends", "range_within", "real_interval"]

TRUE = ("true",)


def _interval(bounds: Any) -> tuple[int, float]:
    low = 0
    high: float = float("inf")
    if bounds.gt is not None:
        low = max(low, bounds.gt + 1)
    if bounds.gte is not None:
        low = max(low, bounds.gte)
    if bounds.lt is not None:
        high = min(high, bounds.lt - 1)
    if bounds.lte is not None:
        high = min(high, bounds.lte)
    return (low, high)


def real_interval(bounds: Any) -> tuple[tuple[float, bool], tuple[float, bool]]:
    """((low, low included), (high, high included)) for float bounds."""
    low, high = (float("-inf"), True), (float("inf"), True)
    if bounds.gt is not None:
        low = max(low, (bounds.gt, False), key=_low_key)
    if bounds.gte is not None:
        low = max(low, (bounds.gte, True), key=_low_key)
    if bounds.lt is not None:
        high = min(high, (bounds.lt, False), key=_high_key)
    if bounds.lte is not None:
        high = min(high, (bounds.lte, True), key=_high_key)
    return (low, high)


def _low_key(end: tuple[float, bool]) -> tuple[float, bool]:
    return (end[0], not end[1])  # an excluded low end is tighter than an included one


def _high_key(end: tuple[float, bool]) -> tuple[float, bool]:
    return (end[0], end[1])


def intersect(a: Any, b: Any) -> Any:
    return (max(a[0], b[0], key=_low_key), min(a[1], b[1], key=_high_key))


def is_empty(interval: Any) -> bool:
    (low, low_in), (high, high_in) = interval
    return low > high or (low == high and not (low_in and high_in))


def _real_within(inner: Any, outer: Any) -> bool:
    (low_a, high_a), (low_b, high_b) = inner, outer
    return _low_key(low_b) <= _low_key(low_a) and _high_key(high_a) <= _high_key(high_b)


def range_within(kind: str, inner: Any, outer: Any) -> bool:
    """Is one range of a leaf of this kind inside another (counts: whole numbers; others: reals)?"""
    if kind == "count":
        return outer[0] <= inner[0] and inner[1] <= outer[1]
    return _real_within(inner, outer)


#: The ends of a range that is open below and above, as `range_ends` gives them, by kind.
UNBOUNDED = {"count": (0, float("inf")), "real": ((float("-inf"), False), (float("inf"), True))}


def range_ends(kind: str, interval: Any) -> tuple[Any, Any]:
    """(low, high), each comparable: `inner` lies within `outer` exactly when outer's low ≤
    inner's low and inner's high ≤ outer's high (`range_within`)."""
    if kind == "count":
        return interval[0], interval[1]
    return _low_key(interval[0]), _high_key(interval[1])


def languages_of(leaf: tuple[Any, ...]) -> frozenset[str]:
    """The language codes a language condition accepts (guess_language returns only these)."""
    _, _, allowed, banned = leaf
    return (LANGUAGES if allowed is None else allowed) - banned


def normalise(cond: Condition | None, source: str) -> tuple[Any, ...]:
    """A hashable tree of ("all"|"any", parts), ("not", part) and leaves, text sources resolved."""
    if cond is None:
        return TRUE
    parts: list[tuple[Any, ...]] = []
    if cond.keywords is not None:
        kw = cond.keywords
        where = (kw.text or source, kw.case_sensitive, kw.match)

        def words(items: list[str]) -> frozenset[str]:
            return frozenset(w if kw.case_sensitive else w.lower() for w in items)

        for kind in ("any", "all", "none"):
            items = getattr(kw, kind)
            if items is not None:
                parts.append(("kw", kind, where, words(items)))
    if cond.regex is not None:
        parts.append(("regex", cond.regex.text or source, cond.regex.pattern, cond.regex.case_sensitive))
    for kind in ("words", "tokens"):
        bounds = getattr(cond, kind)
        if bounds is not None:
            parts.append(("count", kind, source, _interval(bounds)))
    for name, bounds in (cond.signals or {}).items():
        parts.append(("signal", source, name, real_interval(bounds)))
    if cond.language is not None:
        allowed = frozenset(cond.language.in_) if cond.language.in_ is not None else None
        parts.append(("language", source, allowed, frozenset(cond.language.not_in or ())))
    if cond.score is not None:
        parts.append(("score", source, cond.score.name, real_interval(cond.score)))
    if cond.spend is not None:
        parts.append(("spend", "", cond.spend.budget, real_interval(cond.spend)))  # the same for every text
    if cond.similar is not None:
        examples = cond.similar.examples
        key = examples if isinstance(examples, str) else tuple(examples)
        parts.append(("similar", cond.similar.text or source, key, real_interval(cond.similar)))
    for where in ("metadata", "request"):
        for predicate in getattr(cond, where) or ():
            dumped = predicate.model_dump(by_alias=True, exclude_unset=True)
            parts.append(("path", where, json.dumps(dumped, sort_keys=True, default=str)))
    if cond.all is not None:
        parts.append(("all", tuple(normalise(c, source) for c in cond.all)))
    if cond.any is not None:
        parts.append(("any", tuple(normalise(c, source) for c in cond.any)))
    if cond.not_ is not None:
        parts.append(("not", normalise(cond.not_, source)))
    return parts[0] if len(parts) == 1 else ("all", tuple(parts))


def _leaf_implies(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    if a == b:
        return True
    if a[0] == "kw" and b[0] == "kw":
        _, kind_a, (src_a, cs_a, mode_a), words_a = a
        _, kind_b, (src_b, cs_b, mode_b), words_b = b
        # A whole-word hit is also a substring hit; anything else must be the same setting.
        if src_a != src_b or cs_a != cs_b or not (mode_a == mode_b or mode_b == "substring"):
            return False
        if kind_a == "any" and kind_b == "any":
            return words_a <= words_b
        if kind_a == "all" and kind_b == "any":
            return bool(words_a & words_b)
        if kind_a == "all" and kind_b == "all":
            return words_b <= words_a
        if kind_a == "none" and kind_b == "none" and mode_a == mode_b:
            return words_b <= words_a
        return False
    if a[0] in ("signal", "score", "spend", "similar") and a[0] == b[0]:
        return a[1:3] == b[1:3] and _real_within(a[3], b[3])
    if a[0] == "language" and b[0] == "language":
        return a[1] == b[1] and languages_of(a) <= languages_of(b)
    if a[0] == "count" and b[0] == "count":
        return a[1:3] == b[1:3] and range_within("count", a[3], b[3])
    return False


def implies(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """True only if every request satisfying `a` satisfies `b` (sound, not complete)."""
    if b == TRUE or a == b:
        return True
    if a == TRUE:
        return False
    if b[0] == "all":
        return all(implies(a, part) for part in b[1])
    if a[0] == "any":  # an empty `any` never holds; lint reports it as such, not as shadowed
        return bool(a[1]) and all(implies(part, b) for part in a[1])
    if a[0] == "all" and any(implies(part, b) for part in a[1]):
        return True
    if b[0] == "any" and any(implies(a, part) for part in b[1]):
        return True
    if a[0] == "not" and b[0] == "not":
        return implies(b[1], a[1])
    if a[0] in ("all", "any", "not") or b[0] in ("any", "not"):
        return False
    return _leaf_implies(a, b)
