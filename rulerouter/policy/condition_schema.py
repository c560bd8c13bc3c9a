"""The conditions of a rule file's `when`, described as Pydantic models (part of `schema`).

Every model here is re-exported by `schema`, which documents the shorthands expanded before
validation; lint (`lint_signals`) checks the names and thresholds a schema cannot judge.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .section import Section as _Section
from .vocabulary import LANGUAGES, SIGNALS

__all__ = [
    "LEARNED_SIGNAL",
    "SIGNAL_NAMES_SCHEMA",
    "Condition",
    "KeywordCondition",
    "LanguageCondition",
    "PathPredicate",
    "RegexCondition",
    "ScoreCondition",
    "SignalBounds",
    "SimilarCondition",
    "SpendCondition",
    "TextSource",
    "Thresholds",
]

#: Which text of a chat request a condition looks at.
#: last_user: the last user message (the seed's `prompt`); all_user: every user message;
#: system: the system (and developer) messages; all: every message of any role.
TextSource = Literal["last_user", "all_user", "system", "all"]


# ---------------------------------------------------------------------------------------------
# Conditions


class Thresholds(_Section):
    """Bounds on a count; every bound given must hold (`{ gt = 10, lte = 200 }` is a range)."""

    gt: int | None = Field(default=None, ge=0)
    gte: int | None = Field(default=None, ge=0)
    lt: int | None = Field(default=None, ge=0)
    lte: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _needs_a_bound(self) -> Thresholds:
        if self.gt is None and self.gte is None and self.lt is None and self.lte is None:
            raise ValueError("give at least one bound: gt, gte, lt or lte")
        return self


class SignalBounds(_Section):
    """Bounds on a signal's value, which may be a fraction (`{ gte = 0.3 }`)."""

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    @model_validator(mode="after")
    def _needs_a_bound(self) -> SignalBounds:
        if self.gt is None and self.gte is None and self.lt is None and self.lte is None:
            raise ValueError("give at least one bound: gt, gte, lt or lte")
        return self


#: A classifier's class probability is a signal too: `CLASSIFIER.CLASS` (e.g. `task.complex`).
LEARNED_SIGNAL = r"^[A-Za-z_][A-Za-z0-9_-]*\.[^.\s]+$"
SIGNAL_NAMES_SCHEMA = {"propertyNames": {"anyOf": [{"enum": sorted(SIGNALS)}, {"pattern": LEARNED_SIGNAL}]}}


class ScoreCondition(SignalBounds):
    """A weighted score (declared under [scores.NAME]) compared with thresholds."""

    name: str = Field(min_length=1)


class SpendCondition(SignalBounds):
    """The fraction of a budget used so far in its window, for this request's scope (0.8 = 80 %).

    The fraction counts what has been spent and what requests in flight have reserved; it can
    pass 1 (a `downgrade` budget keeps counting past its limit).
    """

    budget: str = Field(min_length=1)


class SimilarCondition(SignalBounds):
    """Similarity (cosine, 0..1) of the text to the nearest of some example prompts.

    `examples` is a file (one example a line, relative to the rule file) or a list of examples
    written inline. Computed on the same n-gram features as learned classifiers.
    """

    examples: str | list[str]
    text: TextSource | None = None

    @field_validator("examples")
    @classmethod
    def _some_examples(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not [v for v in value if v.strip()]:
            raise ValueError("give at least one example that is not blank")
        if isinstance(value, str) and not value.strip():
            raise ValueError("give a file of examples, or a list of examples")
        return value


class LanguageCondition(_Section):
    """The language guessed for the text (ISO 639-1 codes, `und` when undetermined)."""

    in_: list[str] | None = Field(default=None, alias="in", json_schema_extra={"items": {"enum": sorted(LANGUAGES)}})
    not_in: list[str] | None = Field(default=None, json_schema_extra={"items": {"enum": sorted(LANGUAGES)}})

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"in": [value]}
        if isinstance(value, list):
            return {"in": value}
        return value

    @model_validator(mode="after")
    def _needs_a_list(self) -> LanguageCondition:
        if self.in_ is None and self.not_in is None:
            raise ValueError("give `in` or `not_in` (or a language code, or a list of them)")
        return self


class KeywordCondition(_Section):
    """Keywords and phrases looked for in the text, case-insensitively unless told otherwise.

    `any`: at least one occurs; `all`: every one occurs; `none`: none occurs. Several of them in
    one table must all hold. `match = "word"` (default) needs word boundaries around each
    keyword, so "stub" does not match "stubborn"; `match = "substring"` matches anywhere, as
    Python's `in` does.
    """

    any: list[str] | None = None
    all: list[str] | None = None
    none: list[str] | None = None
    match: Literal["word", "substring"] = "word"
    case_sensitive: bool = False
    text: TextSource | None = None

    @model_validator(mode="after")
    def _needs_a_list(self) -> KeywordCondition:
        if self.any is None and self.all is None and self.none is None:
            raise ValueError("give at least one keyword list: any, all or none")
        return self


class RegexCondition(_Section):
    """A regular expression searched for in the text (RE2 syntax: linear time on any input)."""

    pattern: str
    case_sensitive: bool = False
    text: TextSource | None = None


class PathPredicate(_Section):
    """A JSONPath into the caller's metadata or the chat request, and tests on what it finds.

    Several tests in one table must all hold. When a path finds several values (wildcards),
    `eq`, `in`, `gt`… hold if any value passes; `ne` and `not_in` hold if no value fails them.
    """

    path: str
    exists: bool | None = None
    truthy: bool | None = None
    eq: Any = None
    ne: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    matches: str | None = None

    @model_validator(mode="after")
    def _needs_a_test(self) -> PathPredicate:
        if not (self.model_fields_set - {"path"}):
            raise ValueError(
                "give at least one test: exists, truthy, eq, ne, in, not_in, gt, gte, lt, lte "
                "or matches"
            )
        return self


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class Condition(_Section):
    """When a rule applies. Every key given must hold (a table is an implicit `all`)."""

    keywords: KeywordCondition | None = None
    regex: RegexCondition | None = None
    words: Thresholds | None = None
    tokens: Thresholds | None = None
    metadata: list[PathPredicate] | None = None
    request: list[PathPredicate] | None = None
    signals: dict[str, SignalBounds] | None = Field(default=None, json_schema_extra=SIGNAL_NAMES_SCHEMA)
    language: LanguageCondition | None = None
    score: ScoreCondition | None = None
    spend: SpendCondition | None = None
    similar: SimilarCondition | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @field_validator("regex", mode="before")
    @classmethod
    def _regex_shorthand(cls, value: Any) -> Any:
        return {"pattern": value} if isinstance(value, str) else value

    @field_validator("metadata", "request", mode="before")
    @classmethod
    def _predicate_shorthand(cls, value: Any) -> Any:
        return _as_list(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError(
                "an empty condition; give keywords, regex, words, tokens, metadata, request, "
                "signals, language, score, spend, similar, all, any or not (or leave out `when` for a rule that "
                "always applies)"
            )
        return self


Condition.model_rebuild()
