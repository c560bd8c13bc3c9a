"""The async HTTP transport under httpx: keep-alive HTTP/1.1 connections, pooled per host.

    pool.py        FastAsyncTransport: an `httpx.AsyncBaseTransport` with per-host pools, proxies;
                   `post`, the whole-reply path rulerouter's calls take (no httpx objects)
    connection.py  one connection's protocol: request bytes out, response parsed by httptools
    proxy.py       which proxy a URL goes through (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY)
    http2.py       HTTP/2 for the providers that ask for it: httpx's own transport, per event loop

httpx, httptools and the standard library only; imports nothing else of rulerouter's.
"""

from .pool import FastAsyncTransport
from .proxy import Proxy, ProxyRules

__all__ = ["FastAsyncTransport", "Proxy", "ProxyRules"]
