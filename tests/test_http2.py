"""A provider with `http2 = true`: calls go over HTTP/2, to a real h2c server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Iterator

import pytest

from rulerouter import Router
from rulerouter.errors import UsageError

from .test_streaming import collect

h2_connection = pytest.importorskip("h2.connection", reason="HTTP/2 needs the h2 package (the http2 extra)")
import h2.config  # noqa: E402
import h2.events  # noqa: E402


class _H2Protocol(asyncio.Protocol):
    """HTTP/2 with prior knowledge: answers chat completions, streamed or not, like an upstream."""

    def __init__(self, server: H2Server) -> None:
        self.server = server
        self.conn = h2_connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.requests: dict[int, dict[str, Any]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections += 1
        self.conn.initiate_connection()
        self.transport.write(self.conn.data_to_send())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.requests[event.stream_id] = {"headers": dict(event.headers), "body": b""}
            elif isinstance(event, h2.events.DataReceived):
                self.requests[event.stream_id]["body"] += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.answer(event.stream_id)
        self.transport.write(self.conn.data_to_send())  # type: ignore[attr-defined]

    def answer(self, stream_id: int) -> None:
        request = self.requests.pop(stream_id)
        body = json.loads(request["body"])
        self.server.seen.append((request["headers"][":method"], request["headers"][":path"], request["headers"].get("authorization"), body))
        model = body["model"]
        if body.get("stream"):
            self.conn.send_headers(stream_id, [(":status", "200"), ("content-type", "text/event-stream")])
            for delta, finish in (({"role": "assistant", "content": "over "}, None), ({"content": "h2"}, None), ({}, "stop")):
                chunk = {"id": "c", "object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                self.conn.send_data(stream_id, b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.conn.send_data(stream_id, b"data: [DONE]\n\n", end_stream=True)
            return
        payload = json.dumps({"id": "c", "object": "chat.completion", "model": model,
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": "over h2"}, "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}).encode()
        self.conn.send_headers(stream_id, [(":status", "200"), ("content-type", "application/json"), ("content-length", str(len(payload)))])
        self.conn.send_data(stream_id, payload, end_stream=True)


class H2Server:
    """An h2c server on a thread of its own; counts connections, records requests."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None, dict[str, Any]]] = []
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(self._loop.create_server(lambda: _H2Protocol(self), "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


POLICY = """
schema_version = 1
default_tier = "cheap"
[tiers]
cheap = "m"
[providers.h2]
base_url = "http://127.0.0.1:{port}/v1"
api_key_env = "KEY"
http2 = true
timeout_s = 5
[models.m]
price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
"""


@pytest.fixture
def server() -> Iterator[H2Server]:
    s = H2Server()
    yield s
    s.stop()


def test_calls_go_over_http2_sync_async_and_streamed(server: H2Server) -> None:
    router = Router.from_toml(POLICY.format(port=server.port), env={"KEY": "sk-h2"})
    result = router.complete("hi")
    assert (result.content, result.usage.total_tokens) == ("over h2", 5)

    async def many() -> list[str | None]:
        try:
            return [r.content for r in await asyncio.gather(*(router.acomplete(f"q{i}") for i in range(10)))]
        finally:
            await router.aclose()

    before = server.connections
    assert asyncio.run(many()) == ["over h2"] * 10
    assert server.connections - before == 1  # ten concurrent requests multiplexed over one connection
    for mode in ("sync", "async"):
        _, stream, error = collect(router, mode, "hi")
        assert error is None and stream.text == "over h2"
    assert {(m, p, a) for m, p, a, _ in server.seen} == {("POST", "/v1/chat/completions", "Bearer sk-h2")}
    assert [b.get("stream", False) for *_, b in server.seen][-2:] == [True, True]
    router.close()


def test_http2_without_h2_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import rulerouter.execute.providers as providers

    monkeypatch.setattr(providers, "http2_available", lambda: False)
    router = Router.from_toml(POLICY.format(port=9), env={"KEY": "k"})
    with pytest.raises(UsageError, match=r"http2 = true, which needs the h2 package: pip install 'rulerouter\[http2\]'"):
        router.executor  # noqa: B018
