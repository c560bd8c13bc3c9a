"""Fixtures for the loopback-upstream tests: a running upstream, a client, and two helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from rulerouter.testing import LoopbackUpstream


@pytest.fixture
def up() -> Iterator[LoopbackUpstream]:
    with LoopbackUpstream() as upstream:
        yield upstream


@pytest.fixture
def client(up: LoopbackUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=up.base_url, timeout=5) as c:
        yield c


def chat_body(model: str = "m", prompt: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


@pytest.fixture
def chat(client: httpx.Client) -> Callable[..., httpx.Response]:
    """`chat(model, prompt, **body)`: one POST /chat/completions through the shared client."""

    def post(model: str = "m", prompt: str = "hello there", headers: dict[str, str] | None = None,
             **extra: Any) -> httpx.Response:
        return client.post("/chat/completions", json=chat_body(model, prompt, **extra), headers=headers)

    return post


def parse_sse(text: str) -> list[Any]:
    """The `data:` payloads of an SSE body: JSON objects, or the raw string when not JSON."""
    events = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block.removeprefix("data: ")
            try:
                events.append(json.loads(data))
            except ValueError:
                events.append(data)
    return events


@pytest.fixture
def sse() -> Callable[[str], list[Any]]:
    return parse_sse


@pytest.fixture
def body() -> Callable[..., dict[str, Any]]:
    return chat_body
