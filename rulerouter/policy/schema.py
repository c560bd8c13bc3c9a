"""The rule file, described as Pydantic models.

These models are the single source of truth for what a rule file may contain: `parse` validates
TOML against them, `rulerouter schema` exports them as JSON Schema for editors, and `compile`
turns a validated `Policy` into fast matchers. Every model forbids unknown keys (a typo is an
error, not a silently ignored setting) and is strict about types (`"5"` is not a number).

Shorthands that make hand-written files shorter are expanded *before* validation so that error
locations stay plain key paths:

    complex = "claude-opus-4-7"             → complex = { model = "claude-opus-4-7" }
    when.regex = "\\bTODO\\b"               → when.regex = { pattern = "\\bTODO\\b" }
    when.metadata = { path = "$.x", ... }   → when.metadata = [{ path = "$.x", ... }]
    when.language = "de"                    → when.language = { in = ["de"] }
    when.language = ["de", "fr"]            → when.language = { in = ["de", "fr"] }

Signal names, score names and language codes are strings here and checked by lint (RR307,
RR308, RR310), which can point at the exact key, suggest the closest name and explain why a
threshold can never hold; the JSON Schema still lists the names so editors can complete them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .limits import Budget, RateLimit, State
from .section import Section
from .vocabulary import LANGUAGES, SIGNALS

__all__ = [
    "DEFAULT_JUDGE_PROMPT",
    "CircuitBreaker",
    "Classifier",
    "Condition",
    "KeywordCondition",
    "LanguageCondition",
    "Log",
    "Model",
    "PathPredicate",
    "Policy",
    "Price",
    "Provider",
    "RegexCondition",
    "Retry",
    "Rule",
    "Score",
    "ScoreCondition",
    "SignalBounds",
    "SpendCondition",
    "SimilarCondition",
    "TextSource",
    "Thresholds",
    "Tier",
    "Verification",
]

#: Which text of a chat request a condition looks at.
#: last_user: the last user message (the seed's `prompt`); all_user: every user message;
#: system: the system (and developer) messages; all: every message of any role.
TextSource = Literal["last_user", "all_user", "system", "all"]

DEFAULT_JUDGE_PROMPT = (
    "Rate the quality of this response on a scale of 0-1. Just return the number.\n\n"
    "Original prompt: {prompt}\n\nResponse: {response}"
)


_Section = Section


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
_SIGNAL_NAMES_SCHEMA = {"propertyNames": {"anyOf": [{"enum": sorted(SIGNALS)}, {"pattern": LEARNED_SIGNAL}]}}
_CLASSIFIER_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"


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
    signals: dict[str, SignalBounds] | None = Field(default=None, json_schema_extra=_SIGNAL_NAMES_SCHEMA)
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


# ---------------------------------------------------------------------------------------------
# Rules, tiers, models, providers


class Rule(_Section):
    """One routing rule. Rules are tried in file order; the first that matches decides."""

    name: str = Field(min_length=1)
    description: str | None = None
    enabled: bool = True
    when: Condition | None = None
    tier: str | None = None
    tier_from_metadata: str | None = None
    text: TextSource = "last_user"

    @model_validator(mode="after")
    def _one_target(self) -> Rule:
        if (self.tier is None) == (self.tier_from_metadata is None):
            raise ValueError("give exactly one of `tier` or `tier_from_metadata`")
        return self


class Tier(_Section):
    model: str = Field(min_length=1)
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"model": value} if isinstance(value, str) else value


class Price(_Section):
    """US dollars per million tokens.

    Prompt tokens read from a provider's prompt cache cost `cached_input_per_mtok`, and those
    written to it `cache_write_per_mtok` (Anthropic's cache writes); each is the input price
    when not given.
    """

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)


class Model(_Section):
    provider: str | None = None
    upstream: str | None = Field(default=None, min_length=1)
    price: Price | None = None
    context_window: int | None = Field(default=None, gt=0)
    fallback: list[str] = Field(default_factory=list)


class Provider(_Section):
    """An endpoint models are called through. Keys come from the environment, never from the file.

    `api` is the API it speaks: "openai" (chat completions at `{base_url}/chat/completions`,
    key as `Authorization: Bearer`) or "anthropic" (the Messages API at `{base_url}/messages`,
    key as `x-api-key`, with `anthropic-version` and, for requests that set none, `max_tokens =
    default_max_tokens`). Requests are translated to it; `anthropic_version` and
    `default_max_tokens` apply only to `api = "anthropic"`. `http2 = true` calls it over HTTP/2
    (the `http2` extra): negotiated over https, with prior knowledge over plain http.
    """

    base_url: str = Field(pattern=r"^https?://[^\s/]+")
    base_url_env: str | None = Field(default=None, min_length=1)
    api_key_env: str | None = Field(default=None, min_length=1)
    api: Literal["openai", "anthropic"] = "openai"
    anthropic_version: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    default_max_tokens: int | None = Field(default=None, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=100, ge=1)
    http2: bool = False

    @model_validator(mode="after")
    def _anthropic_settings(self) -> Provider:
        if self.api != "anthropic":
            for name in ("anthropic_version", "default_max_tokens"):
                if getattr(self, name) is not None:
                    raise ValueError(f'{name} applies only to a provider with api = "anthropic"')
        return self


# ---------------------------------------------------------------------------------------------
# Execution settings


class Retry(_Section):
    """How hard to try before giving up on a request."""

    max_attempts: int = Field(default=4, ge=1, le=50)
    retries_per_model: int = Field(default=1, ge=0, le=10)
    backoff_initial_s: float = Field(default=0.25, ge=0)
    backoff_max_s: float = Field(default=4.0, ge=0)
    retry_after_max_s: float = Field(default=30.0, ge=0)
    deadline_s: float | None = Field(default=None, gt=0)


class CircuitBreaker(_Section):
    enabled: bool = True
    failure_threshold: int = Field(default=5, ge=1)
    cooldown_s: float = Field(default=30.0, gt=0)


class Verification(_Section):
    """The seed's quality check: a judge tier scores cheap answers; poor ones are re-run."""

    enabled: bool = True
    tiers: list[str] = Field(min_length=1)
    judge_tier: str
    threshold: float = Field(ge=0, le=1)
    escalate_to: str
    on_unparsable: Literal["keep", "escalate"] = "keep"
    sample_rate: float = Field(default=1.0, ge=0, le=1)
    prompt: str = DEFAULT_JUDGE_PROMPT
    max_attempts: int = Field(default=2, ge=1, le=50)


class Score(_Section):
    """A weighted sum of signals, compared with thresholds by `when.score` conditions.

    Each signal's value is first capped and scaled to 0..1: `feature = min(value, cap) / cap`,
    with the signal's default cap unless `caps` gives another. Then
    `score = bias + Σ weight × feature`, or, with `logistic = true`, `1 / (1 + e^-(that sum))`,
    a number between 0 and 1 that `rulerouter tune` fits as a probability.
    """

    description: str | None = None
    weights: dict[str, float] = Field(min_length=1, json_schema_extra=_SIGNAL_NAMES_SCHEMA)
    bias: float = 0.0
    caps: dict[str, float] = Field(default_factory=dict, json_schema_extra=_SIGNAL_NAMES_SCHEMA)
    logistic: bool = False


class Classifier(_Section):
    """A learned text classifier (`rulerouter train` writes its model file).

    Its class probabilities are signals named `NAME.CLASS` (`task.complex`), usable in
    `when.signals` and in `[scores]` weights. `model` is a path relative to the rule file, or
    `builtin:NAME` for a classifier shipped with rulerouter.
    """

    model: str = Field(min_length=1)
    description: str | None = None


class Log(_Section):
    """Where routing events go. Prompt and answer text are left out unless include_text."""

    destination: str = Field(default="off", min_length=1)  # "off", "stderr", "stdout" or a file path
    format: Literal["json", "console"] = "json"
    include_text: bool = False


class Policy(_Section):
    """A whole rule file."""

    schema_version: Literal[1]
    default_tier: str
    tiers: dict[str, Tier] = Field(min_length=1)
    providers: dict[str, Provider] = Field(default_factory=dict)
    models: dict[str, Model] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    scores: dict[str, Score] = Field(default_factory=dict)
    classifiers: dict[str, Classifier] = Field(default_factory=dict, json_schema_extra={"propertyNames": {"pattern": _CLASSIFIER_NAME}})
    retry: Retry = Field(default_factory=Retry)
    circuit_breaker: CircuitBreaker = Field(default_factory=CircuitBreaker)
    verification: Verification | None = None
    log: Log = Field(default_factory=Log)
    budgets: list[Budget] = Field(default_factory=list)
    rate_limits: list[RateLimit] = Field(default_factory=list)
    state: State = Field(default_factory=State)

    @field_validator("classifiers")
    @classmethod
    def _classifier_names(cls, value: dict[str, Classifier]) -> dict[str, Classifier]:
        for name in value:
            if not re.match(_CLASSIFIER_NAME, name):
                raise ValueError(f"classifier name {name!r} must be letters, digits, _ or - (its signals are NAME.CLASS)")
        return value


Condition.model_rebuild()
