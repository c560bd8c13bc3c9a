"""Measurements on strings behind the structural signals: code fences, numbers, equations…

Pure functions of a string, kept apart from `signals` (which decides what to measure when) so
each can be tested directly. Everything here runs in C-level string operations (`find`,
`count`, `bytes.translate`) or in regexes that start with a literal, and looks at a bounded
sample of long texts, so a 75k-token prompt costs about what a short one costs per character.
"""

from __future__ import annotations

import re

from .inputs import count_words_upto

__all__ = [
    "EQUATIONS_LIMIT",
    "count_definitions",
    "count_equations",
    "count_words",
    "count_latex",
    "count_numbered_items",
    "count_numbers",
    "count_questions",
    "code_density",
    "comma_items",
    "fenced",
    "request_edges",
    "sample",
]

SAMPLE_HEAD, SAMPLE_TAIL = 12_000, 4_000
_FENCE = re.compile(r"```|~~~")
_URL_QUESTION = re.compile(r"\?(?=[\w=&%])")
_NUMBERED_ITEM = re.compile(r"\n[ \t]*\d{1,3}[.)][ \t]")
_LATEX = re.compile(
    r"\\(?:d?frac|sum|int|iint|oint|sqrt|prod|lim|infty|alpha|beta|gamma|delta|epsilon|varepsilon"
    r"|theta|lambda|mu|sigma|omega|pi|phi|psi|partial|nabla|cdot|times|leq?|geq?|neq|approx|equiv"
    r"|pmod|bmod|binom|mathbb|mathcal|mathrm|mathbf|operatorname|begin|end|left|right|forall|exists"
    r"|subseteq?|supseteq?|cup|cap|log|ln|exp|sin|cos|tan|rightarrow|Rightarrow|iff|implies|vec|hat"
    r"|overline|ldots|cdots|dots)(?![A-Za-z])"
    r"|\\\[|\\\("
)
# Operators that make an equation when they sit between operands with the same spacing on
# both sides ("x = 3", "2+2", "n^2"; not "C++", "<div>", "=>" or a Markdown "**").
_OPERATORS = ("=", "^", "+", "*", "<", ">")
_UNICODE_OPERATORS = ("×", "÷", "≤", "≥", "≠", "≈")
_MATH_SYMBOLS = "∑∫√∞∂∇±∈∀∃⊂∪∩"
_LEFT_OPERAND = ")]²³"
_RIGHT_OPERAND = "(-−√"
EQUATIONS_LIMIT = 20  # counting stops here
_OCCURRENCES_LOOKED_AT = 200  # per operator, so a log full of "=" costs no more than a prompt
_CODE_BYTES = b"{}[]();=<>_|&\\#$@^~*`"
# A line that opens a definition: a function or class header as Python, JavaScript, Go, Rust,
# Kotlin, Swift or a C-family language writes it ("def merge(a, b):", "class Cache {",
# "public int size() {", "func Sum(xs []int) int {"). A stub to complete is code to write,
# however much of it is prose in a docstring.
_DEFINITION = re.compile(
    r"[ \t]*+(?:(?:async[ \t]++)?def[ \t]++\w++[ \t]*+\(|class[ \t]++\w++[ \t]*+[(:{<]"
    r"|(?:export[ \t]++)?function[ \t]*+\w*+[ \t]*+\(|func[ \t]++(?:\([^)\n]*+\)[ \t]*+)?\w++[ \t]*+\("
    r"|(?:pub[ \t]++)?fn[ \t]++\w++[ \t]*+[(<]"
    r"|(?:public|private|protected|static)\b[^\n(;]*+\([^)\n]*+\)[^\n;]*+\Z)"
)  # matched on one line; possessive repeats never give back what they took: linear in it
_DEFINITION_STARTS = ("def ", "def\t", "async ", "class ", "class\t", "function", "export ", "func ", "func\t", "fn ",
                      "fn\t", "pub ", "public ", "private ", "protected ", "static ")
