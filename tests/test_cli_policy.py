"""The policy commands as a user runs them: exit codes, output, and no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rulerouter.cli import main
from rulerouter.policy.json_schema import policy_schema

from .conftest import ROOT


def run(*args: str, stdin: str | None = None, cwd: Path = ROOT, env_extra: dict | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "RULEROUTER_RULES"}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "rulerouter", *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def test_route_prints_the_decision_and_why(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "Find the root cause of this deadlock"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "tier:  complex"
    assert out[1] == "model: claude-opus-4-7"
    assert out[2] == "rule:  complex-signals"
    assert out[3] == "why:   rule 'complex-signals': keywords (substring, in last_user) any of 12 keyword(s): 'root cause' at 9, 'deadlock' at 28"


def test_route_explain_lists_every_rule_tried(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--explain", "hello there"]) == 0
    out = capsys.readouterr().out
    assert "rules tried, in order:" in out
    for name in ("caller-tier", "caller-json-output", "structured-signals", "complex-signals", "long-prompt", "bulk-signals"):
        assert name in out
    assert "no rule matched -> default tier 'standard'" in out


def test_route_json_with_metadata(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "--json", "--explain", "--metadata", '{"json_output": true}', "hi"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tier"] == "structured" and out["rule"] == "caller-json-output"
    assert [t["matched"] for t in out["trace"]] == [False, True]


def test_route_reads_the_prompt_from_stdin() -> None:
    result = run("route", "--json", stdin="please add docstrings\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tier"] == "bulk"


def test_route_with_request_json(in_repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text((ROOT / "rulerouter" / "templates" / "starter.toml").read_text())
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}})
    assert main(["route", "-c", str(policy), "--json", "--request", body, "hi"]) == 0
    assert json.loads(capsys.readouterr().out)["rule"] == "json-mode"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["route", "--metadata", "{nope", "hi"], "--metadata is not valid JSON"),
        (["route", "--request", "[1]", "hi"], "--request must be a JSON object"),
        (["route", "-c", "missing.toml", "hi"], "missing.toml:1:1: RR002 error: no such file"),
        (["init", "rules/default.toml"], "already exists; not overwriting"),
    ],
)
def test_usage_and_file_errors_are_messages_not_tracebacks(args: list[str], message: str, in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(args)
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert code == (1 if "RR002" in message else 2)


def test_unknown_option_is_a_usage_error() -> None:
    result = run("route", "--bogus", "x")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr


def test_config_from_environment(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text((ROOT / "rulerouter" / "templates" / "starter.toml").read_text())
    result = run("route", "--json", "please add docstrings", cwd=tmp_path, env_extra={"RULEROUTER_RULES": str(policy)})
    assert json.loads(result.stdout)["tier"] == "cheap"


def test_no_rule_file_anywhere_is_a_usage_error(tmp_path: Path) -> None:
    result = run("route", "hi", cwd=tmp_path)
    assert result.returncode == 2
    assert "no rule file: pass -c FILE or set RULEROUTER_RULES" in result.stderr


def test_malformed_rule_file_never_tracebacks(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    (tmp_path / "bad.test.toml").write_text('[[cases]]\nprompt = "hi"\nexpect.tier = "x"\n')
    for text in ["[[[", "schema_version = 'x'", "tiers = 3", "\x00", "rules = [1, 2]", "[tiers]\na = {}"]:
        bad.write_text(text)
        for command in (["lint", str(bad)], ["route", "-c", str(bad), "hi"], ["test", str(bad)]):
            result = run(*command)
            assert result.returncode == 1, (text, command, result.stderr)
            assert "Traceback" not in result.stderr + result.stdout
            assert f"{bad}:" in result.stdout + result.stderr


def test_test_command_summary_and_exit_code(in_repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["test", "rules/default.test.toml"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith(" passed, 0 failed")
    (tmp_path / "default.toml").write_text((ROOT / "rules" / "default.toml").read_text())
    (tmp_path / "default.test.toml").write_text('[[cases]]\nprompt = "hi"\nexpect.tier = "bulk"\n[[cases]]\nprompt = "hi"\nexpect.tier = "standard"\n')
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL case 1" in out and out.splitlines()[-1] == "1 passed, 1 failed"


def test_test_command_with_a_broken_test_file(in_repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "default.toml").write_text((ROOT / "rules" / "default.toml").read_text())
    (tmp_path / "default.test.toml").write_text('[[cases]]\nprompt = "hi"\nexpect = { tierr = "bulk" }\n')
    assert main(["test", str(tmp_path / "default.test.toml")]) == 1
    out = capsys.readouterr().out
    assert "RR101 error: unknown key 'tierr' in cases[0].expect" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_schema_file_is_in_sync(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == policy_schema()
    on_disk = json.loads((ROOT / "schemas" / "rulerouter.schema.json").read_text())
    assert on_disk == printed, "schemas/rulerouter.schema.json is stale: run `rulerouter schema > schemas/rulerouter.schema.json`"
    assert set(printed["properties"]) >= {"schema_version", "default_tier", "tiers", "models", "providers", "rules", "retry", "verification"}
    assert printed["additionalProperties"] is False


def test_init_writes_a_starter_that_lints_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    target = tmp_path / "sub" / "policy.toml"
    assert main(["init", str(target)]) == 0
    assert target.exists()
    assert main(["lint", "--strict", str(target)]) == 0
    assert main(["init", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
