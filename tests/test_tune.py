"""`rulerouter tune`: fitting score weights and thresholds to labelled requests."""

from __future__ import annotations

import json
import math
import random
import tomllib
from pathlib import Path

import pytest

from rulerouter import Router, check_text
from rulerouter.cli import main
from rulerouter.errors import UsageError
from rulerouter.quality.labelled_data import read_records
from rulerouter.quality.logistic_regression import fit, sigmoid
from rulerouter.quality.tune import TuneOptions, find_targets, render, tune

HEAD = """
schema_version = 1
default_tier = "standard"
[tiers]
standard = "small"
complex = "big"
bulk = "tiny"
[providers.local]
base_url = "http://127.0.0.1:9/v1"
[models.small]
price = { input_per_mtok = 1.0, output_per_mtok = 1.0 }
[models.big]
price = { input_per_mtok = 10.0, output_per_mtok = 10.0 }
[models.tiny]
price = { input_per_mtok = 0.1, output_per_mtok = 0.1 }
"""

POLICY = HEAD + """
[scores.difficulty]
weights = { reasoning = 0.0, questions = 0.0, edit_cues = 0.0 }

[scores.mechanical]
weights = { edit_cues = 0.0, list_items = 0.0 }
logistic = true

[[rules]]
name = "caller"
when.metadata = { path = "$.tier", truthy = true }
tier_from_metadata = "$.tier"

[[rules]]
name = "hard"
when.score = { name = "difficulty", gte = 0.5 }
tier = "complex"

[[rules]]
name = "edit"
when.all = [{ words = { lt = 200 } }, { score = { name = "mechanical", gte = 0.5 } }]
tier = "bulk"
"""

HARD = ["Walk me through why this fails, step by step, and compare the trade-offs.",
        "Prove it and explain why the invariant holds; analyse the worst case.",
        "Why does the design break? Evaluate the alternatives carefully and justify the choice."]
EASY = ["What is the capital of Peru?", "Write a haiku about rain.", "Tell me a joke about cats."]
EDITS = ["Rename each of these:\n- a\n- b\n- c", "Fix the typos in every line:\n- teh\n- adn\n- waht",
         "Convert these to uppercase, one per line:\n- x\n- y\n- z"]


def dataset(tmp_path: Path, n: int = 60, seed: int = 0) -> Path:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        kind = i % 3
        prompt = rng.choice([HARD, EASY, EDITS][kind]) + f" (case {i})"
        rows.append({"id": f"r{i}", "prompt": prompt, "expected_tier": ["complex", "standard", "bulk"][kind]})
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def policy(text: str = POLICY):
    return Router.from_toml(text).policy


def test_targets_follow_rule_order_and_tiers() -> None:
    targets = find_targets(policy())
    assert [(t.score, t.rule, t.tier, t.below, t.path) for t in targets] == [
        ("difficulty", "hard", "complex", False, ()),
        ("mechanical", "edit", "bulk", False, ("all", 1)),
    ]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('[[rules]]\nname = "a"\nwhen.any = [{ score = { name = "difficulty", gte = 0.5 } }, { words = { gt = 5 } }]\ntier = "complex"\n',
         "inside `any` or `not`"),
        ('[[rules]]\nname = "a"\nwhen.score = { name = "difficulty", gte = 0.5 }\ntier = "complex"\n'
         '[[rules]]\nname = "b"\nwhen.score = { name = "difficulty", lt = 0.1 }\ntier = "bulk"\n', "compared by rules 'a' and 'b'"),
        ('[[rules]]\nname = "a"\nwhen.words = { gt = 5 }\ntier = "complex"\n', "nothing to tune"),
    ],
)
def test_unsupported_placements_are_usage_errors(rules: str, message: str) -> None:
    text = HEAD + "[scores.difficulty]\nweights = { reasoning = 1.0 }\n" + rules
    checked = check_text(text)
    assert checked.policy is not None, checked.diagnostics
    with pytest.raises(UsageError, match=message):
        find_targets(checked.policy)


def test_tune_learns_the_signals_that_separate_the_tiers(tmp_path: Path) -> None:
    records = read_records(dataset(tmp_path))
    result = tune(policy(), records, TuneOptions(folds=3, seed=1, lambdas=(0.01, 0.1)))
    difficulty = result.policy.scores["difficulty"]
    assert difficulty.logistic is True
    assert difficulty.weights["reasoning"] > 1.0  # the hard prompts are the ones with reasoning cues
    assert result.policy.scores["mechanical"].weights["edit_cues"] > 1.0
    assert result.cv_report.accuracy >= 0.9
    assert result.train_sizes == {"difficulty": 60, "mechanical": 40}  # complex requests stop at "hard"
    assert set(result.cv_accuracy) == {0.01, 0.1}
    assert result.lam in (0.01, 0.1)
    assert "score 'difficulty' is now a probability" not in " ".join(result.notes)  # gte = 0.5 is in (0, 1)


def test_tune_is_deterministic_and_the_file_lints_clean(tmp_path: Path) -> None:
    records = read_records(dataset(tmp_path))
    options = TuneOptions(folds=3, seed=4, lambdas=(0.01, 0.1), thresholds=True, holdout=0.25)
    first = render(tomllib.loads(POLICY), tune(policy(), records, options), options, "p.toml", "data.jsonl")
    second = render(tomllib.loads(POLICY), tune(policy(), list(reversed(records)), options), options, "p.toml", "data.jsonl")
    assert first == second
    checked = check_text(first)
    assert checked.ok and checked.diagnostics == []
    assert first.startswith("# Tuned by `rulerouter tune` from p.toml on data.jsonl.\n# Seed 4, 3-fold cross-validation")
    assert "# Hold-out set (15 requests, --holdout 0.25 --seed 4, never used for fitting):" in first
    tuned = tomllib.loads(first)
    assert tuned["rules"][2]["when"]["all"][0] == {"words": {"lt": 200}}  # the rest of the rule is kept
    assert 0.05 <= tuned["rules"][1]["when"]["score"]["gte"] <= 0.95


