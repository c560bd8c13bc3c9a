"""Shared fixtures. The suite talks to nothing but 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from rulerouter.testing import LoopbackUpstream

from .redis_server import RedisServer, missing

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server per test session, on a free port (skipped, saying why, without one)."""
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, running and emptied for this test."""
    if redis_server.proc is None:
        redis_server.start()
    redis_server.client().flushall()
    return redis_server.url


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
