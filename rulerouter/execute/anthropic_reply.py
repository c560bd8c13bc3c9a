"""Reading a provider that speaks Anthropic's Messages API, into the internal (OpenAI) form.

The fallback flow, verification, cost and results all read OpenAI chat completions, so an
Anthropic reply is translated on arrival: a `message` becomes a `chat.completion` (text blocks
joined into `content`, `tool_use` blocks into `tool_calls` with JSON-text arguments, the stop
reason into a finish reason, usage into prompt and completion tokens with the cache counted
in), and each stream event becomes the chat-completion chunk it means, if any (`AnthropicStream`).
The reply as received is kept beside its translation, so a client that asked in Anthropic's API
gets it back exactly (thinking blocks, citations and all).

Stop reasons and finish reasons map both ways with `FINISH_REASONS` / `STOP_REASONS`, which
the gateway's Anthropic front door uses for the other direction.
"""

from __future__ import annotations

import json
import time
from typing import Any, Mapping

from .result import Usage
from .redact import Redactor
from .upstream_reply import Outcome, error_in_200, error_outcome, parse_body

__all__ = ["FINISH_REASONS", "STOP_REASONS", "AnthropicStream", "completion_of", "finish_reason_of", "read_anthropic_reply",
           "stop_reason_of", "usage_from_anthropic"]

#: Anthropic stop reason → OpenAI finish reason.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}
#: OpenAI finish reason → Anthropic stop reason.
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                "content_filter": "refusal"}


def finish_reason_of(stop: Any) -> str:
    """An Anthropic stop reason (whatever the upstream put there) as a finish reason."""
    if not isinstance(stop, str) or not stop:
        return "stop"
    return FINISH_REASONS.get(stop, stop)


def stop_reason_of(finish: Any) -> str:
    """A finish reason (whatever the upstream put there) as an Anthropic stop reason."""
    return STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"