def test_the_tuned_header_names_what_each_described_tier_is_for(tmp_path: Path) -> None:
    text = POLICY.replace('complex = "big"', 'complex = { model = "big", description = "code, maths, proofs" }')
    records = read_records(dataset(tmp_path))
    options = TuneOptions(folds=3, seed=4, lambdas=(0.1,))
    header = render(tomllib.loads(text), tune(policy(text), records, options), options, "p.toml", "data.jsonl")
    assert "# Tiers:\n#   complex  code, maths, proofs\n# Scores fitted" in header  # only tiers with a description
    plain = render(tomllib.loads(POLICY), tune(policy(), records, options), options, "p.toml", "data.jsonl")
    assert "# Tiers:" not in plain


def test_a_plain_sum_with_a_threshold_outside_0_1_becomes_a_probability(tmp_path: Path) -> None:
    text = POLICY.replace('when.score = { name = "difficulty", gte = 0.5 }', 'when.score = { name = "difficulty", gte = 2.0 }')
    text = text.replace("weights = { reasoning = 0.0, questions = 0.0, edit_cues = 0.0 }", "weights = { reasoning = 3.0, questions = 0.0, edit_cues = 0.0 }")
    records = read_records(dataset(tmp_path))
    result = tune(policy(text), records, TuneOptions(folds=3, lambdas=(0.1,)))
    assert result.notes == ["score 'difficulty' is now a probability; rule 'hard' compares it with 0.5"]
    assert result.policy.rules[1].when.score.gte == 0.5  # type: ignore[union-attr]


def test_records_with_a_tier_the_policy_lacks_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "x", "expected_tier": "premium"}\n{"prompt": "y", "expected_tier": "complex"}\n')
    with pytest.raises(UsageError, match="premium"):
        tune(policy(), read_records(path), TuneOptions(folds=2))


def test_all_signals_as_features_and_l1(tmp_path: Path) -> None:
    records = read_records(dataset(tmp_path))
    result = tune(policy(), records, TuneOptions(folds=3, lambdas=(0.02,), penalty="l1", features="all"))
    weights = result.policy.scores["difficulty"].weights
    assert len(weights) > 20
    assert sum(1 for w in weights.values() if w == 0.0) >= 10  # the L1 penalty zeroes what does not help


# --- the logistic regression ---------------------------------------------------------------------


def _gradient(rows, labels, w, b):
    n = len(rows)
    g, gb = [0.0] * len(w), 0.0
    for row, y in zip(rows, labels):
        r = (sigmoid(b + sum(w[j] * x for j, x in row)) - y) / n
        gb += r
        for j, x in row:
            g[j] += r * x
    return g, gb


def _data(seed: int = 3, n: int = 200, d: int = 6):
    rng = random.Random(seed)
    true = [rng.uniform(-3, 3) for _ in range(d)]
    rows, labels = [], []
    for _ in range(n):
        row = [(j, rng.random()) for j in range(d) if rng.random() < 0.5]
        rows.append(row)
        labels.append(int(rng.random() < sigmoid(-0.3 + sum(true[j] * x for j, x in row))))
    return rows, labels, d


def test_l2_fit_is_a_stationary_point() -> None:
    rows, labels, d = _data()
    w, b = fit(rows, labels, d, 0.05, "l2")
    g, gb = _gradient(rows, labels, w, b)
    assert max(abs(g[j] + 0.05 * w[j]) for j in range(d)) < 1e-8
    assert abs(gb) < 1e-8


def test_l1_fit_meets_the_optimality_conditions() -> None:
    rows, labels, d = _data()
    lam = 0.02
    w, b = fit(rows, labels, d, lam, "l1")
    g, gb = _gradient(rows, labels, w, b)
    for j in range(d):
        if w[j] == 0:
            assert abs(g[j]) <= lam + 1e-6
        else:
            assert abs(g[j] + lam * math.copysign(1, w[j])) < 1e-5
    assert abs(gb) < 1e-6


def test_separable_data_stays_finite_with_a_penalty() -> None:
    rows = [[(0, 1.0)]] * 5 + [[]] * 5
    labels = [1] * 5 + [0] * 5
    w, b = fit(rows, labels, 1, 0.01, "l2")
    assert math.isfinite(w[0]) and w[0] > 3 and b < 0


# --- the command ---------------------------------------------------------------------------------


def test_tune_command_writes_a_loadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "p.toml"
    source.write_text(POLICY)
    out = tmp_path / "tuned.toml"
    args = ["tune", "-c", str(source), str(dataset(tmp_path)), "-o", str(out), "--folds", "3", "--lambda", "0.01,0.1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Cross-validated (held-out folds of 60 requests" in printed and f"wrote {out}" in printed
    Router.from_file(out)
    assert main(args + ["--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["scores"]) == {"difficulty", "mechanical"} and report["holdout"] is None


def test_tune_command_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "p.toml"
    source.write_text(POLICY)
    data = str(dataset(tmp_path))
    assert main(["tune", "-c", str(source), data, "-o", str(source)]) == 2
    assert "is the same file as -c" in capsys.readouterr().err
    assert main(["tune", "-c", str(source), data, "-o", str(tmp_path / "t.toml"), "--score", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["tune", "-c", str(source), data, "-o", str(tmp_path / "t.toml"), "--lambda", "-1"]) == 2
