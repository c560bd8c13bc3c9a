"""What one client may send the gateway: every limit, its default, and who enforces it.

`ConnectionLimits` are enforced by the server's HTTP protocol as the bytes arrive
(`connection_limits.py`), before a request reaches the application; `BodyLimits` by the
request boundary every front door shares (`request_boundary.read_body`). `rulerouter serve`
sets both from its options.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BodyLimits", "ConnectionLimits"]


@dataclass(frozen=True)
class ConnectionLimits:
    """What one HTTP connection may do before its request reaches the app."""

    max_head_bytes: int = 32 * 1024   # request line + headers; 431 (414 for the request line)
    max_headers: int = 100            # 431
    head_timeout_s: float = 10.0      # from a head's first byte to its end; 408
    idle_timeout_s: float = 30.0      # a connection with no request in progress is closed
    max_connections: int = 1000       # open at once; one more gets 503 + Retry-After


@dataclass(frozen=True)
class BodyLimits:
    """What a request body may be: larger gets 413, slower 408."""

    max_bytes: int = 4 * 1024 * 1024
    timeout_s: float = 30.0
