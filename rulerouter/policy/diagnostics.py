"""Diagnostics: what is wrong with a rule file, where, and what to do about it.

Every stage that reads a rule file (parse, validate, lint) reports problems as `Diagnostic`
values instead of raising one exception at a time, so a user sees every problem in one run.
Codes are stable and grouped by stage:

    RR0xx  reading and TOML syntax
    RR1xx  schema (unknown keys, wrong types, missing keys, invalid values)
    RR2xx  references between sections (tiers, models, providers, fallbacks, rule names)
    RR3xx  rules and conditions (shadowed rules, regex, JSONPath, keyword lists, signals, scores)
    RR4xx  execution settings (prices, API-key variables, verification)
    RR5xx  budgets, rate limits, spend conditions and the state backend
    RR6xx  files the policy refers to (classifier models, example lists) and their signals
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Iterable

__all__ = ["CODES", "Diagnostic", "Severity", "format_json", "format_text", "has_errors"]


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


#: Every code the project emits, with a one-line summary (each is explained in docs/rule-file.md).
CODES: dict[str, str] = {
    "RR001": "TOML syntax error",
    "RR002": "file cannot be read",
    "RR003": "tables and arrays nested too deeply",
    "RR101": "unknown key",
    "RR102": "wrong type",
    "RR103": "missing required key",
    "RR104": "invalid value",
    "RR201": "unknown tier",
    "RR202": "unknown model",
    "RR203": "unknown provider",
    "RR204": "fallback cycle",
    "RR205": "duplicate rule name",
    "RR206": "model has no provider",
    "RR207": "policy test expects an unknown rule",
    "RR301": "rule can never fire: an earlier rule always matches",
    "RR302": "rule can never fire: an earlier rule matches whenever it does",
    "RR303": "invalid regex",
    "RR304": "invalid JSONPath",
    "RR305": "empty keyword list",
    "RR306": "condition can never be true",
    "RR307": "unknown signal",
    "RR308": "unknown or unused score",
    "RR309": "invalid score weight, bias or cap",
    "RR310": "threshold or language a signal, score or text can never reach",
    "RR401": "model without a price",
    "RR402": "API-key environment variable is not set",
    "RR403": "judge prompt template is invalid",
    "RR404": "provider has no endpoint: its base-URL environment variable is not set",
    "RR501": "unknown budget",
    "RR502": "duplicate budget or rate-limit name",
    "RR503": "budget or rate-limit scope does not name one metadata value",
    "RR504": "downgrade tier is unpriced or no cheaper than the others",
    "RR505": "Redis URL environment variable is not set",
    "RR601": "a file the policy names is missing or cannot be read",
    "RR602": "classifier model file is corrupt",
    "RR603": "classifier model file has an unsupported version",
    "RR604": "unknown classifier or class",
    "RR605": "classifier is declared but unused",
    "RR606": "examples file holds no examples",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a file: a stable code, a message, a 1-based position, a hint."""

    code: str
    message: str
    path: str
    line: int
    col: int
    severity: Severity = Severity.ERROR
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.code)

    def format(self) -> str:
        text = f"{self.path}:{self.line}:{self.col}: {self.code} {self.severity.value}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def format_text(diagnostics: Iterable[Diagnostic]) -> str:
    return "\n".join(d.format() for d in sorted(diagnostics, key=Diagnostic.sort_key))


def format_json(diagnostics: Iterable[Diagnostic]) -> str:
    ordered = sorted(diagnostics, key=Diagnostic.sort_key)
    return json.dumps([d.to_dict() for d in ordered], indent=2, ensure_ascii=False)
