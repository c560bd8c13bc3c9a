"""rules/recommended.toml: reproducible from its header's tune command, and sane on its own set."""

from __future__ import annotations

import pytest

from rulerouter import Router
from rulerouter.decide.compile import CompiledPolicy
from rulerouter.quality.evaluate import label_report, route_all
from rulerouter.quality.labelled_data import read_records, split_holdout
from rulerouter.quality.tune import TuneOptions, tune

from .conftest import ROOT

SOURCE = ROOT / "rules" / "recommended.toml"
DEVSET = ROOT / "bench" / "data" / "devset.jsonl"


def shipped():
    return Router.from_file(SOURCE, env={"RULEROUTER_API_KEY": "x"}).policy


def test_recommended_weights_are_reproduced_by_the_command_in_its_header() -> None:
    assert "--holdout 0.3 --seed 2026 --thresholds" in SOURCE.read_text()
    policy = shipped()
    result = tune(policy, read_records(DEVSET), TuneOptions(seed=2026, holdout=0.3, thresholds=True))
    for name, score in policy.scores.items():
        assert result.policy.scores[name].weights == pytest.approx(score.weights, rel=1e-3), name
        assert result.policy.scores[name].bias == pytest.approx(score.bias, rel=1e-3), name
    assert [r.when for r in result.policy.rules] == [r.when for r in policy.rules]  # same thresholds
    assert round(100 * result.cv_accuracy[result.lam][0], 1) == 79.6  # the figure docs/quality.md reports
    assert result.holdout_report is not None
    assert round(100 * result.holdout_report.accuracy, 1) == 74.3


def test_recommended_beats_the_article_on_the_held_out_requests() -> None:
    _, held = split_holdout(read_records(DEVSET), 0.3, seed=2026)
    figures = {}
    for name in ("default", "recommended"):
        policy = Router.from_file(ROOT / "rules" / f"{name}.toml", env={"RULEROUTER_API_KEY": "x"}).policy
        figures[name] = label_report(policy, route_all(CompiledPolicy(policy), held))
    assert figures["recommended"].accuracy > figures["default"].accuracy + 0.3
    assert figures["recommended"].figures["complex"].recall > 0.6 > figures["default"].figures["complex"].recall
