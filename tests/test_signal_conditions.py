"""`when.signals`, `when.language`, `when.score` and `[scores]`, decided through real policies."""

from __future__ import annotations

import math

import pytest

from rulerouter import Router, check_text
from rulerouter.decide.inputs import Inputs
from rulerouter.decide.scores import CompiledScore, feature
from rulerouter.policy.lint_signals import score_range
from rulerouter.policy.schema import Score

from .conftest import ROOT
from .test_conditions import HEAD, router


def codes(text: str) -> list[str]:
    return [d.code for d in check_text(HEAD + text).diagnostics]


def test_signal_thresholds() -> None:
    r = router('[[rules]]\nname = "r"\ntier = "complex"\nwhen.signals = { questions = { gt = 1 }, code = { gte = 1 } }\n')
    assert r.decide("Why? How?\n```\nx\n```").rule == "r"
    assert r.decide("Why? How?").rule is None  # no code
    assert r.decide("Why?\n```\nx\n```").rule is None  # one question


def test_fractional_signal_threshold() -> None:
    r = router('[[rules]]\nname = "r"\ntier = "complex"\nwhen.signals.code_density = { gte = 0.2 }\n')
    assert r.decide("if (a[i] == b[j]) { swap(&a[i], &b[j]); }").rule == "r"
    assert r.decide("a sentence with words, commas and a full stop.").rule is None


@pytest.mark.parametrize(
    ("when", "prompt", "fires"),
    [
        ('when.language = "de"', "Wie lange muss ich ein Ei kochen, damit es weich ist?", True),
        ('when.language = "de"', "How long should I boil an egg so that it is soft?", False),
        ('when.language = ["de", "fr"]', "Quelle est la meilleure façon de cuire un oeuf pour le petit déjeuner ?", True),
        ('when.language = { not_in = ["en", "und"] }', "¿Cuál es la mejor manera de cocinar un huevo para el desayuno?", True),
        ('when.language = { not_in = ["en", "und"] }', "What is the best way to cook an egg for breakfast?", False),
        ('when.language = { not_in = ["en", "und"] }', "ok", False),
    ],
)
def test_language_condition(when: str, prompt: str, fires: bool) -> None:
    r = router(f'[[rules]]\nname = "r"\ntier = "complex"\n{when}\n')
    assert (r.decide(prompt).rule == "r") is fires


SCORED = """
[scores.difficulty]
description = "how much reasoning the request needs"
weights = { reasoning = 0.6, code = 0.4, edit_cues = -0.5 }
caps = { reasoning = 2 }

[[rules]]
name = "hard"
when.score = { name = "difficulty", gte = 0.5 }
tier = "complex"
"""


def test_score_sums_capped_features() -> None:
    r = router(SCORED)
    assert r.decide("Explain why, step by step.").rule == "hard"  # reasoning 2/2 × 0.6 = 0.6
    assert r.decide("Explain why.").rule is None  # 1/2 × 0.6 = 0.3
    assert r.decide("Explain why, step by step, and rename every variable.").rule is None  # 0.6 - 0.5


def test_score_explanation_is_term_by_term() -> None:
    r = router(SCORED)
    why = r.decide("Explain why, step by step.").explanation
    assert why == (
        "rule 'hard': score 'difficulty' (in last_user) = 0.600; >= 0.5 holds: bias +0 + reasoning 2/2 × 0.6 (+0.6)"
        " + code 0/1 × 0.4 (+0) + edit_cues 0/3 × -0.5 (+0) = 0.600"
    )


def test_logistic_score() -> None:
    r = router(
        """
[scores.p]
weights = { reasoning = 4.0 }
bias = -2.0
logistic = true
[[rules]]
name = "hard"
when.score = { name = "p", gt = 0.5 }
tier = "complex"
"""
    )
    assert r.decide("Explain why, step by step, and walk me through it.").rule == "hard"  # σ(2) = 0.88
    assert r.decide("hello").rule is None  # σ(-2) = 0.12
    assert "logistic(bias -2 + reasoning 3/3 × 4 (+4) = 2) = 0.881" in r.decide("Explain why, step by step, and walk me through it.").explanation


def test_score_is_computed_once_per_request_and_source() -> None:
    r = router(
        SCORED.replace('name = "hard"', 'name = "very-hard"').replace("gte = 0.5", "gte = 0.9")
        + SCORED.split("[[rules]]")[1].join(["[[rules]]", ""])
    )
    inputs = Inputs("Explain why, step by step.", None, None, None, None)
    decision = r._compiled.decide(inputs)
    assert decision.rule == "hard"
    cached = [key for key in (inputs._cache or {}) if isinstance(key, tuple) and key[0] == "score"]
    assert [(score.name, source) for _, score, source in cached] == [("difficulty", "last_user")]


