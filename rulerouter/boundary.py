"""The request boundary: one set of rules for every value a request brings in, wherever it enters.

Every door into rulerouter — `Router.decide/trace/complete/acomplete/stream/astream`, the CLI's
JSON arguments, prompts and JSONL files, and each of the gateway's front doors — hands what it
was given to this module, so a request is judged the same way whichever door it came in by:

- **Text** that is not valid Unicode is *repaired, and said so*: a lone surrogate (`"\\ud83d"`,
  what a client sends when it cuts an emoji in half) or a byte that is not UTF-8 (in a CLI
  argument, standard input or a file) becomes U+FFFD, as every UTF-8 decoder does, and the
  fields repaired are reported (`Decision.repaired`, `Result.repaired`, the `request` event, the
  gateway's `X-Rulerouter-Repaired` header, a note on the CLI's stderr). Nothing else in a text
  is changed.
- **Depth**: arrays and objects nest at most `MAX_DEPTH` levels; deeper — or a Python value that
  contains itself — is refused.
- **Numbers**: JSON has no NaN or Infinity, so JSON text holding `NaN`, `Infinity`, `-Infinity`
  or a literal that overflows to infinity (`1e999`) is refused, and so is any integer of more
  than `MAX_INT_DIGITS` digits (it cannot even be printed).
- **What is sent to a model must be JSON**: the prompt, system prompt, messages and request
  parameters hold only str, int, float, bool, None, lists (or tuples) and objects with string
  keys, and no `float("nan")` or infinity. A set, bytes or a datetime there is refused. Values
  that only the rules read — metadata, and everything `decide()` is given — may be any Python
  value (a rule can test that it exists), within the depth bound.

A refusal is `InvalidInput`, a `UsageError` whose `field` names the value at fault
(`messages[2].content`, `metadata.team`, `tools[0].function.parameters`) and whose message says
why; the gateway answers it with a 400 naming that field, the CLI with exit 2.

Two entry points:

- `read_json(data, what)` parses JSON text or bytes. It refuses only what cannot be parsed (not
  JSON, nested past the parser's own limit); numbers JSON forbids are kept as `NotJSONNumber`
  placeholders and invalid text as lone surrogates, so that `check()` — which every value passes
  through next — can name the field that holds them.
- `read_json_lines(data, name)` does the same for each line of a JSON Lines file (batch input,
  prompts to simulate, labelled requests, decision logs), so no file can hold a line that one
  command takes and another crashes on.
- `check(value, field)` applies the rules above to a value and returns it, repaired where
  needed (a copy: the caller's objects are never modified), with the repaired fields. The
  common case — nothing to repair, nothing to refuse — is one pass that builds nothing.

Stage 1, beside `policy/` (what comes in: the rule file there, every request value here): it
imports nothing of rulerouter's but its errors, and every stage above uses it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterator, NamedTuple

from .errors import UsageError

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "InvalidInput", "JSONLine", "NotJSONNumber", "check", "decode_text", "read_json",
           "read_json_lines", "read_reply_json", "repair_note"]

MAX_DEPTH = 64
MAX_INT_DIGITS = 4300  # Python's own limit for int <-> str; beyond it json.dumps cannot write the number

_INT_LIMIT = 10**MAX_INT_DIGITS
_SURROGATE = re.compile("[\ud800-\udfff]")
_ISFINITE = math.isfinite
_FIRST_PART = re.compile(r"[^.\[]+")


class InvalidInput(UsageError):
    """A request value rulerouter cannot take. `field` names where it is (None: the whole input)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotJSONNumber(float):
    """A number JSON text may not hold (NaN, ±Infinity, an overflowing literal, an integer of too many
    digits), kept by `read_json` so that `check` can name the field that holds it."""

    literal: str

    def __new__(cls, literal: str, value: float = math.nan) -> NotJSONNumber:
        number = super().__new__(cls, value)
        number.literal = literal if len(literal) <= 24 else f"an integer of {len(literal)} digits"
        return number


def _constant(literal: str) -> NotJSONNumber:
    return NotJSONNumber(literal, float(literal))


def _float(literal: str) -> float:
    value = float(literal)
    return value if _ISFINITE(value) else NotJSONNumber(literal, value)


def _int(literal: str) -> int | float:
    digits = len(literal) - (literal[0] == "-")
    return int(literal) if digits <= MAX_INT_DIGITS else NotJSONNumber(literal)


# Built once: json.loads with any of these arguments builds a new decoder on every call.
_decode_request = json.JSONDecoder(parse_constant=_constant, parse_float=_float, parse_int=_int).decode


def decode_text(data: bytes) -> str:
    """Bytes as text; bytes that are not UTF-8 become lone surrogates, which `check` repairs and reports."""
    return data.decode("utf-8", "surrogateescape")


