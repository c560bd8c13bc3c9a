"""HTTP/2 for a provider that asks for it (`http2 = true`): httpx's own transport, per event loop.

HTTP/2 multiplexes every request to a provider over one connection, which some endpoints prefer
(and some proxies in front of them require). The protocol is httpcore's, on the `h2` package
(the `http2` extra); `FastAsyncTransport` stays HTTP/1.1. httpcore's pools belong to the event
loop that made them, so `Http2Transport` keeps one per running loop, as `FastAsyncTransport`
does. Over `https://` the protocol is negotiated (ALPN, HTTP/1.1 if the server offers only
that); over plain `http://` it is HTTP/2 with prior knowledge (h2c), since there is nothing to
negotiate with.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .proxy import Proxy

__all__ = ["Http2Transport", "http2_available", "http2_options"]


def http2_available() -> bool:
    try:
        import h2  # noqa: F401
    except ImportError:
        return False
    return True


def http2_options(base_url: str, proxy: Proxy | None) -> dict[str, Any]:
    """The httpx transport options of an HTTP/2 provider at `base_url` (sync and async alike)."""
    options: dict[str, Any] = {"http2": True, "http1": base_url.startswith("https://")}
    if proxy is not None:
        headers = {"Proxy-Authorization": proxy.authorization.decode()} if proxy.authorization else None
        options["proxy"] = httpx.Proxy(proxy.url, headers=headers)
    return options


class Http2Transport(httpx.AsyncBaseTransport):
    """`httpx.AsyncHTTPTransport(http2=True)`, one per event loop."""

    def __init__(self, *, max_connections: int, options: dict[str, Any]) -> None:
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._options = options
        self._by_loop: dict[asyncio.AbstractEventLoop, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        transport = self._by_loop.get(loop)
        if transport is None:
            for old in [l for l in self._by_loop if l.is_closed()]:
                del self._by_loop[old]
            transport = self._by_loop[loop] = httpx.AsyncHTTPTransport(limits=self._limits, **self._options)
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the running loop's connections (another loop's close with that loop)."""
        transport = self._by_loop.pop(asyncio.get_running_loop(), None)
        if transport is not None:
            await transport.aclose()
