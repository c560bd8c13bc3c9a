"""Source positions for TOML documents.

Rule files are TOML, read with :mod:`tomllib`, which returns plain dicts and lists
and forgets where anything was written.  Validation errors, however, arrive as
key paths such as ``("rules", 2, "when", "keywords", "any", 3)``, and every
diagnostic must point at ``line:col`` in the file.  This module re-scans the
source text (no second parser, no third-party dependency) and records where the
key and the value of every path start, using exactly the paths that indexing
into ``tomllib.loads(text)`` produces: table keys as ``str``, array indices
(including arrays of tables) as ``int``.

Conventions:

* lines and columns are 1-based; columns count characters, not bytes; a CRLF
  line ending is just a line ending.
* a table defined by a header (``[a.b]``, or ``[[a]]`` for the element
  ``("a", n)``) has its key *and* value at the header's opening ``[``; the
  intermediate tables a header names implicitly (``a`` in ``[a.b]``, and the
  array ``a`` of ``[[a]]``) have their key at that segment of the header and
  their value at the header.
* a table created implicitly by a dotted key (``when`` in
  ``when.keywords.any = 1``) has key and value at that segment of its first
  occurrence; an explicit header for it later (``[a]`` after ``[a.b]``) wins.
* array elements have no key: their key position is their value position.

The scanner assumes text that ``tomllib`` accepted, but it never raises on any
input: on malformed text it returns whatever it recorded up to that point.
"""

from __future__ import annotations

import bisect
import re
import tomllib

__all__ = ["TomlPositions", "locate"]

Path = tuple[str | int, ...]
Pos = tuple[int, int]

_WS = re.compile(r"[ \t]*")
# Whitespace, newlines and comments: the filler between array elements.
_FILL = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
_LITERAL = re.compile(r"'[^'\r\n]*'")
# Multi-line strings may end with up to two quotes of content before the closing
# three, so the closing run is 3 to 5 quotes long.
_ML_BASIC = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"{3,5}', re.DOTALL)
_ML_LITERAL = re.compile(r"'''.*?'{3,5}", re.DOTALL)
# Numbers, booleans, dates and times: everything up to the next delimiter (a
# local date-time may contain a space, so whitespace is not a delimiter).
_SCALAR = re.compile(r"[^,\]}#\r\n]*")


class TomlPositions:
    """Positions of keys and values in one TOML document, by key path."""

    def __init__(self) -> None:
        self._keys: dict[Path, Pos] = {}
        self._values: dict[Path, Pos] = {}
        self._explicit: set[Path] = set()

    def key(self, path: Path) -> Pos | None:
        """Where the key (or table header) of ``path`` is written, or ``None``."""
        return self._keys.get(tuple(path))

    def value(self, path: Path) -> Pos | None:
        """Where the value of ``path`` starts (for header tables: the header)."""
        return self._values.get(tuple(path))

    def nearest(self, path: Path, prefer: str = "value") -> Pos:
        """The position of ``path`` or, failing that, of its longest known prefix.

        ``prefer`` ("value" or "key") picks which position is tried first at each
        length; ``(1, 1)`` when nothing along the path is known.
        """
        first, second = (self._keys, self._values) if prefer == "key" else (self._values, self._keys)
        path = tuple(path)
        for n in range(len(path), 0, -1):
            found = first.get(path[:n]) or second.get(path[:n])
            if found is not None:
                return found
        return (1, 1)

    def _record(self, path: Path, key: Pos, value: Pos, explicit: bool) -> None:
        if path in self._explicit:
            return
        if explicit:
            self._explicit.add(path)
        elif path in self._keys:
            return  # implicit tables keep their first occurrence
        self._keys[path] = key
        self._values[path] = value


