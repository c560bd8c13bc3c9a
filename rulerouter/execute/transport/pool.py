"""A fast HTTP/1.1 keep-alive transport for ``httpx.AsyncClient``, standard library only.

Why: httpx stays rulerouter's client interface, but its default transport (httpcore on anyio)
spends most of each request's CPU time in locks, checkpoints and trace hooks, so against a fast
OpenAI-compatible endpoint the client process is the bottleneck. With
``httpx.AsyncClient(transport=FastAsyncTransport())`` the same API runs several times faster.

What: HTTP/1.1 on ``asyncio.Protocol`` connections, responses parsed by httptools (llhttp).
Per origin, a pool of keep-alive connections
reused LIFO, at most ``max_connections``, later callers queued FIFO until httpx's pool timeout.
A request is one ``write``. Responses are parsed in pure Python (``Content-Length``, ``chunked``
as SSE uses, or read-until-close) and streamed to httpx chunk by chunk as they arrive, so
``client.stream()`` and ``aiter_lines()`` work. A connection returns to the pool as soon as its
response is fully received, and is closed on ``Connection: close``, on any error or cancellation,
or when a response is closed before its end. httpx's timeouts and exception types apply, each
exception carrying the request. ``https`` uses ``ssl`` with ALPN ``http/1.1`` and certifi's CA
bundle (an httpx dependency) unless an ``ssl_context`` is given.

Proxies: with ``proxies=ProxyRules.from_env(os.environ)`` (`proxy.py`: HTTPS_PROXY, HTTP_PROXY,
ALL_PROXY and NO_PROXY as httpx reads them), an ``http://`` URL is forwarded through its proxy
(absolute-form request line) and an ``https://`` one tunnelled (``CONNECT``, then TLS to the
origin inside the tunnel); a proxy URL's credentials become ``Proxy-Authorization``.

For a caller that knows its URL and headers in advance and wants the whole reply — rulerouter's
own calls — ``endpoint(url, headers)`` prepares the request head once (request line, Host, the
fixed headers: checked once), and ``post(endpoint, body)`` sends it with the body's
Content-Length and returns ``(status, headers, body)`` when the response is complete, without
building an httpx request, response or body stream; the pool, timeouts, proxies and errors are
the same as for ``handle_async_request``.

Not supported: HTTP/2 (a provider with ``http2 = true`` uses httpx's own transport), SOCKS
proxies, ``Expect: 100-continue``, pipelining, response trailers (read and dropped), upgrades.
Nothing is retried here.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any

import httptools
import httpx

from .connection import _NO_TIMEOUTS, _TIMED_OUT, _Conn, _head, _header_lines, _serialise, _wait
from .proxy import Proxy, ProxyRules

__all__ = ["Endpoint", "FastAsyncTransport"]

Headers = list[tuple[bytes, bytes]]


class _Pool:
    """Connections to one origin: idle ones (LIFO), a slot count, FIFO waiters for a slot."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, limit: int, keep: int, expiry: float,
                 proxy: Proxy | None = None, proxy_tls: ssl.SSLContext | None = None):
        self.loop = asyncio.get_running_loop()
        self.host, self.port, self.tls = host, port, tls
        self.limit, self.keep, self.expiry = limit, keep, expiry
        self.proxy, self.proxy_tls = proxy, proxy_tls
        self.forward = proxy is not None and tls is None  # plain HTTP through a proxy: absolute-form requests
        self.proxy_headers = ((b"Proxy-Authorization", proxy.authorization),) if self.forward and proxy.authorization else ()  # type: ignore[union-attr]
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

    async def acquire(self, request: httpx.Request | None, timeouts: dict[str, Any]) -> _Conn:
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

    async def _connect(self, request: httpx.Request | None, timeout: float | None) -> _Conn:
        conn, where = _Conn(self), f"{self.host}:{self.port}"
        proxy = self.proxy
        if proxy is not None:
            where += f" through the proxy {proxy.host}:{proxy.port}"
        try:
            async with asyncio.timeout(timeout):
                if proxy is None:
                    transport, _ = await self.loop.create_connection(
                        lambda: conn, self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None
                    )
                elif self.forward:
                    transport, _ = await self.loop.create_connection(
                        lambda: conn, proxy.host, proxy.port, ssl=self.proxy_tls, server_hostname=proxy.host if self.proxy_tls else None
                    )
                else:
                    transport = await self._tunnel(conn, proxy, request)
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

    async def _tunnel(self, conn: _Conn, proxy: Proxy, request: httpx.Request | None) -> asyncio.Transport:
        """Open a CONNECT tunnel to the origin through `proxy`, then TLS to the origin inside it."""
        tunnel = _Tunnel(self.loop)
        transport, _ = await self.loop.create_connection(
            lambda: tunnel, proxy.host, proxy.port, ssl=self.proxy_tls, server_hostname=proxy.host if self.proxy_tls else None
        )
        try:
            authority = f"{self.host}:{self.port}".encode("ascii") if ":" not in self.host else f"[{self.host}]:{self.port}".encode("ascii")
            head = b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (authority, authority)
            if proxy.authorization:
                head += b"Proxy-Authorization: " + proxy.authorization + b"\r\n"
            transport.write(head + b"\r\n")
            status, reason = await tunnel.answer
            if not 200 <= status < 300:
                raise httpx.ProxyError(f"the proxy {proxy.host}:{proxy.port} refused a tunnel to {authority.decode()}: "
                                       f"{status} {reason.decode('latin-1')}", request=request)
            tls = await self.loop.start_tls(transport, tunnel, self.tls, server_hostname=self.host)  # type: ignore[arg-type]
        except BaseException:
            transport.abort()
            raise
        assert tls is not None
        tls.set_protocol(conn)
        conn.connection_made(tls)
        return tls  # type: ignore[return-value]

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


