"""Limits where the bytes arrive: the gateway's HTTP connections, before any ASGI code runs.

uvicorn's httptools protocol reads a request head without bound: httptools accumulates each
header value in memory until it ends (a 50 MB header is buffered whole, past any body limit), no
timer covers a head that arrives slowly (uvicorn's keep-alive timer is cancelled by every byte,
and is not armed at all before a connection's first request), and nothing caps how many
connections are open. `LimitedHttpToolsProtocol` is that protocol with the limits added in the
protocol itself, so a request that breaks one never reaches the application and its excess
bytes never reach the parser:

- **head size**: the request line and headers together at most `max_head_bytes` (32 KiB) —
  431, or 414 when the request line alone is over. Counted as the bytes arrive: at most that
  many bytes of a head are ever handed to the parser.
- **header count**: at most `max_headers` (100) — 431.
- **head timeout**: a request head must arrive whole within `head_timeout_s` (10 s) of its
  first byte — else 408 and the connection is closed (a client sending one header line a second,
  or blank lines, is cut off).
- **idle timeout**: a connection with no request in progress — a new one that sends nothing, or
  a keep-alive one between requests — is closed after `idle_timeout_s` (30 s).
- **connections**: at most `max_connections` (1,000) open at once; one more is answered 503
  with `Retry-After: 1` and closed at once, before anything of its request is read.

The protocol also tells the app at once when a connection is lost before its response is
complete: each request's scope carries `request_boundary.DISCONNECT_EXTENSION`, the set of
callbacks `while_connected` registers, which `connection_lost` calls — under other servers the
app watches `receive()` with a task per request instead.

The limits are `limits.ConnectionLimits` (the `serve` options `--max-header-bytes`,
`--max-headers`, `--head-timeout`, `--idle-timeout`, `--max-connections`). Every refusal is an OpenAI-shaped JSON error with `Connection: close`, and is reported to the
application (`Gateway.connection_refused(reason)`: a `connection_refused` event and the
`rulerouter_connections_refused_total{reason}` counter). The limits travel on uvicorn's
`Config` (`config.rulerouter_limits`), so `serve --workers N` applies them in every worker.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .limits import ConnectionLimits
from .request_boundary import DISCONNECT_EXTENSION

__all__ = ["LimitedHttpToolsProtocol"]


class _LimitBroken(Exception):
    """Raised inside a parser callback; the parser turns it into an HttpParserError we recognise."""


def _refusal(status: int, message: str, code: str, extra: list[tuple[bytes, bytes]] = ()) -> bytes:  # type: ignore[assignment]
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error" if status < 500 else "service_unavailable",
                                 "param": None, "code": code}}).encode()
    head = [STATUS_LINE[status], b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body), b"connection: close\r\n"]
    head += [name + b": " + value + b"\r\n" for name, value in extra]
    return b"".join(head) + b"\r\n" + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with head size, header count, head and idle timeouts and a
    connection cap enforced as the bytes arrive."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: ConnectionLimits = getattr(config, "rulerouter_limits", None) or ConnectionLimits()
        self.timeout_keep_alive = self.limits.idle_timeout_s
        self._head_open = True  # the bytes arriving now belong to a request head
        self._head_bytes = 0
        self._header_count = 0
        self._line_started = self._line_done = False  # of the head now arriving: its request line began / ended
        self._heads = 0  # request heads read whole on this connection
        self._head_timer: asyncio.TimerHandle | None = None
        self._broken: tuple[int, str, str] | None = None  # a limit broken inside a parser callback
        self._on_lost: set[Any] = set()  # the app's callbacks for a connection lost mid-request (DISCONNECT_EXTENSION)

    # ---- connections ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, f"the gateway has {self.limits.max_connections} connections open, its limit; retry shortly",
                         "too_many_connections", [(b"retry-after", b"1")])
            return
        # Idle until the first byte: uvicorn arms its keep-alive timer only after a response.
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head()
        answered = self.cycle is None or self.cycle.response_complete
        super().connection_lost(exc)
        if not answered:  # a request whose client left before its answer was complete: the app is told at once
            for callback in list(self._on_lost):
                callback()

    # ---- bytes ----------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        while data and not self.transport.is_closing():
            if not self._head_open:
                self._feed(data)
                return
            self._arm_head()  # the first byte of a head, blank lines included
            room = self.limits.max_head_bytes - self._head_bytes
            if len(data) <= room:
                self._feed(data)
                return
            heads = self._heads
            if not self._feed(data[:room]):
                return
            if self._heads == heads:  # no head ended within the limit
                self._head_too_large()
                return
            data = data[room:]  # a head ended: the rest is its body, or the next request

    def _feed(self, data: bytes) -> bool:
        """Hand bytes to the parser; False when the connection is being closed."""
        if self._head_open:
            self._head_bytes += len(data)
            if not self._line_done:
                self._see_line(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # the gateway serves no upgrades (websockets)
        except httptools.HttpParserError:
            if self._broken is not None:
                self._refuse(*self._broken)
            else:
                self._report("invalid_request")
                self.send_400_response("Invalid HTTP request received.")
            return False
        return not self.transport.is_closing()

    # ---- parser callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._arm_head()  # a pipelined request starts inside a chunk
        super().on_message_begin()
        # How the app learns of a client that leaves: a callback, not a watcher task per request.
        self.scope["extensions"] = {DISCONNECT_EXTENSION: self._on_lost}

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._broken = (431, f"the request has more than {self.limits.max_headers} headers", "too_many_headers")
            raise _LimitBroken()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._heads += 1
        self._disarm_head()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # What follows is the next request's head.
        self._head_open, self._head_bytes, self._header_count, self._line_started, self._line_done = True, 0, 0, False, False

    def _see_line(self, data: bytes) -> None:
        """Note whether the request line has ended (blank lines before it do not count)."""
        if not self._line_started:
            data = data.lstrip(b"\r\n")
            self._line_started = bool(data)
        self._line_done = self._line_started and b"\n" in data

    # ---- refusing -------------------------------------------------------------------------------

    def _head_too_large(self) -> None:
        if not self._line_done:
            self._refuse(414, f"the request line is longer than {self.limits.max_head_bytes} bytes", "uri_too_long")
        else:
            self._refuse(431, f"the request's headers are larger than {self.limits.max_head_bytes} bytes", "headers_too_large")

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._head_open:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a pipelined head still arriving: finish the answer in hand, then close
            self.transport.pause_reading()
            self._report("head_timeout")
            return
        self._refuse(408, f"the request head did not arrive within {self.limits.head_timeout_s:g}s", "request_timeout")

    def _refuse(self, status: int, message: str, code: str, extra: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
        self._head_open = False
        self._disarm_head()
        self._unset_keepalive_if_required()
        self.transport.pause_reading()
        self.transport.write(_refusal(status, message, code, list(extra)))
        self.transport.close()
        self._report(code)

    def _arm_head(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_expired)

    def _disarm_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _report(self, reason: str) -> None:
        report = getattr(self.app, "connection_refused", None)
        if report is not None:
            try:
                report(reason)
            except Exception:  # reporting must never take a connection's handling down
                pass