def test_score_range_and_feature() -> None:
    spec = Score.model_validate({"weights": {"reasoning": 0.5, "code": -0.25}, "bias": 0.1})
    assert score_range(spec) == (pytest.approx(-0.15), pytest.approx(0.6))
    logistic = Score.model_validate({"weights": {"reasoning": 2.0}, "logistic": True})
    low, high = score_range(logistic)
    assert low == 0.5 and high == pytest.approx(1 / (1 + math.exp(-2)))
    assert (feature(0, 3), feature(1.5, 3), feature(7, 3), feature(-1, 3)) == (0.0, 0.5, 1.0, 0.0)
    with pytest.raises(ValueError, match="unknown signal 'nope'"):
        CompiledScore("x", Score.model_validate({"weights": {"nope": 1.0}}))


def test_policy_without_signal_conditions_never_computes_signals() -> None:
    r = Router.from_file(ROOT / "rules" / "default.toml", env={"RULEROUTER_API_KEY": "x"})
    inputs = Inputs("Why? Explain the trade-offs of this design, step by step.", None, None, None, None)
    r._compiled.decide(inputs)
    r._compiled.trace(inputs)
    assert inputs._signals is None


def test_signal_rules_inside_any_all_not() -> None:
    r = router(
        """
[[rules]]
name = "r"
tier = "complex"
when.any = [{ signals = { maths = { gte = 2 } } }, { all = [{ signals = { code = { gte = 1 } } }, { not = { language = "en" } }] }]
"""
    )
    assert r.decide("Solve x^2 = 4 and y + 1 = 3").rule == "r"
    assert r.decide("Warum hängt dieser Code manchmal, und was ist die Ursache?\n```\nlock()\n```").rule == "r"
    assert r.decide("Why does this code hang sometimes, and what is the cause?\n```\nlock()\n```").rule is None


def test_shadowing_understands_signal_ranges_and_languages() -> None:
    assert codes(
        '[[rules]]\nname = "a"\ntier = "complex"\nwhen.signals.questions = { gte = 1 }\n'
        '[[rules]]\nname = "b"\ntier = "complex"\nwhen.signals.questions = { gt = 2 }\n'
    ) == ["RR302"]
    assert codes(
        '[[rules]]\nname = "a"\ntier = "complex"\nwhen.signals.questions = { gt = 2 }\n'
        '[[rules]]\nname = "b"\ntier = "complex"\nwhen.signals.questions = { gte = 1 }\n'
    ) == []
    assert codes(
        '[[rules]]\nname = "a"\ntier = "complex"\nwhen.language = { not_in = ["en"] }\n'
        '[[rules]]\nname = "b"\ntier = "complex"\nwhen.language = ["de", "fr"]\n'
    ) == ["RR302"]
    assert codes(
        '[[rules]]\nname = "a"\ntier = "complex"\nwhen.language = ["de"]\n'
        '[[rules]]\nname = "b"\ntier = "complex"\nwhen.language = ["de", "fr"]\n'
    ) == []
    assert codes(
        '[scores.s]\nweights = { code = 1.0 }\n'
        '[[rules]]\nname = "a"\ntier = "complex"\nwhen.score = { name = "s", gte = 0.5 }\n'
        '[[rules]]\nname = "b"\ntier = "complex"\nwhen.score = { name = "s", gt = 0.5 }\n'
    ) == ["RR302"]
    assert codes(
        '[scores.s]\nweights = { code = 1.0 }\n'
        '[[rules]]\nname = "a"\ntier = "complex"\nwhen.score = { name = "s", gt = 0.5 }\n'
        '[[rules]]\nname = "b"\ntier = "complex"\nwhen.score = { name = "s", gte = 0.5 }\n'
    ) == []


def test_a_schema_error_in_a_score_is_located() -> None:
    checked = check_text(HEAD + '[scores.s]\nweights = { code = "high" }\n[[rules]]\nname = "a"\ntier = "complex"\nwhen.score = { name = "s", gte = 0.5 }\n')
    assert [(d.code, d.message) for d in checked.diagnostics] == [
        ("RR102", "scores.s.weights.code: expected a number, got a string")
    ]
