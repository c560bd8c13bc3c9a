"""The internal (OpenAI chat-completions) request as an Anthropic Messages API request.

Leading system and developer messages become `system`; user, assistant and tool messages become
`user` / `assistant` turns with content blocks (consecutive turns of one role are merged, tool
results open the user turn that follows the assistant's tool calls, as the API requires);
images given as data or http(s) URLs become image blocks; tool calls become `tool_use` blocks
and tool messages `tool_result` blocks. Parameters with an equivalent are renamed
(`max_completion_tokens`/`max_tokens` → `max_tokens`, `stop` → `stop_sequences`, `user` →
`metadata.user_id`, `tools`, `tool_choice` and `parallel_tool_calls`, `response_format` with a
JSON schema → `output_config.format`, `reasoning_effort` → `output_config.effort`); OpenAI's
neutral defaults (`n = 1`, `logprobs = false`, zero penalties) are dropped, `stream_options` is
implied (Anthropic always reports usage). A field with no equivalent raises `Untranslatable`
naming it; a field this module does not know is passed on as it is, for the API to judge.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from ..boundary import InvalidInput, check, read_json
from .native import Untranslatable

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "anthropic_body"]

ANTHROPIC_VERSION = "2023-06-01"  # the API version that still takes temperature and top_p
DEFAULT_MAX_TOKENS = 4096
_SAMPLING_REMOVED = "2026-10-21"  # API versions from this one on refuse temperature, top_p, top_k
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "n": (None, 1),
    "logprobs": (None, False),
    "top_logprobs": (None,),
    "logit_bias": (None,),
    "presence_penalty": (None, 0),
    "frequency_penalty": (None, 0),
    "seed": (None,),
    "modalities": (None, ["text"]),
    "audio": (None,),
    "prediction": (None,),
    "web_search_options": (None,),
    "store": (None, False),
    "functions": (None,),
    "function_call": (None,),
    "verbosity": (None,),
    "service_tier": (None, "auto"),
    "prompt_cache_key": (None,),
    "safety_identifier": (None,),
}
_CONSUMED = frozenset({"max_tokens", "max_completion_tokens", "stop", "user", "tools", "tool_choice", "parallel_tool_calls",
                       "response_format", "reasoning_effort", "stream_options", "temperature", "top_p"})
_EFFORTS = frozenset({"low", "medium", "high", "xhigh"})
_MESSAGE_KEYS = frozenset({"role", "content", "tool_calls", "tool_call_id", "refusal", "cache_control"})


def _text_blocks(content: Any, where: str, *, allow_images: bool) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if content is None:
        return []
    if not isinstance(content, list):
        raise Untranslatable(f"{where}.content", "is neither text nor a list of parts")
    blocks = []
    for i, part in enumerate(content):
        here = f"{where}.content[{i}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            block: dict[str, Any] = {"type": "text", "text": part["text"]}
        elif kind == "image_url" and allow_images:
            block = _image(part.get("image_url"), here)
        else:
            raise Untranslatable(here, f"a {kind!r} part has no Anthropic content block")
        if isinstance(part, Mapping) and "cache_control" in part:
            block["cache_control"] = part["cache_control"]
        blocks.append(block)
    return blocks


def _image(image: Any, where: str) -> dict[str, Any]:
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str):
        raise Untranslatable(where, "an image_url part without a url")
    if url.startswith("data:"):
        head, sep, data = url[5:].partition(",")
        media_type, _, encoding = head.partition(";")
        if not sep or encoding != "base64":
            raise Untranslatable(where, "an image data URL that is not base64")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise Untranslatable(where, "an image URL that is neither data: nor http(s)")


def _tool_use(call: Any, where: str) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping) or call.get("type", "function") != "function":
        raise Untranslatable(where, "only function tool calls have an Anthropic form")
    arguments = function.get("arguments") or "{}"
    field = f"{where}.function.arguments"
    try:  # JSON text inside the request: the same boundary as the request itself
        value = check(read_json(arguments, field) if isinstance(arguments, str) else arguments, field)[0]
    except InvalidInput as exc:
        at = exc.field or field
        raise Untranslatable(at, str(exc).removeprefix(f"'{at}' ").removeprefix(f"{at} ")) from None
    if not isinstance(value, dict):
        raise Untranslatable(f"{where}.function.arguments", "is not a JSON object (Anthropic's tool input must be one)")
    return {"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": value}


def _tool_result(message: Mapping[str, Any], where: str) -> dict[str, Any]:
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    if isinstance(content, str):
        block["content"] = content
    elif content is not None:
        block["content"] = _text_blocks(content, where, allow_images=True)
    return block


def _conversation(messages: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, turns) of the internal messages."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise Untranslatable(where, "is not a message object")
        role = message.get("role")
        extra = set(message) - _MESSAGE_KEYS
        if extra:
            raise Untranslatable(f"{where}.{sorted(extra)[0]}", "has no Anthropic equivalent")
        if role in ("system", "developer"):
            if turns:
                raise Untranslatable(where, "a system message after the conversation has started has no place in Anthropic's API")
            system += _text_blocks(message.get("content"), where, allow_images=False)
            continue
        if role == "user":
            blocks = _text_blocks(message.get("content"), where, allow_images=True)
        elif role == "assistant":
            if message.get("refusal"):
                raise Untranslatable(f"{where}.refusal", "has no Anthropic equivalent")
            blocks = _text_blocks(message.get("content"), where, allow_images=False)
            calls = message.get("tool_calls") or ()
            if not isinstance(calls, (list, tuple)):
                raise Untranslatable(f"{where}.tool_calls", "is not a list of tool calls")
            blocks += [_tool_use(call, f"{where}.tool_calls[{j}]") for j, call in enumerate(calls)]
            if not blocks:
                raise Untranslatable(where, "an assistant message with no content and no tool calls")
        elif role == "tool":
            role, blocks = "user", [_tool_result(message, where)]
        else:
            raise Untranslatable(f"{where}.role", f"the role {role!r} has no Anthropic equivalent")
        if "cache_control" in message and blocks:
            blocks[-1] = {**blocks[-1], "cache_control": message["cache_control"]}
        if turns and turns[-1]["role"] == role:
            previous = turns[-1]["content"]
            if blocks and blocks[0]["type"] == "tool_result" and previous and previous[-1]["type"] != "tool_result":
                raise Untranslatable(where, "a tool result must follow the assistant's tool calls directly")
            previous.extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if not turns:
        raise Untranslatable("messages", "Anthropic's API needs at least one user or assistant message")
    return system, turns


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise Untranslatable("tools", "is not a list")
    out = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or tool.get("type") != "function" or not function.get("name"):
            raise Untranslatable(f"tools[{i}]", "only function tools with a name have an Anthropic form")
        entry: dict[str, Any] = {"name": function["name"], "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
        if function.get("description"):
            entry["description"] = function["description"]
        if function.get("strict") is not None:
            entry["strict"] = function["strict"]
        if "cache_control" in tool:
            entry["cache_control"] = tool["cache_control"]
        out.append(entry)
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice is None and parallel in (None, True):
        return None
    if choice in (None, "auto"):
        out: dict[str, Any] = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, Mapping) and choice.get("type") == "function" and isinstance(choice.get("function"), Mapping):
        out = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise Untranslatable("tool_choice", f"{json.dumps(choice)[:80]} has no Anthropic equivalent")
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def _output_config(response_format: Any, effort: Any) -> dict[str, Any] | None:
    config: dict[str, Any] = {}
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, Mapping) else None
        schema = response_format.get("json_schema") if kind == "json_schema" else None
        if kind == "json_schema" and isinstance(schema, Mapping) and isinstance(schema.get("schema"), Mapping):
            config["format"] = {"type": "json_schema", "schema": schema["schema"]}
        elif kind != "text":
            raise Untranslatable("response_format", f"{kind!r} has no Anthropic equivalent (only a json_schema with a schema does)")
    if effort is not None:
        if not isinstance(effort, str) or effort not in _EFFORTS:
            raise Untranslatable("reasoning_effort", f"{effort!r} is not one of Anthropic's efforts ({', '.join(sorted(_EFFORTS))})")
        config["effort"] = effort
    return config or None


def anthropic_body(messages: list[Any], params: Mapping[str, Any], *, model: str, stream: bool,
                   version: str = ANTHROPIC_VERSION, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> dict[str, Any]:
    """The Messages API body for an internal request; `Untranslatable` names what cannot go."""
    system, turns = _conversation(messages)
    body: dict[str, Any] = {"model": model}
    max_tokens = params.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = params.get("max_tokens")
    body["max_tokens"] = default_max_tokens if max_tokens is None else max_tokens
    if system:
        body["system"] = system
    body["messages"] = turns
    for name in ("temperature", "top_p"):
        if params.get(name) is not None:
            if version >= _SAMPLING_REMOVED:
                raise Untranslatable(name, f"Anthropic's API version {version} has no {name}")
            body[name] = params[name]
    stop = params.get("stop")
    if stop:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(item, str) for item in stops):
            raise Untranslatable("stop", "is neither a string nor a list of strings")
        body["stop_sequences"] = stops
    if params.get("tools"):
        body["tools"] = _tools(params["tools"])
    choice = _tool_choice(params.get("tool_choice"), params.get("parallel_tool_calls"))
    if choice is not None:
        body["tool_choice"] = choice
    if params.get("user") is not None:
        body["metadata"] = {"user_id": params["user"]}
    config = _output_config(params.get("response_format"), params.get("reasoning_effort"))
    if config is not None:
        body["output_config"] = config
    for name, value in params.items():
        if name in _CONSUMED:
            continue
        neutral = _NEUTRAL.get(name)
        if neutral is not None:
            if value not in neutral:
                raise Untranslatable(name, "has no Anthropic equivalent")
            continue
        body[name] = value  # not an OpenAI field this module knows: the API will judge it
    if stream:
        body["stream"] = True
    return body