def read_json(data: bytes | str, what: str) -> Any:
    """Parse JSON text (`what` names it in errors: "the request body", "--metadata", "in.jsonl:3").

    Raises `InvalidInput` when it is not JSON or nests deeper than any value may; everything
    else is left to `check`.
    """
    text = decode_text(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return _decode_request(text)
    except RecursionError:
        raise InvalidInput(f"{what} nests arrays and objects more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            where = f"line {exc.lineno} column {exc.colno}" if "\n" in text.rstrip() else f"column {exc.colno}"
            detail = f"{exc.msg.removesuffix(' at')} at {where}"
        else:
            detail = str(exc)
        if text is not data and _SURROGATE.search(text):  # bytes that were not UTF-8 (see decode_text)
            detail += " (and it is not UTF-8 text)"
        raise InvalidInput(f"{what} is not valid JSON: {detail}") from None


class JSONLine(NamedTuple):
    """One non-blank line of a JSON Lines file: its number (from 1), its value, and `problem` —
    the `InvalidInput` that says why it has no value — or None. `not_utf8`: the line held bytes
    that are not UTF-8 (kept as lone surrogates, for `check` to repair and report)."""

    number: int
    value: Any
    problem: InvalidInput | None
    not_utf8: bool


_BOMS = ((b"\xef\xbb\xbf", None), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\xfe\xff", "UTF-16"), (b"\xff\xfe", "UTF-16"))


def read_json_lines(data: bytes, name: str) -> Iterator[JSONLine]:
    """Every non-blank line of a JSON Lines file's bytes, parsed by the rules of `read_json`.

    A line that cannot be parsed gets a `problem` naming `name:line` and why; the others are
    left to `check`, as every value is. A UTF-8 byte-order mark is skipped; a file whose mark says
    UTF-16 or UTF-32 is refused whole (`InvalidInput`), since every line of it would be garbage.
    """
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            if encoding is not None:
                raise InvalidInput(f"{name} is {encoding} text (its byte-order mark says so); JSON Lines files must be UTF-8")
            data = data[len(mark):]
            break
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            text, not_utf8 = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            text, not_utf8 = decode_text(raw), True
        try:
            yield JSONLine(number, read_json(text, "the line"), None, not_utf8)
        except InvalidInput as exc:
            note = " (and it is not UTF-8 text)" if not_utf8 else ""
            yield JSONLine(number, None, InvalidInput(f"{name}:{number}: {exc}{note}"), not_utf8)


def _refuse_number(literal: str) -> Any:
    raise ValueError(f"{literal if len(literal) <= 24 else 'an integer of %d digits' % len(literal)} is not a number JSON can hold")


def _strict_float(literal: str) -> float:
    value = float(literal)
    return value if _ISFINITE(value) else _refuse_number(literal)


def _strict_int(literal: str) -> int:
    return int(literal) if len(literal) - (literal[0] == "-") <= MAX_INT_DIGITS else _refuse_number(literal)


_decode_reply = json.JSONDecoder(parse_constant=_refuse_number, parse_float=_strict_float, parse_int=_strict_int).decode


def read_reply_json(data: bytes) -> tuple[Any, bytes]:
    """An upstream's JSON reply (or stream event), by the same rules as a request, and the bytes
    to pass on in its place: `data` itself, or the repaired value re-encoded when its text had
    to be repaired.

    A reply that is not JSON, holds a number JSON forbids or nests too deep raises
    `InvalidInput` (the caller treats the reply as malformed); text that is not valid Unicode is
    repaired. Cheap on the usual reply: the careful pass runs only when the bytes show a
    surrogate escape, a byte that is not UTF-8, or more brackets than `MAX_DEPTH`.
    """
    try:
        text = data.decode("utf-8")
        suspect = b"\\ud" in data or b"\\uD" in data
    except UnicodeDecodeError:
        text, suspect = decode_text(data), True
    try:
        value = _decode_reply(text)
    except RecursionError:
        raise InvalidInput(f"the reply nests arrays and objects more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise InvalidInput(f"the reply is not valid JSON: {exc}") from None
    if suspect or data.count(b"[") + data.count(b"{") > MAX_DEPTH:
        value, repaired = check(value, "")
        if repaired:
            return value, json.dumps(value, ensure_ascii=False).encode()
    return value, data


def repair_note(fields: tuple[str, ...] | list[str]) -> str:
    """How a repair is reported to a person: which fields had text that was not valid Unicode."""
    return f"text that was not valid Unicode was repaired (U+FFFD) in: {', '.join(fields)}"


# ---- checking values ----------------------------------------------------------------------------

def _leaf_is_clean(item: Any, kind: type) -> bool:
    """For a str, int, float, bool or None: whether it may enter as it is."""
    if kind is str:
        return item.isascii() or not _SURROGATE.search(item)
    if kind is int:
        return item.bit_length() <= 14000  # about 4,200 digits; the careful pass counts exactly
    if kind is float:
        return _ISFINITE(item)
    return kind is bool or item is None


def _needs_attention(value: Any) -> bool:
    """One pass, level by level, that builds nothing: False when `value` is clean JSON as it is.

    Anything unusual (a tuple, a subclass, a placeholder, a type JSON cannot carry) answers True
    and is left to the careful pass, which names it.
    """
    kind = type(value)
    if kind is not dict and kind is not list:
        return not _leaf_is_clean(value, kind)
    level = [value]
    depth = 1  # how many arrays and objects enclose the containers of `level`, plus one
    search = _SURROGATE.search
    while level:
        if depth > MAX_DEPTH:
            return True
        below: list[Any] = []
        push = below.append
        for container in level:
            if type(container) is dict:
                for key, item in container.items():
                    if type(key) is not str or not key.isascii() and search(key):
                        return True
                    kind = type(item)
                    if kind is str:
                        if not item.isascii() and search(item):
                            return True
                    elif kind is dict or kind is list:
                        push(item)
                    elif not _leaf_is_clean(item, kind):
                        return True
            else:
                for item in container:
                    kind = type(item)
                    if kind is str:
                        if not item.isascii() and search(item):
                            return True
                    elif kind is dict or kind is list:
                        push(item)
                    elif not _leaf_is_clean(item, kind):
                        return True
        level = below
        depth += 1
    return False


def _name(field: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{field}[{key}]"
    text = key if len(key) <= 40 else key[:37] + "..."
    if text.isidentifier() and text.isascii():
        return f"{field}.{text}" if field else text
    return f"{field}[{json.dumps(text)}]"


def _type_of(value: Any) -> str:
    name = type(value).__name__
    known = {"bytes": "bytes", "bytearray": "bytes", "set": "a set", "frozenset": "a set", "complex": "a complex number"}
    return known.get(name) or f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


class _Walk:
    """The careful pass: names the field at fault, builds repaired copies, refuses what must be."""

    def __init__(self, top: str, sent: bool) -> None:
        self.top = top or "(the value)"
        self.sent = sent
        self.repaired: list[str] = []

    def text(self, value: str, field: str) -> str:
        if value.isascii() or not _SURROGATE.search(value):
            return value
        if field not in self.repaired:
            self.repaired.append(field)
        return _SURROGATE.sub("\ufffd", value)

    def value(self, value: Any, field: str, depth: int) -> Any:
        if isinstance(value, str):
            return self.text(value, field)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, NotJSONNumber):
            raise InvalidInput(f"'{field}' is {value.literal}, which is not a number JSON can hold", field)
        if isinstance(value, int):
            if abs(value) >= _INT_LIMIT:
                raise InvalidInput(f"'{field}' is an integer of more than {MAX_INT_DIGITS} digits; use a string for it", field)
            return value
        if isinstance(value, float):
            if self.sent and not _ISFINITE(value):
                shown = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
                raise InvalidInput(f"'{field}' is {shown}, which JSON cannot carry (numbers must be finite)", field)
            return value
        if isinstance(value, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                first = _FIRST_PART.match(field)
                top = first.group(0) if first else field
                shown = field if len(field) <= 60 else field[:57] + "..."
                raise InvalidInput(f"'{top}' nests arrays and objects more than {MAX_DEPTH} levels deep, or contains itself (at {shown})", top)
            if isinstance(value, dict):
                return self.mapping(value, field, depth + 1)
            items = [self.value(item, _name(field, index), depth + 1) for index, item in enumerate(value)]
            if all(a is b for a, b in zip(items, value)):
                return value
            return items if isinstance(value, list) else tuple(items)
        if self.sent:
            raise InvalidInput(f"'{field}' is {_type_of(value)}, which JSON cannot carry", field)
        return value  # read by the rules only (metadata): any Python value may be tested for existence

    def mapping(self, value: dict[Any, Any], field: str, depth: int) -> dict[Any, Any]:
        out: dict[str, Any] = {}
        changed = False
        for key, inner in value.items():
            if not isinstance(key, str):
                if self.sent:
                    raise InvalidInput(f"'{field or self.top}' has a key that is {_type_of(key)}, not a string", field or self.top)
                where, fixed_key = _name(field, str(key)), key
            else:
                where = _name(field, key)
                fixed_key = self.text(key, where)
            fixed = self.value(inner, where, depth)
            changed = changed or fixed_key is not key or fixed is not inner
            out[fixed_key] = fixed
        return out if changed else value


def check(value: Any, field: str, *, sent: bool = True) -> tuple[Any, list[str]]:
    """`value` if it may enter as it is, else its repaired copy; and the fields repaired.

    Raises `InvalidInput`, naming the field, for what the rules refuse. `field` names the value
    itself (`"messages"`, `"metadata"`, `"prompt"`; `""` for a whole document such as a body).
    `sent=False` is for values only the rules read (metadata; what `decide()` is given): they
    are bounded in depth and have their text repaired, but need not be JSON.
    """
    if not _needs_attention(value):
        return value, []
    walk = _Walk(field, sent)
    if not field and isinstance(value, dict):
        return walk.mapping(value, "", 1), walk.repaired  # a document: its keys name the fields
    return walk.value(value, field or "(the value)", 0), walk.repaired
