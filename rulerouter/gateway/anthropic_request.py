"""Reading a client's Anthropic Messages API request, into the internal (OpenAI) form.

The body has been read by `request_boundary.read_body` and is parsed by its `parse_body`, as
for every front door; the router's boundary checks every value once more. The request is
checked as Anthropic's API checks it (a mistake is a 400 naming the field, in
Anthropic's dotted style: `messages.0.content.1.type`), then translated so that routing sees it
exactly as it would see the same request made through chat completions: `system` (a string or
text blocks) becomes the system message, text blocks text parts, images image parts, `tool_use`
blocks tool calls, `tool_result` blocks tool messages, `stop_sequences` becomes `stop`,
`metadata.user_id` becomes `user`, custom `tools` function tools, `tool_choice` and
`disable_parallel_tool_use` OpenAI's `tool_choice` and `parallel_tool_calls`,
`output_config.format` a JSON-schema `response_format` and `output_config.effort`
`reasoning_effort`. `metadata` is the request's routing metadata, as in chat completions (with
`X-Rulerouter-Metadata` merged in).

Alongside goes the request as it came (`NativeRequest`): a provider that speaks Anthropic's API
is sent that, untouched. What the translation cannot carry — thinking, `top_k`, documents,
citations, server tools, containers, MCP servers and any field not known here — is listed, so
that an OpenAI-compatible provider is never sent a request with part of it missing. Prompt-cache
markers (`cache_control`) are the one thing dropped for such a provider: they ask for caching,
which OpenAI-compatible providers do on their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..boundary import NotJSONNumber
from ..execute.native import NativeRequest
from .request_boundary import BadRequest, metadata_from_header, parse_body, type_name

__all__ = ["MessagesRequest", "parse_messages_request"]

_ROLES = frozenset({"user", "assistant", "system"})
_KNOWN = frozenset({"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p",
                    "tools", "tool_choice", "thinking", "output_config", "service_tier", "cache_control"})
_EFFORTS = frozenset({"low", "medium", "high"})
_FORWARDED_HEADERS = (b"anthropic-beta",)  # passed on to a provider that speaks Anthropic's API


@dataclass(slots=True)
class MessagesRequest:
    model: str
    messages: list[dict[str, Any]]  # the internal (OpenAI) form, as routing sees it
    params: dict[str, Any]
    metadata: dict[str, Any] | None
    stream: bool
    native: NativeRequest


class _Translation:
    """Collects what cannot be carried into the internal form while translating."""

    def __init__(self) -> None:
        self.lost: list[str] = []

    def cannot(self, where: str, why: str) -> None:
        self.lost.append(f"{where} ({why})")


def _bad(where: str, message: str) -> BadRequest:
    return BadRequest(f"{where}: {message}", where)


def _text_of(block: dict[str, Any], where: str) -> str:
    if not isinstance(block.get("text"), str):
        raise _bad(f"{where}.text", "Field required (a string)")
    return block["text"]


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _bad(where, f"Input should be a string or a list of content blocks, not {type_name(content)}")
    for i, block in enumerate(content):
        if not (isinstance(block, dict) and isinstance(block.get("type"), str)):
            raise _bad(f"{where}.{i}", "Input should be a content block with a string 'type'")
    return content


def _image_part(block: dict[str, Any], where: str, t: _Translation) -> dict[str, Any] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _bad(f"{where}.source", "Field required")
    if source.get("type") == "base64" and isinstance(source.get("data"), str) and isinstance(source.get("media_type"), str):
        return {"type": "image_url", "image_url": {"url": f"data:{source['media_type']};base64,{source['data']}"}}
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    t.cannot(f"{where}.source", f"an image source of type {source.get('type')!r}")
    return None


def _tool_result(block: dict[str, Any], where: str, t: _Translation) -> dict[str, Any]:
    if not isinstance(block.get("tool_use_id"), str):
        raise _bad(f"{where}.tool_use_id", "Field required")
    content = block.get("content", "")
    if isinstance(content, list):
        texts = []
        for j, inner in enumerate(_blocks(content, f"{where}.content")):
            if inner["type"] == "text":
                texts.append(_text_of(inner, f"{where}.content.{j}"))
            else:
                t.cannot(f"{where}.content.{j}", f"a {inner['type']} block in a tool result")
        content = "\n".join(texts)
    else:
        if not isinstance(content, str):
            raise _bad(f"{where}.content", "Input should be a string or a list of content blocks")
    if block.get("is_error") is True:
        content = f"[tool error] {content}"
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": content}


def _turn(message: Any, where: str, t: _Translation) -> list[dict[str, Any]]:
    """One Anthropic message as internal messages (a user turn's tool results come first, as tool messages)."""
    if not isinstance(message, dict):
        raise _bad(where, "Input should be a message object")
    role = message.get("role")
    if not isinstance(role, str) or role not in _ROLES:
        raise _bad(f"{where}.role", f"Input should be 'user', 'assistant' or 'system', not {role!r}")
    if "content" not in message:
        raise _bad(f"{where}.content", "Field required")
    if type(message["content"]) is str:  # a plain text turn, what most requests are: one message as it is
        return [{"role": role, "content": message["content"]}]
    blocks = _blocks(message["content"], f"{where}.content")
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for i, block in enumerate(blocks):
        here, kind = f"{where}.content.{i}", block["type"]
        if kind == "text":
            parts.append({"type": "text", "text": _text_of(block, here)})
            if block.get("citations"):
                t.cannot(f"{here}.citations", "citations")
        elif kind == "image" and role == "user":
            image = _image_part(block, here, t)
            if image is not None:
                parts.append(image)
        elif kind == "tool_use" and role == "assistant":
            if not (isinstance(block.get("id"), str) and isinstance(block.get("name"), str)):
                raise _bad(here, "a tool_use block needs a string id and name")
            if not isinstance(block.get("input", {}), dict):
                raise _bad(f"{here}.input", "Input should be an object")
            calls.append({"id": block["id"], "type": "function",
                          "function": {"name": block["name"], "arguments": json.dumps(block.get("input", {}), ensure_ascii=False)}})
        elif kind == "tool_result" and role == "user":
            results.append(_tool_result(block, here, t))
        else:
            t.cannot(here, f"a {kind} block")
    out: list[dict[str, Any]] = list(results)
    if role == "assistant":
        if parts or calls:
            reply: dict[str, Any] = {"role": "assistant", "content": _content(parts) if parts else None}
            if calls:
                reply["tool_calls"] = calls
            out.append(reply)
    elif parts or not results:
        out.append({"role": role, "content": _content(parts)})
    return out


def _content(parts: list[dict[str, Any]]) -> Any:
    """A single text part as a plain string (what chat-completions clients send), else the parts."""
    return parts[0]["text"] if len(parts) == 1 and parts[0]["type"] == "text" else parts


def _tools(tools: Any, t: _Translation) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _bad("tools", f"Input should be a list, not {type_name(tools)}")
    out = []
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        if not (isinstance(tool, dict) and isinstance(tool.get("name"), str)):
            raise _bad(where, "a tool needs a string name")
        if tool.get("type") not in (None, "custom"):
            t.cannot(where, f"the server tool {tool.get('type')!r}")
            continue
        if not isinstance(tool.get("input_schema"), dict):
            raise _bad(f"{where}.input_schema", "Field required (an object)")
        function: dict[str, Any] = {"name": tool["name"], "parameters": tool["input_schema"]}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        if isinstance(tool.get("strict"), bool):
            function["strict"] = tool["strict"]
        for name in sorted(set(tool) - {"type", "name", "description", "input_schema", "strict", "cache_control"}):
            t.cannot(f"{where}.{name}", "a tool setting chat completions does not have")
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any, params: dict[str, Any]) -> None:
    if not (isinstance(choice, dict) and isinstance(choice.get("type"), str)):
        raise _bad("tool_choice", "Input should be an object with a 'type'")
    kind = choice["type"]
    if kind == "tool":
        if not isinstance(choice.get("name"), str):
            raise _bad("tool_choice.name", "Field required")
        params["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        if kind not in ("auto", "any", "none"):
            raise _bad("tool_choice.type", f"Input should be 'auto', 'any', 'tool' or 'none', not {kind!r}")
        params["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    if choice.get("disable_parallel_tool_use") is True:
        params["parallel_tool_calls"] = False


def _output_config(config: Any, params: dict[str, Any], t: _Translation) -> None:
    if not isinstance(config, dict):
        raise _bad("output_config", "Input should be an object")
    form = config.get("format")
    if form is not None:
        if not (isinstance(form, dict) and form.get("type") == "json_schema" and isinstance(form.get("schema"), dict)):
            raise _bad("output_config.format", "Input should be {'type': 'json_schema', 'schema': {...}}")
        params["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": form["schema"]}}
    effort = config.get("effort")
    if isinstance(effort, str) and effort in _EFFORTS:
        params["reasoning_effort"] = effort
    elif effort is not None:
        t.cannot("output_config.effort", f"the effort {effort!r}")
    for name in sorted(set(config) - {"format", "effort"}):
        t.cannot(f"output_config.{name}", "unknown to chat completions")


def _number(data: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = data.get(name)
    if isinstance(value, NotJSONNumber):
        return value  # NaN, 1e999, a 5,000-digit integer: the router's boundary names it
    if not (value is None or (isinstance(value, kind) and not isinstance(value, bool))):
        raise _bad(name, f"Input should be {what}, not {type_name(value)}")
    return value


def parse_messages_request(body: bytes, headers: list[tuple[bytes, bytes]], metadata_header: bytes | None = None, *,
                           count_tokens: bool = False) -> MessagesRequest:
    """Validate and translate a Messages API body; raise `BadRequest` naming the field at fault.

    `count_tokens` reads the body of `/v1/messages/count_tokens`, which has no `max_tokens`.
    """
    data = parse_body(body)
    t = _Translation()
    model = data.get("model")
    if not (isinstance(model, str) and bool(model)):
        raise _bad("model", "Field required (a string: 'auto', a tier or a model)")
    if not count_tokens:
        max_tokens = _number(data, "max_tokens", int, "an integer")
        if not (max_tokens is not None and (isinstance(max_tokens, NotJSONNumber) or max_tokens >= 1)):
            raise _bad("max_tokens", "Field required (a positive integer)")
    raw_messages = data.get("messages")
    if not (isinstance(raw_messages, list) and bool(raw_messages)):
        raise _bad("messages", "Field required (a non-empty list of messages)")
    stream = data.get("stream", False)
    if not (stream is None or isinstance(stream, bool)):
        raise _bad("stream", f"Input should be true or false, not {type_name(stream)}")
    metadata = data.get("metadata")
    if not (metadata is None or isinstance(metadata, dict)):
        raise _bad("metadata", f"Input should be an object, not {type_name(metadata)}")
    from_header = metadata_from_header(metadata_header)
    if from_header is not None:
        metadata = {**from_header, **(metadata or {})}

    messages: list[dict[str, Any]] = []
    system = data.get("system")
    if system is not None:
        parts = []
        for i, block in enumerate(_blocks(system, "system")):
            if block["type"] != "text":
                raise _bad(f"system.{i}.type", "Input should be 'text'")
            parts.append({"type": "text", "text": _text_of(block, f"system.{i}")})
        if parts:
            messages.append({"role": "system", "content": _content(parts)})
    for i, message in enumerate(raw_messages):
        messages += _turn(message, f"messages.{i}", t)

    params: dict[str, Any] = {}
    if not count_tokens:
        params["max_tokens"] = data["max_tokens"]
    for name in ("temperature", "top_p"):
        if _number(data, name, (int, float), "a number") is not None:
            params[name] = data[name]
    stop = data.get("stop_sequences")
    if stop is not None:
        if not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
            raise _bad("stop_sequences", "Input should be a list of strings")
        if stop:
            params["stop"] = stop
    if data.get("tools") is not None:
        tools = _tools(data["tools"], t)
        if tools:
            params["tools"] = tools
    if data.get("tool_choice") is not None:
        _tool_choice(data["tool_choice"], params)
    if data.get("output_config") is not None:
        _output_config(data["output_config"], params, t)
    thinking = data.get("thinking")
    if thinking is not None and not (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        t.cannot("thinking", "extended thinking")
    if data.get("service_tier") not in (None, "auto"):
        t.cannot("service_tier", f"the service tier {data['service_tier']!r}")
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user, str):
        params["user"] = user
    for name in sorted(set(data) - _KNOWN):
        t.cannot(name, "unknown to chat completions")
        params[name] = data[name]  # routing sees every field the client sent

    native_body = {k: v for k, v in data.items() if k not in ("model", "stream", "metadata")}
    if isinstance(user, str):
        native_body["metadata"] = {"user_id": user}
    forwarded = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in headers if name in _FORWARDED_HEADERS)
    native = NativeRequest("anthropic", native_body, forwarded, tuple(t.lost))
    return MessagesRequest(model=model, messages=messages, params=params, metadata=metadata, stream=bool(stream), native=native)
