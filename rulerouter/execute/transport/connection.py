"""HTTP/1.1 on one asyncio connection: request bytes out, response head and body in.

The protocol half of `FastAsyncTransport` (see `pool.py`): `_Conn` writes a request in one
call and parses the response with httptools (llhttp, Node.js's HTTP parser, in C) — status,
headers, Content-Length, chunked (as SSE uses) or read-until-close framing, and its strict
checks against ambiguous framing — handing the body to httpx as an `AsyncByteStream`
(`_Body`) chunk by chunk, with flow control and the read timeout — or, for a caller that wants
the whole reply (`send(..., whole=True)`, what `FastAsyncTransport.post` asks for), collects the
body and resolves one future when the response is complete: no body stream, no httpx response
object, the read timeout counting between any two packets. What llhttp cannot know is
decided here: a response to HEAD has no body, a body without a length ends when the server
closes, and bytes after the response (or without a request) make the connection unusable.
Pools and connection reuse live in `pool.py`.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx

__all__ = ["_Conn", "_head", "_header_lines", "_serialise", "_wait", "_NO_TIMEOUTS", "_TIMED_OUT"]

_MAX_HEAD = 64 * 1024  # longest response head
_HIGH_WATER, _LOW_WATER = 512 * 1024, 64 * 1024  # unread body bytes that pause/resume reading
_NO_TIMEOUTS: dict[str, float | None] = {}
_TIMED_OUT = object()

# Where the connection is: no request in flight, awaiting a response head, receiving its body.
_IDLE, _HEAD, _BODY = range(3)


class _BadResponse(Exception):
    """Bytes from the server that are not HTTP/1.1; surfaces as ``httpx.RemoteProtocolError``."""


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_result(_TIMED_OUT)


async def _wait(fut: asyncio.Future[Any], timeout: float | None) -> Any:
    """``await fut``, or ``_TIMED_OUT`` once ``timeout`` seconds have passed."""
    timer = None if timeout is None else asyncio.get_running_loop().call_later(timeout, _expire, fut)
    try:
        return await fut
    finally:
        if timer is not None:
            timer.cancel()


class _Body(httpx.AsyncByteStream):
    """A response body: the connection feeds chunks in as they arrive, httpx iterates them."""

    def __init__(self, conn: _Conn, request: httpx.Request, timeout: float | None) -> None:
        self._conn: _Conn | None = conn  # None once the body is complete or abandoned
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size, self._done = 0, False  # bytes received and not yet iterated; all received
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[Any] | None = None
        self._timeout, self._request = timeout, request

    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._size += len(chunk)
        if self._size > _HIGH_WATER and self._conn is not None:
            self._conn.set_reading(False)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _end(self, exc: BaseException | None = None) -> None:
        self._conn, self._done, self._exc = None, True, exc
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _abandon(self) -> None:
        """Stop before the end: the connection is mid-response, so it cannot be reused."""
        conn, self._conn, self._done = self._conn, None, True
        self._chunks.clear()
        if conn is not None:
            conn.close(abort=True)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._chunks
        while True:
            if chunks:  # all that has arrived, in one piece: what came in one read is passed on in one
                chunk = chunks.popleft() if len(chunks) == 1 else b"".join([chunks.popleft() for _ in range(len(chunks))])
                self._size -= len(chunk)
                if self._conn is not None and self._size < _LOW_WATER:
                    self._conn.set_reading(True)
                yield chunk
            elif self._exc is not None:
                raise self._exc
            elif self._done:
                return
            else:  # wait for more, at most the read timeout
                self._waiter = self._conn.loop.create_future()  # type: ignore[union-attr]
                try:
                    woke = await _wait(self._waiter, self._timeout)
                except BaseException:  # cancelled mid-body
                    self._abandon()
                    raise
                if woke is _TIMED_OUT:
                    self._abandon()
                    raise httpx.ReadTimeout("Timed out reading the response body", request=self._request)

    async def aclose(self) -> None:
        if not self._done:
            self._abandon()


class _Conn(asyncio.Protocol):
    """One HTTP/1.1 connection: writes a request, parses its response as the bytes arrive."""

    def __init__(self, pool: Any) -> None:  # a pool._Pool
        self.pool, self.loop = pool, pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.state = _IDLE
        self.head_size = 0  # bytes received of the response head so far
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.until_close = False  # the body has no length: it ends when the server closes
        self.done = False  # the response ended inside the current `data_received`
        self.extra = False  # bytes came after the response: the connection cannot be reused
        self.request: httpx.Request | None = None
        self.head_fut: asyncio.Future[Any] | None = None  # -> (status, reason, version, headers, body)
        self.body: _Body | None = None
        # A whole-reply request: `head_fut` resolves once the response is complete, its body
        # collected in `parts` (status and headers kept in `status` until then).
        self.whole = False
        self.parts: list[bytes] = []
        self.status = 0
        self.keep_alive, self.closed, self.idle_since = True, False, 0.0
        # The read timeout for a response head is one lazily re-armed timer per connection:
        # a request only moves the deadline instead of scheduling and cancelling its own timer.
        self.read_timeout: float | None = None
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.drain_fut: asyncio.Future[Any] | None = None
        self.write_paused = self.reading_paused = False

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.closed:  # given up on (timeout, cancellation) while connecting
            transport.abort()  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            if self.state == _IDLE:
                raise _BadResponse("Server sent data while no request was in flight")
            if self.state == _HEAD:
                self.head_size += len(data)
            if self.head_fut is not None and self.read_timeout is not None:  # bytes arrived: the read timeout restarts
                self.deadline = self.loop.time() + self.read_timeout
            self.parser.feed_data(data)
            if self.state == _HEAD and self.head_size > _MAX_HEAD:
                raise _BadResponse("Response head too large")
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("Protocol upgrade (101) is not supported", request=self.request))
            return
        except (httptools.HttpParserError, _BadResponse) as exc:
            if self.done:  # the response was whole; what came after it is not HTTP
                self.done, self.extra = False, True
                self._complete()
                return
            cause = exc.__context__ if isinstance(exc.__context__, _BadResponse) else exc
            what = str(cause) if isinstance(cause, _BadResponse) else f"Invalid HTTP response: {cause or type(cause).__name__}"
            self._fail(httpx.RemoteProtocolError(what, request=self.request))
            return
        if self.done:
            self.done = False
            self._complete()

    def eof_received(self) -> None:
        if self.state == _IDLE:  # the server closed an idle connection: out of the pool now
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.state == _BODY and self.until_close and exc is None:
            self._complete()  # the close is the end of a read-until-close body
        elif self.head_fut is not None or self.body is not None:
            where = "before sending a complete response head" if self.state == _HEAD else "mid-body"
            if exc is None:  # a clean close
                self._fail(httpx.RemoteProtocolError(f"Server disconnected {where}", request=self.request))
            else:  # a reset or another socket error
                self._fail(httpx.ReadError(f"Connection lost {where}: {exc!r}", request=self.request))
        self.resume_writing()
        self.close()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drain_fut is not None and not self.drain_fut.done():
            self.drain_fut.set_result(None)

    # -- request -------------------------------------------------------------------------------
    def send(self, request: httpx.Request | None, data: bytes, read_timeout: float | None, whole: bool = False) -> asyncio.Future[Any]:
        """Write a request; the returned future resolves when the response head has arrived
        (with a body stream), or with `whole` when the response is complete (with its body's bytes)."""
        self.request, self.state, self.read_timeout, self.whole = request, _HEAD, read_timeout, whole
        self.head_size, self.reason, self.headers = 0, b"", []
        fut = self.head_fut = self.loop.create_future()
        if read_timeout is not None:
            self.deadline = deadline = self.loop.time() + read_timeout
            if self.timer is None or self.timer.when() > deadline:
                if self.timer is not None:
                    self.timer.cancel()
                self.timer = self.loop.call_at(deadline, self._on_timer)
        self.transport.write(data)  # type: ignore[union-attr]
        return fut

    async def drain(self, timeout: float | None) -> None:
        """Wait while the request is being sent; ``WriteTimeout`` after ``timeout`` without progress."""

        def unsent() -> int:
            return self.transport.get_write_buffer_size() if self.transport is not None else 0

        left = unsent()
        while self.write_paused and not self.closed and self.state == _HEAD:  # else: answered
            self.drain_fut = self.loop.create_future()
            if await _wait(self.drain_fut, timeout) is _TIMED_OUT:
                if unsent() >= left:
                    raise httpx.WriteTimeout("Timed out writing the request", request=self.request)
                left = unsent()
        if self.read_timeout is not None:  # the read timeout counts from the end of the request
            self.deadline = self.loop.time() + self.read_timeout

    def _on_timer(self) -> None:
        self.timer = None
        if self.head_fut is None or self.read_timeout is None:
            return  # no response head awaited: let the timer lapse
        now = self.loop.time()
        if self.write_paused:  # still sending: the write timeout applies, not the read timeout
            self.deadline = now + self.read_timeout
        if now < self.deadline:
            self.timer = self.loop.call_at(self.deadline, self._on_timer)
        else:
            self._fail(httpx.ReadTimeout("Timed out waiting for the response", request=self.request))

    # -- response: httptools' callbacks, called from inside `feed_data` -----------------------
    def on_message_begin(self) -> None:
        if self.state != _HEAD:
            self.extra = True  # a second response, or one to no request: nothing may reuse this

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.state == _HEAD:  # later ones are trailers: read and dropped
            self.headers.append((name, value.rstrip(b" \t")))  # llhttp keeps trailing whitespace

    def on_headers_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        if status < 200:  # informational (100, 103): skip it, the real response follows
            self.reason, self.headers = b"", []
            return
        fut = self.head_fut
        if fut is None or fut.done() or self.state != _HEAD:
            raise _BadResponse("Server sent a response while no request was in flight")
        self.state = _BODY
        self.keep_alive = parser.should_keep_alive()
        self.until_close = not self.keep_alive and not any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers)
        if self.whole:  # resolved by `_complete`, with the body
            self.status, self.parts = status, []
        else:
            self.head_fut = None
            version = b"HTTP/" + parser.get_http_version().encode()
            self.body = body = _Body(self, self.request, self.read_timeout)  # type: ignore[arg-type]
            fut.set_result((status, self.reason, version, self.headers, body))
        if self.drain_fut is not None and not self.drain_fut.done():  # answered while still sending
            self.drain_fut.set_result(None)
        if self.request is not None and self.request.method == "HEAD":  # a length, but no body
            self.parser = httptools.HttpResponseParser(self)  # the old one would wait for that body
            self.until_close, self.done = False, True

    def on_body(self, data: bytes) -> None:
        if self.body is not None:
            self.body._feed(data)
        elif self.whole:
            self.parts.append(data)

    def on_message_complete(self) -> None:
        if self.state == _BODY:
            self.done = True

    def _complete(self) -> None:
        """The response is fully received: the connection is free for the next request."""
        body, self.body, self.state, self.request = self.body, None, _IDLE, None
        if body is not None:
            body._end()
        elif self.whole:
            fut, self.head_fut, self.whole = self.head_fut, None, False
            parts, self.parts = self.parts, []
            if fut is not None and not fut.done():
                fut.set_result((self.status, self.headers, parts[0] if len(parts) == 1 else b"".join(parts)))
        self.set_reading(True)
        # Reusable unless bytes came past the end, or the server answered before reading it all.
        t = self.transport
        if self.keep_alive and not self.extra and not self.closed and t is not None and not t.get_write_buffer_size():
            self.pool.release(self)
        else:
            self.close()

    def _fail(self, exc: httpx.TransportError) -> None:
        fut, body, self.head_fut, self.body = self.head_fut, self.body, None, None
        if fut is not None and not fut.done():
            fut.set_exception(exc)
        if body is not None:
            body._end(exc)
        self.close(abort=True)

    def set_reading(self, on: bool) -> None:
        """Flow control: stop reading while the consumer has too many unread body bytes."""
        if self.reading_paused == on and self.transport is not None and not self.closed:
            self.reading_paused = not on
            self.transport.resume_reading() if on else self.transport.pause_reading()

    def close(self, abort: bool = False) -> None:
        if self.closed:
            return
        self.closed, self.head_fut, self.body = True, None, None
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.transport.abort() if abort else self.transport.close()
        self.pool.drop(self)


