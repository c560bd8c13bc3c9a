"""Shared fixtures. The suite talks to nothing but 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run with the repository root as the working directory (paths in output are relative)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("RULEROUTER_RULES", raising=False)
    return ROOT
