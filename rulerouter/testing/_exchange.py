"""What every renderer shares: the request being answered, and the pieces streams are made of.

An `Exchange` is one request being answered — where to write, what was asked, and the `Wire`
(the API's renderers) it was asked through. `_openai_wire.py` and `_anthropic_wire.py` each
define one `Wire`; `_server.py` picks it by path.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from . import _http
from ._behaviours import Behaviour, RecordedRequest, content_text

__all__ = ["ERROR_MESSAGES", "Exchange", "Renderer", "Wire", "after", "argument_pieces", "dumps", "estimate_tokens", "pieces"]

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_PIECES = re.compile(r"\S+\s*|\s+")  # stream deltas: one word and its trailing space each
_ARGUMENT_PIECE = 7  # streamed tool arguments arrive in pieces of this many characters

#: The default message of an error status, the same in both APIs.
ERROR_MESSAGES = {
    400: "The request was invalid.",
    401: "Incorrect API key provided.",
    403: "You are not allowed to use this model.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request.",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
    529: "Overloaded.",
}


def estimate_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: about four characters per token."""
    return (len(text) + 3) // 4


def pieces(text: str) -> list[str]:
    """How a reply's text is streamed: one word (and its trailing space) per delta."""
    return _PIECES.findall(text)


def argument_pieces(arguments: str) -> list[str]:
    """How a tool call's arguments are streamed: many short pieces of its JSON text."""
    return [arguments[i : i + _ARGUMENT_PIECE] for i in range(0, len(arguments), _ARGUMENT_PIECE)] or [""]


Renderer = Callable[[Any, "Exchange"], Awaitable[None] | None]


@dataclass(frozen=True)
class Wire:
    """One API: its renderers by behaviour type, and what it says about requests and models."""

    name: str
    render: dict[type, Renderer]
    refusal: Callable[[RecordedRequest], Behaviour | None]  # why a request is refused, or None
    models: Callable[[list[str]], Any]  # the body of GET /v1/models
    model: Callable[[str], Any]  # the body of GET /v1/models/{id}


class Exchange:
    """One request being answered: where to write, and what the answer needs to know."""

    __slots__ = ("ids", "conn", "record", "keep_alive", "wire")

    def __init__(self, ids: Any, conn: _http.Connection, record: RecordedRequest, keep_alive: bool, wire: Wire):
        self.ids, self.conn, self.record, self.keep_alive, self.wire = ids, conn, record, keep_alive, wire

    @property
    def model(self) -> str:
        return self.record.model or ""

    @property
    def stream(self) -> bool:
        return self.record.stream

    def prompt_tokens(self) -> int:
        record = self.record
        text = "".join(content_text(m.get("content")) for m in record.messages if isinstance(m, dict))
        return estimate_tokens(record.system + text if record.api == "anthropic" else text)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-loopback-{next(self.ids)}"

    def send_json(self, status: int, obj: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.conn.write(_http.response(status, dumps(obj).encode(), headers=headers, keep_alive=self.keep_alive))

    def send_stream(self, events: list[bytes], *, end: bytes = _http.LAST_CHUNK, close: bool = False,
                    spacing: float = 0.0) -> Awaitable[None] | None:
        """A whole SSE response, each event already framed (`data:` lines and all): in one write,
        or — with `spacing` — the first event at once and each next one `spacing` seconds later.

        `close=True` ends it with a FIN instead of the last chunk: the stream breaks there.
        """
        parts = [_http.stream_head(self.keep_alive)]
        parts.extend(_http.chunk(event) for event in events)
        if not close:
            parts.append(end)
        if spacing > 0:
            return self._trickle(parts, spacing, close)
        self.conn.write(b"".join(parts))
        if close:
            self.conn.close()
        return None

    async def _trickle(self, parts: list[bytes], spacing: float, close: bool) -> None:
        self.conn.write(parts[0] + parts[1])
        try:
            for part in parts[2:]:
                await asyncio.sleep(spacing)
                if self.conn.closed:
                    self.record.abandoned = True
                    return
                self.conn.write(part)
        except asyncio.CancelledError:  # the connection was lost mid-stream
            self.record.abandoned = True
            raise
        if close:
            self.conn.close()


async def after(seconds: float, behaviour: Behaviour, ex: Exchange, renderer: Renderer) -> None:
    """Render `behaviour` with `renderer` after `seconds`, without blocking other connections."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:  # the client closed the connection while waiting for the answer
        ex.record.abandoned = True
        raise
    pending = renderer(behaviour, ex)
    if pending is not None:
        await pending
