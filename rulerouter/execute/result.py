"""What a routed call returns, and the errors it raises when it cannot return an answer.

    RuleRouterError
    └── ExecutionError            a call ended without an answer; `.attempts` lists every attempt
        ├── AllAttemptsFailed     every model tried failed (or was skipped); each attempt says why
        ├── UpstreamRejected      the upstream refused the request itself (400/401/403/404): no
        │                         other model would do better, so no fallback was tried
        ├── StreamInterrupted     a stream broke after its first chunk reached the caller; says
        │                         how much was delivered
        └── Cancelled             the caller went away (task cancelled, stream closed early, gateway
                                  client disconnected); recorded with the attempts made so far, never
                                  raised to the caller that left

Every attempt — answer, judge or escalation; failed, skipped or successful — is an `Attempt`
with its model, outcome, error kind, latency, tokens and cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import RuleRouterError

__all__ = [
    "AllAttemptsFailed",
    "Attempt",
    "Cancelled",
    "ExecutionError",
    "Result",
    "StreamInterrupted",
    "UpstreamRejected",
    "Usage",
]

#: Error kinds an attempt can end with.
ERROR_KINDS = (
    "timeout",         # no reply within the provider's timeout
    "connect",         # could not connect, or the connection was reset / closed early
    "rate_limited",    # 429
    "server_error",    # 5xx, or an error object in a 200 reply
    "malformed",       # a reply that is not an OpenAI chat completion
    "context_length",  # the prompt does not fit the model's context window
    "rejected",        # 400/401/403/404/422: the request itself was refused
    "circuit_open",    # skipped: the model's circuit breaker is open, or it asked us to wait
    "deadline",        # the request's time budget ran out
    "untranslatable",  # skipped: the model's provider speaks an API that cannot carry the request
    "cancelled",       # the caller went away while this call was in flight: the call was cut off
)


@dataclass(slots=True)
class Usage:
    """Tokens of one call. `prompt_tokens` counts every input token, including the
    `cached_tokens` read from the provider's prompt cache and the `cache_write_tokens` written
    to it (OpenAI's `prompt_tokens_details.cached_tokens`; Anthropic's cache read and creation
    tokens), which may be priced apart."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        out = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens:
            out["cached_tokens"] = self.cached_tokens
        if self.cache_write_tokens:
            out["cache_write_tokens"] = self.cache_write_tokens
        return out


@dataclass(slots=True)
class Attempt:
    """One call to one model (or one model skipped), and how it ended. Treat as read-only."""

    model: str
    purpose: str  # "answer", "judge" or "escalation"
    outcome: str  # "ok", "error" or "skipped"
    error_kind: str | None = None
    status: int | None = None
    message: str | None = None
    latency_s: float = 0.0
    usage: Usage | None = None
    cost: float | None = None  # None: unknown (no price, or no usage reported)
    retry_after_s: float | None = None
    waited_s: float = 0.0  # backoff or Retry-After waited before this attempt

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def describe(self) -> str:
        if self.ok:
            return f"{self.model} ({self.purpose}): ok in {self.latency_s * 1000:.0f} ms"
        status = f" {self.status}" if self.status else ""
        detail = f": {self.message}" if self.message else ""
        return f"{self.model} ({self.purpose}): {self.outcome} {self.error_kind}{status}{detail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "purpose": self.purpose,
            "outcome": self.outcome,
            "error_kind": self.error_kind,
            "status": self.status,
            "message": self.message,
            "latency_ms": round(self.latency_s * 1000, 3),
            "usage": self.usage.to_dict() if self.usage else None,
            "cost": self.cost,
            "retry_after_s": self.retry_after_s,
            "waited_s": self.waited_s,
        }