_SPACE_BYTES = b" \t\n\r\x0b\x0c"
# Digits → "1", "." and "," → "2", every other byte → "0": a number starts wherever "01" occurs.
_DIGIT_RUNS = bytes(49 if 48 <= b <= 57 else 50 if b in (44, 46) else 48 for b in range(256))


def sample(text: str) -> str:
    """The whole text, or its first 12,000 and last 4,000 characters when it is longer."""
    if len(text) <= SAMPLE_HEAD + SAMPLE_TAIL:
        return text
    return text[:SAMPLE_HEAD] + "\n" + text[-SAMPLE_TAIL:]


def request_edges(text: str, edge_words: int) -> str | None:
    """What a text that hands over material asks: its edges, or None when it is too short to have a middle.

    Where a request gives a text to read, what it asks sits before or after that text. The
    head is the first paragraph, or else the first line, when it ends within the first
    `edge_words` words, and those words otherwise; the tail is the last paragraph, or else the
    last line, when it starts within the last `edge_words` words, and those words otherwise
    ("Summarize this article." / the article / "Answer in French."). Texts of at most
    2 × `edge_words` words have no middle: None.
    """
    words = text.split(None, edge_words)
    if len(words) <= edge_words:
        return None
    rest = words[-1]  # split leaves the remainder as it is in the text, leading spaces dropped
    tail = rest.rsplit(None, edge_words)
    if len(tail) <= edge_words:
        return None  # at most 2 × edge_words words: all of it is the request
    head = text[: len(text) - len(rest)].lstrip()  # with the spaces after its last word
    cut = head.find("\n\n")
    if cut < 0:
        cut = head.find("\n")
    if cut > 0:
        head = head[:cut]
    end = rest[len(tail[0]) :].rstrip()  # rsplit leaves the front of `rest` as it is, spaces after it
    cut = end.rfind("\n\n")
    if cut < 0:
        cut = end.rfind("\n")
    if cut >= 0:
        end = end[cut:]
    return head.rstrip() + "\n\n" + end.strip()


def fenced(text: str) -> tuple[int, str]:
    """Fenced code blocks in `text`, and the text outside them (the prose)."""
    if not (("`" in text and "```" in text) or ("~" in text and "~~~" in text)):
        return 0, text
    blocks, pieces, start, open_marker = 0, [], 0, None
    for match in _FENCE.finditer(text):
        marker = match.group(0)
        if open_marker is None:
            pieces.append(text[start : match.start()])
            open_marker = marker
            blocks += 1
        elif marker == open_marker:
            start, open_marker = match.end(), None
    if open_marker is None:
        pieces.append(text[start:])
    return blocks, "\n".join(pieces)


def _between_operands(text: str, at: int, width: int) -> bool:
    left, right = at - 1, at + width
    if left < 0 or right >= len(text):
        return False
    spaced = text[left] == " "
    if spaced != (text[right] == " "):
        return False
    if spaced:
        left, right = left - 1, right + 1
        if left < 0 or right >= len(text):
            return False
    before, after = text[left], text[right]
    return (before.isalnum() or before in _LEFT_OPERAND) and (after.isalnum() or after in _RIGHT_OPERAND)


# A markup tag is no comparison: "A<eoa>", "text<br/>more", '<span class="x">' (a tag has no
# attributes, or attributes with values, so "if a<b then c>d" stays two comparisons).
_MARKUP_TAG = re.compile(
    r"</?[A-Za-z][A-Za-z0-9_:-]{0,30}(?:\s+[A-Za-z_:][A-Za-z0-9_:.-]*=(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'<>=]+))*\s*/?>"
)


def _in_markup_tag(text: str, at: int) -> bool:
    """Is the `<` or `>` at `at` a markup tag's bracket?"""
    if text[at] == "<":
        return _MARKUP_TAG.match(text, at) is not None
    opening = text.rfind("<", max(0, at - 240), at)
    if opening == -1:
        return False
    tag = _MARKUP_TAG.match(text, opening)
    return tag is not None and tag.end() == at + 1


