"""The rule language's vocabulary: the signals a rule may name, and the language codes.

The schema offers these names to editors, lint checks rules against them (unknown names,
thresholds a signal can never reach), and `rulerouter.decide.signals` computes each of them.
Each signal is a number (a count, a 0–1 fraction or a 0/1 flag) about one text source of one
request; its `cap` is where a weighted score stops giving it more credit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["CODE_DENSITY_FLOOR", "LANGUAGES", "SIGNALS", "WORDS_LIMIT", "SignalInfo", "logistic"]

Kind = Literal["count", "fraction", "flag"]


@dataclass(frozen=True, slots=True)
class SignalInfo:
    kind: Kind
    cap: float  # in a score, the value from which the signal counts in full (feature = min(v, cap) / cap)
    description: str
    maximum: float | None = None  # the highest value it can take (None: no bound)

    @property
    def highest(self) -> float | None:
        return 1.0 if self.kind in ("flag", "fraction") else self.maximum


WORDS_LIMIT = 2_000  # `words` counts no further (`when.words` counts all)
CODE_DENSITY_FLOOR = 0.08  # code-like characters per non-space character that make `code` 1
READING_WORDS = 150  # `reading` counts references to a given text only in texts this long
REQUEST_EDGE_WORDS = 80  # a text that refers to given material asks in its first and last this many words

SIGNALS: dict[str, SignalInfo] = {
    "code": SignalInfo("flag", 1, "1 when the text holds code: a fenced block, a stack trace (2+ frames), a diff, a line opening a function or class definition, or code-like character density ≥ 0.08"),
    "code_blocks": SignalInfo("count", 1, "fenced code blocks (``` or ~~~; an unclosed fence counts)"),
    "stack_trace": SignalInfo("count", 3, "stack-frame lines and crash headers (Python, Java, JS, Go, Rust, .NET…)"),
    "diff": SignalInfo("count", 2, "unified-diff markers (diff --git, @@ -a,b +c,d @@, ---/+++ lines)"),
    "code_density": SignalInfo("fraction", 0.1, "share of non-space characters that are code punctuation ({}[]();=<>_|&\\#$@^~*`)"),
    "maths": SignalInfo("count", 3, "latex + equations + math_terms + word_problem"),
    "latex": SignalInfo("count", 3, "LaTeX maths commands (\\frac, \\sum, \\int, \\begin…) and $$ blocks"),
    "equations": SignalInfo("count", 3, "equation-like expressions: powers, arithmetic between numbers, x = …, maths symbols"),
    "numbers": SignalInfo("count", 5, "numbers in the prose"),
    "word_problem": SignalInfo("flag", 1, "1 when a quantity is asked for (how many, what is the probability…) and the prose holds 2+ numbers"),
    "math_terms": SignalInfo("count", 3, "distinct maths words (equation, integral, probability, theorem…)"),
    "output_format": SignalInfo("count", 1, "format_request + schema_given + response_format"),
    "format_request": SignalInfo("count", 1, "distinct machine-readable formats asked for (as JSON, CSV file, a table with columns, only the label…)"),
    "schema_given": SignalInfo("count", 1, "cues that the answer's shape is given (schema, with keys, fields:, \"type\":, under the following headings…)"),
    "response_format": SignalInfo("flag", 1, "1 when the request sets response_format to json_object or json_schema"),
    "tools": SignalInfo("count", 1, "tools (and functions) offered in the request"),
    "reasoning": SignalInfo("count", 3, "distinct multi-step reasoning cues (step by step, prove, trade-offs, why does, walk me through…)"),
    "deduction": SignalInfo("count", 1, "distinct cues that a conclusion is asked of stated premises (can we conclude, does this entail, must be true, premise…)"),
    "premises": SignalInfo("count", 3, "premise-shaped sentences: conditionals (if … then …, if and only if) and universal statements (All … are …, No … is …)"),
    "puzzle": SignalInfo("count", 2, "distinct cues of a constraint puzzle (puzzle, riddle, crossword, each number exactly once, the grid, clues:, who is lying…)"),
    "how_to": SignalInfo("count", 1, "distinct cues that the request asks how to do something (how do I, is there a way, what is the best way, can I…)"),
    "constraints": SignalInfo("count", 5, "constraint phrases, each occurrence (must, at most, without, only, do not…)"),
    "code_request": SignalInfo("count", 2, "distinct cues that code is to be written or fixed (write a function, implement, refactor, a language's name, given an array…)"),
    "symptoms": SignalInfo("count", 3, "distinct symptoms of a fault (hangs, leak, intermittent, crash, wrong result…)"),
    "edit_cues": SignalInfo("count", 3, "distinct cues of a mechanical edit over given items (rename, convert, fix typos, docstrings, each, these…)"),
    "edit_request": SignalInfo("flag", 1, "1 when the request opens with an imperative edit or labelling verb (translate, convert, rename, classify, sort…)"),
    "security": SignalInfo("count", 2, "distinct security cues (attack, exploit, injection, vulnerability, auth…)"),
    "labels": SignalInfo("count", 2, "distinct cues that the answer is a label from a given set (classify, one of the following, yes or no…)"),
    "closed_question": SignalInfo("flag", 1, "1 when the text asks a closed question (yes/no, or offering its answers) about an item it gives, before or after it"),
    "reading": SignalInfo("count", 1, f"distinct references to a given text to read (the passage, the article, context:, summarize, according to…), in a text of {READING_WORDS}+ words"),
    "arithmetic": SignalInfo("flag", 1, "1 when the text asks for a calculation on given numbers: maths with digits and no variable, few words around it"),
    "comma_items": SignalInfo("count", 8, "short items in the longest comma-separated list of the prose (Spain, France, Norway…)"),
    "list_items": SignalInfo("count", 5, "lines starting with a bullet or a number (- , * , 1. , 2) …)"),
    "questions": SignalInfo("count", 3, "question marks in the prose (not in code blocks, not inside URLs)"),
    "turns": SignalInfo("count", 5, "user turns in the conversation (1 for a single prompt)"),
    "words": SignalInfo("count", 500, f"words, counted up to {WORDS_LIMIT:,} (use `when.words` for larger thresholds)", WORDS_LIMIT),
    "lines": SignalInfo("count", 50, "lines of text"),
    "non_english": SignalInfo("flag", 1, "1 when `language` is known and is not English"),
}

#: Every code `when.language` may name: what `rulerouter.decide.language_guess` can return
#: (ISO 639-1; `und` when undetermined). A test keeps the two in step.
LANGUAGES = frozenset({"ar", "de", "el", "en", "es", "fr", "he", "hi", "it", "ja", "ko", "nl", "pt", "ru", "th", "zh", "und"})


def logistic(x: float) -> float:
    """What a score with `logistic = true` turns its sum into: 1 / (1 + e^-x), without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
