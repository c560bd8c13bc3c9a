"""The provider side's translation between the internal (OpenAI) form and Anthropic's API, as
pure functions: every field that has an equivalent, and every one that has none."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rulerouter.execute.anthropic_reply import AnthropicStream, read_anthropic_reply, usage_from_anthropic
from rulerouter.execute.anthropic_request import anthropic_body
from rulerouter.execute.cost import cost_of
from rulerouter.execute.native import Untranslatable
from rulerouter.execute.result import Usage
from rulerouter.execute.redact import Redactor
from rulerouter.execute.upstream_reply import usage_of
from rulerouter.policy.schema import Price

USER = [{"role": "user", "content": "hi"}]


def body(messages: list[Any] = USER, **params: Any) -> dict[str, Any]:
    return anthropic_body(messages, params, model="m", stream=False)


def test_leading_system_and_developer_messages_become_system_blocks() -> None:
    sent = body([{"role": "system", "content": "one"}, {"role": "developer", "content": [{"type": "text", "text": "two"}]}, *USER])
    assert sent["system"] == [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert sent["max_tokens"] == 4096


def test_images_and_cache_control_are_carried() -> None:
    parts = [{"type": "text", "text": "what is this?", "cache_control": {"type": "ephemeral"}},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
             {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]
    content = body([{"role": "user", "content": parts}])["messages"][0]["content"]
    assert content == [{"type": "text", "text": "what is this?", "cache_control": {"type": "ephemeral"}},
                       {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                       {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]


def test_consecutive_turns_of_one_role_are_merged() -> None:
    sent = body([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}])
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                                {"role": "assistant", "content": [{"type": "text", "text": "c"}]}]


@pytest.mark.parametrize(("params", "expected"), [
    ({"max_completion_tokens": 9, "max_tokens": 5}, {"max_tokens": 9}),
    ({"stop": "END"}, {"stop_sequences": ["END"]}),
    ({"user": "u1"}, {"metadata": {"user_id": "u1"}}),
    ({"tool_choice": "auto"}, {"tool_choice": {"type": "auto"}}),
    ({"tool_choice": "none"}, {"tool_choice": {"type": "none"}}),
    ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, {"tool_choice": {"type": "tool", "name": "f"}}),
    ({"parallel_tool_calls": False}, {"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}}),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}},
     {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}),
    ({"reasoning_effort": "high"}, {"output_config": {"effort": "high"}}),
    ({"n": 1, "logprobs": False, "presence_penalty": 0, "stream_options": {"include_usage": True}, "service_tier": "auto"}, {}),
    ({"top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 2000}}, {"top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 2000}}),
])
def test_parameters_with_an_equivalent(params: dict[str, Any], expected: dict[str, Any]) -> None:
    sent = body(**params)
    for name in ("model", "messages"):
        sent.pop(name)
    if "max_tokens" not in expected:
        assert sent.pop("max_tokens") == 4096
    assert sent == expected


@pytest.mark.parametrize(("messages", "params", "where"), [
    (USER, {"n": 2}, "n"),
    (USER, {"logprobs": True}, "logprobs"),
    (USER, {"seed": 7}, "seed"),
    (USER, {"frequency_penalty": 0.5}, "frequency_penalty"),
    (USER, {"response_format": {"type": "json_object"}}, "response_format"),
    (USER, {"reasoning_effort": "minimal"}, "reasoning_effort"),
    (USER, {"tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
    (USER, {"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0]"),
    ([{"role": "user", "content": "a"}, {"role": "system", "content": "late"}], {}, "messages[1]"),
    ([{"role": "user", "content": "a", "name": "bob"}], {}, "messages[0].name"),
    ([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}], {}, "messages[0].content[0]"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}], {}, "messages[0].content[0]"),
    ([{"role": "function", "content": "x", "name": "f"}], {}, "messages[0].name"),
    ([*USER, {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}],
     {}, "messages[1].tool_calls[0].function.arguments"),
    ([*USER, {"role": "assistant", "content": ""}], {}, "messages[1]"),
    ([{"role": "system", "content": "only"}], {}, "messages"),
])
def test_what_has_no_equivalent_is_named(messages: list[Any], params: dict[str, Any], where: str) -> None:
    with pytest.raises(Untranslatable) as caught:
        anthropic_body(messages, params, model="m", stream=False)
    assert caught.value.where == where


def test_api_version_2026_10_21_refuses_sampling_parameters() -> None:
    assert anthropic_body(USER, {"temperature": 0.3, "top_p": 0.9}, model="m", stream=False)["top_p"] == 0.9
    with pytest.raises(Untranslatable, match="temperature: Anthropic's API version 2026-10-21 has no temperature"):
        anthropic_body(USER, {"temperature": 0.3}, model="m", stream=False, version="2026-10-21")


def test_a_message_and_its_usage_with_the_prompt_cache() -> None:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": "max_tokens",
               "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"}, {"type": "text", "text": "Hello"},
                           {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}],
               "usage": {"input_tokens": 10, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200, "output_tokens": 30}}
    outcome = read_anthropic_reply(200, {}, json.dumps(message).encode(), Redactor())
    assert outcome.ok and outcome.api == "anthropic"
    choice = outcome.response["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["content"] == "Hello"
    assert choice["message"]["tool_calls"] == [{"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]
    assert outcome.usage == Usage(1210, 30, 1000, 200)
    assert outcome.response["usage"] == {"prompt_tokens": 1210, "completion_tokens": 30, "total_tokens": 1240,
                                         "prompt_tokens_details": {"cached_tokens": 1000}}
    price = Price(input_per_mtok=3.0, output_per_mtok=15.0, cached_input_per_mtok=0.3, cache_write_per_mtok=3.75)
    assert cost_of(price, outcome.usage, True) == pytest.approx((10 * 3.0 + 1000 * 0.3 + 200 * 3.75 + 30 * 15.0) / 1e6)
    assert cost_of(Price(input_per_mtok=3.0, output_per_mtok=15.0), outcome.usage, True) == pytest.approx((1210 * 3.0 + 30 * 15.0) / 1e6)


def test_openai_cached_tokens_are_read_too() -> None:
    usage = usage_of({"usage": {"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 80}}})
    assert usage == Usage(100, 5, 80, 0) and usage.to_dict()["cached_tokens"] == 80


@pytest.mark.parametrize(("status", "body", "kind"), [
    (200, b"not json", "malformed"),
    (200, b'{"type": "message"}', "malformed"),
    (200, b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}', "server_error"),
    (529, b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}', "server_error"),
    (400, b'{"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 300 tokens > 200 maximum"}}', "context_length"),
    (401, b'{"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}', "rejected"),
    (429, b'{"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}', "rate_limited"),
])
def test_errors_in_anthropics_shape(status: int, body: bytes, kind: str) -> None:
    assert read_anthropic_reply(status, {"retry-after": "3"}, body, Redactor()).kind == kind


def test_a_stream_event_by_event() -> None:
    stream = AnthropicStream()
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "c", "usage": {"input_tokens": 7, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": " 1}"}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}},
        {"type": "message_stop"},
    ]
    deltas = []
    for event in events:
        chunks = stream.read(event)
        assert not hasattr(chunks, "kind")
        deltas += [c["choices"][0] if c["choices"] else c["usage"] for c in chunks]
    assert deltas == [
        {"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None},
        {"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "toolu_9", "type": "function", "function": {"name": "f", "arguments": ""}}]}, "finish_reason": None},
        {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}, "finish_reason": None},
        {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]}, "finish_reason": None},
        {"index": 0, "delta": {}, "finish_reason": "tool_calls"},
        {"prompt_tokens": 7, "completion_tokens": 12, "total_tokens": 19},
    ]
    assert stream.finished and stream.usage == Usage(7, 12)


@pytest.mark.parametrize("event", [
    "not an object", {"type": "content_block_delta"}, {"type": "content_block_start"}, {"type": "message_start"},
    {"type": "content_block_delta", "index": 5, "delta": {"type": "input_json_delta", "partial_json": "{"}},
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
])
def test_stream_events_that_are_errors(event: Any) -> None:
    outcome = AnthropicStream().read(event)
    assert getattr(outcome, "kind", None) in ("malformed", "server_error")


def test_usage_of_a_message_delta_keeps_what_message_start_said() -> None:
    start = usage_from_anthropic({"input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 1})
    assert usage_from_anthropic({"output_tokens": 9}, start) == Usage(105, 9, 100, 0)
