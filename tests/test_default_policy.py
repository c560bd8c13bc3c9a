"""rules/default.toml reproduces the article's classify_request exactly.

The oracle below is the article's classifier restated (same signals, same order, same
substring tests on the lower-cased prompt, same 1000-word threshold, same metadata hints).
Generated prompts mix its signals with ordinary words, case changes and lengths around the
threshold; the compiled policy must agree with the oracle on every one.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rulerouter import Router
from rulerouter.quality.policy_tests import run_test_file

from .article import BULK, COMPLEX, STRUCTURED, article_classifier
from .conftest import ROOT

TIERS = {"complex", "standard", "structured", "bulk"}


ROUTER = Router.from_file(ROOT / "rules" / "default.toml")

fragments = st.sampled_from(
    STRUCTURED + COMPLEX + BULK
    + ["the", "cache", "json-ish", "stubborn", "Deadlocks", "DEBUGGING", "design", "system", "plan", "\n", "日本", "é"]
)


@st.composite
def prompts(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.one_of(fragments, st.text(max_size=8)), max_size=30))
    joiner = draw(st.sampled_from([" ", "  ", "\t", "", "\n"]))
    text = joiner.join(words)
    if draw(st.booleans()):
        text = text.upper() if draw(st.booleans()) else text.title()
    padding = draw(st.sampled_from([0, 0, 0, 990, 999, 1000, 1001, 1500]))
    if padding:
        text = text + " " + " ".join(["w"] * (padding - len(text.split())))
    return text


metadata = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={
        "tier": st.sampled_from(sorted(TIERS) + [""]),
        "json_output": st.sampled_from([True, False, 0, 1, "", "yes"]),
    }),
)


@settings(max_examples=400, deadline=None)
@given(prompts(), metadata)
def test_default_policy_agrees_with_the_article(prompt: str, meta: dict | None) -> None:
    assert ROUTER.decide(prompt, metadata=meta).tier == article_classifier(prompt, meta)


def test_default_policy_tests_pass() -> None:
    result = run_test_file(ROOT / "rules" / "default.test.toml")
    assert result.diagnostics == []
    failures = [(c.name, c.problems) for c in result.cases if not c.passed]
    assert failures == []
    assert result.passed >= 20


def test_article_tiers_models_and_prices() -> None:
    policy = ROUTER.policy
    assert ROUTER.tiers == {
        "complex": "claude-opus-4-7",
        "standard": "claude-sonnet-4-6",
        "structured": "gpt-5.5",
        "bulk": "deepseek-chat",
    }
    prices = {name: (m.price.input_per_mtok, m.price.output_per_mtok) for name, m in policy.models.items() if m.price}
    assert prices == {
        "claude-opus-4-7": (5.0, 25.0),
        "claude-sonnet-4-6": (3.0, 15.0),
        "gpt-5.5": (3.0, 12.0),
        "deepseek-chat": (0.27, 1.10),
    }
    assert policy.verification is not None and policy.verification.threshold == 0.8


def test_every_policy_in_rules_lints_clean_and_has_passing_tests() -> None:
    for policy in sorted((ROOT / "rules").glob("*.toml")):
        if policy.name.endswith(".test.toml"):
            continue
        Router.from_file(policy)
        tests = policy.with_name(policy.stem + ".test.toml")
        assert tests.exists(), f"{policy.name} has no policy tests"
        result = run_test_file(tests)
        assert result.failed == 0, [c.problems for c in result.cases if not c.passed] or result.diagnostics


def test_a_policy_test_failure_is_reported(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text((ROOT / "rules" / "default.toml").read_text())
    (tmp_path / "p.test.toml").write_text(
        '[[cases]]\nname = "wrong"\nprompt = "hello"\nexpect = { tier = "complex", rule = "x" }\n'
    )
    result = run_test_file(tmp_path / "p.test.toml")
    assert result.failed == 1 and result.passed == 0
    problems = result.cases[0].problems
    assert problems[0] == "expected tier 'complex', got tier 'standard' by default"
    assert problems[-1].startswith("why: no rule matched")
    assert result.cases[0].line == 1
