"""Cue phrases behind the text signals, and one automaton that finds them all in one scan.

The signals in `rulerouter.decide.signals` that count words and phrases (reasoning cues, constraints,
symptoms of a bug, mechanical-edit cues, requests for code, deductions, puzzles, maths vocabulary,
requested output formats, stack frames, diff markers, list items) share a single Aho-Corasick automaton over the lower-cased
text, so the text is scanned once for all of them, whatever the number of phrases.

The phrase lists follow from the tier definitions (docs/conditions-and-signals.md): what a
request needing sustained reasoning, a machine-readable answer or a mechanical edit usually
says. They are general English, not words picked from the development set. English only: other
languages get no cue counts, which `language` makes visible.

Phrase syntax: a phrase matches whole words at both ends, like a `keywords` condition; a
trailing `*` makes it a prefix (`optimi*` matches optimise, optimize, optimisation); a phrase
that starts or ends with punctuation or a newline needs no word boundary on that side; a leading
`~` also refuses a hyphen joining it to the word before (`~premise*` is not in "on-premise"; a
hyphenated compound otherwise keeps its head word's cue: "three-digit", "re-implement").
"""

from __future__ import annotations

import ahocorasick_rs

__all__ = ["CUE_GROUPS", "DISTINCT", "GROUP_NAMES", "CueScanner", "cue_scanner"]

# Multi-step reasoning: the request asks to explain, prove, weigh or plan, not just to answer.
REASONING = [
    "step by step", "step-by-step", "walk me through", "walk through", "explain why",
    "why does", "why doesn't", "why do", "why is", "why isn't", "why would", "how come",
    "prove", "proof", "show that", "derive", "derivation", "justify", "reason about",
    "trade-off*", "tradeoff*", "trade off", "pros and cons", "compare", "comparison",
    "analyse", "analyze", "analysis", "diagnos*", "figure out", "what happens if",
    "what happens when", "what would happen", "under what conditions", "edge case*",
    "corner case*", "worst case", "worst-case", "in detail", "evaluate", "assess",
    "critique", "design a", "design an", "architect*", "optimi*", "minimi*", "maximi*",
    "propose", "strategy", "strategies", "implication*", "consequence*", "bottleneck*",
    "scalab*", "invariant*", "guarantee*", "correctness", "complexity", "algorithm*",
    "rigorous*", "counterexample*", "root cause", "think through", "carefully", "thorough*",
    "review", "is it correct", "is this correct", "is it safe", "is this safe", "what would you",
    "what's going on", "what is going on", "what could go wrong", "explain how", "show your work",
]

# A deduction: a conclusion asked of stated premises ("can we conclude", "does this entail",
# "which of the following must be true"). The premises themselves ("If …, then …", "All … are
# …") are counted by structure (`rulerouter.decide.request_forms.count_premises`).
DEDUCTION = [
    "deduce", "deduced", "deduction", "deductive", "logically", "infer", "inferred",
    "can we conclude", "can we say", "can we infer", "can we deduce", "can you conclude",
    "can it be concluded", "can it be inferred", "can be concluded", "can be inferred",
    "does this entail", "does it entail", "does that entail", "does this imply", "does it imply",
    "does that imply", "does this mean that", "does that mean that", "does it follow",
    "it follows that", "follows from", "must be true", "must be false", "cannot be true",
    "must always be true", "necessarily true", "necessarily false", "is it necessarily",
    "true, false, or uncertain", "true or false or uncertain", "~premise*", "syllogism*",
    "valid argument", "invalid argument", "modus ponens", "modus tollens", "contrapositive",
    "we know that", "it is known that", "at least one of the following is true",
]

# A question of how to do something: advice or usage help, answered from knowledge (standard),
# even when it carries a log.
HOW_TO = [
    "how do i", "how can i", "how should i", "how would i", "how would one", "how does one", "how to", "is it possible to", "is there a way", "is there any way",
    "is there an option", "is there a setting", "is there a command", "what is the best way",
    "what's the best way", "what is the right way", "what is the recommended way", "what is the correct way",
    "can i", "am i able to",
]

