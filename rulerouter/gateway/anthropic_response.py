"""Answers in Anthropic's Messages API shape, from the internal (OpenAI) form.

An answer from a provider that speaks Anthropic's API is passed back as it came (renamed to the
model the policy calls it); any other answer is translated here: `message_of` turns a chat
completion into a `message`, and `MessageEvents` turns a stream of chat-completion chunks into
Anthropic's exact event sequence (`message_start`, `ping`, per block `content_block_start`,
`text_delta` or `input_json_delta` deltas and `content_block_stop`, then `message_delta` with the
stop reason and usage, and `message_stop`). Errors are `{"type": "error", "error": {"type",
"message"}, "request_id"}` with the error type Anthropic's SDK expects for the status.
"""

from __future__ import annotations

import json
from typing import Any

from ..boundary import InvalidInput, check, read_json
from ..execute.anthropic_reply import stop_reason_of
from ..execute.result import Usage

__all__ = ["ERROR_TYPES", "MessageEvents", "error_body", "message_of", "usage_of_result"]

#: HTTP status → Anthropic error type (what its SDK maps to its exception classes by status).
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 408: "timeout_error", 409: "conflict_error",
               413: "request_too_large", 429: "rate_limit_error", 431: "invalid_request_error", 500: "api_error",
               502: "api_error", 503: "api_error", 504: "timeout_error", 529: "overloaded_error"}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def error_body(status: int, message: str, request_id: str | None = None) -> bytes:
    error_type = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return _dumps(body).encode()


def usage_of_result(usage: Usage) -> dict[str, int]:
    """Internal usage (prompt tokens include the cache's) in Anthropic's terms (they do not)."""
    return {"input_tokens": max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0),
            "output_tokens": usage.completion_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens, "cache_read_input_tokens": usage.cached_tokens}


def _tool_input(arguments: Any) -> Any:
    """A tool call's JSON-text arguments as Anthropic's input object."""
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:  # by the same rules as the reply that carried them: no NaN, no 5,000-digit number, bounded depth
        value = check(read_json(arguments, "the model's tool arguments"), "input")[0]
    except InvalidInput as exc:
        raise ValueError(f"{exc} ({arguments[:80]!r})") from None
    if not isinstance(value, dict):
        raise ValueError("the model's tool arguments are not a JSON object, which Anthropic's tool_use input must be")
    return value


def _calls(value: Any) -> list[dict[str, Any]]:
    """The tool calls of a reply or a delta, as far as they are tool calls (ValueError when not)."""
    if not value:
        return []
    if not isinstance(value, list) or not all(isinstance(call, dict) for call in value):
        raise ValueError("tool calls that are not a list of objects")
    return value


def _function(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    return function if isinstance(function, dict) else {}


def message_of(completion: dict[str, Any], *, message_id: str, model: str, usage: Usage) -> dict[str, Any]:
    """A chat completion as an Anthropic `message` (ValueError for tool calls Anthropic's form cannot hold)."""
    choice = completion["choices"][0]  # a completion the executor accepted has one
    reply = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    text = reply.get("content")
    if isinstance(text, list):
        text = "".join(p["text"] for p in text if isinstance(p, dict) and isinstance(p.get("text"), str))
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in _calls(reply.get("tool_calls")):
        function = _function(call)
        content.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": _tool_input(function.get("arguments"))})
    finish = choice.get("finish_reason")
    return {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop_reason_of(finish), "stop_sequence": None, "usage": usage_of_result(usage)}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (name.encode(), _dumps(data).encode())


def _json_text(text: Any) -> bytes:
    return _dumps(text).encode()


# The frames of a translated stream, written from templates: a stream is many small events, and
# serialising each as a dict would cost more than the rest of the translation.
_PING = _event("ping", {"type": "ping"})
_MESSAGE_STOP = _event("message_stop", {"type": "message_stop"})
_BLOCK_STOP = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":%d}\n\n'
_TEXT_START = b'event: content_block_start\ndata: {"type":"content_block_start","index":%d,"content_block":{"type":"text","text":""}}\n\n'
_TEXT_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":%s}}\n\n'
_JSON_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}\n\n'
_MESSAGE_START = (b'event: message_start\ndata: {"type":"message_start","message":{"id":%s,"type":"message","role":"assistant",'
                  b'"model":%s,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}\n\n')
_MESSAGE_DELTA = (b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"%s","stop_sequence":null},'
                  b'"usage":{"input_tokens":%d,"output_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d}}\n\n')


class MessageEvents:
    """Chat-completion chunks in, Anthropic's stream events out, one chunk at a time."""

    __slots__ = ("message_id", "model", "block", "tools", "finish", "blocks", "text_open")

    def __init__(self, message_id: str, model: str) -> None:
        self.message_id, self.model = message_id, model
        self.block = -1  # index of the open content block, -1 when none is open
        self.text_open = False  # the open block is a text block
        self.tools: dict[int, int] = {}  # chat-completion tool call index → content block index
        self.finish: str | None = None
        self.blocks = 0

    def start(self) -> bytes:
        return _MESSAGE_START % (_json_text(self.message_id), _json_text(self.model)) + _PING

    def _open(self) -> bytes:
        out = self._close()
        self.block = self.blocks
        self.blocks += 1
        return out

    def _close(self) -> bytes:
        if self.block < 0:
            return b""
        index, self.block, self.text_open = self.block, -1, False
        return _BLOCK_STOP % index

    def chunk(self, data: dict[str, Any]) -> bytes:
        """The events one chunk means (ValueError for a chunk whose tool calls cannot be read)."""
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return b""
        choice = choices[0]
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        out = b""
        text = delta.get("content")
        if isinstance(text, str) and text:
            if not self.text_open:
                out += self._open()
                out += _TEXT_START % self.block
                self.text_open = True
            out += _TEXT_DELTA % (self.block, _json_text(text))
        for call in _calls(delta.get("tool_calls")):
            function = _function(call)
            index = call.get("index", 0)
            if not isinstance(index, int):
                raise ValueError("a tool call delta without an integer index")
            if index not in self.tools:
                out += self._open()
                block = {"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": {}}
                out += _event("content_block_start", {"type": "content_block_start", "index": self.block, "content_block": block})
                self.tools[index] = self.block
            arguments = function.get("arguments")
            if isinstance(arguments, str) and arguments:
                out += _JSON_DELTA % (self.tools[index], _json_text(arguments))
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
        return out

    def end(self, usage: Usage | None) -> bytes:
        stop = stop_reason_of(self.finish)
        counted = usage_of_result(usage or Usage())
        return self._close() + _MESSAGE_DELTA % (stop.encode(), counted["input_tokens"], counted["output_tokens"],
                                                 counted["cache_creation_input_tokens"], counted["cache_read_input_tokens"]) + _MESSAGE_STOP

    def error(self, message: str, status: int = 502) -> bytes:
        return b"event: error\ndata: %s\n\n" % error_body(status, message)
