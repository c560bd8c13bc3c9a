"""Scrubbing credentials from text: the keys a policy's providers read, and anything shaped like one.

Every upstream message, event line and error passes through a `Redactor` before it is kept or
written anywhere. Standard library only, so the observer can scrub without loading the HTTP
stack.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from ..policy.schema import Policy

__all__ = ["Redactor", "redactor_for"]


class Redactor:
    """Removes credentials from text: the configured secrets, and anything shaped like one."""

    _PATTERNS = re.compile(
        r"(?i)(bearer\s+)[^\s\"',;]+|\b(sk|rk|pk)-[A-Za-z0-9_\-]{8,}|(api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+"
    )

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    _MARKERS = ("bearer", "sk-", "rk-", "pk-", "api")

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        lowered = text.lower()
        if not any(marker in lowered for marker in self._MARKERS):
            return text  # nothing credential-shaped can be in it: skip the regex
        return self._PATTERNS.sub(self._mask, text)

    @staticmethod
    def _mask(match: re.Match[str]) -> str:
        prefix = match.group(1) or match.group(3) or ""
        return f"{prefix}[redacted]"


def redactor_for(policy: Policy, env: Mapping[str, str], extra: Iterable[str] = ()) -> Redactor:
    """A redactor that knows every API key the policy's providers read from `env`, and `extra`."""
    keys = [env.get(spec.api_key_env, "") for spec in policy.providers.values() if spec.api_key_env]
    return Redactor([*keys, *extra])
