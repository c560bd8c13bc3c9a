"""Shared fixtures. The suite talks to nothing but 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from rulerouter.testing import LoopbackUpstream

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run with the repository root as the working directory (paths in output are relative)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("RULEROUTER_RULES", raising=False)
    return ROOT


@pytest.fixture(scope="module")
def upstream() -> Iterator[LoopbackUpstream]:
    """One loopback OpenAI-compatible server per test module."""
    with LoopbackUpstream() as up:
        yield up


@pytest.fixture
def up(upstream: LoopbackUpstream) -> LoopbackUpstream:
    """The module's loopback server, with no scripts, defaults or records left from other tests."""
    upstream.reset()
    return upstream
