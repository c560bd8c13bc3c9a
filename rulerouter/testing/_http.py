"""Just enough HTTP/1.1 for an OpenAI-compatible upstream, as an `asyncio.Protocol`.

Why not `http.server`: it spends a thread per connection and cannot hold a slow answer open
without holding that thread, and the loopback upstream doubles as an "instant upstream" in
benchmarks. Here one event loop serves every connection; a request whose answer is ready at once
(the common case) is parsed and answered inside `data_received`, without creating a task.

What is understood: a request line, headers, a body framed by Content-Length, keep-alive
(HTTP/1.1 default, `Connection: close`, HTTP/1.0 `keep-alive`), pipelined requests (answered in
order), `Expect: 100-continue`. Anything else that cannot be framed (chunked request bodies, a bad
Content-Length, a garbled request line or header) gets a 400 and the connection is closed.
Responses carry Content-Length, or `Transfer-Encoding: chunked` for server-sent events.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
from collections.abc import Awaitable, Callable
from http import HTTPStatus

__all__ = ["Connection", "HTTPRequest", "LAST_CHUNK", "chunk", "reason", "response", "stream_head"]

MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024
_LINGER_NOW = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not FIN
_BAD_REQUEST_BODY = b'{"error":{"message":"%s","type":"invalid_request_error","code":null}}'

LAST_CHUNK = b"0\r\n\r\n"


class HTTPRequest:
    """One parsed request. Header names are lower-case; repeated headers are joined with ", "."""

    __slots__ = ("method", "path", "headers", "body", "keep_alive")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes, keep_alive: bool):
        self.method, self.path, self.headers, self.body, self.keep_alive = method, path, headers, body, keep_alive


#: The application: answers a request by writing to the connection, at once (returning None)
#: or later (returning an awaitable that finishes when the answer is complete).
Handler = Callable[[HTTPRequest, "Connection"], Awaitable[None] | None]


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Connection(asyncio.Protocol):
    """One client connection: parses requests in order and hands each to the handler."""

    _ids = itertools.count(1)

    def __init__(self, handler: Handler, live: set[Connection]):
        self._handler = handler
        self._live = live
        self._buf = bytearray()
        self._task: asyncio.Task[None] | None = None
        self._continue_sent = False
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.id = next(self._ids)

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._live.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._live.discard(self)
        if self._task is not None:
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._task is None:
            self._serve_buffered()

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The answer in progress, when it is waiting (a `Slow` or delayed reply)."""
        return self._task

    # -- what a handler may do ----------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)  # type: ignore[union-attr]

    def close(self) -> None:
        """Close after what was written has been sent (a FIN: the client sees a clean EOF)."""
        if not self.closed:
            self.closed = True
            self.transport.close()  # type: ignore[union-attr]

    def reset(self) -> None:
        """Close at once, discarding anything unsent, with a TCP RST."""
        if self.closed:
            return
        self.closed = True
        sock = self.transport.get_extra_info("socket")  # type: ignore[union-attr]
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_NOW)
        except (AttributeError, OSError):
            pass  # no socket to tune (e.g. a test transport): a plain abort still drops it
        self.transport.abort()  # type: ignore[union-attr]

    # -- request loop ---------------------------------------------------------------------------
    def _serve_buffered(self) -> None:
        while self._buf and not self.closed:
            try:
                request = self._parse()
            except _BadRequest as exc:
                self._reject(exc)
                return
            if request is None:
                return
            pending = self._handler(request, self)
            if pending is not None:
                self._task = asyncio.ensure_future(self._finish_later(pending, request.keep_alive))
                return
            if not request.keep_alive:
                self.close()

    async def _finish_later(self, pending: Awaitable[None], keep_alive: bool) -> None:
        try:
            await pending
        finally:
            self._task = None
        if not keep_alive:
            self.close()
        self._serve_buffered()

    def _reject(self, exc: _BadRequest) -> None:
        body = _BAD_REQUEST_BODY % str(exc).encode()
        self.write(response(exc.status, body, keep_alive=False))
        self.close()

    def _parse(self) -> HTTPRequest | None:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise _BadRequest(400, "request head too large")
            return None
        lines = buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
            raise _BadRequest(400, "malformed request line")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise _BadRequest(400, "malformed header line")
            name = name.lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if "transfer-encoding" in headers:
            raise _BadRequest(400, "request bodies must be sent with Content-Length, not Transfer-Encoding")
        length_text = headers.get("content-length", "0")
        if not (length_text.isascii() and length_text.isdigit()):
            raise _BadRequest(400, "invalid Content-Length")
        length = int(length_text)
        if length > MAX_BODY:
            raise _BadRequest(413, "request body too large")
        total = end + 4 + length
        if len(buf) < total:
            if not self._continue_sent and headers.get("expect", "").lower() == "100-continue":
                self._continue_sent = True
                self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        body = bytes(buf[end + 4 : total])
        del buf[:total]
        self._continue_sent = False
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        return HTTPRequest(method, target.partition("?")[0], headers, body, keep_alive)


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


_STATUS_LINES = {code: f"HTTP/1.1 {code} {reason(code)}\r\n".encode() for code in range(100, 600)}


def response(
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    headers: tuple[tuple[str, str], ...] = (),
    keep_alive: bool = True,
) -> bytes:
    """A complete response with Content-Length."""
    head = f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    if headers:
        head += "".join(f"{name}: {value}\r\n" for name, value in headers)
    if not keep_alive:
        head += "Connection: close\r\n"
    return b"%s%s\r\n%s" % (_STATUS_LINES[status], head.encode("latin-1"), body)


def stream_head(keep_alive: bool = True) -> bytes:
    """The head of a 200 server-sent-events response; the body follows as `chunk()`s."""
    close = b"" if keep_alive else b"Connection: close\r\n"
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        b"Transfer-Encoding: chunked\r\n%s\r\n" % close
    )


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (never empty: an empty chunk would end the body)."""
    return b"%x\r\n%s\r\n" % (len(data), data)
