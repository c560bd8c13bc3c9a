"""`rulerouter eval`: figures on small labelled sets whose answers are worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rulerouter import Router
from rulerouter.cli import main
from rulerouter.decide.compile import CompiledPolicy
from rulerouter.errors import UsageError
from rulerouter.quality.evaluate import (
    default_strong_and_weak,
    label_report,
    quality_report,
    route_all,
)
from rulerouter.quality.labelled_data import folds, read_records, split_holdout

POLICY = """
schema_version = 1
default_tier = "weak"
[tiers]
strong = "big"
weak = "small"
other = "mid"
[providers.local]
base_url = "http://127.0.0.1:9/v1"
[models.big]
price = { input_per_mtok = 10.0, output_per_mtok = 10.0 }
[models.small]
price = { input_per_mtok = 1.0, output_per_mtok = 1.0 }
[models.mid]
price = { input_per_mtok = 2.0, output_per_mtok = 2.0 }
[[rules]]
name = "hard"
when.keywords.any = ["hard"]
tier = "strong"
[[rules]]
name = "other"
when.keywords.any = ["other"]
tier = "other"
"""


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# Four requests, two routed to the strong tier; prompts of 8 characters are 2 estimated tokens.
QUALITY_ROWS = [
    {"id": "a", "prompt": "hard aaa", "quality": {"strong": 1.0, "weak": 0.0}, "output_tokens": 100},
    {"id": "b", "prompt": "hard bbb", "quality": {"strong": 0.8, "weak": 0.6}, "output_tokens": 100},
    {"id": "c", "prompt": "easy ccc", "quality": {"strong": 0.9, "weak": 0.9}, "output_tokens": 100},
    {"id": "d", "prompt": "easy ddd", "quality": {"strong": 0.7, "weak": 0.3}, "output_tokens": 100},
]


def quality_of(rows: list[dict], tmp_path: Path, policy: str = POLICY):
    router = Router.from_toml(policy)
    records = read_records(write_jsonl(tmp_path / "q.jsonl", rows))
    routed = route_all(CompiledPolicy(router.policy), records)
    return quality_report(router.policy, routed, "strong", "weak", output_tokens=500)


def test_quality_figures_by_hand(tmp_path: Path) -> None:
    report = quality_of(QUALITY_ROWS, tmp_path)
    assert report is not None
    assert report.strong_share == 0.5
    assert report.all_strong == pytest.approx(0.85)  # (1 + 0.8 + 0.9 + 0.7) / 4
    assert report.all_weak == pytest.approx(0.45)  # (0 + 0.6 + 0.9 + 0.3) / 4
    assert report.quality == pytest.approx(0.75)  # strong for a, b; weak for c, d
    assert report.quality_fraction == pytest.approx(0.75 / 0.85)
    assert report.pgr == pytest.approx(0.75)  # (0.75 - 0.45) / (0.85 - 0.45)
    assert report.random_share_for_equal_quality == pytest.approx(0.75)
    # Per request: strong (2 × 10 + 100 × 10) / 1e6 = 0.00102; weak (2 + 100) / 1e6 = 0.000102.
    assert report.cost_all_strong == pytest.approx(0.00408)
    assert report.cost_all_weak == pytest.approx(0.000408)
    assert report.cost == pytest.approx(0.002244)
    assert report.cost_random_equal_quality == pytest.approx(0.75 * 0.00408 + 0.25 * 0.000408)
    assert report.saving == pytest.approx(0.003162 - 0.002244)
    assert report.saving_fraction == pytest.approx((0.003162 - 0.002244) / 0.003162)
    assert report.note is None


def test_output_tokens_default_and_token_estimate(tmp_path: Path) -> None:
    rows = [dict(r) for r in QUALITY_ROWS]
    for r in rows:
        del r["output_tokens"]
    report = quality_of(rows, tmp_path)
    assert report is not None
    assert report.cost_all_strong == pytest.approx(4 * (2 * 10 + 500 * 10) / 1e6)


def test_a_router_better_than_all_strong_has_no_random_equivalent(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "hard", "quality": {"strong": 1.0, "weak": 0.0}},
        {"id": "b", "prompt": "easy", "quality": {"strong": 0.2, "weak": 1.0}},
    ]
    report = quality_of(rows, tmp_path)
    assert report is not None
    assert (report.quality, report.all_strong, report.all_weak) == (1.0, 0.6, 0.5)
    assert report.pgr == pytest.approx(5.0)  # (1.0 - 0.5) / (0.6 - 0.5)
    assert report.random_share_for_equal_quality is None and report.saving is None
    assert "no random router reaches its quality" in (report.note or "")


def test_no_quality_gap(tmp_path: Path) -> None:
    rows = [{"id": "a", "prompt": "hard", "quality": {"strong": 0.5, "weak": 0.5}}]
    report = quality_of(rows, tmp_path)
    assert report is not None and report.pgr is None
    assert report.random_share_for_equal_quality == 0.0
    assert "no gap" in (report.note or "")


def test_a_router_below_all_weak_is_matched_by_sending_nothing_to_strong(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "hard", "quality": {"strong": 0.2, "weak": 0.6}},
        {"id": "b", "prompt": "easy", "quality": {"strong": 1.0, "weak": 0.0}},
    ]
    report = quality_of(rows, tmp_path)
    assert report is not None
    assert (report.quality, report.all_strong, report.all_weak) == (pytest.approx(0.1), 0.6, 0.3)
    assert report.pgr == pytest.approx((0.1 - 0.3) / (0.6 - 0.3))
    assert report.random_share_for_equal_quality == 0.0
    assert report.saving == pytest.approx(report.cost_all_weak - report.cost)
    assert report.saving < 0  # it pays for a strong call and ends up worse than all-weak


def test_a_weak_model_better_than_the_strong_one_is_said(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "prompt": "hard", "quality": {"strong": 0.4, "weak": 0.8}},
        {"id": "b", "prompt": "easy", "quality": {"strong": 0.4, "weak": 0.8}},
    ]
    report = quality_of(rows, tmp_path)
    assert report is not None and report.pgr == pytest.approx(0.5)
    assert report.random_share_for_equal_quality == 0.0
    assert "the weak model scores higher" in (report.note or "")


def test_missing_price_skips_costs(tmp_path: Path) -> None:
    report = quality_of(QUALITY_ROWS, tmp_path, POLICY.replace("price = { input_per_mtok = 10.0, output_per_mtok = 10.0 }\n", ""))
    assert report is not None and report.cost is None and report.saving is None
    assert "no price" in (report.note or "")


def test_default_strong_and_weak_follow_prices() -> None:
    assert default_strong_and_weak(Router.from_toml(POLICY).policy) == ("strong", "weak")


def test_label_report_by_hand(tmp_path: Path) -> None:
    rows = [
        {"id": "1", "prompt": "hard", "expected_tier": "strong"},
        {"id": "2", "prompt": "hard", "expected_tier": "weak"},
        {"id": "3", "prompt": "easy", "expected_tier": "weak"},
        {"id": "4", "prompt": "easy", "expected_tier": "strong"},
        {"id": "5", "prompt": "easy", "expected_tier": "strong"},
        {"id": "6", "prompt": "other", "expected_tier": "other"},
    ]
    router = Router.from_toml(POLICY)
    records = read_records(write_jsonl(tmp_path / "l.jsonl", rows))
    report = label_report(router.policy, route_all(CompiledPolicy(router.policy), records))
    assert report.total == 6 and report.correct == 3 and report.accuracy == 0.5
    assert report.matrix["strong"] == {"strong": 1, "weak": 2, "other": 0}
    assert report.matrix["weak"] == {"strong": 1, "weak": 1, "other": 0}
    strong = report.figures["strong"]
    assert (strong.precision, strong.recall) == (0.5, pytest.approx(1 / 3))
    assert strong.f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert report.share("weak") == 0.5
    assert [(e.rule, e.count, e.cells, e.ids) for e in report.errors_by_rule] == [
        ("(default)", 2, {("strong", "weak"): 2}, ["4", "5"]),
        ("hard", 1, {("weak", "strong"): 1}, ["2"]),
    ]
    assert report.macro_f1 == pytest.approx((strong.f1 + report.figures["weak"].f1 + 1.0) / 3)


def test_reading_labelled_files(tmp_path: Path) -> None:
    bad = [
        ("not json", "not valid JSON"),
        ('{"prompt": "x"}', "give `expected_tier`, `quality` or both"),
        ('{"expected_tier": "a"}', "give `prompt` or `messages`"),
        ('{"prompt": 3, "expected_tier": "a"}', "`prompt` must be a string"),
        ('{"prompt": "x", "quality": {"strong": "high", "weak": 0}}', "`quality` must be"),
        ('{"prompt": "x", "quality": {"strong": 1, "weak": NaN}}', "'quality.weak' is NaN"),
        ('{"prompt": "x", "expected_tier": "a", "output_tokens": -1}', "`output_tokens`"),
        ("[1]", "JSON object"),
    ]
    for line, message in bad:
        path = tmp_path / "bad.jsonl"
        path.write_text('{"prompt": "ok", "expected_tier": "a"}\n' + line + "\n")
        with pytest.raises(UsageError, match=message) as caught:
            read_records(path)
        assert str(caught.value).startswith(f"{path}:2: ")
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "x", "prompt": "a", "expected_tier": "t"}\n\n{"id": "x", "prompt": "b", "expected_tier": "t"}\n')
    with pytest.raises(UsageError, match="already used on line 1"):
        read_records(path)
    with pytest.raises(UsageError, match="no such file"):
        read_records(tmp_path / "missing.jsonl")


def _records(n: int, tmp_path: Path) -> list:
    rows = [{"id": f"r{i}", "prompt": "x", "expected_tier": ["a", "b", "c"][i % 3]} for i in range(n)]
    return read_records(write_jsonl(tmp_path / "many.jsonl", rows))


def test_holdout_split_is_stratified_seeded_and_independent_of_order(tmp_path: Path) -> None:
    records = _records(90, tmp_path)
    kept, held = split_holdout(records, 0.3, seed=1)
    assert len(held) == 27 and len(kept) == 63
    assert sorted(r.expected_tier for r in held).count("a") == 9
    _, again = split_holdout(list(reversed(records)), 0.3, seed=1)
    assert {r.id for r in again} == {r.id for r in held}
    _, other = split_holdout(records, 0.3, seed=2)
    assert {r.id for r in other} != {r.id for r in held}
    with pytest.raises(UsageError):
        split_holdout(records, 1.0, seed=1)


def test_folds_partition_the_records(tmp_path: Path) -> None:
    records = _records(31, tmp_path)
    parts = folds(records, 5, seed=3)
    assert sorted(r.id for part in parts for r in part) == sorted(r.id for r in records)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert folds(records, 5, seed=3) == parts
    with pytest.raises(UsageError):
        folds(records, 1, seed=3)


# --- the command ---------------------------------------------------------------------------------


def test_eval_command_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.toml").write_text(POLICY)
    rows = QUALITY_ROWS + [{"id": "e", "prompt": "hard", "expected_tier": "weak"}, {"id": "f", "prompt": "x", "expected_tier": "weak"}]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    assert main(["eval", "-c", str(tmp_path / "p.toml"), str(data)]) == 0
    out = capsys.readouterr().out
    assert "accuracy 50.0% (1/2)" in out
    assert "  performance gap recovered (PGR)    75.0%\n" in out
    assert "  saving against it                  $0.0009 (29.0%)\n" in out
    assert "  hard    1   weak→strong 1   e.g. e\n" in out
    assert main(["eval", "-c", str(tmp_path / "p.toml"), str(data), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["expected_tier"]["accuracy"] == 0.5
    assert report["quality"]["pgr"] == pytest.approx(0.75)
    assert report["expected_tier"]["errors"] == [{"id": "e", "expected": "weak", "routed": "strong", "rule": "hard"}]


def test_eval_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.toml").write_text(POLICY)
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "hard", "expected_tier": "weak"}])
    policy = str(tmp_path / "p.toml")
    assert main(["eval", "-c", policy, str(data), "--fail-under", "0.5"]) == 1
    assert main(["eval", "-c", policy, str(data), "--fail-under", "0.0"]) == 0
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    assert main(["eval", "-c", policy, str(tmp_path / "bad.jsonl")]) == 2
    assert "bad.jsonl:1: the line is not valid JSON" in capsys.readouterr().err
    assert main(["eval", "-c", policy, str(data), "--strong", "nope"]) == 2
    (tmp_path / "broken.toml").write_text("schema_version = 2\n")
    assert main(["eval", "-c", str(tmp_path / "broken.toml"), str(data)]) == 1


def test_signals_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["signals", "Why? How?\n```\nx = 1\n```"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["code", "1"]
    assert ["questions", "2"] in [line.split() for line in lines]
    assert lines[-1].split() == ["language", "und"]
    assert main(["signals", "--json", "--request", '{"tools": [{"type": "function"}]}', "hi"]) == 0
    values = json.loads(capsys.readouterr().out)
    assert values["tools"] == 1 and values["output_format"] == 0
    assert main(["signals", "--request", "[1]", "hi"]) == 2
