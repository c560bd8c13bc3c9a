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
from typing import Any, Literal, Mapping

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .condition_schema import (
    SIGNAL_NAMES_SCHEMA,
    Condition,
    KeywordCondition,
    LanguageCondition,
    PathPredicate,
    RegexCondition,
    ScoreCondition,
    SignalBounds,
    SimilarCondition,
    SpendCondition,
    TextSource,
    Thresholds,
)
from .limits import Budget, RateLimit, State
from .section import Section, empty_dict, empty_list

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
    "URL_PATTERN",
    "Verification",
]

DEFAULT_JUDGE_PROMPT = (
    "Rate the quality of this response on a scale of 0-1. Just return the number.\n\n"
    "Original prompt: {prompt}\n\nResponse: {response}"
)


_Section = Section

_CLASSIFIER_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"

#: What a provider's endpoint looks like, in `base_url` or in the variable `base_url_env` names.
URL_PATTERN = r"^https?://[^\s/]+"


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
    fallback: list[str] = Field(default_factory=empty_list)


class Provider(_Section):
    """An endpoint models are called through. Keys come from the environment, never from the file.

    `api` is the API it speaks: "openai" (chat completions at `{base_url}/chat/completions`,
    key as `Authorization: Bearer`) or "anthropic" (the Messages API at `{base_url}/messages`,
    key as `x-api-key`, with `anthropic-version` and, for requests that set none, `max_tokens =
    default_max_tokens`). Requests are translated to it; `anthropic_version` and
    `default_max_tokens` apply only to `api = "anthropic"`. `http2 = true` calls it over HTTP/2
    (the `http2` extra): negotiated over https, with prior knowledge over plain http.

    The endpoint is `base_url`, or the value of the variable `base_url_env` names, which wins
    when it is set; one of them must be given. A provider with no `base_url` whose variable is
    unset is called nowhere: its calls fail naming the variable, and the gateway does not start.
    """

    base_url: str | None = Field(default=None, pattern=URL_PATTERN)
    base_url_env: str | None = Field(default=None, min_length=1)
    api_key_env: str | None = Field(default=None, min_length=1)
    api: Literal["openai", "anthropic"] = "openai"
    anthropic_version: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    default_max_tokens: int | None = Field(default=None, gt=0)
    headers: dict[str, str] = Field(default_factory=empty_dict)
    timeout_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=100, ge=1)
    http2: bool = False

    def endpoint(self, env: Mapping[str, str]) -> str | None:
        """The URL this provider is called at: `base_url_env`'s value when set, else `base_url`."""
        from_env = env.get(self.base_url_env) if self.base_url_env else None
        return from_env or self.base_url

    def endpoint_problem(self, name: str, env: Mapping[str, str]) -> str | None:
        """Why this provider has no endpoint with `env`, or None: which variable to set, and
        that requests (and the key, if any) go to the URL it holds."""
        url = self.endpoint(env)
        if url is None and self.base_url_env is None:
            return None  # neither given: a validation error, reported as such
        if url is not None:
            return None  # a URL that cannot be called is refused where the provider is built
        example = "https://api.anthropic.com/v1" if self.api == "anthropic" else "https://api.openai.com/v1"
        sent = f"requests and the key in {self.api_key_env} go there" if self.api_key_env else "requests go there"
        return f"provider '{name}' has no endpoint: set {self.base_url_env} to the URL to call (e.g. {example}); {sent}"

    @model_validator(mode="after")
    def _an_endpoint(self) -> Provider:
        if self.base_url is None and self.base_url_env is None:
            raise ValueError("give base_url, or base_url_env naming the environment variable that holds it")
        return self

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
    weights: dict[str, float] = Field(min_length=1, json_schema_extra=SIGNAL_NAMES_SCHEMA)
    bias: float = 0.0
    caps: dict[str, float] = Field(default_factory=empty_dict, json_schema_extra=SIGNAL_NAMES_SCHEMA)
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
    providers: dict[str, Provider] = Field(default_factory=empty_dict)
    models: dict[str, Model] = Field(default_factory=empty_dict)
    rules: list[Rule] = Field(default_factory=empty_list)
    scores: dict[str, Score] = Field(default_factory=empty_dict)
    classifiers: dict[str, Classifier] = Field(default_factory=empty_dict, json_schema_extra={"propertyNames": {"pattern": _CLASSIFIER_NAME}})
    retry: Retry = Field(default_factory=Retry)
    circuit_breaker: CircuitBreaker = Field(default_factory=CircuitBreaker)
    verification: Verification | None = None
    log: Log = Field(default_factory=Log)
    budgets: list[Budget] = Field(default_factory=empty_list)
    rate_limits: list[RateLimit] = Field(default_factory=empty_list)
    state: State = Field(default_factory=State)

    @field_validator("schema_version", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        if type(value) is not int:  # `Literal[1]` takes `true` and `1.0` for 1
            raise PydanticCustomError("int_type", "Input should be a valid integer")
        return value

    @field_validator("classifiers")
    @classmethod
    def _classifier_names(cls, value: dict[str, Classifier]) -> dict[str, Classifier]:
        for name in value:
            if not re.match(_CLASSIFIER_NAME, name):
                raise ValueError(f"classifier name {name!r} must be letters, digits, _ or - (its signals are NAME.CLASS)")
        return value