def locate(text: str) -> TomlPositions:
    """Scan TOML ``text`` and return the positions of all its keys and values."""
    scanner = _Scanner(text if isinstance(text, str) else "")
    try:
        scanner.run()
    except Exception:  # noqa: BLE001 - never raise: keep what was recorded
        pass
    return scanner.positions


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.positions = TomlPositions()
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._aot_count: dict[Path, int] = {}  # arrays of tables -> elements seen

    def pos(self, i: int) -> Pos:
        line = bisect.bisect_right(self._line_starts, i)
        return (line, i - self._line_starts[line - 1] + 1)

    def _ws(self, i: int) -> int:
        return _WS.match(self.text, i).end()

    def _fill(self, i: int) -> int:
        return _FILL.match(self.text, i).end()

    def _next_line(self, i: int) -> int:
        j = self.text.find("\n", i)
        return len(self.text) if j < 0 else j + 1

    # -- document structure -------------------------------------------------

    def run(self) -> None:
        text, n = self.text, len(self.text)
        table: Path = ()
        i = 0
        while i < n:
            i = self._ws(i)
            c = text[i] if i < n else "\n"
            if c == "[":
                table = self._header(i)
            elif c not in "#\r\n":
                i = self._key_value(i, table)
            i = self._next_line(i)

    def _header(self, start: int) -> Path:
        """Resolve a ``[table]`` or ``[[array]]`` header; returns the new table path."""
        is_aot = self.text.startswith("[[", start)
        segments, _ = self._key(start + (2 if is_aot else 1))
        at = self.pos(start)
        path: Path = ()
        for j, (name, seg_pos) in enumerate(segments):
            path += (name,)
            last = j == len(segments) - 1
            if last and is_aot:
                index = self._aot_count.get(path, 0)
                self._aot_count[path] = index + 1
                self.positions._record(path, seg_pos, at, explicit=False)
                path += (index,)
                self.positions._record(path, at, at, explicit=True)
            elif last:
                self.positions._record(path, at, at, explicit=True)
            elif path in self._aot_count:  # [a.b] under [[a]]: the last element of a
                path += (self._aot_count[path] - 1,)
            else:
                self.positions._record(path, seg_pos, at, explicit=False)
        return path

    def _key(self, i: int) -> tuple[list[tuple[str, Pos]], int]:
        """Parse a (possibly dotted, possibly quoted) key; returns its segments."""
        text, segments = self.text, []
        while True:
            i = self._ws(i)
            c = text[i : i + 1]
            m = _BASIC.match(text, i) if c == '"' else _LITERAL.match(text, i) if c == "'" else _BARE_KEY.match(text, i)
            if m is None:
                break
            raw = m.group()
            if c == '"' and "\\" in raw:
                try:
                    name = tomllib.loads("k = " + raw)["k"]
                except Exception:  # noqa: BLE001
                    name = raw[1:-1]
            else:
                name = raw[1:-1] if c in "\"'" else raw
            segments.append((name, self.pos(i)))
            i = self._ws(m.end())
            if text[i : i + 1] != ".":
                break
            i += 1
        return segments, i

    def _key_value(self, i: int, table: Path) -> int:
        """Parse ``key = value`` (dotted keys relative to ``table``); returns the end."""
        segments, i = self._key(i)
        if not segments or self.text[i : i + 1] != "=":
            return i
        i = self._ws(i + 1)
        path = table
        for j, (name, seg_pos) in enumerate(segments):
            path += (name,)
            if j < len(segments) - 1:
                self.positions._record(path, seg_pos, seg_pos, explicit=False)
            else:
                self.positions._record(path, seg_pos, self.pos(i), explicit=True)
        return self._value(i, path)

    # -- values ---------------------------------------------------------------

    def _value(self, i: int, path: Path) -> int:
        """Skip the value starting at ``i``, recording what it contains; returns its end."""
        text = self.text
        c = text[i : i + 1]
        if c == "[":
            return self._array(i + 1, path)
        if c == "{":
            return self._inline_table(i + 1, path)
        if c == '"':
            m = _ML_BASIC.match(text, i) if text.startswith('"""', i) else _BASIC.match(text, i)
        elif c == "'":
            m = _ML_LITERAL.match(text, i) if text.startswith("'''", i) else _LITERAL.match(text, i)
        else:
            m = _SCALAR.match(text, i)
        if m is None:  # unterminated string: malformed, resume at the next line
            return self._next_line(i)
        return m.end()

    def _array(self, i: int, path: Path) -> int:
        text, n, index = self.text, len(self.text), 0
        while i < n:
            i = self._fill(i)
            c = text[i : i + 1]
            if c == "]":
                return i + 1
            if c in (",", "}", "="):  # "," after an element; "}" and "=" only if malformed
                i += 1
                continue
            at = self.pos(i)
            self.positions._record(path + (index,), at, at, explicit=True)
            end = self._value(i, path + (index,))
            i = end if end > i else i + 1
            index += 1
        return i

    def _inline_table(self, i: int, path: Path) -> int:
        text, n = self.text, len(self.text)
        while i < n:
            i = self._fill(i)
            c = text[i : i + 1]
            if c == "}":
                return i + 1
            if c == "]":  # malformed: let the enclosing array see it
                return i
            if c == ",":
                i += 1
                continue
            end = self._key_value(i, path)
            i = end if end > i else i + 1
        return i
