"""The README's Python examples run as written (against the loopback upstream and a real gateway)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from rulerouter.testing import LoopbackUpstream

from .conftest import ROOT
from .gateway_helpers import serve

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def run(code: str, namespace: dict[str, Any]) -> None:
    if re.search(r"^\S.*\bawait\b", code, re.M):  # a top-level await: run it in a coroutine
        body = "".join(f"    {line}\n" for line in code.splitlines())
        exec(f"async def __example():\n{body}", namespace)
        asyncio.run(namespace["__example"]())
    else:
        exec(code, namespace)


def test_every_python_example_runs(up: LoopbackUpstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("RULEROUTER_BASE_URL", up.base_url)
    assert len(BLOCKS) >= 7
    namespace: dict[str, Any] = {}
    with serve(up.base_url, tmp_path) as served:
        for code in BLOCKS:
            run(code.replace("http://127.0.0.1:8080/v1", served.base_url), namespace)
    out = capsys.readouterr().out
    assert "bulk deepseek-chat bulk-signals" in out  # what the quick start says it prints
