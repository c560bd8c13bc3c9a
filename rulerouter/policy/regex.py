"""Regexes of the rule file, compiled with RE2: linear time on any prompt, so no rule is a ReDoS.

Lint uses `compile_regex` to report a pattern RE2 refuses (RR303); the condition compiler uses it
to build the matcher. Both see the same options, so a pattern that lints clean compiles.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RegexError", "compile_regex"]


class RegexError(ValueError):
    """A pattern RE2 cannot compile (syntax error, or a construct RE2 refuses to run)."""


def compile_regex(pattern: str, case_sensitive: bool = True) -> Any:
    import re2  # loaded with the first rule that has a regex

    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = case_sensitive
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise RegexError(str(detail)) from None
