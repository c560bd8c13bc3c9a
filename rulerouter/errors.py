"""The exceptions rulerouter raises.

    RuleRouterError
    ├── PolicyError          a rule file (or policy-test file) has errors; carries every diagnostic
    └── UsageError           a caller passed arguments that cannot work (e.g. no prompt at all)

Execution errors (upstream failures, broken streams) join this tree in `rulerouter.execute`.
"""

from __future__ import annotations

from typing import Sequence

from .diagnostics import Diagnostic, format_text

__all__ = ["PolicyError", "RuleRouterError", "UsageError"]


class RuleRouterError(Exception):
    """Base class of every error rulerouter raises on purpose."""


class UsageError(RuleRouterError, ValueError):
    """The call itself cannot work, whatever the policy says."""


class PolicyError(RuleRouterError):
    """A rule file could not be loaded. `diagnostics` holds every problem found, sorted."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        errors = [d for d in self.diagnostics if d.is_error]
        head = f"{len(errors)} error(s) in rule file"
        super().__init__(f"{head}:\n{format_text(self.diagnostics)}")
