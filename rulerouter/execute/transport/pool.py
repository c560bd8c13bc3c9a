"""A fast HTTP/1.1 keep-alive transport for ``httpx.AsyncClient``, standard library only.

Why: httpx stays rulerouter's client interface, but its default transport (httpcore on anyio)
spends most of each request's CPU time in locks, checkpoints and trace hooks, so against a fast
OpenAI-compatible endpoint the client process is the bottleneck. With
``httpx.AsyncClient(transport=FastAsyncTransport())`` the same API runs several times faster.

What: HTTP/1.1 on ``asyncio.Protocol`` connections. Per origin, a pool of keep-alive connections
reused LIFO, at most ``max_connections``, later callers queued FIFO until httpx's pool timeout.
A request is one ``write``. Responses are parsed in pure Python (``Content-Length``, ``chunked``
as SSE uses, or read-until-close) and streamed to httpx chunk by chunk as they arrive, so
``client.stream()`` and ``aiter_lines()`` work. A connection returns to the pool as soon as its
response is fully received, and is closed on ``Connection: close``, on any error or cancellation,
or when a response is closed before its end. httpx's timeouts and exception types apply, each
exception carrying the request. ``https`` uses ``ssl`` with ALPN ``http/1.1`` and certifi's CA
bundle (an httpx dependency) unless an ``ssl_context`` is given.

Not supported: HTTP/2, proxies (httpx ignores proxy environment variables when a transport is
given), ``Expect: 100-continue``, pipelining, response trailers (read and dropped), upgrades.
Callers who need these use httpx's default transport. Nothing is retried here.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any

import httpx

from .connection import _NO_TIMEOUTS, _TIMED_OUT, _Conn, _serialise, _wait

__all__ = ["FastAsyncTransport"]


class _Pool:
    """Connections to one origin: idle ones (LIFO), a slot count, FIFO waiters for a slot."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, limit: int, keep: int, expiry: float):
        self.loop = asyncio.get_running_loop()
        self.host, self.port, self.tls = host, port, tls
        self.limit, self.keep, self.expiry = limit, keep, expiry
        self.idle: list[_Conn] = []
        self.waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.count = 0  # connections open or opening, idle or busy
        self.closed = False

    def take(self) -> _Conn | None:
        """The most recently used idle connection that is still fresh, or None."""
        while self.idle:
            conn = self.idle.pop()
            if self.loop.time() - conn.idle_since <= self.expiry:
                return conn
            conn.close()
        return None

    async def acquire(self, request: httpx.Request, timeouts: dict[str, Any]) -> _Conn:
        while True:
            conn = self.take()
            if conn is not None:
                return conn
            if self.count < self.limit and not self.waiters:
                self.count += 1
                return await self._connect(request, timeouts.get("connect"))
            fut = self.loop.create_future()
            self.waiters.append(fut)
            try:
                got = await _wait(fut, timeouts.get("pool"))  # a connection, None: a free slot
            except BaseException:  # cancelled: give back whatever we may have been handed
                handed: Any = fut.result() if fut.done() and not fut.cancelled() else _TIMED_OUT
                if handed is None:
                    self.drop(None)
                elif handed is not _TIMED_OUT:
                    self.release(handed)
                elif fut in self.waiters:
                    self.waiters.remove(fut)
                raise
            if got is _TIMED_OUT:
                self.waiters.remove(fut)
                raise httpx.PoolTimeout("Timed out waiting for a free connection", request=request)
            if got is None:
                return await self._connect(request, timeouts.get("connect"))
            if not got.closed:  # else it died in between: go round again
                return got

    async def _connect(self, request: httpx.Request, timeout: float | None) -> _Conn:
        conn, where = _Conn(self), f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await self.loop.create_connection(
                    lambda: conn, self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None
                )
            if conn.closed:
                raise httpx.ConnectError("the server closed the connection at once")
            tls = transport.get_extra_info("ssl_object")
            if tls is not None and tls.selected_alpn_protocol() not in (None, "http/1.1"):
                raise httpx.ConnectError(f"the server chose {tls.selected_alpn_protocol()!r}, not http/1.1")
        except BaseException as exc:
            conn.close(abort=True)  # frees the slot
            if isinstance(exc, TimeoutError):
                raise httpx.ConnectTimeout(f"Timed out connecting to {where}", request=request) from None
            if isinstance(exc, (OSError, httpx.ConnectError)):
                raise httpx.ConnectError(f"Cannot connect to {where}: {exc}", request=request) from exc
            raise
        return conn

    def release(self, conn: _Conn) -> None:
        """A connection whose response is complete: to the first waiter, the idle list, or closed."""
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                return fut.set_result(conn)
        if self.closed or len(self.idle) >= self.keep:
            return conn.close()
        conn.idle_since = self.loop.time()
        self.idle.append(conn)

    def drop(self, conn: _Conn | None) -> None:
        """A connection closed (or a slot given back): the first waiter may open a new one."""
        if conn in self.idle:
            self.idle.remove(conn)
        self.count -= 1
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                self.count += 1
                return fut.set_result(None)


class FastAsyncTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive transport: ``httpx.AsyncClient(transport=FastAsyncTransport())``.

    ``max_connections`` and ``max_keepalive`` (idle connections kept; by default as many as
    ``max_connections``) apply per origin. An idle connection older than ``keepalive_expiry_s``
    is closed rather than reused. ``ssl_context``, if given, is used as is for ``https``; its ALPN
    protocols must be ``http/1.1`` or none (a server that picks another one is a ConnectError).
    """

    def __init__(
        self, *, max_connections: int = 100, max_keepalive: int | None = None,
        keepalive_expiry_s: float = 5.0, ssl_context: ssl.SSLContext | None = None,
    ) -> None:  # fmt: skip
        if max_connections < 1 or (max_keepalive is not None and max_keepalive < 0):
            raise ValueError("max_connections must be at least 1 and max_keepalive at least 0")
        self._limit, self._expiry = max_connections, keepalive_expiry_s
        self._keep = max_connections if max_keepalive is None else max_keepalive
        self._ssl_context = ssl_context
        self._pools: dict[tuple[bytes, bytes, int | None], _Pool] = {}
        self._closed = False

    def _pool(self, request: httpx.Request) -> _Pool:
        url = request.url
        if self._closed:
            raise RuntimeError("FastAsyncTransport is closed")
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Unsupported URL scheme {url.scheme!r}", request=request)
        if url.scheme == "https" and self._ssl_context is None:
            import certifi  # a dependency of httpx

            self._ssl_context = ssl.create_default_context(cafile=certifi.where())
            self._ssl_context.set_alpn_protocols(["http/1.1"])
        tls = self._ssl_context if url.scheme == "https" else None
        host, port = url.raw_host.decode("ascii"), url.port or (443 if tls else 80)
        pool = _Pool(host, port, tls, self._limit, self._keep, self._expiry)
        self._pools[(url.raw_scheme, url.raw_host, url.port)] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        pool = self._pools.get((url.raw_scheme, url.raw_host, url.port))
        if pool is None or pool.loop is not asyncio.get_running_loop():  # first use, or a new loop
            pool = self._pool(request)
        try:
            content = request.content
        except httpx.RequestNotRead:  # a streamed request body: read it, send it with a length
            content = await request.aread()
            request.headers.pop("Transfer-Encoding", None)
            request.headers["Content-Length"] = str(len(content))
        data = _serialise(request, content)
        timeouts = request.extensions.get("timeout", _NO_TIMEOUTS)
        conn = pool.take() or await pool.acquire(request, timeouts)
        fut = conn.send(request, data, timeouts.get("read"))
        try:
            if conn.write_paused:
                await conn.drain(timeouts.get("write"))
            status, reason, version, headers, body = await fut
        except BaseException:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                fut.result()[4]._abandon()  # cancelled just as the head arrived
            else:
                conn.close(abort=True)
            raise
        extensions = {"http_version": version, "reason_phrase": reason}
        return httpx.Response(status, headers=headers, stream=body, extensions=extensions)

    async def aclose(self) -> None:
        """Close every idle connection; busy ones close when their response ends."""
        self._closed = True
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.closed = True
            while pool.idle:
                pool.idle[-1].close()
