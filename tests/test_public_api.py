"""The public surface: what `import rulerouter` exports, and that each module declares __all__."""

from __future__ import annotations

import importlib
import pkgutil

import rulerouter


def test_exported_names() -> None:
    assert sorted(rulerouter.__all__) == sorted(
        [
            "AllAttemptsFailed", "AsyncCompletionStream", "Attempt", "BudgetExceeded", "Checked", "CompletionStream",
            "Decision", "Diagnostic", "ExecutionError", "LimitExceeded", "Metrics", "Policy", "PolicyError", "RateLimited", "Result",
            "Router", "RuleRouterError", "RuleTrace", "Severity", "StreamChunk", "StreamInterrupted",
            "UpstreamRejected", "Usage", "UsageError", "__version__", "check_file", "check_text",
        ]
    )
    for name in rulerouter.__all__:
        assert hasattr(rulerouter, name), name


def test_testing_exports() -> None:
    import rulerouter.testing

    assert sorted(rulerouter.testing.__all__) == [
        "Behaviour", "ContextLengthExceeded", "EchoAuth", "ErrorObject", "Faults", "Hook", "LoopbackUpstream",
        "Malformed", "MissingChoices", "POOR_ANSWER", "RecordedRequest", "Reply", "Reset", "SimulatedProvider",
        "Slow", "Source", "Status", "StreamBreak", "ToolCall", "estimate_tokens",
    ]


def test_every_module_declares_all() -> None:
    missing = []
    for info in pkgutil.walk_packages(rulerouter.__path__, "rulerouter."):
        if info.name.endswith("__main__") or ".cli." in info.name + ".":
            continue
        module = importlib.import_module(info.name)
        if not hasattr(module, "__all__"):
            missing.append(info.name)
        else:
            for name in module.__all__:
                assert hasattr(module, name), f"{info.name}.__all__ names missing {name}"
    assert missing == []


def test_errors_form_one_tree() -> None:
    for name in ("PolicyError", "UsageError", "ExecutionError", "AllAttemptsFailed", "UpstreamRejected", "StreamInterrupted",
                 "LimitExceeded", "BudgetExceeded", "RateLimited"):
        assert issubclass(getattr(rulerouter, name), rulerouter.RuleRouterError)
