"""A caller that goes away, at any point, cuts the upstream call off and is recorded as `cancelled`.

Before: a gateway client that left before the first byte was not noticed — the upstream call
ran to its end, was logged `ok` and charged. Now the gateway watches for the disconnect while it
waits (`request_boundary.while_connected`), the library records any caller that stops waiting
(a cancelled task, a stream closed early), and the request's event says `outcome: cancelled`,
lists the attempts made so far — the one cut off in flight as `cancelled`, its cost unknown —
and `cost_so_far`, the part of the cost that is known.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from rulerouter import Router
from rulerouter.testing import LoopbackUpstream, Reply, Status

from .gateway_helpers import POLICY, Served, serve


@pytest.fixture(scope="module")
def gateway(upstream: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(upstream.base_url, tmp_path_factory.mktemp("gone")) as served:
        yield served


def events(log: Path, outcome: str, more_than: int = -1, wait: float = 3.0) -> list[dict[str, Any]]:
    """The request events with this outcome, waiting up to `wait` seconds for more than `more_than`."""
    deadline = time.monotonic() + wait
    while True:
        found = [e for e in map(json.loads, log.read_text().splitlines() if log.exists() else []) if e.get("event") == "request" and e.get("outcome") == outcome]
        if len(found) > more_than or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def leave_after(gateway: Served, body: dict[str, Any], seconds: float, read_first: bool = False, path: bytes = b"/v1/chat/completions") -> bytes:
    host, port = gateway.root.removeprefix("http://").rsplit(":", 1)
    raw = json.dumps(body).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST " + path + b" HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: "
                     + str(len(raw)).encode() + b"\r\n\r\n" + raw)
        got = sock.recv(65536) if read_first else b""
        time.sleep(seconds)
    return got


def cancelled_count(gateway: Served) -> int:
    text = httpx.get(f"{gateway.root}/metrics").text
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("rulerouter_requests_total") and 'outcome="cancelled"' in line)


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_before_the_first_byte_cuts_the_upstream_call_off(up: LoopbackUpstream, gateway: Served, stream: bool) -> None:
    before = len(events(gateway.log, "cancelled", wait=0))
    counted = cancelled_count(gateway)
    up.script("small", Reply("too late", delay=4))
    started = time.monotonic()
    leave_after(gateway, {"stream": stream, "messages": [{"role": "user", "content": "slow please"}]}, 0.3)
    found = events(gateway.log, "cancelled", before)
    assert len(found) == before + 1 and time.monotonic() - started < 3  # noticed at once, not when the answer came
    event = found[-1]
    assert event["stream"] is stream and event["model"] is None
    assert [(a["model"], a["outcome"], a["error_kind"], a["cost"]) for a in event["attempts"]] == [("small", "cancelled", "cancelled", None)]
    assert event["cost"] is None and event["cost_known"] is False and event["cost_so_far"] == 0.0
    assert event["error"]["type"] == "Cancelled"
    deadline = time.monotonic() + 3
    while not up.requests[-1].abandoned and time.monotonic() < deadline:
        time.sleep(0.05)
    assert up.requests[-1].abandoned  # the gateway closed its upstream connection: the call was cut off
    assert cancelled_count(gateway) == counted + 1
    assert all(e["request_id"] != event["request_id"] for e in events(gateway.log, "ok", wait=0))


@pytest.mark.parametrize("stream", [False, True])
def test_the_anthropic_front_door_notices_too(up: LoopbackUpstream, gateway: Served, stream: bool) -> None:
    before = len(events(gateway.log, "cancelled", wait=0))
    up.script("small", Reply("too late", delay=4))
    started = time.monotonic()
    leave_after(gateway, {"model": "auto", "max_tokens": 50, "stream": stream, "messages": [{"role": "user", "content": "slow please"}]}, 0.3,
                path=b"/v1/messages")
    found = events(gateway.log, "cancelled", before)
    assert len(found) == before + 1 and time.monotonic() - started < 3
    assert found[-1]["attempts"][-1]["outcome"] == "cancelled"


def test_a_client_that_leaves_mid_stream_cuts_the_upstream_stream_off(up: LoopbackUpstream, gateway: Served) -> None:
    before = len(events(gateway.log, "cancelled", wait=0))
    up.script("small", Reply("word " * 50, chunk_delay=1.0))
    got = leave_after(gateway, {"stream": True, "messages": [{"role": "user", "content": "a slow stream"}]}, 0.3, read_first=True)
    assert b"200 OK" in got
    found = events(gateway.log, "cancelled", before)
    assert len(found) == before + 1
    assert found[-1]["stream"] is True and "chunk(s) of the stream" in found[-1]["error"]["message"]
    deadline = time.monotonic() + 3
    while not up.requests[-1].abandoned and time.monotonic() < deadline:
        time.sleep(0.05)
    assert up.requests[-1].abandoned


def test_the_attempts_before_the_cut_keep_their_outcomes_and_costs(up: LoopbackUpstream, gateway: Served) -> None:
    before = len(events(gateway.log, "cancelled", wait=0))
    up.script("small", Status(503))
    up.script("large", Reply("too late", delay=4))
    leave_after(gateway, {"messages": [{"role": "user", "content": "falls back, then the client leaves"}]}, 0.5)
    found = events(gateway.log, "cancelled", before)
    assert len(found) == before + 1
    attempts = found[-1]["attempts"]
    assert [(a["model"], a["outcome"], a["error_kind"]) for a in attempts] == [("small", "error", "server_error"), ("large", "cancelled", "cancelled")]
    assert attempts[0]["cost"] == 0.0 and attempts[1]["cost"] is None


LIBRARY_POLICY = POLICY.replace('[log]\ndestination = "{log}"\n', "")


def test_a_cancelled_library_call_is_recorded_and_cut_off(up: LoopbackUpstream) -> None:
    router = Router.from_toml(LIBRARY_POLICY.format(base_url=up.base_url), env={"GATEWAY_TEST_UPSTREAM_KEY": "k"})
    seen: list[dict[str, Any]] = []
    router.observer.add_sink(seen.append)
    up.script("small", Reply("too late", delay=4), Reply("word " * 40, chunk_delay=1.0))

    async def go() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(router.acomplete("slow"), 0.3)
        stream = router.astream("a slow stream")
        async for _ in stream:
            break  # the caller has what it wanted
        await stream.aclose()
        await router.aclose()

    asyncio.run(go())
    requests = [e for e in seen if e["event"] == "request"]
    assert [e["outcome"] for e in requests] == ["cancelled", "cancelled"]
    assert requests[0]["attempts"][-1]["outcome"] == "cancelled" and requests[0]["stream"] is False
    assert requests[1]["stream"] is True
    assert router.metrics.summary()["error_rate"] == 1.0
    deadline = time.monotonic() + 3
    while not all(r.abandoned for r in up.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.abandoned for r in up.requests] == [True, True]


def test_serve_s_protocol_tells_the_app_of_a_client_that_left_without_a_watcher_task() -> None:
    """`rulerouter serve`'s protocol hands each request the disconnect extension and calls it
    when the connection is lost mid-request; the app uses it instead of a task per request."""
    pytest.importorskip("uvicorn")
    import uvicorn

    from rulerouter.gateway.limits import ConnectionLimits
    from rulerouter.gateway.request_boundary import DISCONNECT_EXTENSION, ClientGone, while_connected
    from rulerouter.gateway.server import uvicorn_config

    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            return await send({"type": "lifespan.shutdown.complete"})
        await receive()
        seen["extension"] = DISCONNECT_EXTENSION in scope.get("extensions", {})
        tasks = len(asyncio.all_tasks())
        try:
            async with while_connected(scope, receive):
                seen["tasks_added"] = len(asyncio.all_tasks()) - tasks
                await asyncio.sleep(30)
        except ClientGone:
            seen["gone_at"] = time.monotonic()

    async def go() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn_config(app, ConnectionLimits()))
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:
            await asyncio.sleep(0.01)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        await writer.drain()
        while "tasks_added" not in seen:
            await asyncio.sleep(0.01)
        left_at = time.monotonic()
        writer.close()
        while "gone_at" not in seen and time.monotonic() < left_at + 3:
            await asyncio.sleep(0.01)
        server.should_exit = True
        await serving
        assert seen.get("gone_at", float("inf")) - left_at < 1.0  # noticed at once

    asyncio.run(go())
    assert seen["extension"] and seen["tasks_added"] == 0
