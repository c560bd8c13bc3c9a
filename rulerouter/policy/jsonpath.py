"""JSONPath, compiled once: a plain key walk where the path allows it, jsonpath-ng elsewhere.

Most routing paths are simple (`$.tier`, `$.response_format.type`, `$.messages[-1].role`).
jsonpath-ng builds match objects with full paths for every lookup, which costs tens of
microseconds; a simple path is compiled to a tuple of keys and indices and walked directly.
Paths with wildcards, slices, filters or recursive descent keep jsonpath-ng's semantics.
Lookups never raise: whatever the data, a path finds a (possibly empty) list of values.
The simple form (`$`, then `.name` and `[index]` steps) is read here; jsonpath-ng (and the
parser generator under it) is imported only for the first path that needs it, so a policy whose
paths are all simple — `rules/default.toml`'s are — never loads it.
"""

from __future__ import annotations

import re
from typing import Any, Callable

__all__ = ["JsonPathError", "compile_path", "selects_one_value", "simple_steps"]

Finder = Callable[[Any], list[Any]]


class JsonPathError(ValueError):
    """The path is not valid JSONPath; the message says why."""


# `$` then `.name` / `[index]` steps, with nothing jsonpath-ng would read differently: names of
# ASCII letters, digits and underscores, not its reserved words, no spaces.
_SIMPLE = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[-?[0-9]+\])*")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(-?[0-9]+)\]")
_RESERVED = frozenset({"where", "wherenot"})  # jsonpath-ng's operators: `$.where` is a syntax error there


def simple_steps(path: str) -> list[str | int] | None:
    """The keys and indices of a simple path, read without jsonpath-ng; None for any other path."""
    if not _SIMPLE.fullmatch(path):
        return None
    steps: list[str | int] = []
    for name, index in _STEP.findall(path):
        if name in _RESERVED:
            return None
        steps.append(name if name else int(index))
    return steps


def compile_path(path: str) -> Finder:
    """Return a function that finds every value `path` selects in a JSON-like document."""
    simple = simple_steps(path)
    if simple is not None:
        return _walker(tuple(simple))
    from jsonpath_ng.ext import parse as _parse_ext

    try:
        expr = _parse_ext(path)
    except Exception as exc:  # jsonpath-ng raises bare Exception subclasses of several kinds
        raise JsonPathError(str(exc) or type(exc).__name__) from None
    steps = _simple_steps(expr)
    if steps is not None:
        return _walker(tuple(steps))
    return _general(expr)


def selects_one_value(path: str) -> bool:
    """True when a valid `path` names one place below the root (no wildcards, slices, filters)."""
    simple = simple_steps(path)
    if simple is not None:
        return bool(simple)
    from jsonpath_ng.ext import parse as _parse_ext

    try:
        steps = _simple_steps(_parse_ext(path))
    except Exception:
        return False
    return bool(steps)


def _simple_steps(expr: Any) -> list[str | int] | None:
    """Keys and indices of a path made only of single fields and single indices, else None."""
    from jsonpath_ng import jsonpath as _ast

    if isinstance(expr, _ast.Root):
        return []
    if isinstance(expr, _ast.Fields) and len(expr.fields) == 1 and expr.fields[0] != "*":
        return [expr.fields[0]]
    if isinstance(expr, _ast.Index) and len(expr.indices) == 1:
        return [expr.indices[0]]
    if isinstance(expr, _ast.Child):
        left = _simple_steps(expr.left)
        right = _simple_steps(expr.right)
        if left is not None and right is not None:
            return left + right
    return None


def _walker(steps: tuple[str | int, ...]) -> Finder:
    def find(data: Any) -> list[Any]:
        node = data
        for step in steps:
            if type(step) is str:
                if not isinstance(node, dict):
                    return []
                try:
                    node = node[step]
                except KeyError:
                    return []
            else:
                if not isinstance(node, (list, tuple)):
                    return []
                try:
                    node = node[step]
                except IndexError:
                    return []
        return [node]

    return find


def _general(expr: Any) -> Finder:
    def find(data: Any) -> list[Any]:
        try:
            return [match.value for match in expr.find(data)]
        except Exception:  # odd shapes make jsonpath-ng raise; a lookup finds nothing instead
            return []

    return find
