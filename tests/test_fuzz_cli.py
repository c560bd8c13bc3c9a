"""Fuzzing the command line: hostile batch files and outputs, and every argument of every command.

Beside `tests/test_fuzz.py` (rule files, requests, gateway bodies), and run by `make soak` with
the long profile too. Asserted: `rulerouter batch` never changes its input, never leaves half a
file, writes one record per non-blank input line and exits 0 only when every one succeeded, 1
when some did not, 2 (before doing anything) for an output it must not write; and no argument
of any command, however wrong, gets anything but exit 2 with a usage message from argparse.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rulerouter.boundary import check
from rulerouter.cli import build_parser, main
from rulerouter.testing import LoopbackUpstream, Reply

from .test_execute import KEY, POLICY
from .test_fuzz import examples

# --- batch files ---------------------------------------------------------------------------------

HOSTILE_LINES = [
    "[" * 3000 + "]" * 3000, '{"id": "d", "prompt": "x", "metadata": ' + "[" * 80 + "]" * 80 + "}",
    '{"prompt": "x", "params": {"temperature": NaN}}', '{"prompt": "x", "params": {"top_p": Infinity}}', '{"prompt": 1e999}',
    '{"prompt": "x", "params": {"seed": ' + "9" * 5000 + "}}", '{"prompt": 5}', '{"messages": 5}', '{"messages": [5]}',
    '"\\ud83d"', '{"id": "\\udc80", "prompt": "x"}', '{"id": ["a"], "prompt": "y"}', "[]", "null", "5", '{"prompt": "x", "tier": "nope"}',
    '{"prompt": "x", "model": 7}', '{"prompt": "x", "params": 3}', '{"prompt": "x", "stream": true}', "{not json", "\t ",
]
line = st.one_of(
    st.builds(lambda i, p: json.dumps({"id": i, "prompt": p}), st.sampled_from(["a", "b", "c"]), st.text(max_size=20)),
    st.binary(max_size=30).filter(lambda b: b"\n" not in b),
    st.sampled_from(HOSTILE_LINES),
)


def records(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in data.split(b"\n") if raw.strip()]


def non_blank_lines(data: bytes) -> int:
    return sum(1 for raw in data.removeprefix(b"\xef\xbb\xbf").split(b"\n") if raw.strip())


@pytest.fixture(scope="module")
def batch_policy(upstream: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("batch") / "policy.toml"
    path.write_text(POLICY.format(base_url=upstream.base_url, max_attempts=1, retries=0, threshold=100, verify="false", unparsable="keep"))
    return path


@examples(40, 600)
@given(lines=st.lists(line, max_size=8), bom=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"]),
       target=st.sampled_from(["new", "earlier", "same", "symlink", "hardlink", "relative", "directory", "device"]))
def test_batch_never_damages_a_file(batch_policy: Path, upstream: LoopbackUpstream, lines: list[Any], bom: bytes, target: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["TEST_KEY"] = KEY
    upstream.reset()
    upstream.default(Reply("done"))
    data = bom + b"\n".join(x if isinstance(x, bytes) else x.encode("utf-8", "surrogatepass") for x in lines) + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        source = directory / "in.jsonl"
        source.write_bytes(data)
        out = directory / "out.jsonl"
        earlier = json.dumps({"id": "earlier", "ok": True}).encode() + b"\n" + b'{"id": "cut sh'
        output: Path | str = {"same": source, "relative": os.path.relpath(source), "directory": directory, "device": "/dev/null"}.get(target, out)
        if target == "earlier":
            out.write_bytes(earlier)
        elif target == "symlink":
            out.symlink_to(source)
        elif target == "hardlink":
            os.link(source, out)
        code = main(["batch", "-c", str(batch_policy), "--input", str(source),
                     "--output", str(output), "--concurrency", "3"])
        err = capsys.readouterr().err
        assert "Traceback" not in err and "internal error" not in err
        assert source.read_bytes() == data  # the input, whatever happened
        leftovers = [p.name for p in directory.iterdir() if p.name.startswith(".")]
        if target in ("same", "symlink", "hardlink", "relative", "directory", "device") or bom == b"\xff\xfe":
            assert code == 2 and not upstream.requests and not leftovers, (code, err)
            return
        assert code in (0, 1) and not leftovers
        written = records(out.read_bytes())
        if target == "earlier":
            assert written[0] == {"id": "earlier", "ok": True}
            written = written[1:]
        assert len(written) == non_blank_lines(data)  # one record per line: nothing dropped, nothing twice
        assert sorted(r["line"] for r in written) == sorted({r["line"] for r in written})
        assert code == (0 if all(r["ok"] for r in written) else 1)
        assert all(isinstance(request.body, dict) for request in upstream.requests)  # what went upstream was JSON


# --- every argument of every command -------------------------------------------------------------

def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def valued_options() -> list[tuple[str, argparse.Action]]:
    """(command, action) for every option and positional that takes a value."""
    return [(name, action) for name, sub in commands().items() for action in sub._actions
            if action.nargs != 0 and not isinstance(action, argparse._HelpAction)]


def minimal_argv(command: str, sub: argparse.ArgumentParser, skip: argparse.Action) -> list[str]:
    """What `command` needs to parse at all: its required positionals and options, as "x"."""
    argv = [command]
    for action in sub._actions:
        if action is skip:
            continue
        if action.option_strings and action.required:
            argv += [action.option_strings[0], "x"]
        elif not action.option_strings and action.nargs is None:
            argv.append("x")
    return argv


def test_every_typed_argument_says_what_it_accepts() -> None:
    """No bare int or float: every number has its range, every JSON value meets the boundary."""
    for command, action in valued_options():
        if action.type is not None:
            assert hasattr(action.type, "kind"), f"{command} {action.option_strings or action.dest}: type {action.type} has no declared range"


def near_the_bounds(action: argparse.Action) -> list[str]:
    low, high = getattr(action.type, "bounds", (None, None))
    out = []
    for bound in (low, high):
        if bound is not None:
            out += [repr(bound - 1), repr(bound), repr(bound + 1), repr(bound - 0.5), repr(bound + 1e-9)]
    return out


ARGUMENT_TEXT = st.one_of(
    st.text(max_size=12), st.integers(-10**25, 10**25).map(str), st.floats().map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "-0", "0x10", "1_000", " 7 ", "", "9" * 5000, "[" * 3000, "٣", "{}",
                     '{"a": NaN}', '{"a": "\\ud800"}', '{"a": 1e999}', "[1]", "null", "team=0.5", "=1", "a=nan", "{", "{0", "{item:>9999999}"]),
)


def accepted(action: argparse.Action, value: Any) -> None:
    """A value argparse let through is within what the argument's type declares."""
    kind = getattr(action.type, "kind", None)
    if action.choices is not None:
        assert value in action.choices
    if kind in ("whole number", "number"):
        low, high = action.type.bounds  # type: ignore[union-attr]
        assert math.isfinite(value) and low <= value and (high is None or value <= high)
        above, below = getattr(action.type, "strict", (False, False))
        assert (value > low or not above) and (high is None or value < high or not below)
    elif kind == "numbers":
        assert value and all(math.isfinite(v) and v >= action.type.bounds[0] for v in value)  # type: ignore[union-attr]
    elif kind == "json":
        check(value, "x")  # the boundary accepts it
        assert isinstance(value, dict) or not action.type.object_only  # type: ignore[union-attr]
    elif kind == "spend":
        assert math.isfinite(value[1]) and value[1] >= 0 and value[0]


@examples(400, 5000)
@given(data=st.data())
def test_every_bad_argument_exits_2_with_a_usage_message(data: st.DataObject) -> None:
    command, action = data.draw(st.sampled_from(valued_options()))
    text = data.draw(st.one_of(ARGUMENT_TEXT, st.sampled_from(near_the_bounds(action) or ["0"])))
    sub = commands()[command]
    argv = minimal_argv(command, sub, action)[1:]
    argv += [action.option_strings[0], text] if action.option_strings else [text]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            parsed = sub.parse_args(argv)
    except SystemExit as stop:
        assert stop.code == 2
        assert err.getvalue().startswith(f"usage: rulerouter {command}") and f"rulerouter {command}: error: " in err.getvalue()
        assert "Traceback" not in err.getvalue()
        return
    value = getattr(parsed, action.dest)
    accepted(action, value[-1] if isinstance(action, argparse._AppendAction) or action.nargs in ("*", "+") else value)
