"""rulerouter: send each LLM request to the cheapest model that can handle it.

Routing policy is written as ordered rules in TOML, validated, linted and compiled once;
`Router.decide()` then answers in microseconds, without I/O, which tier and model a request
goes to and why.
"""

from .decide import Decision, RuleTrace
from .diagnostics import Diagnostic, Severity
from .errors import PolicyError, RuleRouterError, UsageError
from .load import Checked, check_file, check_text
from .router import Router
from .schema import Policy

__version__ = "0.1.0"

__all__ = [
    "Checked",
    "Decision",
    "Diagnostic",
    "Policy",
    "PolicyError",
    "Router",
    "RuleRouterError",
    "RuleTrace",
    "Severity",
    "UsageError",
    "__version__",
    "check_file",
    "check_text",
]
