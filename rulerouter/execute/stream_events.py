"""A streamed reply, event by event: SSE decoding, and what each upstream event means.

`SSEDecoder` turns bytes into events (name and data). A reader per API turns each event into
`StreamChunk`s — chat-completion chunks, the internal form every consumer reads — or an
`Outcome` when the event is an error or not an event: `OpenAIEvents` for chat-completion
streams, `AnthropicEvents` for Messages API streams. An Anthropic event keeps its own frame
(`native`), so a client that asked in Anthropic's API receives the stream exactly as sent; an
event with no chat-completion form (`ping`, a block's start or end, a thinking delta) is a chunk
with `visible=False` that only `native` carries. All of it is I/O-free and shared by the sync and
async streams.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..boundary import read_reply_json
from .anthropic_reply import AnthropicStream
from .result import Usage
from .upstream_reply import Outcome, usage_of

__all__ = ["AnthropicEvents", "OpenAIEvents", "SSEDecoder", "StreamChunk"]

_PREAMBLE = frozenset({"message_start", "ping"})  # Anthropic events that come before any answer


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One `chat.completion.chunk`: parsed, as raw JSON bytes (for pass-through), and its text.

    `native` is the upstream's own event (an SSE frame) when its API is not OpenAI's; `visible`
    is False for such an event that has no chat-completion form (its `data` is then empty).
    """

    data: dict[str, Any]
    raw: bytes
    text: str
    usage_only: bool = False  # a final usage chunk with no choices
    native: bytes | None = None
    visible: bool = True
    commits: bool = True  # once it reaches the caller, the answer is committed to this model


class SSEDecoder:
    """Server-Sent Events → (event name, data) of each event, fed bytes as they arrive."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._event = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data payload of each complete event."""
        return [data for _, data in self.events(chunk)]

    def events(self, chunk: bytes) -> list[tuple[bytes, bytes]]:
        events = []
        buffer = self._buffer + chunk
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append((self._event, b"\n".join(self._data)))
                    self._data = []
                self._event = b""
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            elif line.startswith(b"event:"):
                self._event = line[6:].strip()
            # comments (":") and other fields (id, retry) carry nothing we use
        self._buffer = buffer[start:]
        return events


def _json_object(payload: bytes) -> tuple[dict[str, Any], bytes] | Outcome:
    """The event's JSON object, read by the request boundary's rules, and the bytes to pass on for it."""
    try:
        data, payload = read_reply_json(payload)
    except ValueError as exc:  # InvalidInput: not JSON, a number JSON forbids, nested too deep
        return Outcome("malformed", 200, f"stream event is not usable JSON ({len(payload)} bytes): {str(exc)[:200]}")
    if not isinstance(data, dict):
        return Outcome("malformed", 200, "stream event is not a JSON object")
    return data, payload


def _text_of(data: dict[str, Any]) -> str:
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        delta = choices[0].get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            return delta["content"]
    return ""


class OpenAIEvents:
    """Chat-completion stream events as chunks; `finished` at `[DONE]` or a finish reason."""

    __slots__ = ("finished", "usage")

    def __init__(self) -> None:
        self.finished = False
        self.usage: Usage | None = None

    def read(self, event: bytes, payload: bytes) -> list[StreamChunk] | Outcome:
        if payload.strip() == b"[DONE]":
            self.finished = True
            return []
        read = _json_object(payload)
        if isinstance(read, Outcome):
            return read
        data, payload = read
        if "error" in data and "choices" not in data:
            error = data["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            return Outcome("server_error", 200, f"error event in the stream: {str(message)[:300]}")
        choices = data.get("choices")
        usage = usage_of(data)
        if usage is not None:
            self.usage = usage
        if isinstance(choices, list) and choices and isinstance(choices[0], dict) and choices[0].get("finish_reason"):
            self.finished = True
        return [StreamChunk(data, payload, _text_of(data), usage_only=not choices and "usage" in data)]


class AnthropicEvents:
    """Messages API stream events as chunks, each keeping its own frame; `finished` at `message_stop`."""

    __slots__ = ("stream",)

    def __init__(self) -> None:
        self.stream = AnthropicStream()

    @property
    def finished(self) -> bool:
        return self.stream.finished

    @property
    def usage(self) -> Usage | None:
        return self.stream.usage

    def read(self, event: bytes, payload: bytes) -> list[StreamChunk] | Outcome:
        read = _json_object(payload)
        if isinstance(read, Outcome):
            return read
        data, payload = read
        translated = self.stream.read(data)
        if isinstance(translated, Outcome):
            return translated
        kind = data.get("type")
        name = event or (kind.encode() if isinstance(kind, str) else b"message")
        frame = b"event: %s\ndata: %s\n\n" % (name, payload)
        if not translated:
            return [StreamChunk({}, b"", "", native=frame, visible=False, commits=kind not in _PREAMBLE)]
        chunks = []
        for i, chunk in enumerate(translated):
            chunks.append(StreamChunk(chunk, json.dumps(chunk, ensure_ascii=False).encode(), _text_of(chunk),
                                      usage_only=not chunk["choices"], native=frame if i == 0 else None))
        return chunks