class _Tunnel(asyncio.Protocol):
    """The proxy's answer to CONNECT: its status, read by httptools; nothing may follow it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.answer: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        self.parser = httptools.HttpResponseParser(self)
        self.reason = b""
        self.size = 0

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_headers_complete(self) -> None:
        if not self.answer.done():
            self.answer.set_result((self.parser.get_status_code(), self.reason))

    def data_received(self, data: bytes) -> None:
        self.size += len(data)
        if self.answer.done():
            return  # the answer's body (a refusal's), or bytes before TLS: nothing we read
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.answer.set_exception(httpx.ProxyError(f"the proxy's answer to CONNECT is not HTTP: {exc}"))
        if not self.answer.done() and self.size > 64 * 1024:
            self.answer.set_exception(httpx.ProxyError("the proxy's answer to CONNECT is too large"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(httpx.ProxyError(f"the proxy closed the connection before answering CONNECT ({exc or 'EOF'})"))


class Endpoint:
    """A URL and the headers every request to it carries, for `FastAsyncTransport.post`: the
    head up to Content-Length is written (and checked) on first use, then reused as it is."""

    __slots__ = ("url", "headers", "key", "head")

    def __init__(self, url: httpx.URL, headers: Headers) -> None:
        self.url, self.headers = url, headers
        self.key = (url.raw_scheme, url.raw_host, url.port)
        self.head: bytes | None = None


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
        proxies: ProxyRules | None = None,
    ) -> None:  # fmt: skip
        if max_connections < 1 or (max_keepalive is not None and max_keepalive < 0):
            raise ValueError("max_connections must be at least 1 and max_keepalive at least 0")
        self._limit, self._expiry = max_connections, keepalive_expiry_s
        self._keep = max_connections if max_keepalive is None else max_keepalive
        self._ssl_context = ssl_context
        self._proxies = proxies if proxies else None
        self._pools: dict[tuple[bytes, bytes, int | None], _Pool] = {}
        self._closed = False

    def _pool(self, url: httpx.URL, request: httpx.Request | None = None) -> _Pool:
        if self._closed:
            raise RuntimeError("FastAsyncTransport is closed")
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Unsupported URL scheme {url.scheme!r}", request=request)
        try:
            proxy = self._proxies.for_url(url) if self._proxies is not None else None
        except ValueError as exc:
            raise httpx.ProxyError(str(exc), request=request) from None
        tls = self._tls() if url.scheme == "https" else None
        proxy_tls = self._tls() if proxy is not None and proxy.url.scheme == "https" else None
        host, port = url.raw_host.decode("ascii"), url.port or (443 if tls else 80)
        pool = _Pool(host, port, tls, self._limit, self._keep, self._expiry, proxy, proxy_tls)
        self._pools[(url.raw_scheme, url.raw_host, url.port)] = pool
        return pool

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            import certifi  # a dependency of httpx

            self._ssl_context = ssl.create_default_context(cafile=certifi.where())
            self._ssl_context.set_alpn_protocols(["http/1.1"])
        return self._ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        pool = self._pools.get((url.raw_scheme, url.raw_host, url.port))
        if pool is None or pool.loop is not asyncio.get_running_loop():  # first use, or a new loop
            pool = self._pool(url, request)
        try:
            content = request.content
        except httpx.RequestNotRead:  # a streamed request body: read it, send it with a length
            content = await request.aread()
            request.headers.pop("Transfer-Encoding", None)
            request.headers["Content-Length"] = str(len(content))
        data = _serialise(request, content, pool.forward, pool.proxy_headers)
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

    @staticmethod
    def endpoint(url: httpx.URL, headers: Headers) -> Endpoint:
        """`url` and its fixed `headers` (raw pairs), prepared for `post`."""
        return Endpoint(url, headers)

    async def post(self, endpoint: Endpoint, body: bytes, extra: Headers | tuple[tuple[bytes, bytes], ...] = (),
                   timeouts: dict[str, float | None] = _NO_TIMEOUTS) -> tuple[int, Headers, bytes]:
        """POST `body` to `endpoint` (with `extra` headers after its own): the status, the response
        headers (raw pairs, as received) and the whole body, once the response is complete.

        Raises httpx's transport errors (`ConnectError`, `ReadTimeout`, `RemoteProtocolError`, …)
        as `handle_async_request` does, each without a request attached.
        """
        pool = self._pools.get(endpoint.key)
        if pool is None or pool.loop is not asyncio.get_running_loop():  # first use, or a new loop
            pool = self._pool(endpoint.url)
        head = endpoint.head
        if head is None:  # the proxy's choice is fixed per URL: so is the head
            head = endpoint.head = _head("POST", endpoint.url, [*endpoint.headers, *pool.proxy_headers], pool.forward)
        data = b"%scontent-length: %d\r\n%s\r\n%s" % (head, len(body), _header_lines(extra) if extra else b"", body)
        conn = pool.take() or await pool.acquire(None, timeouts)
        fut = conn.send(None, data, timeouts.get("read"), whole=True)
        try:
            if conn.write_paused:
                await conn.drain(timeouts.get("write"))
            return await fut  # type: ignore[no-any-return]
        except BaseException:
            if not fut.done() or fut.cancelled() or fut.exception() is not None:
                conn.close(abort=True)  # mid-request: the connection cannot be reused
            raise

    async def aclose(self) -> None:
        """Close every idle connection; busy ones close when their response ends."""
        self._closed = True
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.closed = True
            while pool.idle:
                pool.idle[-1].close()
