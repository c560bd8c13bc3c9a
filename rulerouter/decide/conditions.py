"""Compiled conditions: small matcher objects, built once, called per request.

The matchers of signals, languages and scores live in `signal_conditions` (imported with the
first policy that uses one: the signals' tables and patterns cost milliseconds to load); the
base class in `matcher`. This module builds every kind from a validated condition tree.

Each matcher is called with the request's `Inputs` and answers True or False; `explain()` says
why in words (only used when someone asks, never on the hot path). Settings are fixed in
`__init__`; calling does no parsing and allocates nothing beyond what `Inputs` caches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..policy.jsonpath import compile_path
from ..policy.regex import compile_regex
from ..policy.schema import (
    Condition,
    KeywordCondition,
    PathPredicate,
    RegexCondition,
    Thresholds,
)
from .inputs import Inputs, estimate_tokens
from .keyword_scan import KeywordScanner
from .matcher import Always, Matcher
from .learned_conditions import NOTHING_LEARNED, ClassifierTest, Learned, SimilarTest
from .spend_condition import SpendTest

if TYPE_CHECKING:
    from .scores import CompiledScore

__all__ = ["Matcher", "build_matcher"]


def _quote_list(words: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{w}'" for w in words[:limit])
    return shown + (f" and {len(words) - limit} more" if len(words) > limit else "")


class Keywords(Matcher):
    __slots__ = ("scanner", "any_ids", "all_ids", "none_ids", "mode")

    def __init__(self, scanner: KeywordScanner, spec: KeywordCondition) -> None:
        whole_word = spec.match == "word"
        self.scanner = scanner
        self.mode = spec.match
        self.any_ids = scanner.ids_for(spec.any, whole_word) if spec.any is not None else None
        self.all_ids = scanner.ids_for(spec.all, whole_word) if spec.all is not None else None
        self.none_ids = scanner.ids_for(spec.none, whole_word) if spec.none is not None else None

    def __call__(self, inputs: Inputs) -> bool:
        found = inputs.hits(self.scanner)
        if self.any_ids is not None and found.isdisjoint(self.any_ids):
            return False
        if self.all_ids is not None and not self.all_ids <= found:
            return False
        if self.none_ids is not None and not found.isdisjoint(self.none_ids):
            return False
        return True

    def _located(self, inputs: Inputs, ids: frozenset[int]) -> list[str]:
        source, case_sensitive = self.scanner.key
        text = inputs.text(source) if case_sensitive else inputs.lowered(source)
        found = sorted(
            (self.scanner.first_occurrence(text, hit_id), self.scanner.keyword_of(hit_id))
            for hit_id in ids & inputs.hits(self.scanner)
        )
        return [f"'{keyword}' at {offset}" for offset, keyword in found]

    def explain(self, inputs: Inputs) -> str:
        source = self.scanner.key[0]
        parts = []
        if self.any_ids is not None:
            hits = self._located(inputs, self.any_ids)
            parts.append(f"any of {len(self.any_ids)} keyword(s): " + (", ".join(hits) if hits else "none found"))
        if self.all_ids is not None:
            missing = sorted(self.scanner.keyword_of(i) for i in self.all_ids - inputs.hits(self.scanner))
            parts.append("all keywords: " + (f"missing {_quote_list(missing)}" if missing else "every one found"))
        if self.none_ids is not None:
            hits = self._located(inputs, self.none_ids)
            parts.append("none of the keywords: " + (f"but found {', '.join(hits)}" if hits else "none found"))
        return f"keywords ({self.mode}, in {source}) " + "; ".join(parts)


class Regex(Matcher):
    __slots__ = ("source", "pattern", "compiled")

    def __init__(self, spec: RegexCondition, source: str) -> None:
        self.source = source
        self.pattern = spec.pattern
        self.compiled = compile_regex(spec.pattern, spec.case_sensitive)

    def _search(self, text: str) -> Any:
        return self.compiled.search(text)  # valid Unicode: Inputs repaired any lone surrogate

    def __call__(self, inputs: Inputs) -> bool:
        return self._search(inputs.text(self.source)) is not None

    def explain(self, inputs: Inputs) -> str:
        match = self._search(inputs.text(self.source))
        if match is None:
            return f"regex /{self.pattern}/ (in {self.source}): no match"
        return f"regex /{self.pattern}/ (in {self.source}) matched {match.group(0)[:60]!r} at {match.start()}"


class Count(Matcher):
    """Word-count or token-estimate bounds. Words are counted no further than the bounds need."""

    __slots__ = ("kind", "source", "gt", "gte", "lt", "lte", "limit", "floor")

    def __init__(self, kind: str, spec: Thresholds, source: str) -> None:
        self.kind = kind
        self.source = source
        self.gt, self.gte, self.lt, self.lte = spec.gt, spec.gte, spec.lt, spec.lte
        bounds = [b + 1 for b in (self.gt, self.lte) if b is not None]
        bounds += [b for b in (self.gte, self.lt) if b is not None]
        self.limit = max(bounds)  # a count past every bound decides them all
        floors = [b + 1 for b in (self.gt,) if b is not None] + [b for b in (self.gte,) if b is not None]
        self.floor = max(floors, default=0)  # the fewest words that can satisfy the bounds

    def measure(self, inputs: Inputs) -> int:
        if self.kind == "tokens":
            return estimate_tokens(inputs.text(self.source))
        return inputs.words_upto(self.source, self.limit)

    def __call__(self, inputs: Inputs) -> bool:
        if self.kind == "words" and self.floor:
            # A text of n characters holds at most (n + 1) // 2 words: short texts need no count.
            if (len(inputs.text(self.source)) + 1) // 2 < self.floor:
                return False
        n = self.measure(inputs)
        return not (
            (self.gt is not None and n <= self.gt)
            or (self.gte is not None and n < self.gte)
            or (self.lt is not None and n >= self.lt)
            or (self.lte is not None and n > self.lte)
        )

    def explain(self, inputs: Inputs) -> str:
        n = self.measure(inputs)
        shown = f"at least {n}" if self.kind == "words" and n >= self.limit else str(n)
        bounds = " and ".join(
            f"{op} {value}"
            for op, value in ((">", self.gt), (">=", self.gte), ("<", self.lt), ("<=", self.lte))
            if value is not None
        )
        verdict = "holds" if self(inputs) else "does not hold"
        return f"{self.kind} (in {self.source}) = {shown}; {bounds} {verdict}"


_MISSING = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from numbers (`true` is not `1` in a rule file)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def _predicate_tests(spec: PathPredicate) -> list[tuple[str, Callable[[list[Any]], bool]]]:
    """(description, test over the found values) for every test the predicate sets."""
    tests: list[tuple[str, Callable[[list[Any]], bool]]] = []
    fields = spec.model_fields_set
    if "exists" in fields:
        want = spec.exists
        tests.append((f"exists = {str(want).lower()}", lambda vs: bool(vs) == want))
    if "truthy" in fields:
        want_truthy = spec.truthy
        tests.append((f"truthy = {str(want_truthy).lower()}", lambda vs: any(_truthy(v) for v in vs) == want_truthy))
    if "eq" in fields:
        eq = spec.eq
        tests.append((f"== {eq!r}", lambda vs: any(_same(v, eq) for v in vs)))
    if "ne" in fields:
        ne = spec.ne
        tests.append((f"!= {ne!r}", lambda vs: not any(_same(v, ne) for v in vs)))
    if "in_" in fields:
        allowed = list(spec.in_ or [])
        tests.append((f"in {allowed!r}", lambda vs: any(_same(v, a) for v in vs for a in allowed)))
    if "not_in" in fields:
        banned = list(spec.not_in or [])
        tests.append((f"not in {banned!r}", lambda vs: not any(_same(v, b) for v in vs for b in banned)))
    for op, bound, cmp in (
        (">", spec.gt, lambda v, b: v > b),
        (">=", spec.gte, lambda v, b: v >= b),
        ("<", spec.lt, lambda v, b: v < b),
        ("<=", spec.lte, lambda v, b: v <= b),
    ):
        if bound is not None:
            tests.append((f"{op} {bound:g}", _numeric_test(cmp, bound)))
    if spec.matches is not None:
        regex = compile_regex(spec.matches)
        tests.append(
            (f"matches /{spec.matches}/", lambda vs: any(isinstance(v, str) and _search(regex, v) is not None for v in vs))
        )
    return tests


def _search(regex: Any, text: str) -> Any:
    return regex.search(text)  # metadata text is valid Unicode: Inputs repaired any lone surrogate


def _truthy(value: Any) -> bool:
    try:
        return bool(value)
    except Exception:
        return True


def _numeric_test(cmp: Callable[[Any, float], bool], bound: float) -> Callable[[list[Any]], bool]:
    return lambda vs: any(_is_number(v) and cmp(v, bound) for v in vs)


class PathTest(Matcher):
    """JSONPath predicates over the caller's metadata or the chat request (all must hold)."""

    __slots__ = ("where", "checks", "without_metadata")

    def __init__(self, where: str, specs: Sequence[PathPredicate]) -> None:
        self.where = where
        self.checks = [(spec.path, compile_path(spec.path), _predicate_tests(spec)) for spec in specs]
        # Most requests carry no metadata; their answer is the same every time.
        self.without_metadata = self._evaluate({})

    def _document(self, inputs: Inputs) -> Any:
        return inputs.metadata if self.where == "metadata" else inputs.request

    def __call__(self, inputs: Inputs) -> bool:
        if self.where == "metadata":
            metadata = inputs.metadata
            if metadata is None or (type(metadata) is dict and not metadata):
                return self.without_metadata
            return self._evaluate(metadata)
        return self._evaluate(inputs.request)

    def _evaluate(self, document: Any) -> bool:
        for _, find, tests in self.checks:
            values = find(document)
            for _, test in tests:
                if not test(values):
                    return False
        return True

    def explain(self, inputs: Inputs) -> str:
        document = self._document(inputs)
        parts = []
        for path, find, tests in self.checks:
            values = find({} if document is None else document)
            shown = "nothing" if not values else ", ".join(repr(v)[:60] for v in values[:3])
            for description, test in tests:
                verdict = "holds" if test(values) else "does not hold"
                parts.append(f"{self.where} {path} {description} {verdict} (found {shown})")
        return "; ".join(parts)


