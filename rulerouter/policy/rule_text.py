"""What a rule file's text must be before anything reads its values: one boundary for every path.

`read_source` turns bytes into text: UTF-8, with or without a byte-order mark; a file in UTF-16
or UTF-32 (which editors on Windows write) is named as such, and any other bytes that are not
UTF-8 are pointed at by line and column. `bounded` then checks, in the TOML text and in the data
read from it, what neither tomllib nor the schema bounds: how deeply tables and arrays nest
(tomllib recurses once per level, so a few hundred levels crash it) and that every number is
finite (TOML allows `inf` and `nan`; no setting of a rule file means anything with them).
"""

from __future__ import annotations

import codecs
import math
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic

__all__ = ["BOM", "MAX_NESTING", "NonFinite", "deepest_bracket", "invisible_at", "non_finite_numbers", "read_source", "too_deep"]

#: Tables and arrays inside one another, at most (a condition nested ~30 levels deep).
MAX_NESTING = 64
BOM = "\ufeff"

_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
              (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))

NonFinite = tuple[tuple[str | int, ...], float]


def read_source(path: str | Path) -> tuple[str | None, Diagnostic | None]:
    """The text of a file, or an RR002 diagnostic saying why it cannot be read."""
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None, Diagnostic("RR002", "no such file", shown, 1, 1)
    except IsADirectoryError:
        return None, Diagnostic("RR002", "is a directory, not a rule file", shown, 1, 1)
    except OSError as exc:
        return None, Diagnostic("RR002", f"cannot read: {exc.strerror or exc}", shown, 1, 1)
    for mark, encoding in _WIDE_BOMS:
        if raw.startswith(mark) and _decodes(raw, encoding):
            return None, Diagnostic("RR002", f"{encoding} text (it starts with the byte-order mark {mark.hex(' ').upper()}); rule files are UTF-8",
                                    shown, 1, 1, hint=f"convert it, e.g. iconv -f {encoding} -t UTF-8 FILE, or save it as UTF-8 in your editor")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        col = len(raw[start:exc.start].decode("utf-8", "replace")) + 1
        return None, Diagnostic("RR002", f"not UTF-8 text (byte 0x{raw[exc.start]:02X} at offset {exc.start})", shown, line, col,
                                hint="rule files are UTF-8; convert it, e.g. iconv -f LATIN1 -t UTF-8 FILE for Latin-1")


def invisible_at(text: str, line: int, col: int) -> str | None:
    """What to say when the character at `line`:`col` (both from 1) is one an editor does not
    show — a format character such as a second byte-order mark or a zero-width space, a space
    other than U+0020, a control character — or None when it is an ordinary one."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines) or not 1 <= col <= len(lines[line - 1]):
        return None
    char = lines[line - 1][col - 1]
    import unicodedata  # only on this error path

    if char in " \t\r" or unicodedata.category(char) not in ("Cf", "Zs", "Zl", "Zp", "Cc"):
        return None
    name = unicodedata.name(char, "a control character")
    what = f"U+{ord(char):04X} {name}"
    if char == BOM:
        what += " (a byte-order mark; only one may open a file, and none may appear after it)"
    return f"the character there is {what}, which most editors do not show; delete it"


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def deepest_bracket(text: str, limit: int = MAX_NESTING) -> int | None:
    """The offset of the first `[` or `{` nested more than `limit` deep, outside strings and
    comments; None when there is none. Counted on the text, before tomllib recurses into it."""
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c in "\"'":
            i = _string_end(text, i)
            continue
        if c in "[{":
            depth += 1
            if depth > limit:
                return i
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _string_end(text: str, i: int) -> int:
    """The offset just past the string starting at `i` (or the end of its line, if unclosed)."""
    quote, n = text[i], len(text)
    close = quote * 3 if text.startswith(quote * 3, i) else quote
    j = i + len(close)
    while j < n:
        if quote == '"' and text[j] == "\\":
            j += 2
        elif len(close) == 1 and text[j] == "\n":
            return j
        elif text.startswith(close, j):
            j += len(close)
            while len(close) == 3 and j < n and text[j] == quote:  # quotes of content before the closing three
                j += 1
            return j
        else:
            j += 1
    return n


def too_deep(data: Any, limit: int = MAX_NESTING) -> tuple[str | int, ...] | None:
    """The key path of the first value nested more than `limit` tables and arrays deep (dotted
    keys nest tables without brackets), or None."""
    stack: list[tuple[Any, tuple[str | int, ...], int]] = [(data, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            if isinstance(value, (dict, list)):
                if depth + 1 > limit:
                    return path + (key,)
                stack.append((value, path + (key,), depth + 1))
    return None


def non_finite_numbers(data: Any) -> list[NonFinite]:
    """Every `inf` and `nan` in the data, with its key path."""
    found: list[NonFinite] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            if isinstance(value, float) and not math.isfinite(value):
                found.append((path + (key,), value))
            elif isinstance(value, (dict, list)):
                stack.append((value, path + (key,)))
    return found
