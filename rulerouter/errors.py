"""The exceptions rulerouter raises.

    RuleRouterError
    ├── PolicyError          a rule file (or policy-test file) has errors; carries every diagnostic
    └── UsageError           a caller passed arguments that cannot work (e.g. no prompt at all)

Execution errors (upstream failures, broken streams) join this tree in
`rulerouter.execute.result`. This module imports nothing of rulerouter's, so every stage can
raise these errors.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence


class _Problem(Protocol):
    """What an error needs of a diagnostic (`rulerouter.policy.diagnostics.Diagnostic`)."""

    @property
    def is_error(self) -> bool: ...

    def sort_key(self) -> Any: ...

    def format(self) -> str: ...

__all__ = ["PolicyError", "RuleRouterError", "UsageError"]


class RuleRouterError(Exception):
    """Base class of every error rulerouter raises on purpose."""


class UsageError(RuleRouterError, ValueError):
    """The call itself cannot work, whatever the policy says."""


class PolicyError(RuleRouterError):
    """A rule file could not be loaded. `diagnostics` holds every problem found, sorted."""

    def __init__(self, diagnostics: Sequence[_Problem]):
        self.diagnostics = sorted(diagnostics, key=lambda d: d.sort_key())
        errors = [d for d in self.diagnostics if d.is_error]
        listed = "\n".join(d.format() for d in self.diagnostics)
        super().__init__(f"{len(errors)} error(s) in rule file:\n{listed}")