class AllOf(Matcher):
    __slots__ = ("parts",)

    def __init__(self, parts: Sequence[Matcher]) -> None:
        self.parts = tuple(parts)

    def __call__(self, inputs: Inputs) -> bool:
        for part in self.parts:
            if not part(inputs):
                return False
        return True

    def explain(self, inputs: Inputs) -> str:
        if len(self.parts) == 1:
            return self.parts[0].explain(inputs)
        return "all of: " + "; ".join(f"[{p.explain(inputs)}]" for p in self.parts)


class AnyOf(Matcher):
    __slots__ = ("parts",)

    def __init__(self, parts: Sequence[Matcher]) -> None:
        self.parts = tuple(parts)

    def __call__(self, inputs: Inputs) -> bool:
        for part in self.parts:
            if part(inputs):
                return True
        return False

    def explain(self, inputs: Inputs) -> str:
        matched = [p for p in self.parts if p(inputs)]
        if matched:
            return f"any of: [{matched[0].explain(inputs)}]"
        return "any of (none held): " + "; ".join(f"[{p.explain(inputs)}]" for p in self.parts)


class Not(Matcher):
    __slots__ = ("part",)

    def __init__(self, part: Matcher) -> None:
        self.part = part

    def __call__(self, inputs: Inputs) -> bool:
        return not self.part(inputs)

    def explain(self, inputs: Inputs) -> str:
        return f"not [{self.part.explain(inputs)}]"


