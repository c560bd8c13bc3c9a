"""The OpenAI chat-completions front door's request: every mistake becomes a 400 naming the field.

Pure functions over bytes and headers, so they are tested without a server. The body has
already been read by `request_boundary.read_body`; here it is parsed (`request_boundary.parse_body`)
and its chat-completions fields are checked. What the gateway consumes itself — `model` (auto,
a tier or a model), `metadata` (routing metadata, from the body or the `X-Rulerouter-Metadata`
header) and `stream` — is taken out; every other field is passed to the upstream unchanged,
and every value is checked once more by the router's boundary (depth, numbers, text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..boundary import NotJSONNumber
from .request_boundary import BadRequest, metadata_from_header, parse_body, type_name

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


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    stream: bool
    include_usage: bool
    params: dict[str, Any]


def _messages(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadRequest(f"'messages' must be an array of message objects, not {type_name(value)}", "messages")
    if not value:
        raise BadRequest("'messages' must hold at least one message", "messages")
    for index, message in enumerate(value):  # where a message is named only when it is at fault
        if not isinstance(message, dict):
            raise BadRequest(f"'messages[{index}]' must be an object, not {type_name(message)}", f"messages[{index}]")
        role = message.get("role")
        if type(role) is not str or role not in _ROLES:
            if not isinstance(role, str):
                raise BadRequest(f"'messages[{index}].role' must be a string, not {type_name(role)}", f"messages[{index}].role")
            raise BadRequest(f"'messages[{index}].role' must be one of {', '.join(sorted(_ROLES))}, not {role!r}", f"messages[{index}].role")
        content = message.get("content")
        if content is None or type(content) is str:
            continue
        if not isinstance(content, (str, list)):
            raise BadRequest(f"'messages[{index}].content' must be a string or an array of parts, not {type_name(content)}", f"messages[{index}].content")
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    where = f"messages[{index}].content[{part_index}]"
                    raise BadRequest(f"'{where}' must be an object with a string 'type'", where)
    return value


def parse_chat_request(body: bytes, metadata_header: bytes | None = None) -> ChatRequest:
    """Validate a chat-completions body; raise `BadRequest` naming the field at fault."""
    data = parse_body(body)
    messages = _messages(data.pop("messages", None))
    model = data.pop("model", "auto")
    if not isinstance(model, str) or not model:
        raise BadRequest(f"'model' must be a non-empty string ('auto', a tier or a model), not {type_name(model)}", "model")
    stream = data.pop("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise BadRequest(f"'stream' must be true or false, not {type_name(stream)}", "stream")
    metadata = data.pop("metadata", None)
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest(f"'metadata' must be an object, not {type_name(metadata)}", "metadata")
    from_header = metadata_from_header(metadata_header)
    if from_header is not None:
        metadata = {**from_header, **(metadata or {})}
    for name, value in data.items():  # the fields sent, not every field known: a request sends few
        typed = _TYPED_PARAMS.get(name)
        if typed is None or value is None or isinstance(value, NotJSONNumber):
            continue  # NaN, 1e999, a 5,000-digit integer: the router's boundary names it
        if isinstance(value, bool) or not isinstance(value, typed[0]):
            raise BadRequest(f"'{name}' must be {typed[1]}, not {type_name(value)}", name)
    options = data.get("stream_options")
    include_usage = bool(isinstance(options, dict) and options.get("include_usage") is True)
    if not stream:
        data.pop("stream_options", None)
    return ChatRequest(model=model, messages=messages, metadata=metadata, stream=stream, include_usage=include_usage, params=data)