# A constraint puzzle: a search for the one arrangement that meets every stated rule (the
# Game of 24, crosswords, grids, liars and truth-tellers, river crossings).
PUZZLE = [
    "puzzle*", "riddle*", "brain teaser*", "crossword*", "sudoku", "kakuro", "kenken",
    "nonogram*", "magic square*", "cryptarithm*", "word ladder", "logic grid", "lateral thinking",
    "knights and knaves", "who is lying", "who is telling the truth", "tells the truth",
    "tell the truth", "always lies", "always lie", "tower of hanoi", "towers of hanoi",
    "n-queens", "eight queens", "river crossing", "seating arrangement",
    "exactly once", "each used once", "each number once", "every number once", "each digit once",
    "each number exactly once", "use each", "using each", "used once", "at most once",
    "immediately to the left", "immediately to the right", "directly to the left", "directly to the right",
    "immediately left of", "immediately right of", "sits next to", "sit next to", "is not next to",
    "in a row of", "across the river", "across a river", "cross the river", "crossings",
    "basic arithmetic", "arithmetic operations", "the grid", "every row",
    "every column", "each row", "each column", "across:", "down:", "clues:", "the clues",
]

# Writing or fixing code: the request asks for a program, or names the language it is written in.
CODE_REQUEST = [
    "write a function", "write a program", "write a script", "write a class", "write a method",
    "write code", "write the code", "write some code", "write a query", "write an sql",
    "implement", "implements", "implementation", "implementing", "function that", "function to",
    "function which", "program that", "program to", "program which", "script that", "script to",
    "method that", "code that", "code to", "code for",
    "refactor*", "debug*", "fix the bug", "fix this bug", "fix the code", "fix my code",
    "compile*", "unit-test*", "source code", "pseudocode", "recursion", "recursive*",
    "dynamic programming", "o(1", "linked list*", "binary tree*", "binary search", "hash map*",
    "hashmap*", "data structure*", "time complexity", "space complexity", "o(n", "o(log",
    "python", "javascript", "typescript", "java", "c++", "c#", "golang", "kotlin", "php",
    "scala", "haskell", "bash script", "shell script", "sql query", "regex",
    "regular expression*", "api endpoint*", "class solution", "def ", "given an array",
    "given an integer", "given a string", "given the root",
]

# Constraints on the answer. Counted per occurrence: "must … must … at most" is three.
CONSTRAINTS = [
    "must", "mustn't", "should", "shouldn't", "without", "at most", "at least", "no more than",
    "fewer than", "less than", "within", "only", "exactly", "never", "always",
    "do not", "don't", "cannot", "can't", "ensure", "make sure", "keep", "preserve",
    "required", "requirement*", "constraint*", "limit", "limits", "limited", "budget",
    "deadline", "has to", "have to", "need to", "needs to", "not allowed", "mandatory",
    "strictly", "backward compatible", "backwards compatible",
]

# Evidence that something is broken: finding why needs reasoning from symptoms.
SYMPTOMS = [
    "crash*", "hang", "hangs", "hung", "freez*", "froze", "stuck", "deadlock*", "livelock*",
    "race condition*", "data race*", "leak*", "out of memory", "oom", "segfault*",
    "segmentation fault", "corrupt*", "intermittent*", "flaky", "sporadic*", "sometimes",
    "randomly", "occasionally", "only when", "only happens", "nondeterministic*",
    "non-deterministic*", "regression*", "spike*", "timeout*", "times out", "timed out",
    "slow*", "latency", "stale", "inconsistent*", "unexpected*", "stops working", "stopped working", "doesn't work", "does not work",
    "not working", "fails", "failing", "failure*", "error*", "exception*", "bug", "bugs",
    "broken", "panic*", "throws", "overflow*", "starvation", "contention", "reproduc*",
    "grows", "keeps growing", "pegged", "degrad*", "suddenly", "every time", "whenever",
    "wrong", "incorrect", "missing", "drops", "dropped",
]

# A mechanical edit repeated over given items: the answer needs no judgement.
EDIT = [
    "rename", "renaming", "convert", "conversion", "translate", "translation", "reformat",
    "how would you say this", "how do you say", "say this in", "into english", "into french",
    "into german", "into spanish", "into italian", "into portuguese", "into chinese",
    "into japanese", "into russian",
    "typo*", "spelling", "capitali*", "lowercase", "uppercase",
    "title case", "camelcase", "snake_case", "snake case", "kebab-case", "sort", "alphabeti*",
    "docstring*", "add comments", "add a comment", "type hints", "type annotations", "fill in",
    "replace", "normali*", "standardi*", "clean up", "deduplicate",
    "indent*", "one per line",
    "boilerplate", "stub", "stubs", "template", "placeholder*", "unit test*", "rephrase",
    "proofread", "grammar", "in bulk", "batch", "each", "these", "strip",
    "remove", "expand", "shorten", "getters", "setters", "scaffold*", "crud",
]

