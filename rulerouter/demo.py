"""`make demo`: the article's example prompts (and a few more) routed by rules/default.toml.

Each decision is printed with the rule that made it and why. No model is called.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import PolicyError
from .router import Router

POLICY = "rules/default.toml"

EXAMPLES: list[tuple[str, dict[str, object] | None]] = [
    (
        "Design a distributed caching system that handles partition tolerance and maintains "
        "consistency across 3 regions. Consider the CAP trade-offs.",
        None,
    ),
    (
        "Extract all API endpoints from this codebase and return as JSON with method, path, "
        "description, and parameters for each.",
        {"json_output": True},
    ),
    ("Generate unit tests for all 15 functions in this utils module.", None),
    ("Find the root cause of the deadlock in our job scheduler.", None),
    ("Add docstrings to every public function in utils.py.", None),
    ("What is the capital of France?", None),
    ("Summarise this incident report for the weekly update.", {"tier": "bulk"}),
    (" ".join(["context"] * 1200) + " — what does this module do?", None),
]


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _heading(title: str) -> None:
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}")


def show_decisions(router: Router) -> None:
    _heading(f"1. Decisions by {router.path} (no model is called)")
    for prompt, metadata in EXAMPLES:
        decision = router.decide(prompt, metadata=metadata)
        print(f"\nprompt:   {_short(prompt)}")
        if metadata:
            print(f"metadata: {metadata}")
        print(f"  -> {decision.tier} ({decision.model}), rule: {decision.rule or 'none, default tier'}")
        print(f"     why: {decision.explanation}")


def main(policy: str = POLICY) -> int:
    try:
        router = Router.from_file(Path(policy))
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"rulerouter demo — policy {policy}")
    show_decisions(router)
    return 0


if __name__ == "__main__":
    sys.exit(main())