def _tokens(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from_anthropic(usage: Any, previous: Usage | None = None) -> Usage | None:
    """Anthropic's usage (input tokens exclude the cache's) as internal usage (prompt includes it).

    `previous` is what a stream's `message_start` said: a `message_delta` repeats only what changed.
    """
    if not isinstance(usage, Mapping):
        return previous
    base = previous or Usage()
    cached = _tokens(usage["cache_read_input_tokens"]) if "cache_read_input_tokens" in usage else base.cached_tokens
    written = _tokens(usage["cache_creation_input_tokens"]) if "cache_creation_input_tokens" in usage else base.cache_write_tokens
    uncached = _tokens(usage["input_tokens"]) if "input_tokens" in usage else base.prompt_tokens - base.cached_tokens - base.cache_write_tokens
    output = _tokens(usage["output_tokens"]) if "output_tokens" in usage else base.completion_tokens
    return Usage(uncached + cached + written, output, cached, written)


def _usage_dict(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = usage.to_dict()
    cached = out.pop("cached_tokens", 0)
    out.pop("cache_write_tokens", None)
    if cached:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    return out


def _tool_call(block: Mapping[str, Any]) -> dict[str, Any]:
    arguments = block.get("input")
    return {"id": block.get("id"), "type": "function",
            "function": {"name": block.get("name"), "arguments": json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)}}


def completion_of(message: Mapping[str, Any], usage: Usage | None) -> dict[str, Any]:
    """An Anthropic `message` as a `chat.completion` (thinking and server-tool blocks, which a
    chat completion has no place for, are left out of the translation; the original keeps them)."""
    blocks = [b for b in message.get("content") or () if isinstance(b, Mapping)]
    text = [b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)]
    calls = [_tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if calls:
        reply["tool_calls"] = calls
    stop = message.get("stop_reason")
    out: dict[str, Any] = {
        "id": message.get("id"), "object": "chat.completion", "created": int(time.time()), "model": message.get("model"),
        "choices": [{"index": 0, "message": reply, "finish_reason": finish_reason_of(stop)}],
    }
    if usage is not None:
        out["usage"] = _usage_dict(usage)
    return out


def _valid_message(data: Any) -> bool:
    return isinstance(data, dict) and data.get("type") == "message" and isinstance(data.get("content"), list)


def read_anthropic_reply(status: int, headers: Mapping[str, str], body: bytes, redact: Redactor) -> Outcome:
    """Classify a complete (non-streaming) Messages API reply; an answer is translated."""
    parsed, data, body = parse_body(body)
    if status != 200:
        return error_outcome(status, headers, body, parsed, data, redact)
    if not parsed:
        return Outcome("malformed", status, f"reply is not JSON ({len(body)} bytes)")
    if isinstance(data, dict) and data.get("type") == "error":
        return error_in_200(data, redact)
    if not _valid_message(data):
        return Outcome("malformed", status, "reply is not an Anthropic message (no content array)")
    usage = usage_from_anthropic(data.get("usage"))
    return Outcome(None, status, response=completion_of(data, usage), usage=usage, raw=body, api="anthropic")


class AnthropicStream:
    """One Anthropic stream, event by event, as chat-completion chunks.

    `read(data)` takes one event's parsed data and returns the chunks it means (OpenAI-shaped
    dicts; none for `message_start`, `ping`, a block's end or a thinking delta), or an
    `Outcome` when the event is an error or not an event at all. `text` is the answer text an
    event carried; `finished` is set once the stop reason is known; `usage` accumulates.
    """

    __slots__ = ("id", "model", "usage", "finished", "_tools", "_role_sent", "_created")

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.usage: Usage | None = None
        self.finished = False
        self._tools: dict[int, int] = {}  # content block index → tool call index
        self._role_sent = False
        self._created = int(time.time())

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        if not self._role_sent:
            self._role_sent = True
            delta = {"role": "assistant", **delta}
        return {"id": self.id, "object": "chat.completion.chunk", "created": self._created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def read(self, data: Any) -> list[dict[str, Any]] | Outcome:
        if not isinstance(data, dict):
            return Outcome("malformed", 200, "stream event is not a JSON object")
        kind = data.get("type")
        if kind == "content_block_delta":
            delta = data.get("delta")
            if not isinstance(delta, dict):
                return Outcome("malformed", 200, "content_block_delta without a delta")
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                return [self._chunk({"content": delta["text"]})]
            if delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
                index = data.get("index")
                tool = self._tools.get(index) if isinstance(index, int) else None
                if tool is None:
                    return Outcome("malformed", 200, "input_json_delta for a block that is not a tool_use")
                if not delta["partial_json"]:
                    return []
                return [self._chunk({"tool_calls": [{"index": tool, "function": {"arguments": delta["partial_json"]}}]})]
            return []  # thinking, signature and citation deltas have no chat-completion form
        if kind == "content_block_start":
            block = data.get("content_block")
            if not isinstance(block, dict):
                return Outcome("malformed", 200, "content_block_start without a content block")
            if block.get("type") == "tool_use":
                index = data.get("index")
                if not isinstance(index, int):
                    return Outcome("malformed", 200, "content_block_start without an integer index")
                tool = self._tools[index] = len(self._tools)
                call = {"index": tool, "id": block.get("id"), "type": "function", "function": {"name": block.get("name"), "arguments": ""}}
                return [self._chunk({"tool_calls": [call]})]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            return []
        if kind == "message_start":
            message = data.get("message")
            if not isinstance(message, dict):
                return Outcome("malformed", 200, "message_start without a message")
            self.id, self.model = str(message.get("id") or ""), str(message.get("model") or "")
            self.usage = usage_from_anthropic(message.get("usage"), self.usage)
            return []
        if kind == "message_delta":
            delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
            self.usage = usage_from_anthropic(data.get("usage"), self.usage)
            stop = delta.get("stop_reason")
            self.finished = self.finished or stop is not None
            chunks = [self._chunk({}, finish_reason_of(stop))]
            if self.usage is not None:
                chunks.append({"id": self.id, "object": "chat.completion.chunk", "created": self._created, "model": self.model,
                               "choices": [], "usage": _usage_dict(self.usage)})
            return chunks
        if kind == "message_stop":
            self.finished = True
            return []
        if kind == "error":
            error = data.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            error_type = error.get("type") if isinstance(error, dict) else None
            return Outcome("server_error", 200, f"error event in the stream: {error_type or 'error'}: {str(message)[:300]}")
        return []  # ping, content_block_stop, and event types added later
