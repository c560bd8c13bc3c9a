"""The rule file's budgets, rate limits and `[state]` table, as Pydantic models.

    [[budgets]]                       US dollars per calendar window (UTC), per scope
    name = "team-daily"
    limit_usd = 50.0
    window = "day"                    # minute | hour | day | month (calendar, UTC)
    per = "$.team"                    # "everyone" (default), "key" (the gateway key), or a
                                      # JSONPath naming one metadata value
    on_exceeded = "downgrade"         # "refuse" (429, BudgetExceeded) or "downgrade"
    downgrade_to = "bulk"
    warn_at = [0.5, 0.8]              # fractions that emit a `budget_warning` event

    [[rate_limits]]                   requests and tokens per minute (a sliding minute), per scope
    name = "per-key"
    per = "key"
    requests_per_minute = 600
    tokens_per_minute = 200_000

    [state]                           where counters and breaker state live
    redis_url_env = "RULEROUTER_REDIS_URL"   # unset: in-process (nothing to install)
    on_unavailable = "local"          # or "refuse": fail open or closed while Redis is away

`schema.py` gathers these into `Policy`; lint checks how they fit the rest of the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .section import Section as _Section
from .section import empty_list

__all__ = ["WINDOWS", "Budget", "RateLimit", "Scope", "State", "Window"]

Window = Literal["minute", "hour", "day", "month"]
WINDOWS: tuple[str, ...] = ("minute", "hour", "day", "month")

#: Whom a budget or rate limit counts: everyone together, each gateway key, or each value of
#: one metadata field (a JSONPath such as `$.team`).
Scope = str
_SCOPE = {"pattern": r"^(everyone|key|\$.*)$"}
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"  # names appear in counter keys, metrics and headers


def _scope(value: str) -> str:
    if value in ("everyone", "key") or value.startswith("$"):
        return value
    raise ValueError(f"per is \"everyone\", \"key\" or a JSONPath into the metadata such as \"$.{value}\", not {value!r}")


class Budget(_Section):
    """What may be spent per window, and what happens when it has been."""

    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    description: str | None = None
    limit_usd: float = Field(gt=0)
    window: Window
    per: Scope = Field(default="everyone", json_schema_extra=_SCOPE)
    on_exceeded: Literal["refuse", "downgrade"] = "refuse"
    downgrade_to: str | None = Field(default=None, min_length=1)
    warn_at: list[float] = Field(default_factory=empty_list, json_schema_extra={"items": {"exclusiveMinimum": 0, "exclusiveMaximum": 1}})
    reserve_output_tokens: int = Field(default=1000, ge=0)

    _per = field_validator("per")(lambda cls, value: _scope(value))

    @field_validator("warn_at")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        for fraction in value:
            if not 0 < fraction < 1:
                raise ValueError(f"warn_at fractions are between 0 and 1 (exclusive), got {fraction:g}")
        return value

    @model_validator(mode="after")
    def _action(self) -> Budget:
        if self.on_exceeded == "downgrade" and self.downgrade_to is None:
            raise ValueError('on_exceeded = "downgrade" needs downgrade_to = "<tier>"')
        if self.on_exceeded == "refuse" and self.downgrade_to is not None:
            raise ValueError('downgrade_to is only used with on_exceeded = "downgrade"')
        return self


class RateLimit(_Section):
    """Requests and tokens per minute, per scope; past either, a 429 with Retry-After."""

    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    description: str | None = None
    per: Scope = Field(default="everyone", json_schema_extra=_SCOPE)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)

    _per = field_validator("per")(lambda cls, value: _scope(value))

    @model_validator(mode="after")
    def _a_limit(self) -> RateLimit:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError("give requests_per_minute, tokens_per_minute or both")
        return self


class State(_Section):
    """The state backend: in-process unless `redis_url_env` names a variable holding a Redis URL."""

    redis_url_env: str | None = Field(default=None, min_length=1)
    key_prefix: str = Field(default="rulerouter", min_length=1, pattern=_NAME)
    on_unavailable: Literal["local", "refuse"] = "local"
    timeout_ms: float = Field(default=100.0, gt=0, le=10_000)
    sync_interval_ms: float = Field(default=250.0, ge=10, le=10_000)
