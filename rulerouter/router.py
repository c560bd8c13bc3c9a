"""`Router`: the object a service holds. Load a policy once, then decide (and call) per request."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import tomli_w

from .decide import CompiledPolicy, Decision, RuleTrace
from .diagnostics import Diagnostic
from .load import Checked, load_file, load_text
from .schema import Policy
from .textscan import Inputs

__all__ = ["Router"]


class Router:
    """A compiled routing policy.

    Build it with `Router.from_file(path)`, `Router.from_toml(text)` or `Router.from_policy(p)`;
    each validates and lints the policy and raises `PolicyError` listing every error.
    """

    def __init__(self, checked: Checked, *, env: Mapping[str, str] | None = None) -> None:
        if checked.policy is None:
            raise TypeError("Router needs a checked policy; use Router.from_file or Router.from_toml")
        self.path = checked.path
        self.policy: Policy = checked.policy
        self.warnings: list[Diagnostic] = checked.warnings
        self._compiled = CompiledPolicy(checked.policy)
        self._env = env

    @classmethod
    def from_file(cls, path: str | Path, *, env: Mapping[str, str] | None = None) -> Router:
        """Load a rule file. `env` replaces os.environ for API keys and base URLs."""
        return cls(load_file(path, env), env=env)

    @classmethod
    def from_toml(cls, text: str, *, path: str = "<string>", env: Mapping[str, str] | None = None) -> Router:
        return cls(load_text(text, path, env), env=env)

    @classmethod
    def from_policy(cls, policy: Policy, *, env: Mapping[str, str] | None = None) -> Router:
        """Check a policy built in code exactly as a file would be checked."""
        text = tomli_w.dumps(policy.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True))
        return cls(load_text(text, "<policy>", env), env=env)

    @property
    def tiers(self) -> dict[str, str]:
        """Tier name → model name."""
        return dict(self._compiled.tier_models)

    def decide(
        self,
        prompt: str | None = None,
        *,
        messages: Any = None,
        system_prompt: str | None = None,
        metadata: Any = None,
        request: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Which tier and model this request goes to, and why. Pure: no I/O, never raises."""
        return self._compiled.decide(Inputs(prompt, messages, system_prompt, metadata, request))

    def trace(
        self,
        prompt: str | None = None,
        *,
        messages: Any = None,
        system_prompt: str | None = None,
        metadata: Any = None,
        request: Mapping[str, Any] | None = None,
    ) -> list[RuleTrace]:
        """Every rule tried for this request and how it fared (slower than `decide`)."""
        return self._compiled.trace(Inputs(prompt, messages, system_prompt, metadata, request))

    def __repr__(self) -> str:
        return f"Router(path={self.path!r}, rules={len(self._compiled.rules)}, tiers={sorted(self._compiled.tier_models)})"