# A risk to review: security questions about given code or systems.
SECURITY = [
    "attack*", "exploit*", "vulnerab*", "injection", "xss", "csrf", "ssrf", "security",
    "secure", "insecure", "malicious", "abuse", "bypass", "privilege*", "threat model*",
    "sanitiz*", "sanitis*", "auth", "authenticat*", "authoriz*", "authoris*", "leak of",
    "timing side",
]

# The answer is one label from a given set: classification with an output contract.
LABELS = [
    "classify", "classification", "categori*", "label", "labels", "one of the following",
    "one of these", "yes or no", "true or false", "positive or negative", "allowed outputs",
    "allowed values", "negative or positive", "respond with", "reply with",
    "answer with", "you can answer", "output 1", "sentiment", "intent",
    # The classic labelling tasks by name: sentiment, rating, topic, paraphrase, entailment.
    "rate this", "rating", "star rating", "stars", "topic of", "what is the topic",
    "paraphrase*", "same meaning", "mean the same", "entail*", "spam or", "is this review",
    "belong to",
]

# A reference to a given text the answer is read from: reading comprehension and summaries, which
# the standard tier holds however many numbers or reasoning words the passage itself contains.
PASSAGE = [
    "the passage", "this passage", "the following passage", "passage:", "the article", "this article",
    "the following article", "article:", "the text above", "the above text", "the following text",
    "this text", "in the text", "from the text", "text:", "the document", "this document",
    "the following document", "document:", "the context", "context:", "the paragraph",
    "this paragraph", "the following paragraph", "paragraph:", "the story", "this story", "story:",
    "the transcript", "transcript:", "the excerpt", "the abstract", "the lecture", "the news",
    "background:", "summari*",
]

# References to what was read that name no text ("according to", "the main idea"): with PASSAGE,
# they make `reading`; they do not mark a given text by themselves (a problem statement says
# "according to the rules", an issue template has a "Summary" heading).
READ_FROM = [
    "summary", "key points", "main idea", "main points", "according to", "based on the",
    "reading comprehension", "tl;dr",
]

# Maths vocabulary.
MATHS = [
    "equation*", "inequalit*", "integral*", "integrate", "derivative*", "differentiat*",
    "matrix", "matrices", "eigen*", "polynomial*", "probabilit*", "expected value", "variance",
    "theorem*", "lemma*", "induction", "modulo", "prime", "primes", "divisib*", "factori*",
    "logarithm*", "converge*", "geometric", "arithmetic", "algebra*", "calculus",
    "combinatori*", "permutation*", "combinations", "vector*", "gradient*", "integer*",
    "rational", "irrational", "infinitely", "bijection", "solve for", "simplify",
    "asymptotic*", "big-o", "big o",
    "remainder", "divided by", "divisor*", "number of ways", "how many ways", "digit*",
    "square root", "cube root", "exponent*", "quadratic", "coefficient*", "parabola*",
    "triangle*", "circle*", "circumference", "radius", "diameter", "perimeter", "area of",
    "volume of", "vertices", "vertex", "polygon*", "hexagon*", "rectangle*", "angle*",
    "slope", "sequence*", "series", "sum of", "product of", "real number*", "positive integer*",
    "greatest common", "least common", "lcm", "gcd", "ratio", "fraction*", "decimal*",
    "mean of", "median", "average of", "percent*", "interest rate", "compound interest",
]

# A question about a quantity: with numbers in the text, a word problem.
QUANTITY = [
    "how many", "how much", "how long", "how far", "how fast", "how old",
    "what is the probability", "what's the probability", "what percentage", "what percent",
    "what fraction", "calculate", "compute", "find the", "what is the total", "in total",
    "altogether", "on average", "per hour", "per day", "rate of",
]

# A shape given for the answer: keys, fields, columns, a schema.
SCHEMA = [
    "schema", "with keys", "with the keys", "with fields", "with the fields", "with columns",
    "with the columns", "following fields", "following keys", "following columns",
    "fields:", "keys:", "columns:", '"type":', '"properties":', '": "string"', '": "number"',
    '": "integer"', '": "boolean"', '": "array"', '": "object"', "in the format", "in this format",
    "following format", "exact format", "this format:", "create table",
    # A layout for the answer given in words, and extraction into given fields.
    "output format", "of the form", "in the form of", "formatted as", "format:", "one line per",
    "as lines", "key: value", "fill in the form", "this template", "exact template", "json format",
    "extract the following", "extract all", "extract every", "extract each", "extract these",
    "extract from", "extract the names", "extract the dates", "extract the fields",
    # A document layout given for the answer: its sections, headings or order, or a table's
    # header row; a report in a prescribed layout is bound to it however long the request.
    "following structure", "this structure", "exact structure",
    "following template", "following headings", "these headings", "with headings", "with the headings",
    "under the heading*", "section headings", "headings:", "following sections", "these sections",
    "with sections", "with the sections", "sections:", "numbered sections", "structured as",
    "organised as", "organized as", "organised into", "organized into", "template:", "our template",
    "the template below",
    # Tools granted in the text, as agent frameworks write them: the answer is a call in the
    # given syntax (a contract), not prose.
    "you have access to the following tools", "access to the following tools", "available tools",
    "tools available to you", "useful for when you need", "input should be a", "action input:",
]

