"""FastAsyncTransport against a small stdlib asyncio HTTP/1.1 server on 127.0.0.1.

The server runs in the test's own event loop; its behaviour is chosen by the request path.
It counts the TCP connections it accepts and the ones the client closed, so connection reuse,
pooling and cleanup after errors and cancellation are asserted from the server's side.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import logging
import shutil
import socket
import ssl
import struct
import subprocess
from typing import Self

import httpx
import pytest

from rulerouter.execute.transport.pool import FastAsyncTransport

SSE_EVENTS = [b'data: {"delta": "Hel"}', b'data: {"delta": "lo"}', b"data: [DONE]"]


def _resp(status: bytes = b"200 OK", body: bytes = b"", headers: tuple[bytes, ...] = ()) -> bytes:
    head = [b"HTTP/1.1 " + status, *headers]
    if not any(h.lower().startswith((b"content-length:", b"transfer-encoding:")) for h in headers):
        head.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class Server:
    """One behaviour per path; see ``route``."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.accepted = 0  # TCP connections accepted
        self.client_closed = 0  # connections the client closed (EOF or reset seen by the server)
        self.requests: list[tuple[bytes, bytes]] = []  # (raw head, body) as received
        self.release = asyncio.Event()  # /hold waits for it
        self.go = asyncio.Event()  # /sse waits for it after the first event
        self.stopping = asyncio.Event()
        self.violations: list[str] = []
        self.huge_sent_at = 0.0  # when /huge had all its body accepted by the kernel
        self._tasks: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, limit=4 << 20)
        self.port = self._server.sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        self.stopping.set()
        for w in self._writers:
            w.transport.abort()  # every handler waits on its reader, so each one ends now
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        self._writers.append(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError as e:
                    if not e.partial:  # the client closed between requests
                        self.client_closed += 1
                    return
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                method, target = head.split(b" ", 2)[:2]
                path = target.decode().partition("?")[0]
                body = b"" if path.startswith("/unread") else await reader.readexactly(length)
                self.requests.append((head, body))
                if not await self.route(method, path, head, body, reader, writer):
                    return
        except ConnectionError:
            self.client_closed += 1
        finally:
            writer.transport.abort()

    async def until(self, reader: asyncio.StreamReader, event: asyncio.Event, timeout: float | None = None) -> bool:
        """Wait for ``event`` or ``timeout``; False (and counted) if the client closes first."""
        waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(reader.read(1))]
        try:
            done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in waits:
                t.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        if waits[1] in done:
            self.client_closed += 1
            return False
        return True

    async def route(self, method, path, head, body, reader, writer) -> bool:
        w = writer.write
        if path == "/echo":  # the raw request comes back as the body
            w(_resp(body=head + body, headers=(b"Content-Type: application/octet-stream",)))
        elif path == "/json":
            w(_resp(body=b'{"ok": true}', headers=(b"Content-Type: application/json",)))
        elif path == "/headers":  # odd casing, repeats, spaces around values
            w(_resp(body=b"\x00\xffbin!", headers=(b"X-Mixed-Case:  v1 ", b"set-cookie: a=1", b"Set-Cookie: b=2")))
        elif path == "/close":  # the connection stays open: a client must not send on it again
            w(_resp(body=b"bye", headers=(b"Connection: close",)))
            await writer.drain()
            if await reader.read(1):
                self.violations.append("request on a connection the server said it would close")
            return False
        elif path == "/until-close":  # no length, no chunking: the body ends when the server closes
            w(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ")
            await writer.drain()
            await asyncio.sleep(0.01)
            w(b"part two")
            await writer.drain()
            return False
        elif path == "/sse":  # chunked, the first event before waiting for the test's go-ahead
            w(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i, event in enumerate(SSE_EVENTS):
                data = event + b"\n\n"
                w(b"%x;ext=1\r\n%s\r\n" % (len(data), data))
                await writer.drain()
                if i == 0 and not await self.until(reader, self.go):
                    return False
            w(b"0\r\nX-Trailer: t\r\n\r\n")
        elif path == "/chunked-split":  # chunk framing split at awkward places across writes
            data = b"%x\r\n%s\r\n" % (11, b"hello world") + b"3\r\n!!!\r\n0\r\n\r\n"
            w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(data), 3):
                w(data[i : i + 3])
                await writer.drain()
                await asyncio.sleep(0.001)
        elif path == "/big":
            w(_resp(body=bytes(range(256)) * 16384))  # 4 MiB
        elif path == "/huge":  # 64 MiB, written as fast as the client reads
            w(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (64 << 20))
            for _ in range(64):
                w(b"z" * (1 << 20))
                await writer.drain()
            self.huge_sent_at = asyncio.get_running_loop().time()
        elif path.startswith("/slow"):  # answer after a delay, unless the client gives up first
            if not await self.until(reader, asyncio.Event(), float(path.split("=")[1])):
                return False
            w(_resp(body=b"late"))
        elif path == "/stall-body":  # the head and part of the body, then nothing
            w(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            await writer.drain()
            return await self.until(reader, asyncio.Event())
        elif path == "/truncate":  # a clean close mid-body
            w(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            await writer.drain()
            return False
        elif path == "/reset":  # a TCP reset mid-body
            w(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            await writer.drain()
            await asyncio.sleep(0.01)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        elif path == "/unread-answer":  # answer at once, without reading the (large) body
            w(_resp(b"413 Content Too Large", b"too large"))
            await writer.drain()
            await self.stopping.wait()
            return False
        elif path == "/unread-slowly":  # read the body at about 64 MiB/s, then answer
            sock = writer.get_extra_info("socket")  # a small buffer: the client feels the pace
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while length:
                got = len(await reader.read(min(length, 1 << 20)))
                if not got:
                    return False
                length -= got
                await asyncio.sleep(0.015)
            w(_resp(body=b"read it all"))
        elif path == "/unread-silent":  # neither read the body nor answer, until the test ends
            await self.stopping.wait()
            return False
        elif path == "/no-response":
            return False
        elif path == "/garbage":
            w(b"HTTP/1.1 OK-ish\r\n\r\n")
        elif path == "/hold":
            if not await self.until(reader, self.release):
                return False
            w(_resp(body=b"held"))
        elif path.startswith("/gzip"):  # a chat completion the server chose to compress
            completion = {"choices": [{"message": {"role": "assistant", "content": "squeezed"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
            w(_resp(body=gzip.compress(json.dumps(completion).encode()), headers=(b"Content-Type: application/json", b"Content-Encoding: gzip")))
        elif path == "/early-hints":
            w(b"HTTP/1.1 103 Early Hints\r\nLink: </x.css>\r\n\r\n" + _resp(body=b"final"))
        elif path == "/no-content":
            w(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif path == "/head":
            w(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")  # a HEAD answer: a length, no body
        elif path == "/idle-close":  # keep-alive response, then the server drops the idle connection
            w(_resp(body=b"ok"))
            await writer.drain()
            await asyncio.sleep(0.02)
            return False
        else:
            w(_resp(b"404 Not Found"))
        return True


def run(coro_fn, *args, port=0):
    """Run one test body in a fresh loop with a server; no task may survive it."""

    async def main():
        async with Server(port) as server:
            await asyncio.wait_for(coro_fn(server, *args), 20)
        await asyncio.sleep(0)
        leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not leftover, leftover

    asyncio.run(main())
    gc.collect()


@pytest.fixture(autouse=True)
def no_asyncio_errors(caplog):
    """Unretrieved future exceptions, destroyed pending tasks, unclosed transports: all fail."""
    caplog.set_level(logging.WARNING, logger="asyncio")
    yield
    gc.collect()
    bad = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert not bad, bad


def client(**kw) -> httpx.AsyncClient:
    timeout = kw.pop("timeout", httpx.Timeout(5.0))
    return httpx.AsyncClient(transport=FastAsyncTransport(**kw), timeout=timeout)


# -- round trips ---------------------------------------------------------------------------------


def test_request_bytes_are_exact():
    async def body(s):
        payload = {"model": "m", "messages": [{"role": "user", "content": "héllo\u2603"}]}
        async with client() as c:
            r = await c.post(s.base + "/echo?x=1&y=%20", json=payload, headers={"Authorization": "Bearer k"})
        sent = r.content
        head, _, rest = sent.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0] == b"POST /echo?x=1&y=%20 HTTP/1.1"
        assert lines[1] == b"Host: 127.0.0.1:%d" % s.port
        assert b"Authorization: Bearer k" in lines
        assert json.loads(rest) == payload
        assert b"Content-Length: %d" % len(rest) in lines
        assert len(lines) == len(set(lines))  # no header sent twice

    run(body)


def test_response_headers_and_binary_body_round_trip():
    async def body(s):
        async with client() as c:
            r = await c.get(s.base + "/headers")
        assert r.status_code == 200 and r.reason_phrase == "OK" and r.http_version == "HTTP/1.1"
        assert r.content == b"\x00\xffbin!"
        assert r.headers.raw == [
            (b"X-Mixed-Case", b"v1"),
            (b"set-cookie", b"a=1"),
            (b"Set-Cookie", b"b=2"),
            (b"Content-Length", b"6"),
        ]
        assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]

    run(body)


def test_keep_alive_reuses_one_connection():
    async def body(s):
        async with client() as c:
            for i in range(5):
                r = await c.post(s.base + "/echo", content=b"n=%d" % i)
                assert r.content.endswith(b"n=%d" % i)
            results = await asyncio.gather(*[c.get(s.base + "/json") for _ in range(8)])
            assert all(r.json() == {"ok": True} for r in results)
        assert s.accepted <= 8  # the concurrent burst may open up to 8, the sequential part one
        assert len(s.requests) == 13

    async def sequential(s):
        async with client() as c:
            for _ in range(10):
                assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 1

    run(body)
    run(sequential)


def test_connection_close_is_honoured():
    async def body(s):
        async with client() as c:
            assert (await c.get(s.base + "/close")).text == "bye"
            assert (await c.get(s.base + "/close")).text == "bye"
            assert (await c.get(s.base + "/json")).status_code == 200
            await asyncio.sleep(0.05)
        assert s.accepted == 3
        assert s.violations == []

    run(body)


def test_read_until_close_body():
    async def body(s):
        async with client() as c:
            r = await c.get(s.base + "/until-close")
            assert r.text == "part one, part two"
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 2

    run(body)


def test_large_bodies_both_ways():
    async def body(s):
        big = bytes(range(256)) * 16384
        async with client() as c:
            r = await c.get(s.base + "/big")
            assert r.content == big
            upload = b"x" * (5 * 1024 * 1024)
            r = await c.post(s.base + "/echo", content=upload)
            assert r.content.endswith(b"\r\n\r\n" + upload)
        assert s.accepted == 1

    run(body)


def test_a_slow_reader_pauses_the_socket():
    async def body(s):
        loop = asyncio.get_running_loop()
        async with client() as c:
            async with c.stream("GET", s.base + "/huge") as r:
                chunks = r.aiter_raw()
                total = len(await chunks.__anext__())
                await asyncio.sleep(0.3)  # unread bytes pile up to the high-water mark, no further
                consuming_from = loop.time()
                async for chunk in chunks:
                    total += len(chunk)
            assert total == 64 << 20
        # 64 MiB cannot sit in socket buffers: the server finished only once we read again
        assert s.huge_sent_at > consuming_from

    run(body)


def test_streaming_request_body_is_sent_with_a_length():
    async def gen():
        yield b"part1-"
        yield b"part2"

    async def body(s):
        async with client() as c:
            r = await c.post(s.base + "/echo", content=gen())
        head, _, sent = r.content.partition(b"\r\n\r\n")
        assert sent == b"part1-part2"
        assert b"Content-Length: 11" in head.split(b"\r\n")
        assert b"transfer-encoding" not in head.lower()

    run(body)


def test_head_204_and_informational_responses_have_no_body():
    async def body(s):
        async with client() as c:
            r = await c.head(s.base + "/head")
            assert r.headers["content-length"] == "1000" and r.content == b""
            r = await c.get(s.base + "/no-content")
            assert r.status_code == 204 and r.content == b""
            r = await c.get(s.base + "/early-hints")
            assert r.status_code == 200 and r.text == "final"
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 1

    run(body)


# -- streaming -----------------------------------------------------------------------------------


def test_sse_lines_arrive_before_the_stream_ends():
    async def body(s):
        async with client() as c:
            async with c.stream("POST", s.base + "/sse", json={"stream": True}) as r:
                assert r.headers["content-type"] == "text/event-stream"
                lines = r.aiter_lines()
                first = await lines.__anext__()
                assert first.encode() == SSE_EVENTS[0]
                assert not s.go.is_set()  # the server has sent only the first event so far
                s.go.set()
                rest = [line async for line in lines if line]
            assert [first.encode(), *(x.encode() for x in rest)] == SSE_EVENTS
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 1  # the fully read stream gave its connection back

    run(body)


def test_chunked_framing_split_across_packets():
    async def body(s):
        async with client() as c:
            async with c.stream("GET", s.base + "/chunked-split") as r:
                chunks = [chunk async for chunk in r.aiter_raw()]
            assert b"".join(chunks) == b"hello world!!!"
            assert len(chunks) > 1  # delivered as it arrived, not buffered to the end
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 1

    run(body)


def test_closing_a_stream_early_closes_its_connection():
    async def body(s):
        s.go.set()
        async with client(max_connections=1, timeout=httpx.Timeout(5.0, pool=0.5)) as c:
            async with c.stream("GET", s.base + "/stall-body") as r:
                async for chunk in r.aiter_bytes():
                    assert chunk == b"0123456789"
                    break
            # the half-read connection was closed, its slot freed: a new one can be opened
            assert (await c.get(s.base + "/json")).status_code == 200
            await asyncio.sleep(0.05)
        assert s.accepted == 2
        assert s.client_closed >= 1

    run(body)


# -- pooling -------------------------------------------------------------------------------------


def test_pool_limit_queues_fifo_and_times_out():
    async def body(s):
        async with client(max_connections=2, timeout=httpx.Timeout(5.0, pool=0.1)) as c:
            held = [asyncio.create_task(c.get(s.base + "/hold")) for _ in range(2)]
            await asyncio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout) as info:
                await c.get(s.base + "/json")
            assert info.value.request.url.path == "/json"
            s.release.set()
            assert [(await t).text for t in held] == ["held", "held"]
        assert s.accepted == 2

    async def fifo(s):
        order = []

        async def get(i):
            r = await c.get(s.base + ("/hold" if i == 0 else "/json"))
            order.append(i)
            return r

        async with client(max_connections=1) as c:
            tasks = []
            for i in range(5):
                tasks.append(asyncio.create_task(get(i)))
                await asyncio.sleep(0.01)  # queue them in a known order
            s.release.set()
            await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3, 4]
        assert s.accepted == 1

    run(body)
    run(fifo)


def test_keepalive_expiry_and_server_side_idle_close():
    async def body(s):
        async with client(keepalive_expiry_s=0.05) as c:
            await c.get(s.base + "/json")
            await asyncio.sleep(0.1)
            await c.get(s.base + "/json")
        assert s.accepted == 2

    async def idle_close(s):
        async with client() as c:
            assert (await c.get(s.base + "/idle-close")).text == "ok"
            await asyncio.sleep(0.3)  # the server has closed the idle connection meanwhile
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 2

    run(body)
    run(idle_close)


def test_max_keepalive_bounds_idle_connections():
    async def body(s):
        async with client(max_keepalive=1) as c:
            s.release.set()
            await asyncio.gather(*[c.get(s.base + "/slow=0.05") for _ in range(3)])
            await asyncio.gather(*[c.get(s.base + "/slow=0.05") for _ in range(3)])
        assert s.accepted == 5  # one kept from the first burst, two new for the second

    run(body)


# -- errors --------------------------------------------------------------------------------------


def test_connect_error_on_a_closed_port():
    async def body(s):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        async with client(max_connections=1, timeout=httpx.Timeout(2.0, pool=0.2)) as c:
            for _ in range(2):  # the failed attempt must not keep the only slot
                with pytest.raises(httpx.ConnectError) as info:
                    await c.get(f"http://127.0.0.1:{port}/x")
                assert info.value.request.url.port == port
                assert str(port) in str(info.value)

    run(body)


def test_connect_timeout():
    async def body(s, monkeypatch):
        loop = asyncio.get_running_loop()

        async def never_connects(*a, **kw):
            await asyncio.sleep(10)

        monkeypatch.setattr(loop, "create_connection", never_connects)
        async with client(max_connections=1, timeout=httpx.Timeout(5.0, connect=0.05, pool=0.2)) as c:
            for _ in range(2):
                with pytest.raises(httpx.ConnectTimeout) as info:
                    await c.get(s.base + "/json")
                assert info.value.request is not None

    with pytest.MonkeyPatch.context() as mp:
        run(body, mp)


def test_read_timeout_waiting_for_the_response_and_mid_body():
    async def body(s):
        async with client(timeout=httpx.Timeout(5.0, read=0.1)) as c:
            with pytest.raises(httpx.ReadTimeout) as info:
                await c.get(s.base + "/slow=1")
            assert info.value.request.url.path == "/slow=1"
            with pytest.raises(httpx.ReadTimeout) as info:
                await c.get(s.base + "/stall-body")
            assert info.value.request.url.path == "/stall-body"
            assert (await c.get(s.base + "/slow=0.01")).text == "late"  # a fresh connection works
            await asyncio.sleep(0.05)
        assert s.accepted == 3  # both timed-out connections were dropped, not reused
        assert s.client_closed >= 1

    run(body)


def test_peer_closing_or_resetting_mid_response():
    async def body(s):
        async with client() as c:
            with pytest.raises(httpx.RemoteProtocolError, match="mid-body") as info:
                await c.get(s.base + "/truncate")
            assert info.value.request.url.path == "/truncate"
            with pytest.raises(httpx.ReadError, match="mid-body.*reset") as info2:
                await c.get(s.base + "/reset")
            assert info2.value.request.url.path == "/reset"
            with pytest.raises(httpx.RemoteProtocolError, match="without|before") as info3:
                await c.get(s.base + "/no-response")
            assert info3.value.request.url.path == "/no-response"
            with pytest.raises(httpx.RemoteProtocolError, match="Invalid HTTP response: Invalid status") as info4:
                await c.get(s.base + "/garbage")
            assert info4.value.request is not None
            assert (await c.get(s.base + "/json")).status_code == 200

    run(body)


def test_write_timeout_when_the_server_stops_reading():
    async def body(s):
        async with client(timeout=httpx.Timeout(5.0, write=0.2)) as c:
            with pytest.raises(httpx.WriteTimeout) as info:
                await c.post(s.base + "/unread-silent", content=b"x" * (64 * 1024 * 1024))
            assert info.value.request.url.path == "/unread-silent"
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 2

    run(body)


def test_a_slow_but_steady_upload_times_out_neither_way():
    async def body(s):
        async with client(timeout=httpx.Timeout(5.0, read=0.5, write=0.3)) as c:
            loop = asyncio.get_running_loop()
            started = loop.time()
            r = await c.post(s.base + "/unread-slowly", content=b"x" * (64 * 1024 * 1024))
            assert r.text == "read it all"
            # sending took longer than both timeouts: the write timeout is about progress, and
            # the read timeout starts once the request is out
            assert loop.time() - started > 0.5

    run(body)


def test_an_answer_before_the_upload_ends_is_returned_and_the_connection_dropped():
    async def body(s):
        async with client(timeout=httpx.Timeout(5.0, write=3.0)) as c:
            loop = asyncio.get_running_loop()
            started = loop.time()
            r = await c.post(s.base + "/unread-answer", content=b"x" * (64 * 1024 * 1024))
            assert r.status_code == 413 and r.text == "too large"
            assert loop.time() - started < 2.0  # not held until the write timeout
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 2  # half-written connection not reused

    run(body)


def test_one_client_serves_successive_event_loops():
    c = httpx.AsyncClient(transport=FastAsyncTransport())  # as a CLI calling asyncio.run twice
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]  # the same origin both times
    sock.close()

    async def body(s, close):
        assert (await c.get(s.base + "/json")).json() == {"ok": True}
        if close:
            await c.aclose()

    run(body, False, port=port)
    run(body, True, port=port)


def test_header_injection_is_refused_before_sending():
    async def body(s):
        async with client() as c:
            with pytest.raises(httpx.LocalProtocolError) as info:
                await c.get(s.base + "/json", headers={"X-Evil": "a\r\nX-Injected: 1"})
            assert info.value.request is not None
        assert s.requests == []

    run(body)


def test_unsupported_scheme():
    async def body(s):
        transport = FastAsyncTransport()
        with pytest.raises(httpx.UnsupportedProtocol):
            await transport.handle_async_request(httpx.Request("GET", "ftp://127.0.0.1/x"))
        await transport.aclose()

    run(body)


# -- cancellation and shutdown ---------------------------------------------------------------------


def test_cancelled_request_closes_its_connection_and_frees_its_slot():
    async def body(s):
        async with client(max_connections=1, timeout=httpx.Timeout(5.0, pool=0.3)) as c:
            task = asyncio.create_task(c.get(s.base + "/hold"))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await c.get(s.base + "/json")).status_code == 200
            assert s.accepted == 2  # the cancelled request's connection was not reused
            await asyncio.sleep(0.05)
            assert s.client_closed == 1

            # a caller cancelled while queued for the only connection leaves no trace
            holder = asyncio.create_task(c.get(s.base + "/hold"))
            await asyncio.sleep(0.05)
            waiter = asyncio.create_task(c.get(s.base + "/json"))
            await asyncio.sleep(0.05)
            waiter.cancel()
            s.release.set()
            assert (await holder).text == "held"
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 2

    run(body)


def test_a_waiter_cancelled_as_it_is_handed_a_connection_gives_it_back():
    async def body(s):
        async with client(max_connections=1, timeout=httpx.Timeout(5.0, pool=0.3)) as c:

            async def holder():
                r = await c.get(s.base + "/hold")
                # The same callback that completed this response handed the connection to the
                # waiter, which has not run yet: cancel it now.
                waiter.cancel()
                return r

            held = asyncio.create_task(holder())
            await asyncio.sleep(0.05)
            waiter = asyncio.create_task(c.get(s.base + "/json"))
            await asyncio.sleep(0.05)
            s.release.set()
            assert (await held).text == "held"
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 1
        assert len(s.requests) == 2  # the cancelled waiter never sent its request

    run(body)


def test_cancelled_stream_read_closes_its_connection():
    async def body(s):
        async with client(max_connections=1, timeout=httpx.Timeout(5.0, pool=0.3)) as c:

            async def read_all():
                async with c.stream("GET", s.base + "/stall-body") as r:
                    return await r.aread()

            task = asyncio.create_task(read_all())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await c.get(s.base + "/json")).status_code == 200
        assert s.accepted == 2

    run(body)


def test_aclose_closes_idle_connections_and_refuses_new_requests():
    async def body(s):
        transport = FastAsyncTransport()
        c = httpx.AsyncClient(transport=transport)
        await asyncio.gather(*[c.get(s.base + "/slow=0.02") for _ in range(3)])
        await transport.aclose()
        await asyncio.sleep(0.05)
        assert s.accepted == 3 and s.client_closed == 3
        with pytest.raises(RuntimeError):
            await transport.handle_async_request(httpx.Request("GET", s.base + "/json"))

    run(body)


# -- TLS -----------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_with_a_given_ssl_context(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    client_ctx.set_alpn_protocols(["http/1.1"])

    async def body(s):
        accepted = []

        async def handle(reader, writer):
            accepted.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
            try:
                while await reader.readuntil(b"\r\n\r\n"):
                    writer.write(_resp(body=b"secure"))
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.transport.abort()

        server_ctx.set_alpn_protocols(["http/1.1"])
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        try:
            async with client(ssl_context=client_ctx) as c:
                for _ in range(2):
                    assert (await c.get(f"https://127.0.0.1:{port}/")).text == "secure"
            async with client() as c:  # the default context does not trust a self-signed certificate
                with pytest.raises(httpx.ConnectError):
                    await c.get(f"https://127.0.0.1:{port}/")
        finally:
            server.close()
            await asyncio.sleep(0.05)
        assert accepted == ["http/1.1"]  # one connection, reused

    run(body)
