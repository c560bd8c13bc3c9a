"""The async HTTP transport under httpx: keep-alive HTTP/1.1 connections, pooled per host.

    pool.py        FastAsyncTransport: an `httpx.AsyncBaseTransport` with per-host pools
    connection.py  one connection's protocol: request bytes out, response head and body in

Standard library and httpx only; imports nothing else of rulerouter's.
"""

from .pool import FastAsyncTransport

__all__ = ["FastAsyncTransport"]
