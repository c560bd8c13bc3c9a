"""Signals: numbers measured on a request that rules compare with thresholds and scores weigh.

Each signal is a number (a count, a 0–1 fraction or a 0/1 flag) about one text source of one
request: is there code, maths, a requested output format, how many constraints, questions,
turns… The rule language's list of them, with their ranges and caps, is
`rulerouter.policy.vocabulary.SIGNALS`; this module computes them. `language` is the one
signal that is a word (an ISO 639-1 code).

Cost. Signals are computed only when a rule asks for one, a group at a time, and cached on the
request's `Inputs`, so a policy without signal conditions pays nothing and two rules asking
for signals share one computation. The groups:

* cues — one Aho-Corasick scan of the lower-cased text for every cue phrase of
  `rulerouter.decide.cue_phrases` (reasoning, deductions, puzzles, constraints, symptoms, edits, formats, stack frames, diffs…);
* structure — code fences, question marks, code density, numbers, LaTeX, equations, list
  items, an opening edit verb, premise-shaped sentences, a closed question about a given item and a
  bare calculation, by C-level string operations (`find`, `count`, `bytes.translate`) on the text, or on
  its first 12,000 and last 4,000 characters when it is longer (see `rulerouter.decide.text_measures`
  and `rulerouter.decide.request_forms`);
* language — `rulerouter.decide.language_guess` on the first 2,000 characters of prose;
* request — `response_format`, `tools` and the number of user turns, read from the request;
* size — words (counted up to 2,000) and lines;
* derived — `code`, `maths`, `reading`, `list_items`, `output_format`, from the groups above.

A long text that names a given text ("the article", "summarize") hands over material: the cue
groups and structural counts that say what is asked are taken from its edges
(`text_measures.request_edges`), not from the material in between.

Computing a signal never raises, whatever the text (lone surrogates, control characters, 10 MB).
This module holds the definitions and the computation only; matching lives in `conditions`.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from ..policy.vocabulary import CODE_DENSITY_FLOOR, READING_WORDS, REQUEST_EDGE_WORDS, SIGNALS, WORDS_LIMIT
from . import request_forms as forms
from . import text_measures as measure
from .cue_phrases import GROUP_NAMES, cue_scanner
from .inputs import Inputs
from .language_guess import SAMPLE_CHARS as LANGUAGE_SAMPLE
from .language_guess import guess_language

__all__ = ["EVERYTHING", "INDEX", "Plan", "Signals", "plan_for", "signals_of"]

_CUE_NAMES = {"reasoning": "reasoning", "constraints": "constraints", "symptoms": "symptoms", "edit_cues": "edit_cues",
              "security": "security", "labels": "labels", "code_request": "code_request", "deduction": "deduction",
              "puzzle": "puzzle", "how_to": "how_to", "passage": "_passage", "read_from": "_read_from", "math_terms": "math_terms", "quantity": "_quantity",
              "schema": "schema_given", "stack": "stack_trace", "diff": "diff", "list": "_bullets"}
_CUE_ORDER = [_CUE_NAMES[group] for group in GROUP_NAMES]
#: Signal name → its slot in `Signals.values`. The cue scan's counts come first, in the
#: scanner's group order, so one slice assignment stores them all.
INDEX: dict[str, int] = {
    name: i for i, name in enumerate(_CUE_ORDER + [n for n in [*SIGNALS, "_numbered", "_definitions"] if n not in _CUE_ORDER])
}
_I = INDEX
_CUES_END = len(_CUE_ORDER)
_PASSAGE_GROUP = GROUP_NAMES.index("passage")
#: Cue groups that say what is asked (to reason, to write code, under which constraints…). In a
#: text that hands over material to read, they are counted on the request's edges only
#: (`text_measures.request_edges`): an article full of "must", "analysis" and "percent" asks
#: for none of them. The groups left out are evidence or shape wherever they stand (symptoms,
#: stack frames, diffs, a schema, list markers) or what marks the material (passage, read_from).
_ASKED_GROUPS = tuple(GROUP_NAMES.index(group) for group in (
    "reasoning", "constraints", "edit_cues", "security", "labels", "code_request", "deduction", "puzzle",
    "how_to", "math_terms", "quantity"))


class Signals:
    """The signals of one text source of one request, each group computed on first use.

    `values` holds one slot per signal (None until computed). A group is a method that fills
    its slots; `ensure(groups)` runs those not run yet, in order (dependencies first), so a
    score can make sure of all its signals with one call and then read `values` directly.
    """

    __slots__ = ("inputs", "source", "values", "language", "done", "_prose", "_edges", "_nonzero", "_nonzero_done")

    def __init__(self, inputs: Inputs, source: str) -> None:
        self.inputs = inputs
        self.source = source
        self.values: list[float | None] = [None] * len(INDEX)
        self.language: str | None = None
        self.done = 0  # bit mask of the groups already run
        self._prose: str | None = None
        self._edges: str | None = None  # the request's edges, when the text hands over material (set by _cues)
        self._nonzero: list[tuple[int, float]] = []
        self._nonzero_done = 0

    def ensure(self, plan: Plan) -> None:
        if self.done & plan.mask == plan.mask:
            return
        for bit, group in plan.steps:
            if not self.done & bit:
                group(self)
                self.done |= bit

    def nonzero(self) -> list[tuple[int, float]]:
        """(slot, value) of every computed signal that is not 0: what a score's sum needs."""
        if self._nonzero_done != self.done:
            self._nonzero = [(i, v) for i, v in enumerate(self.values) if v]
            self._nonzero_done = self.done
        return self._nonzero

    def at(self, index: int) -> float:
        value = self.values[index]
        if value is None:
            self.ensure(PLAN_OF_SLOT[index])
            value = self.values[index]
            assert value is not None
        return value

    def __getitem__(self, name: str) -> float:
        return self.at(INDEX[name])

    def get_language(self) -> str:
        if self.language is None:
            self.ensure(PLAN_OF_SLOT[_I["non_english"]])
        assert self.language is not None
        return self.language

    def as_dict(self) -> dict[str, float | str]:
        """Every signal (computing all groups), plus `language`."""
        self.ensure(EVERYTHING)
        out: dict[str, float | str] = {name: self.values[INDEX[name]] for name in SIGNALS}  # type: ignore[misc]
        out["language"] = self.get_language()
        return out

    # -- groups: each fills the slots listed for it in _GROUPS --------------------------------

    def _prose_text(self) -> str:
        if self._prose is None:
            blocks, self._prose = measure.fenced(self.inputs.text(self.source))
            self.values[_CODE_BLOCKS] = blocks
        return self._prose

    def _fences(self) -> None:
        self._prose_text()

    def _cues(self) -> None:
        scanner = cue_scanner()
        lowered = self.inputs.lowered(self.source)
        counts, formats = scanner.scan(lowered)
        if counts[_PASSAGE_GROUP]:  # a given text is named: is there material to set apart?
            # The edges lie in the sample's first 12,000 and last 4,000 characters: no copy of a long middle.
            self._edges = measure.request_edges(measure.sample(self._prose_text()), REQUEST_EDGE_WORDS)
            if self._edges is not None:
                asked, _ = scanner.scan(self._edges.lower())
                for group in _ASKED_GROUPS:
                    counts[group] = asked[group]
        self.values[:_CUES_END] = counts
        self.values[_FORMAT_REQUEST] = len(formats) + forms.asks_for_named_layout(lowered)

    def _structure(self) -> None:
        """Everything measured on the text's structure, in one go (each part is cheap)."""
        values = self.values
        text = self.inputs.text(self.source)
        prose = self._prose_text()
        # A text long enough to hand over material: its premises and maths are the request's
        # edges' only (the cue scan decides whether it names a given text, and finds the edges).
        edges = None
        if len(prose) > _EDGES_MIN_CHARS:
            self.ensure(_CUES_PLAN)
            edges = self._edges
        values[_QUESTIONS] = measure.count_questions(prose)
        sampled = measure.sample(text)
        raw = sampled.encode("utf-8", "replace")
        values[_CODE_DENSITY] = measure.code_density(raw)
        values[_LATEX] = measure.count_latex(sampled if edges is None else edges)
        if prose is not text:
            sampled = measure.sample(prose)
            raw = sampled.encode("utf-8", "replace")
        asked = sampled if edges is None else edges
        values[_NUMBERS] = measure.count_numbers(raw)
        values[_EQUATIONS] = measure.count_equations(asked)
        values[_NUMBERED] = measure.count_numbered_items(sampled)
        values[_DEFINITIONS] = measure.count_definitions(sampled)
        values[_COMMA_ITEMS] = measure.comma_items(sampled)
        values[_EDIT_REQUEST] = forms.opens_with_edit(prose)
        values[_PREMISES] = forms.count_premises(asked.lower())
        values[_CLOSED_QUESTION] = forms.closed_question(prose)
        values[_ARITHMETIC] = forms.arithmetic(text) if values[_NUMBERS] else 0  # no number, no calculation

    def _language(self) -> None:
        self.language = guess_language(self._prose_text()[:LANGUAGE_SAMPLE].lower())
        self.values[_I["non_english"]] = 1 if self.language not in ("en", "und") else 0

    def _request(self) -> None:
        inputs = self.inputs
        values = self.values
        format_spec = inputs.request_field("response_format")
        kind = None
        if format_spec is not None and (type(format_spec) is dict or isinstance(format_spec, Mapping)):
            kind = format_spec.get("type")
        values[_I["response_format"]] = 1 if kind in ("json_object", "json_schema") else 0
        tools = 0
        for field in ("tools", "functions"):
            offered = inputs.request_field(field)
            if isinstance(offered, (list, tuple)):
                tools += len(offered)
        values[_I["tools"]] = tools
        values[_I["turns"]] = inputs.user_turns()

    def _size(self) -> None:
        text = self.inputs.text(self.source)
        self.values[_I["words"]] = measure.count_words(text, WORDS_LIMIT)
        self.values[_I["lines"]] = text.count("\n") + 1 if text else 0

    # Derived signals: their parts are computed first (see _NEEDS).

    def _code(self) -> None:
        v = self.values
        self.values[_I["code"]] = 1 if (
            v[_CODE_BLOCKS] >= 1 or v[_I["stack_trace"]] >= 2 or v[_I["diff"]] >= 1 or v[_DEFINITIONS]  # type: ignore[operator]
            or v[_I["code_density"]] >= CODE_DENSITY_FLOOR  # type: ignore[operator]
        ) else 0

    def _maths(self) -> None:
        v = self.values
        word_problem = 1 if v[_I["_quantity"]] >= 1 and v[_I["numbers"]] >= 2 else 0  # type: ignore[operator]
        v[_I["word_problem"]] = word_problem
        v[_I["maths"]] = v[_I["latex"]] + v[_I["equations"]] + v[_I["math_terms"]] + word_problem  # type: ignore[operator]

    def _reading(self) -> None:
        v = self.values
        v[_I["reading"]] = v[_I["_passage"]] + v[_I["_read_from"]] if v[_I["words"]] >= READING_WORDS else 0  # type: ignore[operator]

    def _list_items(self) -> None:
        v = self.values
        v[_I["list_items"]] = v[_I["_bullets"]] + v[_I["_numbered"]]  # type: ignore[operator]

    def _output_format(self) -> None:
        v = self.values
        v[_I["output_format"]] = v[_I["format_request"]] + min(v[_I["schema_given"]], 1) + v[_I["response_format"]]  # type: ignore[operator,type-var]


