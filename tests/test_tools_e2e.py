"""Tool calls end to end: both front doors × both provider kinds, through `rulerouter serve`.

With the official `openai` client (plain, streamed, `chat.completions.stream(...)` accumulating
helper, async) and the official `anthropic` client (plain, streamed events, `messages.stream`,
async), a request offering tools gets parallel tool calls back intact — their arguments split
across many stream chunks upstream — then a second turn carrying the tool results reaches the
upstream in its own API's shape; and the same holds across a fallback before the first chunk
from one provider kind to the other.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Iterator

import pytest
from pydantic import BaseModel

from rulerouter.testing import LoopbackUpstream, Reply, Status, ToolCall

from .gateway_helpers import Served, serve
from .test_gateway_anthropic import ENV, POLICY

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")


class Weather(BaseModel):
    city: str
    unit: str
    days: list[int]


class Clock(BaseModel):
    zone: str


WEATHER = ToolCall("Weather", {"city": "Paris", "unit": "celsius", "days": [1, 2, 3]}, id="call_w1")
CLOCK = ToolCall("Clock", {"zone": "Europe/Paris"}, id="call_c1")
EXPECTED = [("call_w1", "Weather", WEATHER.input), ("call_c1", "Clock", CLOCK.input)]
OPENAI_TOOLS = [openai.pydantic_function_tool(Weather), openai.pydantic_function_tool(Clock)]
ANTHROPIC_TOOLS = [{"name": t["function"]["name"], "description": f"the {t['function']['name']} tool",
                    "input_schema": t["function"]["parameters"]} for t in OPENAI_TOOLS]
QUESTION = "What is the weather in Paris, and the time there?"
UPSTREAM = {"openai": "small", "anthropic": "claude-upstream"}  # the upstream model of each provider kind
TIER = {"openai": "cheap", "anthropic": "strong"}


@pytest.fixture(scope="module")
def gateway(upstream: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("gateway-tools")
    with serve(upstream.base_url, tmp, policy_text=POLICY.format(base_url=upstream.base_url, log=tmp / "e.jsonl"), env_extra=ENV) as served:
        yield served


# --- the OpenAI front door ------------------------------------------------------------------------


def openai_calls(gateway: Served, mode: str, tier: str) -> list[tuple[str, str, Any]]:
    """Ask through the chat-completions door; the tool calls the client ends up with."""
    messages = [{"role": "user", "content": QUESTION}]
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    if mode == "plain":
        calls = client.chat.completions.create(model=tier, messages=messages, tools=OPENAI_TOOLS).choices[0].message.tool_calls
        return [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls]
    if mode == "stream":
        pieces: dict[int, dict[str, str]] = {}
        chunks = 0
        for chunk in client.chat.completions.create(model=tier, messages=messages, tools=OPENAI_TOOLS, stream=True):
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                chunks += 1
                entry = pieces.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += call.id or ""
                entry["name"] += (call.function.name or "") if call.function else ""
                entry["arguments"] += (call.function.arguments or "") if call.function else ""
        assert chunks > 6, "the arguments should arrive in many chunks"
        return [(p["id"], p["name"], json.loads(p["arguments"])) for _, p in sorted(pieces.items())]
    if mode == "helper":
        with client.chat.completions.stream(model=tier, messages=messages, tools=OPENAI_TOOLS) as stream:
            deltas = [e for e in stream if e.type == "tool_calls.function.arguments.delta"]
            final = stream.get_final_completion()
        assert len(deltas) > 6
        calls = final.choices[0].message.tool_calls
        assert [type(c.function.parsed_arguments).__name__ for c in calls] == ["Weather", "Clock"]  # strict tools, parsed
        return [(c.id, c.function.name, c.function.parsed_arguments.model_dump()) for c in calls]

    async def ask() -> list[tuple[str, str, Any]]:
        async with openai.AsyncOpenAI(base_url=gateway.base_url, api_key="x", max_retries=0) as c:
            reply = await c.chat.completions.create(model=tier, messages=messages, tools=OPENAI_TOOLS)
        return [(t.id, t.function.name, json.loads(t.function.arguments)) for t in reply.choices[0].message.tool_calls]

    return asyncio.run(ask())


# --- the Anthropic front door ---------------------------------------------------------------------


def anthropic_calls(gateway: Served, mode: str, tier: str) -> list[tuple[str, str, Any]]:
    """Ask through the Messages API door; the tool_use blocks the client ends up with."""
    messages = [{"role": "user", "content": QUESTION}]
    client = anthropic.Anthropic(base_url=gateway.root, api_key="x", max_retries=0)
    if mode == "plain":
        message = client.messages.create(model=tier, max_tokens=200, messages=messages, tools=ANTHROPIC_TOOLS)
        assert message.stop_reason == "tool_use"
        return [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    if mode == "stream":
        blocks: dict[int, dict[str, Any]] = {}
        deltas = 0
        for event in client.messages.create(model=tier, max_tokens=200, messages=messages, tools=ANTHROPIC_TOOLS, stream=True):
            if event.type == "content_block_start" and event.content_block.type == "tool_use":
                blocks[event.index] = {"id": event.content_block.id, "name": event.content_block.name, "json": ""}
            elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                deltas += 1
                blocks[event.index]["json"] += event.delta.partial_json
        assert deltas > 6
        return [(b["id"], b["name"], json.loads(b["json"])) for _, b in sorted(blocks.items())]
    if mode == "helper":
        with client.messages.stream(model=tier, max_tokens=200, messages=messages, tools=ANTHROPIC_TOOLS) as stream:
            json_events = [e for e in stream if e.type == "input_json"]
            final = stream.get_final_message()
        assert len(json_events) > 6 and final.stop_reason == "tool_use"
        return [(b.id, b.name, b.input) for b in final.content if b.type == "tool_use"]

    async def ask() -> list[tuple[str, str, Any]]:
        async with anthropic.AsyncAnthropic(base_url=gateway.root, api_key="x", max_retries=0) as c:
            message = await c.messages.create(model=tier, max_tokens=200, messages=messages, tools=ANTHROPIC_TOOLS)
        return [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]

    return asyncio.run(ask())


ASK = {"openai": openai_calls, "anthropic": anthropic_calls}
DOORS = ["openai", "anthropic"]
PROVIDERS = ["openai", "anthropic"]
MODES = ["plain", "stream", "helper", "async"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("door", DOORS)
def test_parallel_tool_calls_come_back_intact(up: LoopbackUpstream, gateway: Served, door: str, provider: str, mode: str) -> None:
    up.script(UPSTREAM[provider], Reply("", tool_calls=(WEATHER, CLOCK)))
    assert ASK[door](gateway, mode, TIER[provider]) == EXPECTED
    sent = up.requests[0]
    assert sent.api == provider
    names = [t["function"]["name"] for t in sent.body["tools"]] if provider == "openai" else [t["name"] for t in sent.body["tools"]]
    assert names == ["Weather", "Clock"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("direction", [("openai", "anthropic"), ("anthropic", "openai")])
@pytest.mark.parametrize("door", DOORS)
def test_tool_calls_across_a_fallback_before_the_first_chunk(up: LoopbackUpstream, gateway: Served, door: str,
                                                             direction: tuple[str, str], mode: str) -> None:
    first, second = direction
    up.script(UPSTREAM[first], Status(503))
    up.script(UPSTREAM[second], Reply("", tool_calls=(WEATHER, CLOCK)))
    assert ASK[door](gateway, mode, TIER[first]) == EXPECTED
    assert [r.api for r in up.requests] == [first, second]


def _second_turn_openai(gateway: Served, tier: str, mode: str) -> str:
    client = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    messages = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in EXPECTED]},
        {"role": "tool", "tool_call_id": "call_w1", "content": "18 C, sunny"},
        {"role": "tool", "tool_call_id": "call_c1", "content": "12:00"},
    ]
    if mode == "helper":
        with client.chat.completions.stream(model=tier, messages=messages, tools=OPENAI_TOOLS) as stream:
            return stream.get_final_completion().choices[0].message.content
    return client.chat.completions.create(model=tier, messages=messages, tools=OPENAI_TOOLS).choices[0].message.content


def _second_turn_anthropic(gateway: Served, tier: str, mode: str) -> str:
    client = anthropic.Anthropic(base_url=gateway.root, api_key="x", max_retries=0)
    messages = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in EXPECTED]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_w1", "content": "18 C, sunny"},
                                     {"type": "tool_result", "tool_use_id": "call_c1", "content": [{"type": "text", "text": "12:00"}]}]},
    ]
    if mode == "helper":
        with client.messages.stream(model=tier, max_tokens=200, messages=messages, tools=ANTHROPIC_TOOLS) as stream:
            return stream.get_final_text()
    return client.messages.create(model=tier, max_tokens=200, messages=messages, tools=ANTHROPIC_TOOLS).content[0].text


@pytest.mark.parametrize("mode", ["plain", "helper"])
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("door", DOORS)
def test_a_second_turn_carries_the_tool_results(up: LoopbackUpstream, gateway: Served, door: str, provider: str, mode: str) -> None:
    up.script(UPSTREAM[provider], Reply("Sunny, 18 C, and it is noon."))
    turn = _second_turn_openai if door == "openai" else _second_turn_anthropic
    assert turn(gateway, TIER[provider], mode) == "Sunny, 18 C, and it is noon."
    sent = up.requests[0].body["messages"]
    if provider == "openai":
        assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
        assert [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in sent[1]["tool_calls"]] == EXPECTED
        assert [(m["tool_call_id"], m["content"]) for m in sent[2:]] == [("call_w1", "18 C, sunny"), ("call_c1", "12:00")]
    else:
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]
        assert [(b["id"], b["name"], b["input"]) for b in sent[1]["content"]] == EXPECTED
        results = [(b["tool_use_id"], b["content"]) for b in sent[2]["content"]]
        assert [r[0] for r in results] == ["call_w1", "call_c1"] and results[0][1] == "18 C, sunny"
        assert results[1][1] in ("12:00", [{"type": "text", "text": "12:00"}])
