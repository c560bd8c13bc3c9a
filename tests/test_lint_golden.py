"""Golden files: each tests/lint/NAME.toml is linted and the output compared to NAME.expected.

Every diagnostic code has at least one pair, so a change in wording, position or ordering is a
visible diff. To update after an intended change: review the new output, then regenerate with
`rulerouter lint tests/lint/NAME.toml > tests/lint/NAME.expected`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rulerouter.cli import main
from rulerouter.policy.diagnostics import CODES

from .conftest import ROOT

LINT_DIR = ROOT / "tests" / "lint"
CASES = sorted(p.stem for p in LINT_DIR.glob("*.toml"))


@pytest.mark.parametrize("name", CASES)
def test_lint_output_matches_golden_file(name: str, in_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RULEROUTER_LINT_TEST_UNSET_KEY", raising=False)
    monkeypatch.delenv("RULEROUTER_LINT_TEST_UNSET_REDIS", raising=False)
    monkeypatch.delenv("RULEROUTER_LINT_TEST_UNSET_URL", raising=False)
    path = f"tests/lint/{name}.toml"
    code = main(["lint", path])
    out = capsys.readouterr().out
    expected = (LINT_DIR / f"{name}.expected").read_text(encoding="utf-8")
    assert out == expected
    has_error = " error: " in expected
    assert code == (1 if has_error else 0)


def test_every_code_has_a_golden_file() -> None:
    covered = set()
    for expected in LINT_DIR.glob("*.expected"):
        for line in expected.read_text(encoding="utf-8").splitlines():
            parts = line.split(": ")
            if len(parts) > 1 and parts[1].split(" ")[0] in CODES:
                covered.add(parts[1].split(" ")[0])
    assert covered == set(CODES)


def test_clean_file_prints_nothing_and_exits_zero(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "tests/lint/clean.toml"]) == 0
    assert capsys.readouterr().out == ""


def test_json_format_lists_the_same_diagnostics(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "json", "tests/lint/rr201_unknown_tier.toml"]) == 1
    items = json.loads(capsys.readouterr().out)
    assert [(d["line"], d["col"], d["code"]) for d in items] == [(2, 16, "RR201"), (20, 8, "RR201"), (23, 22, "RR201")]
    assert items[0]["hint"] == "did you mean 'standard'?"
    assert items[0]["severity"] == "error"
    assert items[0]["path"] == "tests/lint/rr201_unknown_tier.toml"


def test_warnings_fail_only_with_strict(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "tests/lint/rr401_no_price.toml"]) == 0
    assert main(["lint", "--strict", "tests/lint/rr401_no_price.toml"]) == 1


def test_several_files_are_sorted_by_path_and_position(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lint", "tests/lint/rr205_duplicate_rule.toml", "tests/lint/rr201_unknown_tier.toml"])
    lines = [l for l in capsys.readouterr().out.splitlines() if not l.startswith(" ")]
    assert lines == sorted(lines, key=lambda l: (l.split(":")[0], int(l.split(":")[1]), int(l.split(":")[2])))
    assert len(lines) == 4


def test_api_key_env_that_is_set_is_not_reported(in_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULEROUTER_LINT_TEST_UNSET_KEY", "sk-test")
    assert main(["lint", "--strict", "tests/lint/rr402_key_env_unset.toml"]) == 0
    out = capsys.readouterr().out
    assert out == ""