@dataclass(slots=True)
class Result:
    """A routed call's answer, how it was routed, and what it cost.

    `content`, `model_used`, `tier`, `attempt` and `usage` are the article's fields; `attempt` is
    the 1-based number of the answer attempt that succeeded. `cost` sums every attempt (failed
    ones and judge calls included); it is None when some attempt's cost is unknown.
    """

    content: str | None
    model_used: str
    tier: str
    rule: str | None
    attempt: int
    usage: Usage
    attempts: list[Attempt]
    cost: float | None
    latency_s: float
    request_id: str
    escalated: bool = False
    escalation_reason: str | None = None
    judge_score: float | None = None
    response: dict[str, Any] = field(default_factory=dict)
    decision: Any = field(default=None, repr=False)  # the routing Decision (explained on demand)
    decided_tier: str = ""  # the tier the rules chose; `tier` differs after an escalation
    raw_response: bytes | None = field(default=None, repr=False)  # the reply as received (bytes), in `provider_api`
    provider_api: str = "openai"  # the API of the provider that answered: "openai" or "anthropic"
    budgets: list[dict[str, str]] = field(default_factory=list)  # budgets that counted it: name, scope, window

    @property
    def explanation(self) -> str:
        """Why the request went to its tier; worked out when read, not on the hot path."""
        return self.decision.explanation if self.decision is not None else ""

    @property
    def repaired(self) -> tuple[str, ...]:
        """Fields of the request whose text was not valid Unicode and was repaired (U+FFFD)."""
        return self.decision.repaired if self.decision is not None else ()

    @property
    def fallback(self) -> bool:
        """True when the answer came from another model than the decision's, or a retry."""
        return self.attempt > 1

    def to_dict(self, *, include_content: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request_id": self.request_id,
            "tier": self.tier,
            "decided_tier": self.decided_tier,
            "rule": self.rule,
            "model_used": self.model_used,
            "attempt": self.attempt,
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "latency_ms": round(self.latency_s * 1000, 3),
            "escalated": self.escalated,
            "escalation_reason": self.escalation_reason,
            "judge_score": self.judge_score,
            "attempts": [a.to_dict() for a in self.attempts],
        }
        if self.repaired:
            out["repaired"] = list(self.repaired)
        if include_content:
            out["content"] = self.content
        return out


class ExecutionError(RuleRouterError):
    """A call ended without an answer. `attempts` lists every attempt and why it failed."""

    def __init__(self, message: str, attempts: Sequence[Attempt], *, tier: str | None = None, rule: str | None = None, request_id: str | None = None) -> None:
        self.attempts = list(attempts)
        self.tier = tier
        self.rule = rule
        self.request_id = request_id
        self.budgets: list[dict[str, str]] = []  # budgets that counted the request: name, scope, window
        self.repaired: tuple[str, ...] = ()  # fields whose text was repaired at the boundary
        lines = [message] + [f"  {i}. {a.describe()}" for i, a in enumerate(self.attempts, 1)]
        super().__init__("\n".join(lines))
        self.summary = message


class AllAttemptsFailed(ExecutionError):
    """Every model tried failed or was skipped."""


class UpstreamRejected(ExecutionError):
    """The upstream refused the request itself (bad request, auth, unknown model)."""

    def __init__(self, message: str, attempts: Sequence[Attempt], *, status: int | None, **kwargs: Any) -> None:
        super().__init__(message, attempts, **kwargs)
        self.status = status


class Cancelled(ExecutionError):
    """The caller went away before the answer was complete. Recorded (outcome `cancelled`, the
    attempts so far, what they are known to have cost), never raised: the caller has left."""

    def __init__(self, message: str, attempts: Sequence[Attempt], *, delivered_chunks: int = 0, **kwargs: Any) -> None:
        super().__init__(message, attempts, **kwargs)
        self.delivered_chunks = delivered_chunks


class StreamInterrupted(ExecutionError):
    """A stream broke after its first chunk reached the caller; no fallback is possible then."""

    def __init__(self, message: str, attempts: Sequence[Attempt], *, delivered_chunks: int, delivered_chars: int, **kwargs: Any) -> None:
        super().__init__(message, attempts, **kwargs)
        self.delivered_chunks = delivered_chunks
        self.delivered_chars = delivered_chars
