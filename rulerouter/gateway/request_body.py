"""Reading a client's chat-completions request: every mistake becomes a 400 that names the field.

Pure functions over bytes and headers, so they are tested without a server. What the gateway
consumes itself — `model` (auto, a tier or a model), `metadata` (routing metadata, from the body
or the `X-Rulerouter-Metadata` header) and `stream` — is taken out; every other field is passed
to the upstream unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["BadRequest", "ChatRequest", "parse_chat_request"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_TYPED_PARAMS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "max_tokens": (int, "an integer"),
    "max_completion_tokens": (int, "an integer"),
    "n": (int, "an integer"),
    "seed": (int, "an integer"),
    "temperature": ((int, float), "a number"),
    "top_p": ((int, float), "a number"),
    "presence_penalty": ((int, float), "a number"),
    "frequency_penalty": ((int, float), "a number"),
    "tools": (list, "an array"),
    "stop": ((str, list), "a string or an array"),
    "response_format": (dict, "an object"),
    "stream_options": (dict, "an object"),
    "user": (str, "a string"),
}


class BadRequest(ValueError):
    """The client's request cannot be used; `param` names the field when there is one."""

    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.status = status
        self.code = code


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    stream: bool
    include_usage: bool
    params: dict[str, Any]


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _messages(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadRequest(f"'messages' must be an array of message objects, not {_type_name(value)}", "messages")
    if not value:
        raise BadRequest("'messages' must hold at least one message", "messages")
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise BadRequest(f"'{where}' must be an object, not {_type_name(message)}", where)
        role = message.get("role")
        if not isinstance(role, str):
            raise BadRequest(f"'{where}.role' must be a string, not {_type_name(role)}", f"{where}.role")
        if role not in _ROLES:
            raise BadRequest(f"'{where}.role' must be one of {', '.join(sorted(_ROLES))}, not {role!r}", f"{where}.role")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise BadRequest(f"'{where}.content' must be a string or an array of parts, not {_type_name(content)}", f"{where}.content")
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise BadRequest(f"'{where}.content[{part_index}]' must be an object with a string 'type'", f"{where}.content[{part_index}]")
    return value


def parse_metadata_header(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        metadata = json.loads(value)
    except ValueError as exc:
        raise BadRequest(f"the X-Rulerouter-Metadata header is not valid JSON: {exc}", "X-Rulerouter-Metadata") from None
    if not isinstance(metadata, dict):
        raise BadRequest("the X-Rulerouter-Metadata header must be a JSON object", "X-Rulerouter-Metadata")
    return metadata


def parse_chat_request(body: bytes, metadata_header: str | None = None) -> ChatRequest:
    """Validate a chat-completions body; raise `BadRequest` naming the field at fault."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the request body is not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, not {_type_name(data)}")
    messages = _messages(data.pop("messages", None))
    model = data.pop("model", "auto")
    if not isinstance(model, str) or not model:
        raise BadRequest(f"'model' must be a non-empty string ('auto', a tier or a model), not {_type_name(model)}", "model")
    stream = data.pop("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise BadRequest(f"'stream' must be true or false, not {_type_name(stream)}", "stream")
    metadata = data.pop("metadata", None)
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest(f"'metadata' must be an object, not {_type_name(metadata)}", "metadata")
    from_header = parse_metadata_header(metadata_header)
    if from_header is not None:
        metadata = {**from_header, **(metadata or {})}
    for name, (kind, description) in _TYPED_PARAMS.items():
        if name in data and data[name] is not None:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, kind):
                raise BadRequest(f"'{name}' must be {description}, not {_type_name(value)}", name)
    options = data.get("stream_options")
    include_usage = bool(isinstance(options, dict) and options.get("include_usage") is True)
    if not stream:
        data.pop("stream_options", None)
    return ChatRequest(model=model, messages=messages, metadata=metadata, stream=stream, include_usage=include_usage, params=data)
