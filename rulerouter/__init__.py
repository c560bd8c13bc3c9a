"""rulerouter: send each LLM request to the cheapest model that can handle it.

Routing policy is written as ordered rules in TOML, validated, linted and compiled once;
`Router.decide()` then answers in microseconds, without I/O, which tier and model a request
goes to and why, and `Router.complete()` calls it over OpenAI-compatible HTTP with fallback,
retry, circuit breaking, quality verification and honest cost.
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__
from .errors import BudgetExceeded, LimitExceeded, PolicyError, RateLimited, RuleRouterError, UsageError

if TYPE_CHECKING:  # for type checkers and editors; at run time each name is imported on first use
    from .decide.compile import Decision, RuleTrace
    from .execute.result import AllAttemptsFailed, Attempt, ExecutionError, Result, StreamInterrupted, UpstreamRejected, Usage
    from .execute.streaming import AsyncCompletionStream, CompletionStream, StreamChunk
    from .observe.metrics import Metrics
    from .policy.diagnostics import Diagnostic, Severity
    from .policy.load import Checked, check_file, check_text
    from .policy.schema import Policy
    from .router import Router

__all__ = [
    "AllAttemptsFailed",
    "AsyncCompletionStream",
    "Attempt",
    "BudgetExceeded",
    "Checked",
    "CompletionStream",
    "Decision",
    "Diagnostic",
    "ExecutionError",
    "LimitExceeded",
    "Metrics",
    "Policy",
    "PolicyError",
    "RateLimited",
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

# Nothing but the errors is loaded by `import rulerouter`: each of these is imported when first used.
__getattr__, __dir__ = lazy_exports(__name__, {
    "Decision": ".decide.compile",
    "RuleTrace": ".decide.compile",
    **dict.fromkeys(["AllAttemptsFailed", "Attempt", "ExecutionError", "Result", "StreamInterrupted", "UpstreamRejected", "Usage"],
                    ".execute.result"),
    **dict.fromkeys(["AsyncCompletionStream", "CompletionStream", "StreamChunk"], ".execute.streaming"),
    "Metrics": ".observe.metrics",
    "Diagnostic": ".policy.diagnostics",
    "Severity": ".policy.diagnostics",
    **dict.fromkeys(["Checked", "check_file", "check_text"], ".policy.load"),
    "Policy": ".policy.schema",
    "Router": ".router",
})
