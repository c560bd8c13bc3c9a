"""Figures by group (`eval --by`) and folds that hold out whole groups (`tune --by`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rulerouter import Router
from rulerouter.cli import main
from rulerouter.errors import UsageError
from rulerouter.quality.evaluate import route_all
from rulerouter.quality.groups import NO_GROUP, by_group, group_folds, groups_of
from rulerouter.quality.labelled_data import read_records
from rulerouter.quality.tune import TuneOptions, tune

from .test_evaluate import POLICY, write_jsonl
from .test_tune import EASY, EDITS, HARD
from .test_tune import POLICY as TUNE_POLICY

ROWS = [
    {"id": "a1", "prompt": "hard one", "expected_tier": "strong", "source": "a", "metadata": {"client": "x"}},
    {"id": "a2", "prompt": "easy one", "expected_tier": "strong", "source": "a", "metadata": {"client": "y"}},
    {"id": "a3", "prompt": "easy two", "expected_tier": "weak", "source": "a"},
    {"id": "b1", "prompt": "other", "expected_tier": "other", "source": "b", "metadata": {"client": "x"}},
    {"id": "b2", "prompt": "easy", "expected_tier": "other", "source": "b"},
    {"id": "n1", "prompt": "hard", "expected_tier": "strong"},
]


def records(tmp_path: Path, rows: list[dict] = ROWS):
    return read_records(write_jsonl(tmp_path / "g.jsonl", rows))


def test_groups_by_field_and_by_jsonpath(tmp_path: Path) -> None:
    recs = records(tmp_path)
    assert {k: [r.id for r in v] for k, v in groups_of(recs, "source").items()} == {
        "(none)": ["n1"], "a": ["a1", "a2", "a3"], "b": ["b1", "b2"]}
    assert {k: [r.id for r in v] for k, v in groups_of(recs, "$.metadata.client").items()} == {
        NO_GROUP: ["a3", "b2", "n1"], "x": ["a1", "b1"], "y": ["a2"]}
    with pytest.raises(UsageError, match="invalid JSONPath"):
        groups_of(recs, "$.[")


def test_leave_one_out_folds_never_split_a_group(tmp_path: Path) -> None:
    recs = records(tmp_path)
    folds = group_folds(recs, "source")
    assert [name for name, _, _ in folds] == ["(none)", "a", "b"]
    source = {r.id: r.data.get("source") for r in recs}
    for name, train, held in folds:
        held_sources = {source[r.id] for r in held}
        assert len(held_sources) == 1  # the held-out part is exactly one group…
        assert held_sources.isdisjoint(source[r.id] for r in train)  # …none of which is trained on
        assert sorted(r.id for r in train + held) == sorted(r.id for r in recs)
    with pytest.raises(UsageError, match="at least 2 groups"):
        group_folds([r for r in recs if r.data.get("source") == "a"], "source")


def test_figures_per_group_by_hand(tmp_path: Path) -> None:
    router = Router.from_toml(POLICY)
    summary = by_group(router.policy, route_all(router.compiled, records(tmp_path)), "source", "strong", "weak", 500)
    figures = {g.group: g for g in summary.groups}
    # a: strong recall 1/2 ("hard one" → strong, "easy one" → weak), weak recall 1/1 → macro 0.75
    assert figures["a"].labels.figures["strong"].recall == 0.5
    assert figures["a"].macro_recall == 0.75
    assert figures["b"].macro_recall == 0.5  # "other" → other, "easy" → weak
    assert figures["(none)"].macro_recall == 1.0
    assert summary.mean_macro_recall == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert summary.worst.group == "b"
    assert summary.mean_recall("strong") == pytest.approx((0.5 + 1.0) / 2)  # the groups that have strong requests


def test_eval_by_prints_a_row_per_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.toml").write_text(POLICY)
    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    assert main(["eval", "-c", str(tmp_path / "p.toml"), str(data), "--by", "source"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("by source"):].splitlines()
    assert table[1].split() == ["source", "requests", "strong", "weak", "other", "macro"]
    assert table[2].split() == ["(none)", "1", "100.0%", "—", "—", "1.000"]
    assert table[3].split() == ["a", "3", "50.0%", "100.0%", "—", "0.750"]
    assert table[4].split() == ["b", "2", "—", "—", "50.0%", "0.500"]
    assert table[-1] == "worst source: b (macro recall 0.500)"
    assert main(["eval", "-c", str(tmp_path / "p.toml"), str(data), "--by", "$.metadata.client", "--format", "json"]) == 0
    by = json.loads(capsys.readouterr().out)["by"]
    assert by["key"] == "$.metadata.client" and set(by["groups"]) == {"(none)", "x", "y"}
    assert by["worst"] == {"group": "y", "macro_recall": 0.0}
    assert main(["eval", "-c", str(tmp_path / "p.toml"), str(data), "--by", "$.["]) == 2


def tune_rows(sources: int = 3, per_source: int = 18) -> list[dict]:
    rows = []
    for s in range(sources):
        for i in range(per_source):
            kind = i % 3
            prompt = [HARD, EASY, EDITS][kind][(i // 3 + s) % 3] + f" (source {s}, case {i})"
            rows.append({"id": f"s{s}-{i}", "prompt": prompt, "source": f"src{s}",
                         "expected_tier": ["complex", "standard", "bulk"][kind]})
    return rows


def test_tune_by_source_holds_out_each_source_once(tmp_path: Path) -> None:
    recs = records(tmp_path, tune_rows())
    result = tune(Router.from_toml(TUNE_POLICY).policy, recs, TuneOptions(by="source", lambdas=(0.01, 1.0)))
    assert result.by_group is not None
    assert [g.group for g in result.by_group.groups] == ["src0", "src1", "src2"]
    assert all(g.labels.total == 18 for g in result.by_group.groups)
    # λ was chosen on the mean held-out macro recall, which is what cv_accuracy records with `by`
    assert result.cv_accuracy[result.lam][0] == pytest.approx(result.by_group.mean_macro_recall)


def test_tune_command_by_source_writes_the_table_in_the_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.toml").write_text(TUNE_POLICY)
    data = write_jsonl(tmp_path / "d.jsonl", tune_rows())
    out = tmp_path / "tuned.toml"
    assert main(["tune", "-c", str(tmp_path / "p.toml"), str(data), "--by", "source", "-o", str(out)]) == 0
    header = out.read_text().split("\n\n", 1)[0]
    assert "leave-one-source-out validation" in header
    assert "# Leave-one-source-out (3 folds over 54 requests" in out.read_text()
    assert "#   worst source: src" in out.read_text()
    Router.from_file(out)
