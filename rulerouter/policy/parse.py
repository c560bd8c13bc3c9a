"""Parse and validate: TOML text → a `Policy`, or diagnostics that say where and why.

`tomllib` checks the syntax; Pydantic checks the shape. Neither knows where in the file a
problem is (Pydantic reports a key path such as `("rules", 2, "when", "keywords")`), so every
error is mapped back to the line and column of the key or value involved.
"""

from __future__ import annotations

import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from .diagnostics import Diagnostic, Severity
from .rule_text import BOM, MAX_NESTING, deepest_bracket, invisible_at, non_finite_numbers, read_source, too_deep
from .toml_positions import TomlPositions, locate

__all__ = ["Parsed", "describe", "did_you_mean", "key_path", "parse_document", "read_source"]

_SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


@dataclass
class Parsed:
    """The outcome of reading one file: the data (if the syntax was valid) and what was found."""

    path: str
    text: str
    data: dict[str, Any] | None
    model: BaseModel | None
    diagnostics: list[Diagnostic]
    _positions: TomlPositions | None = None

    @property
    def positions(self) -> TomlPositions | None:
        """Where each key and value is written; the text is scanned for them when first asked
        (a file without findings never is)."""
        if self._positions is None and self.data is not None:
            self._positions = locate(self.text)
        return self._positions

    def at(self, loc: tuple[str | int, ...], prefer: str = "value") -> tuple[int, int]:
        positions = self.positions
        if positions is None:
            return (1, 1)
        return positions.nearest(loc, prefer=prefer)

    def diagnostic(
        self,
        code: str,
        message: str,
        loc: tuple[str | int, ...],
        *,
        prefer: str = "value",
        severity: Severity = Severity.ERROR,
        hint: str | None = None,
    ) -> Diagnostic:
        line, col = self.at(loc, prefer)
        return Diagnostic(code, message, self.path, line, col, severity, hint)


def parse_document(text: str, path: str, model: type[BaseModel]) -> Parsed:
    """Parse `text` as TOML and validate it against `model`, collecting every diagnostic.

    A leading byte-order mark is dropped (some editors write one; it says only that the text
    is UTF-8). Text nested too deeply, and `inf` and `nan` anywhere, are refused here, before
    anything else reads the values."""
    if text.startswith(BOM):
        text = text[1:]
    deep_at = deepest_bracket(text)
    if deep_at is not None:
        line = text.count("\n", 0, deep_at) + 1
        col = deep_at - (text.rfind("\n", 0, deep_at) + 1) + 1
        return Parsed(path, text, None, None, [_too_deep(path, line, col)])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line, col = 1, 1
        found = _SYNTAX_POSITION.search(message)
        if found:
            line, col = int(found.group(1)), int(found.group(2))
            message = message[: found.start()]
        elif message.endswith("(at end of document)"):
            line = text.count("\n") + 1
            message = message[: -len("(at end of document)")].rstrip()
        diagnostic = Diagnostic("RR001", f"TOML syntax error: {message}", path, line, col, hint=invisible_at(text, line, col))
        return Parsed(path, text, None, None, [diagnostic])
    parsed = Parsed(path, text, data, None, [])
    deep_path = too_deep(data)
    if deep_path is not None:  # dotted keys nest tables without brackets
        line, col = parsed.at(deep_path, "key")
        return Parsed(path, text, None, None, [_too_deep(path, line, col)])
    non_finite = non_finite_numbers(data)
    for loc, value in non_finite:
        parsed.diagnostics.append(parsed.diagnostic(
            "RR104", f"{describe(loc, data)}: {value} is not a finite number", loc,
            hint="rule files take finite numbers only: write a large one (1e9) for no limit, or leave the setting out"))
    try:
        parsed.model = model.model_validate(data)
    except ValidationError as exc:
        parsed.diagnostics.extend(schema_diagnostics(parsed, exc, model))
    return parsed


def _too_deep(path: str, line: int, col: int) -> Diagnostic:
    return Diagnostic("RR003", f"tables and arrays nested more than {MAX_NESTING} levels deep", path, line, col,
                      hint="a condition this deep is better written flat: `all` and `any` take lists")


def key_path(loc: tuple[str | int, ...]) -> str:
    """A key path as a reader would write it: `rules[2].when.keywords`, `models."gpt-5.5"`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{name}" if out else name
    return out or "the top level"


def describe(loc: tuple[str | int, ...], data: Any) -> str:
    """A key path for messages, naming a rule by its name: `when.words (rule 'long-prompt')`."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            name = data["rules"][loc[1]]["name"]
        except (KeyError, IndexError, TypeError):
            name = None
        if isinstance(name, str):
            return f"{key_path(loc[2:])} (rule '{name}')" if loc[2:] else f"rule '{name}'"
    return key_path(loc)


def did_you_mean(name: str, choices: typing.Iterable[str]) -> str | None:
    import difflib  # only when a name is wrong

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _unwrap(annotation: Any) -> Any:
    """Strip `X | None` and `Annotated` so the container or model type shows."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _model_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> Any:
    """The type that the value at `loc` is validated as (to list its allowed keys)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = next(
                (f for n, f in current.model_fields.items() if (f.alias or n) == part),
                None,
            )
            if field is None:
                return None
            current = field.annotation
        elif origin in (list, tuple) and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif origin is dict and isinstance(part, str):
            current = typing.get_args(current)[1]
        else:
            return None
    return _unwrap(current)


def allowed_keys(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    model = _model_at(root, loc)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def schema_diagnostics(parsed: Parsed, exc: ValidationError, root: type[BaseModel]) -> list[Diagnostic]:
    out = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        given = error.get("input")
        if isinstance(given, float) and not math.isfinite(given):
            continue  # every inf and nan in the data is reported once, where the text is read
        kind = error["type"]
        where = describe(loc[:-1], parsed.data) if loc[:-1] else "the top level"
        here = describe(loc, parsed.data)
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = allowed_keys(root, loc[:-1])
            hint = did_you_mean(key, allowed)
            if hint is None and allowed:
                hint = "allowed keys: " + ", ".join(allowed)
            out.append(parsed.diagnostic("RR101", f"unknown key '{key}' in {where}", loc, prefer="key", hint=hint))
        elif kind == "missing":
            out.append(parsed.diagnostic("RR103", f"missing required key '{loc[-1]}' in {where}", loc[:-1], prefer="key"))
        elif kind in _TYPE_NAMES:
            got = _toml_type(error.get("input"))
            message = f"{here}: expected {_TYPE_NAMES[kind]}, got {got}"
            out.append(parsed.diagnostic("RR102", message, loc))
        else:
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            elif kind == "literal_error":
                message = f"expected {error.get('ctx', {}).get('expected', 'another value')}, got {error.get('input')!r}"
            elif kind == "string_pattern_mismatch" and loc and loc[-1] == "base_url":
                message = f"not an http(s) URL: {error.get('input')!r}"
            else:
                message = message[0].lower() + message[1:]
            prefer = "key" if kind == "value_error" else "value"
            out.append(parsed.diagnostic("RR104", f"{here}: {message}", loc, prefer=prefer))
    return out