class Plan:
    """Groups to run, dependencies first, with the bit mask of them all (checked in one test)."""

    __slots__ = ("steps", "mask")

    def __init__(self, steps: tuple[tuple[int, Callable[[Signals], object]], ...]) -> None:
        self.steps = steps
        self.mask = 0
        for bit, _ in steps:
            self.mask |= bit


_CODE_BLOCKS = _I["code_blocks"]
_FORMAT_REQUEST = _I["format_request"]
_QUESTIONS, _CODE_DENSITY, _LATEX, _NUMBERS = _I["questions"], _I["code_density"], _I["latex"], _I["numbers"]
_EQUATIONS, _NUMBERED, _COMMA_ITEMS = _I["equations"], _I["_numbered"], _I["comma_items"]
_DEFINITIONS = _I["_definitions"]
_EDIT_REQUEST, _PREMISES, _CLOSED_QUESTION = _I["edit_request"], _I["premises"], _I["closed_question"]
_ARITHMETIC = _I["arithmetic"]
_EDGES_MIN_CHARS = 2 * REQUEST_EDGE_WORDS * 2  # fewer characters cannot hold 2 × REQUEST_EDGE_WORDS words
# Group → the slots it fills, in the order groups must run when several are needed.
_GROUPS: dict[Callable[[Signals], object], tuple[str, ...]] = {
    Signals._fences: ("code_blocks",),
    Signals._cues: tuple(_CUE_NAMES.values()) + ("format_request",),
    Signals._structure: ("questions", "code_density", "latex", "numbers", "equations", "_numbered", "_definitions", "comma_items",
                         "edit_request", "premises", "closed_question", "arithmetic"),
    Signals._language: ("non_english",),
    Signals._request: ("response_format", "tools", "turns"),
    Signals._size: ("words", "lines"),
    Signals._code: ("code",),
    Signals._maths: ("word_problem", "maths"),
    Signals._reading: ("reading",),
    Signals._list_items: ("list_items",),
    Signals._output_format: ("output_format",),
}
# Derived groups and the groups they read.
_NEEDS: dict[Callable[[Signals], object], tuple[Callable[[Signals], object], ...]] = {
    Signals._code: (Signals._fences, Signals._cues, Signals._structure),
    Signals._maths: (Signals._cues, Signals._structure),
    Signals._reading: (Signals._cues, Signals._size),
    Signals._list_items: (Signals._cues, Signals._structure),
    Signals._output_format: (Signals._cues, Signals._request),
}
_BIT = {group: 1 << i for i, group in enumerate(_GROUPS)}
_GROUP_OF = {INDEX[name]: group for group, names in _GROUPS.items() for name in names}
assert sorted(_GROUP_OF) == sorted(INDEX.values()), "every slot needs exactly one group"


def plan_for(names: Iterable[str]) -> Plan:
    """The groups that compute these signals, dependencies first, in a fixed order."""
    needed: set[Callable[[Signals], object]] = set()
    for name in names:
        group = _GROUP_OF[INDEX[name]]
        needed.add(group)
        needed.update(_NEEDS.get(group, ()))
    return Plan(tuple((_BIT[g], g) for g in _GROUPS if g in needed))


PLAN_OF_SLOT: list[Plan] = [plan_for([name]) for name in INDEX]
#: Every group: `signals.ensure(EVERYTHING)` computes every signal, the language included.
EVERYTHING = plan_for(INDEX)
_CUES_PLAN = plan_for(["_passage"])


def signals_of(inputs: Inputs, source: str) -> Signals:
    """The (cached) signals of one text source of a request."""
    return inputs.signals(source, Signals)