def count_equations(text: str) -> int:
    """Equation-like operators and maths symbols in `text`, up to `EQUATIONS_LIMIT`."""
    found = 0
    ascii_only = text.isascii()
    for operator in _OPERATORS if ascii_only else _OPERATORS + _UNICODE_OPERATORS:
        at = text.find(operator)
        looked = 0
        while at >= 0 and looked < _OCCURRENCES_LOOKED_AT:
            if _between_operands(text, at, 1) and not (operator in "<>" and _in_markup_tag(text, at)):
                found += 1
                if found >= EQUATIONS_LIMIT:
                    return found
            looked += 1
            at = text.find(operator, at + 1)
    if not ascii_only:
        found += sum(text.count(symbol) for symbol in _MATH_SYMBOLS if symbol in text)
    return min(found, EQUATIONS_LIMIT)


def count_numbers(raw: bytes) -> int:
    """Numbers (runs of digits, with . and , inside) in UTF-8 bytes."""
    if len(raw.translate(None, b"0123456789")) == len(raw):
        return 0
    runs = raw.translate(_DIGIT_RUNS)
    return runs.count(b"01") + (1 if runs[:1] == b"1" else 0)


def code_density(raw: bytes) -> float:
    """Code punctuation per non-space byte of UTF-8 text (0 for fewer than 20 non-space bytes)."""
    non_space = len(raw.translate(None, _SPACE_BYTES))
    if non_space < 20:
        return 0.0
    return (len(raw) - len(raw.translate(None, _CODE_BYTES))) / non_space


def count_definitions(text: str) -> int:
    """Lines that open a function or class definition (at most 3 are counted).

    Only lines that start with a definition's first word are matched, so most texts cost one
    split and a `startswith` per line.
    """
    found = 0
    for line in text.split("\n"):
        if line.lstrip(" \t").startswith(_DEFINITION_STARTS) and _DEFINITION.match(line) is not None:
            found += 1
            if found == 3:
                break
    return found


def count_questions(prose: str) -> int:
    """Question marks, not counting those inside URLs (`?id=3`); full-width ones count."""
    found = 0
    if "?" in prose:
        found = prose.count("?") - len(_URL_QUESTION.findall(prose))
    if not prose.isascii():
        found += prose.count("？")
    return found


def count_latex(text: str) -> int:
    """LaTeX maths commands and `$$` blocks."""
    found = len(_LATEX.findall(text)) if "\\" in text else 0
    return found + (text.count("$$") // 2 if "$" in text else 0)


def count_numbered_items(text: str) -> int:
    """Lines that start with a number and `.` or `)` (1. 2) 10.)."""
    found = len(_NUMBERED_ITEM.findall(text)) if "\n" in text else 0
    if text[:8].lstrip(" \t")[:1].isdigit() and _NUMBERED_ITEM.match("\n" + text[:8]):
        found += 1
    return found




ITEM_WORDS = 3  # a comma-separated item has at most this many words


def comma_items(text: str) -> int:
    """Items in the longest run of short comma-separated items on one line ("a, b c, d")."""
    if "," not in text:
        return 0
    best = 0
    for line in text.split("\n"):
        if line.count(",") < best:  # a line with fewer commas cannot beat the best run
            continue
        run = 0
        for piece in line.split(","):
            words = len(piece.split())
            if 1 <= words <= ITEM_WORDS:
                run += 1
                best = max(best, run)
            else:
                # the first and last items of a list share their piece with the sentence around it
                run = 1 if words > ITEM_WORDS else 0
    return best


# What str.split() treats as whitespace in ASCII → "0", every other byte → "1".
_WORD_MARKS = bytes(48 if b in b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f" else 49 for b in range(256))
SHORT_TEXT = 4096


def count_words(text: str, limit: int) -> int:
    """Words as `str.split()` counts them, at most `limit`.

    A short ASCII text is counted in bytes (a word starts where a space byte meets another),
    which is faster than splitting it; anything else is split no further than `limit`.
    """
    if len(text) <= SHORT_TEXT and text.isascii():
        marks = text.encode("ascii").translate(_WORD_MARKS)
        return min(marks.count(b"01") + (1 if marks[:1] == b"1" else 0), limit)
    return count_words_upto(text, limit)