# Stack frames and headers of stack traces and crash reports.
STACK = [
    "traceback (most recent call last)", '", line ', "\tat ", "\n    at ", "\n  at ",
    "exception in thread", "caused by:", "goroutine ", "panic:", "panicked at",
    "core dumped", "stack trace", "stacktrace", "backtrace", ".java:", ".py:", ".go:",
    ".rs:", ".js:", ".ts:", ".cpp:", ".cs:", ".rb:", ".php:", ".kt:", ".swift:",
]

# Unified-diff markers.
DIFF = ["diff --git", "@@ -", "\n+++ ", "\n--- "]

# List items: bullets at the start of a line (numbered items are counted by `signals`).
LIST = ["\n- ", "\n* ", "\n• "]

# Output formats. A format's name counts as asked for when a word next to it asks for it
# ("as json", "return JSON", "a CSV file", "json object"), so "What does JSON stand for?" does not.
FORMAT_NAMES = {
    "json": "json", "jsonl": "json", "ndjson": "json", "csv": "csv", "tsv": "csv", "xml": "xml",
    "yaml": "yaml", "yml": "yaml", "toml": "toml", "ical": "ical", "icalendar": "ical",
    "markdown": "markdown", "latex": "latex",
}
FORMAT_BEFORE = frozenset({
    "as", "in", "into", "to", "return", "returns", "output", "emit", "produce", "respond",
    "reply", "answer", "formatted", "valid", "strict", "only", "a", "an", "pure", "raw", "with",
})
FORMAT_AFTER = frozenset({
    "object", "objects", "array", "arrays", "format", "output", "file", "list", "with", "only",
    "schema", "lines", "rows", "columns", "document", "string", "response", "records",
    "structure", "mapping", "dict", "dictionary", "block", "payload",
})
# Phrases that ask for a format by themselves: tables, delimited lists, a bare label or number.
FORMAT_PHRASES: dict[str, str] = {
    **{phrase: "table" for phrase in (
        "as a table", "in a table", "into a table", "markdown table", "a table with",
        "table with columns", "tabular", "in table form", "table format", "comparison table",
        "make a table", "create a table", "produce a table", "summary table")},
    **{phrase: "delimited" for phrase in (
        "comma-separated", "comma separated", "semicolon-separated", "tab-separated",
        "pipe-separated", "separated by commas", "separated by semicolons", "comma-delimited")},
    **{phrase: "labels" for phrase in (
        "only the label", "output only", "respond only with", "answer only with",
        "reply only with", "nothing else", "no explanation", "no other text", "exactly one of",
        "one of the following labels", "only the number", "only the answer", "single word",
        "one word")},
}

#: Group name → phrases. Each phrase belongs to exactly one group.
CUE_GROUPS: dict[str, list[str]] = {
    "reasoning": REASONING,
    "constraints": CONSTRAINTS,
    "symptoms": SYMPTOMS,
    "edit_cues": EDIT,
    "security": SECURITY,
    "labels": LABELS,
    "code_request": CODE_REQUEST,
    "deduction": DEDUCTION,
    "puzzle": PUZZLE,
    "how_to": HOW_TO,
    "passage": PASSAGE,
    "read_from": READ_FROM,
    "math_terms": MATHS,
    "quantity": QUANTITY,
    "schema": SCHEMA,
    "stack": STACK,
    "diff": DIFF,
    "list": LIST,
}
#: Groups counted per distinct phrase (saying "why" twice is one cue), not per occurrence.
DISTINCT = frozenset({"reasoning", "symptoms", "edit_cues", "security", "labels", "code_request", "deduction", "puzzle",
                      "how_to", "passage", "read_from", "math_terms", "quantity"})
#: Groups counted per occurrence.
COUNTED = frozenset(CUE_GROUPS) - DISTINCT
GROUP_NAMES = tuple(CUE_GROUPS)

_FORMAT_NAME = "\x00name"  # plan marker: a bare format name, checked against its neighbours
_HYPHEN = ord("-")
_UNJOINED = "\x01unjoined"  # plan marker: a cue that a hyphen may not join to the word before