ScannerFor = Callable[[str, bool], KeywordScanner]


def build_matcher(
    condition: Condition | None,
    source: str,
    scanner_for: ScannerFor,
    scores: Mapping[str, CompiledScore] | None = None,
    learned: Learned | None = None,
) -> Matcher:
    """Compile a validated condition tree. `source` is the rule's text; conditions may override it.

    `scores` are the policy's compiled `[scores]`, which `score` conditions refer to by name;
    `learned` holds its classifiers (for `CLASSIFIER.CLASS` signals) and example sets.
    """
    if condition is None:
        return Always()
    scores = scores or {}
    learned = learned or NOTHING_LEARNED
    parts: list[Matcher] = []
    if condition.keywords is not None:
        spec = condition.keywords
        parts.append(Keywords(scanner_for(spec.text or source, spec.case_sensitive), spec))
    if condition.regex is not None:
        parts.append(Regex(condition.regex, condition.regex.text or source))
    if condition.words is not None:
        parts.append(Count("words", condition.words, source))
    if condition.tokens is not None:
        parts.append(Count("tokens", condition.tokens, source))
    if condition.metadata is not None:
        parts.append(PathTest("metadata", condition.metadata))
    if condition.request is not None:
        parts.append(PathTest("request", condition.request))
    if condition.signals is not None:
        from .signal_conditions import SignalTest  # the signals load with the first policy that reads them

        plain = {name: spec for name, spec in condition.signals.items() if "." not in name}
        if plain:
            parts.append(SignalTest(plain, source))
        if len(plain) < len(condition.signals):
            probabilities = {name: spec for name, spec in condition.signals.items() if "." in name}
            parts.append(ClassifierTest(probabilities, source, learned.classifiers))
    if condition.language is not None:
        from .signal_conditions import LanguageTest

        parts.append(LanguageTest(condition.language, source))
    if condition.score is not None:
        name = condition.score.name
        if name not in scores:
            raise ValueError(f"unknown score '{name}'")
        from .signal_conditions import ScoreTest

        parts.append(ScoreTest(condition.score, scores[name], source))
    if condition.spend is not None:
        parts.append(SpendTest(condition.spend))
    if condition.similar is not None:
        parts.append(SimilarTest(condition.similar, source, learned))
    if condition.all is not None:
        parts.append(AllOf([build_matcher(c, source, scanner_for, scores, learned) for c in condition.all]))
    if condition.any is not None:
        parts.append(AnyOf([build_matcher(c, source, scanner_for, scores, learned) for c in condition.any]))
    if condition.not_ is not None:
        parts.append(Not(build_matcher(condition.not_, source, scanner_for, scores, learned)))
    return parts[0] if len(parts) == 1 else AllOf(parts)