def _header_lines(raw: Any, request: httpx.Request | None = None) -> bytes:
    """`name: value` lines, refused when a name or value holds CR, LF or NUL."""
    lines = b"".join([b"%s: %s\r\n" % pair for pair in raw])
    # Exactly one CR and one LF per line: no header can smuggle in another header or request.
    if lines.count(b"\n") != len(raw) or lines.count(b"\r") != len(raw) or b"\0" in lines:
        raise httpx.LocalProtocolError("Invalid character in a header", request=request)
    return lines


def _head(method: str, url: httpx.URL, raw: Any, absolute: bool = False, request: httpx.Request | None = None) -> bytes:
    """The request line, Host (unless `raw` has it) and the headers, without the blank line that
    ends the head; `absolute` writes the whole URL in the request line (for a proxy)."""
    target = url.raw_scheme + b"://" + url.netloc + url.raw_path if absolute else url.raw_path
    line = b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), target)
    if line.count(b"\n") != 1 or line.count(b"\r") != 1 or b"\0" in line:
        raise httpx.LocalProtocolError("Invalid character in the request line", request=request)
    # httpx puts Host first; add it if it is absent
    if (not raw or raw[0][0].lower() != b"host") and not any(k.lower() == b"host" for k, _ in raw):
        line += _header_lines([(b"Host", url.netloc)], request)
    return line + _header_lines(raw, request)


def _serialise(request: httpx.Request, body: bytes, absolute: bool = False, extra: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """The request's bytes; `absolute` writes the whole URL in the request line (for a proxy),
    and `extra` headers go after the request's own."""
    raw = request.headers.raw
    return _head(request.method, request.url, [*raw, *extra] if extra else raw, absolute, request) + b"\r\n" + body