# Word characters as bytes of UTF-8 text: ASCII letters, digits and "_", and every byte of a
# non-ASCII character (nearly all of which are letters in the texts routed).
_WORD_BYTE = tuple(chr(b).isalnum() or b == 95 or b >= 128 for b in range(256))


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _neighbour_asks(text: bytes, start: int, end: int) -> bool:
    """Does the word before or after text[start:end] ask for that format ("as json", "json file")?"""
    if text[start - 1 : start] == b"(":  # "(YAML)", "(json)"
        return True
    before = text[max(0, start - 16) : start].split()
    after = text[end : end + 16].split()
    if before and before[-1].strip(b"\"'`(*:").decode("utf-8", "replace") in FORMAT_BEFORE:
        return True
    return bool(after) and after[0].strip(b"\"'`).,;:*").decode("utf-8", "replace") in FORMAT_AFTER


class CueScanner:
    """Every cue phrase in one Aho-Corasick DFA; `scan()` counts them per group in one pass.

    The scan runs on UTF-8 bytes: the automaton is faster on bytes than on `str` (no offset
    conversion), and word boundaries are checked on bytes with a lookup table.
    """

    __slots__ = ("_automaton", "_plan")

    def __init__(self) -> None:
        patterns: list[bytes] = []
        plan: list[tuple[int, bool, bool, bool, str | None]] = []
        entries = [(group, phrase, None) for group, phrases in CUE_GROUPS.items() for phrase in phrases]
        entries += [(None, phrase, fmt) for phrase, fmt in FORMAT_PHRASES.items()]
        entries += [(None, name, _FORMAT_NAME + fmt) for name, fmt in FORMAT_NAMES.items()]
        for group, phrase, fmt in entries:
            unjoined = phrase.startswith("~")
            prefix = phrase.endswith("*")
            text = phrase[1 if unjoined else 0 : -1 if prefix else None]
            encoded = text.encode("utf-8")
            if encoded in patterns:
                raise ValueError(f"cue phrase {text!r} is listed twice")
            patterns.append(encoded)
            plan.append(
                (
                    -1 if group is None else GROUP_NAMES.index(group),
                    group in DISTINCT,
                    _is_word_char(text[0]),
                    _is_word_char(text[-1]) and not prefix,
                    _UNJOINED if unjoined else fmt,  # a cue's own marker rides in the format slot: no cost to others
                )
            )
        self._automaton = ahocorasick_rs.BytesAhoCorasick(patterns, implementation=ahocorasick_rs.Implementation.DFA)
        self._plan = tuple(plan)

    def scan(self, lowered: str) -> tuple[list[int], frozenset[str]]:
        """Counts per group (in `GROUP_NAMES` order) and the set of output formats asked for.

        The text is scanned with a newline in front, so that line-start markers ("\\n- ")
        also match on the first line.
        """
        counts = [0] * len(GROUP_NAMES)
        if not lowered:
            return counts, _NO_FORMATS
        text = ("\n" + lowered).encode("utf-8", "replace")  # lone surrogates become "?"
        matches = self._automaton.find_matches_as_indexes(text, overlapping=True)
        if not matches:
            return counts, _NO_FORMATS
        plan = self._plan
        word = _WORD_BYTE
        seen: set[int] = set()
        formats: set[str] = set()
        end_of_text = len(text)
        for slot, start, end in matches:
            group, distinct, check_left, check_right, fmt = plan[slot]
            if check_left and word[text[start - 1]]:  # start ≥ 1: the text begins with "\n"
                continue
            if check_right and end < end_of_text and word[text[end]]:
                continue
            if fmt is not None:
                if fmt is _UNJOINED:  # "~premise*": not in "on-premise"
                    if text[start - 1] == _HYPHEN and word[text[start - 2]]:
                        continue
                else:
                    if fmt[0] != "\x00":
                        formats.add(fmt)
                    elif _neighbour_asks(text, start, end):
                        formats.add(fmt[len(_FORMAT_NAME):])
                    continue
            if distinct:
                if slot in seen:
                    continue
                seen.add(slot)
            counts[group] += 1
        return counts, frozenset(formats) if formats else _NO_FORMATS


_NO_FORMATS: frozenset[str] = frozenset()
_SCANNER: CueScanner | None = None


def cue_scanner() -> CueScanner:
    """The shared scanner, built on first use (a few milliseconds) and then reused."""
    global _SCANNER
    if _SCANNER is None:
        _SCANNER = CueScanner()
    return _SCANNER
