"""Fuzzing the command line: hostile batch files and outputs, and every argument of every command.

Beside `tests/test_fuzz.py` (rule files, requests, gateway bodies), and run by `make soak` with
the long profile too. Asserted: `rulerouter batch` never changes its input, never leaves half a
file, writes one record per non-blank input line and exits 0 only when every one succeeded, 1
when some did not, 2 (before doing anything) for an output it must not write; and no argument
of any command, however wrong, gets anything but exit 2 with a usage message from argparse.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rulerouter.cli import main
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
