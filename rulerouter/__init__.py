"""rulerouter: send each LLM request to the cheapest model that can handle it.

Routing policy is written as ordered rules in TOML, validated, linted and compiled once;
`Router.decide()` then answers in microseconds, without I/O, which tier and model a request
goes to and why, and `Router.complete()` calls it over OpenAI-compatible HTTP with fallback,
retry, circuit breaking, quality verification and honest cost.
"""

from .decide import Decision, RuleTrace
from .diagnostics import Diagnostic, Severity
from .errors import PolicyError, RuleRouterError, UsageError
from .load import Checked, check_file, check_text
from .metrics import Metrics
from .result import (
    AllAttemptsFailed,
    Attempt,
    ExecutionError,
    Result,
    StreamInterrupted,
    UpstreamRejected,
    Usage,
)
from .router import Router
from .schema import Policy
from .streaming import AsyncCompletionStream, CompletionStream, StreamChunk

__version__ = "0.1.0"

__all__ = [
    "AllAttemptsFailed",
    "AsyncCompletionStream",
    "Attempt",
    "Checked",
    "CompletionStream",
    "Decision",
    "Diagnostic",
    "ExecutionError",
    "Metrics",
    "Policy",
    "PolicyError",
    "Result",
    "Router",
    "RuleRouterError",
    "RuleTrace",
    "Severity",
    "StreamChunk",
    "StreamInterrupted",
    "UpstreamRejected",
    "Usage",
    "UsageError",
    "__version__",
    "check_file",
    "check_text",
]
