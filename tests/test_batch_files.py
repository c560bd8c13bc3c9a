"""`rulerouter batch` never damages a file: not the input, not the output, not on a crash.

The classes: an output that is the input (by any path), an output that is no file, input that
is not UTF-8 or has bad lines, a run killed mid-way, and a rerun that leaves failures behind.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rulerouter.cli import main
from rulerouter.testing import LoopbackUpstream, Reply, Status

from .test_batch import echo, read_jsonl, write_policy
from .test_execute import KEY

LINES = [json.dumps({"id": f"r{i}", "prompt": f"item {i}"}) for i in range(3)]


@pytest.fixture
def policy(up: LoopbackUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TEST_KEY", KEY)
    up.default(echo)
    return write_policy(up, tmp_path)


def batch(policy: Path, source: Path | str, output: Path | str, *extra: str) -> int:
    return main(["batch", "-c", str(policy), "--input", str(source), "--output", str(output), *extra])


def same_file_spellings(tmp_path: Path, source: Path) -> list[Path | str]:
    (tmp_path / "link.jsonl").symlink_to(source)
    os.link(source, tmp_path / "hard.jsonl")
    (tmp_path / "sub").mkdir()
    return [source, tmp_path / "link.jsonl", tmp_path / "hard.jsonl", tmp_path / "sub" / ".." / source.name, os.path.relpath(source)]


def test_the_output_may_not_be_the_input_by_any_path(policy: Path, tmp_path: Path, up: LoopbackUpstream,
                                                    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(LINES) + "\n")
    before = source.read_bytes()
    for output in same_file_spellings(tmp_path, source):
        assert batch(policy, source, output) == 2, output
        err = capsys.readouterr().err
        assert "is the same file as --input" in err and "Traceback" not in err
        # and the other way round: the input named through a link, the output by its own name
        assert batch(policy, output, source) == 2
        capsys.readouterr()
    assert source.read_bytes() == before and not up.requests  # refused before any request


def test_an_output_that_is_no_file_is_refused(policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(LINES[0] + "\n")
    cases = {tmp_path: "is a directory", Path("/dev/null"): "is not a regular file",
             tmp_path / "missing" / "out.jsonl": "does not exist"}
    for output, said in cases.items():
        assert batch(policy, source, output) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err and "internal error" not in err


def test_input_that_is_not_utf8_is_repaired_and_the_lines_named(policy: Path, tmp_path: Path, up: LoopbackUpstream,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"id": "a", "prompt": "caf\xe9 au lait"}\n{"id": "b\xff", "prompt": "fine"}\n')
    out = tmp_path / "out.jsonl"
    assert batch(policy, source, out) == 0
    err = capsys.readouterr().err
    assert "not UTF-8 on line(s) 1, 2" in err and "repaired (U+FFFD)" in err
    records = {r["id"]: r for r in read_jsonl(out)}
    assert records["a"]["repaired"] == ["prompt"] and "caf\ufffd au lait" in records["a"]["content"]
    assert records["b\ufffd"]["ok"]  # an id is text too: repaired, never a crash when it is written
    assert sorted(r.prompt for r in up.requests) == ["caf\ufffd au lait", "fine"]


def test_a_utf16_file_is_refused_whole(policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(LINES[0] + "\n", encoding="utf-16")
    assert batch(policy, source, tmp_path / "out.jsonl") == 2
    assert "is UTF-16 text" in capsys.readouterr().err and not (tmp_path / "out.jsonl").exists()


def test_bad_lines_are_named_with_their_line_and_why(policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([
        LINES[0],
        "{not json",
        "[" * 2000 + "]" * 2000,
        '{"id": "deep", "prompt": "x", "metadata": ' + "[" * 100 + "]" * 100 + "}",
        '{"id": "nan", "prompt": "x", "params": {"temperature": NaN}}',
        '{"id": "number", "prompt": 5}',
        '{"id": "big", "prompt": "x", "params": {"seed": 1' + "0" * 5000 + "}}",
        "42",
        LINES[0],
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    assert batch(policy, source, out) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    records = {r["id"]: r for r in read_jsonl(out)}
    assert records["r0"]["ok"] and records["r0"]["line"] == 1
    expected = {"line-2": (2, "not valid JSON"), "line-3": (3, "more than 64 levels deep"), "deep": (4, "more than 64 levels deep"),
                "nan": (5, "'temperature' is NaN"), "number": (6, "'prompt' must be a string, not int"), "big": (7, "an integer of 5001 digits"),
                "line-8": (8, "prompt string or an object"), "r0#line-9": (9, "duplicate id 'r0' (first on line 1)")}
    for item_id, (line, why) in expected.items():
        record = records[item_id]
        assert not record["ok"] and record["line"] == line and why in record["error"]["message"], record
        assert f"{source}:{line}" in err  # stderr names every bad line
    assert "int_max_str_digits" not in err  # the request is at fault, not Python


def test_a_rerun_exits_1_while_earlier_failures_remain(policy: Path, tmp_path: Path, up: LoopbackUpstream,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([LINES[0], json.dumps({"id": "f", "prompt": "fail me"}), "{broken"]) + "\n")
    out = tmp_path / "out.jsonl"
    assert batch(policy, source, out) == 1
    capsys.readouterr()
    assert batch(policy, source, out) == 1  # nothing run, but two items still have no answer
    err = capsys.readouterr().err
    assert "2 item(s) failed in an earlier run and were not run again (f, line-3); add --retry-errors" in err
    up.reset()
    up.default(Reply("now fine"))
    source.write_text("\n".join([LINES[0], json.dumps({"id": "f", "prompt": "fail me"})]) + "\n")  # the broken line fixed away
    assert batch(policy, source, out, "--retry-errors") == 0
    assert batch(policy, source, out) == 0  # every item of the input has an answer now
    assert [r["ok"] for r in read_jsonl(out) if r["id"] == "f"] == [False, True]


def test_the_output_is_replaced_atomically_keeping_its_permissions(policy: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "old", "ok": True}) + "\n")
    out.chmod(0o640)
    link = tmp_path / "out-link.jsonl"
    link.symlink_to(out)
    assert batch(policy, source, link) == 0
    assert link.is_symlink() and stat.S_IMODE(out.stat().st_mode) == 0o640  # the target was replaced, not the link
    ids = [r["id"] for r in read_jsonl(out)]
    assert ids[0] == "old" and sorted(ids[1:]) == ["r0", "r1", "r2"]  # earlier results first, then this run's
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")]  # no journal or temp file left


def test_a_run_killed_midway_leaves_the_output_whole_and_the_rerun_finishes(up: LoopbackUpstream, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
    up.default(lambda request: Reply("slow", delay=0.2) if "slow" in request.prompt else Reply("quick"))
    policy = write_policy(up, tmp_path)
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({"id": f"q{i}", "prompt": "quick" if i < 3 else "slow"}) for i in range(40)) + "\n")
    out = tmp_path / "out.jsonl"
    earlier = json.dumps({"id": "earlier", "ok": True}) + "\n"
    out.write_text(earlier)
    journal = tmp_path / ".out.jsonl.partial"
    command = [sys.executable, "-m", "rulerouter", "batch", "-c", str(policy), "--input", str(source), "--output", str(out), "--concurrency", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or journal.read_text().count("\n") < 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no handler runs: what is on disk is all there is
    proc.wait(timeout=30)
    assert out.read_text() == earlier  # untouched: never half a file
    assert journal.read_text().count("\n") >= 4
    done_before = {json.loads(line)["id"] for line in journal.read_text().splitlines() if line.strip()}
    up.reset()
    up.default(Reply("quick"))
    assert main(["batch", "-c", str(policy), "--input", str(source), "--output", str(out), "--concurrency", "8"]) == 0
    ids = [r["id"] for r in read_jsonl(out)]
    assert sorted(ids) == sorted(["earlier"] + [f"q{i}" for i in range(40)])  # each once: none lost, none run twice
    assert not {r.prompt for r in up.requests} - {"slow"} and len(up.requests) == 40 - len(done_before)
    assert not journal.exists()


def test_other_outputs_may_not_overwrite_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], in_repo: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"event": "request", "tier": "standard", "model": "m"}) + "\n")
    before = log.read_bytes()
    (tmp_path / "log-link.jsonl").symlink_to(log)
    for argv in (["report", str(log), "--output", str(tmp_path / "log-link.jsonl")],
                 ["report", str(log), "--output", str(tmp_path)],
                 ["train", str(log), "-o", str(log)],
                 ["tune", str(log), "-c", "rules/recommended.toml", "-o", str(log)],
                 ["tune", str(log), "-c", "rules/recommended.toml", "-o", "rules/recommended.toml"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert ("same file as" in err or "is a directory" in err) and "Traceback" not in err
    assert log.read_bytes() == before


def test_a_failing_upstream_is_named_per_line_on_stderr(policy: Path, tmp_path: Path, up: LoopbackUpstream,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    for model in ("small-upstream", "medium", "large"):
        up.script(model, *[Status(500)] * 10)
    source = tmp_path / "in.jsonl"
    source.write_text(LINES[0] + "\n")
    assert batch(policy, source, tmp_path / "out.jsonl") == 1
    err = capsys.readouterr().err
    assert f"{source}:1: r0: AllAttemptsFailed" in err and KEY not in err
