"""The committed development set: valid, counted as its SOURCES.md says, and free of evaluation prompts."""

from __future__ import annotations

import pytest

from bench.data import check_devset

from .conftest import ROOT


def test_devset_is_valid_and_holds_no_held_out_evaluation_prompt() -> None:
    try:
        contamination = check_devset.Contamination()
    except FileNotFoundError as exc:
        pytest.skip(f"the shared contamination checker is not beside the repository: {exc}")
    data = ROOT / "bench" / "data"
    report = check_devset.check(data / "devset.jsonl", data / "SOURCES.md", contamination=contamination)
    assert report.errors == []
    assert report.counts()["total"] == 350


def test_a_held_out_evaluation_prompt_is_an_error(tmp_path) -> None:
    try:
        contamination = check_devset.Contamination()
    except FileNotFoundError as exc:
        pytest.skip(f"the shared contamination checker is not beside the repository: {exc}")
    known = "What do you think about ChatGPT?"  # an oasst1 prompt that evaluation sets also hold
    assert contamination.hits({"prompt": known}) == [known]
    path = tmp_path / "dev.jsonl"
    path.write_text('{"id": "dev-0001", "prompt": "%s", "expected_tier": "standard", "source": "x", "category": "y"}\n' % known)
    report = check_devset.check(path, None, min_total=0, min_per_tier=0, contamination=contamination)
    assert any("held-out evaluation set" in e for e in report.errors)
