"""FastAsyncTransport.post: the whole-reply path rulerouter's own calls take, against the same
stdlib server as tests/test_transport.py — request bytes, framing, reuse, timeouts, broken
peers, header injection, cancellation and the pool's slots."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rulerouter.execute.transport.pool import FastAsyncTransport
from tests.test_transport import SSE_EVENTS, no_asyncio_errors, run  # noqa: F401  (the fixture is autouse)

HEADERS = [(b"authorization", b"Bearer k"), (b"content-type", b"application/json")]
TIMEOUTS = httpx.Timeout(5.0).as_dict()


async def post(transport: FastAsyncTransport, url: str, body: bytes = b"", extra=(), timeouts=TIMEOUTS):
    return await transport.post(transport.endpoint(httpx.URL(url), HEADERS), body, extra, timeouts)


def test_request_bytes_are_exact_and_the_head_is_written_once():
    async def body(s):
        transport = FastAsyncTransport()
        endpoint = transport.endpoint(httpx.URL(s.base + "/echo?x=1"), HEADERS)
        status, headers, sent = await transport.post(endpoint, b'{"a": "h\xc3\xa9"}', [(b"x-extra", b"1")], TIMEOUTS)
        assert status == 200 and (b"Content-Type", b"application/octet-stream") in headers
        head, _, rest = sent.partition(b"\r\n\r\n")
        assert head.split(b"\r\n") == [b"POST /echo?x=1 HTTP/1.1", b"Host: 127.0.0.1:%d" % s.port, b"authorization: Bearer k",
                                       b"content-type: application/json", b"content-length: %d" % len(rest), b"x-extra: 1"]
        assert rest == b'{"a": "h\xc3\xa9"}'
        first = endpoint.head
        assert first is not None
        _, _, again = await transport.post(endpoint, b"{}", (), TIMEOUTS)
        assert endpoint.head is first and again.endswith(b"content-length: 2\r\n\r\n{}")
        assert s.accepted == 1  # kept alive and reused
        await transport.aclose()

    run(body)


@pytest.mark.parametrize("path, expected", [
    ("/big", bytes(range(256)) * 16384),  # 4 MiB in many packets
    ("/chunked-split", b"hello world!!!"),  # chunk framing split across packets
    ("/until-close", b"part one, part two"),  # no length: ends when the server closes
    ("/sse", b"".join(event + b"\n\n" for event in SSE_EVENTS)),  # chunked, trailers dropped
    ("/early-hints", b"final"),  # a 103 before the answer
])
def test_whole_bodies_in_every_framing(path, expected):
    async def body(s):
        s.go.set()
        transport = FastAsyncTransport()
        status, _, got = await post(transport, s.base + path)
        assert (status, got) == (200, expected)
        assert (await post(transport, s.base + "/json"))[2] == b'{"ok": true}'  # the pool still works
        await transport.aclose()

    run(body)


def test_read_timeout_before_the_head_and_between_body_packets():
    async def body(s):
        transport = FastAsyncTransport()
        timeouts = httpx.Timeout(5.0, read=0.1).as_dict()
        with pytest.raises(httpx.ReadTimeout):
            await post(transport, s.base + "/slow=1", timeouts=timeouts)
        with pytest.raises(httpx.ReadTimeout):
            await post(transport, s.base + "/stall-body", timeouts=timeouts)
        assert (await post(transport, s.base + "/slow=0.01", timeouts=timeouts))[2] == b"late"
        await transport.aclose()
        await asyncio.sleep(0.05)
        assert s.accepted == 3  # both timed-out connections were dropped, not reused

    run(body)


def test_a_peer_that_closes_resets_or_answers_garbage():
    async def body(s):
        transport = FastAsyncTransport()
        with pytest.raises(httpx.RemoteProtocolError, match="mid-body"):
            await post(transport, s.base + "/truncate")
        with pytest.raises(httpx.ReadError, match="mid-body.*reset"):
            await post(transport, s.base + "/reset")
        with pytest.raises(httpx.RemoteProtocolError, match="before sending a complete response head"):
            await post(transport, s.base + "/no-response")
        with pytest.raises(httpx.RemoteProtocolError, match="Invalid HTTP response"):
            await post(transport, s.base + "/garbage")
        with pytest.raises(httpx.ConnectError):
            await post(transport, "http://127.0.0.1:1/v1")
        assert (await post(transport, s.base + "/json"))[0] == 200
        await transport.aclose()

    run(body)


def test_injected_extra_headers_are_refused_before_sending():
    async def body(s):
        transport = FastAsyncTransport()
        for extra in ([(b"x-evil", b"a\r\nx-injected: 1")], [(b"x-evil\r\nx-injected", b"1")], [(b"x-nul", b"a\0b")]):
            with pytest.raises(httpx.LocalProtocolError):
                await post(transport, s.base + "/json", extra=extra)
        await transport.aclose()
        assert s.requests == []

    run(body)


def test_an_answer_before_the_upload_ends_is_returned_and_the_connection_dropped():
    async def body(s):
        transport = FastAsyncTransport()
        status, _, got = await post(transport, s.base + "/unread-answer", b"x" * (64 * 1024 * 1024),
                                    timeouts=httpx.Timeout(5.0, write=3.0).as_dict())
        assert (status, got) == (413, b"too large")
        assert (await post(transport, s.base + "/json"))[0] == 200
        await transport.aclose()
        assert s.accepted == 2  # the half-written connection was not reused

    run(body)


def test_a_cancelled_post_closes_its_connection_and_frees_its_slot():
    async def body(s):
        transport = FastAsyncTransport(max_connections=1)
        timeouts = httpx.Timeout(5.0, pool=0.3).as_dict()
        task = asyncio.create_task(post(transport, s.base + "/hold", timeouts=timeouts))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await post(transport, s.base + "/json", timeouts=timeouts))[0] == 200
        assert s.accepted == 2
        # a second caller waits for the only connection, and gets it when the first is answered
        holder = asyncio.create_task(post(transport, s.base + "/hold", timeouts=timeouts))
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(post(transport, s.base + "/json", timeouts=timeouts))
        await asyncio.sleep(0.05)
        s.release.set()
        assert (await holder)[2] == b"held" and (await waiter)[2] == b'{"ok": true}'
        await transport.aclose()
        assert s.accepted == 2

    run(body)


def test_acomplete_decodes_a_compressed_reply_and_reads_headers_by_any_case():
    from rulerouter import Router
    from rulerouter.execute.providers import ReplyHeaders

    async def body(s):
        router = Router.from_toml(f"""
schema_version = 1
default_tier = "cheap"
[tiers]
cheap = "m"
[providers.up]
base_url = "{s.base}/gzip"
headers = {{ accept-encoding = "gzip" }}
[models.m]
""")
        result = await router.acomplete("hi")
        assert (result.content, result.usage.prompt_tokens) == ("squeezed", 3)
        assert b"accept-encoding: gzip" in s.requests[0][0]
        await router.aclose()

    run(body)
    headers = ReplyHeaders([(b"Retry-After", b"2"), (b"retry-after", b"9"), (b"X-A", b"1")])
    assert headers.get("retry-after") == "2" and headers["RETRY-AFTER"] == "2" and "x-a" in headers
    assert headers.has(b"x-a") and not headers.has(b"x-b") and headers.get("x-b") is None and len(headers) == 2
