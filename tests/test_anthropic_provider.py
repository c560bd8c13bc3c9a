"""A provider that speaks Anthropic's Messages API, called through the library against the
loopback upstream: the same fallback, verification, streaming commit point and cost as an
OpenAI-compatible provider, and fallback across the two kinds."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rulerouter import Router
from rulerouter.execute.result import AllAttemptsFailed, StreamInterrupted
from rulerouter.testing import ErrorObject, LoopbackUpstream, Reply, Reset, Status, StreamBreak, ToolCall

from .test_execute import summary
from .test_streaming import collect

KEY = "sk-ant-api03-SECRET-KEY-123456"
OPENAI_KEY = "sk-openai-SECRET-KEY-987654"

POLICY = """
schema_version = 1
default_tier = "cheap"

[tiers]
cheap = "gpt-small"
complex = "claude"
judge = "claude-judge"

[providers.openai]
base_url = "{base_url}"
api_key_env = "OPENAI_KEY"
timeout_s = 2

[providers.anthropic]
api = "anthropic"
base_url = "{base_url}"
api_key_env = "ANTHROPIC_KEY"
timeout_s = 2
{anthropic_extra}

[models.gpt-small]
provider = "openai"
price = {{ input_per_mtok = 0.5, output_per_mtok = 1.5 }}
fallback = ["claude"]

[models.claude]
provider = "anthropic"
upstream = "claude-sonnet-upstream"
price = {{ input_per_mtok = 3.0, output_per_mtok = 15.0, cached_input_per_mtok = 0.3, cache_write_per_mtok = 3.75 }}
fallback = ["gpt-small"]

[models.claude-judge]
provider = "anthropic"
price = {{ input_per_mtok = 1.0, output_per_mtok = 5.0 }}

[retry]
retries_per_model = 1
backoff_initial_s = 0.001
backoff_max_s = 0.002

[circuit_breaker]
failure_threshold = 1000

[[rules]]
name = "hard"
when.keywords.any = ["prove"]
tier = "complex"

{verification}
"""

VERIFY = """
[verification]
tiers = ["cheap"]
judge_tier = "judge"
threshold = 0.7
escalate_to = "complex"
"""

MODES = ["sync", "async"]


def make(up: LoopbackUpstream, *, anthropic_extra: str = "", verification: str = "") -> Router:
    text = POLICY.format(base_url=up.base_url, anthropic_extra=anthropic_extra, verification=verification)
    return Router.from_toml(text, env={"ANTHROPIC_KEY": KEY, "OPENAI_KEY": OPENAI_KEY})


def run(router: Router, mode: str, prompt: str = "prove it", **kwargs: Any) -> Any:
    if mode == "sync":
        return router.complete(prompt, **kwargs)

    async def go() -> Any:
        try:
            return await router.acomplete(prompt, **kwargs)
        finally:
            await router.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("mode", MODES)
def test_a_call_goes_out_in_anthropics_api_and_comes_back_translated(up: LoopbackUpstream, mode: str) -> None:
    up.script("claude-sonnet-upstream", Reply("a proof", prompt_tokens=100, completion_tokens=20))
    router = make(up)
    result = run(router, mode, system_prompt="Be rigorous.", max_tokens=300, temperature=0.2, stop=["QED"], user="u-7")
    assert (result.content, result.model_used, result.tier, result.rule) == ("a proof", "claude", "complex", "hard")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (100, 20)
    assert result.cost == pytest.approx((100 * 3.0 + 20 * 15.0) / 1e6)
    assert result.response["choices"][0]["message"] == {"role": "assistant", "content": "a proof"}
    assert result.response["choices"][0]["finish_reason"] == "stop"
    assert result.provider_api == "anthropic" and json.loads(result.raw_response)["type"] == "message"
    sent = up.requests[0]
    assert (sent.api, sent.path) == ("anthropic", "/v1/messages")
    assert sent.headers["x-api-key"] == KEY and sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body == {"model": "claude-sonnet-upstream", "max_tokens": 300, "system": [{"type": "text", "text": "Be rigorous."}],
                         "messages": [{"role": "user", "content": [{"type": "text", "text": "prove it"}]}],
                         "temperature": 0.2, "stop_sequences": ["QED"], "metadata": {"user_id": "u-7"}}


def test_max_tokens_and_version_come_from_the_provider(up: LoopbackUpstream) -> None:
    router = make(up, anthropic_extra='anthropic_version = "2026-10-21"\ndefault_max_tokens = 1234')
    assert router.complete("prove it").content == "ok"
    sent = up.requests[0]
    assert sent.headers["anthropic-version"] == "2026-10-21" and sent.body["max_tokens"] == 1234


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fault", "kind", "status"), [(Status(529), "server_error", 529), (Status(503), "server_error", 503),
                                                       (Reset(), "connect", None), (ErrorObject("down"), "server_error", 200)])
def test_fallback_from_anthropic_to_openai(up: LoopbackUpstream, mode: str, fault: Any, kind: str, status: int | None) -> None:
    up.script("claude-sonnet-upstream", fault, fault)
    up.script("gpt-small", Reply("from openai"))
    result = run(make(up), mode)
    assert result.content == "from openai" and result.provider_api == "openai"
    assert summary(result.attempts) == [("claude", "answer", "error", kind, status)] * 2 + [("gpt-small", "answer", "ok", None, 200)]
    assert [r.api for r in up.requests] == ["anthropic", "anthropic", "openai"]


@pytest.mark.parametrize("mode", MODES)
def test_fallback_from_openai_to_anthropic_and_retry_after(up: LoopbackUpstream, mode: str) -> None:
    up.script("gpt-small", Status(500), Status(500))
    up.script("claude-sonnet-upstream", Status(429, retry_after=0.01), Reply("from claude"))
    result = run(make(up), mode, "hello")
    assert result.content == "from claude"
    assert summary(result.attempts)[-2:] == [("claude", "answer", "error", "rate_limited", 429), ("claude", "answer", "ok", None, 200)]
    assert result.attempts[-1].waited_s >= 0.01


@pytest.mark.parametrize("mode", MODES)
def test_a_request_anthropic_cannot_carry_skips_to_a_provider_that_can(up: LoopbackUpstream, mode: str) -> None:
    result = run(make(up), mode, logprobs=True)
    assert result.model_used == "gpt-small"
    skipped = result.attempts[0]
    assert (skipped.model, skipped.outcome, skipped.error_kind) == ("claude", "skipped", "untranslatable")
    assert "logprobs: has no Anthropic equivalent" in skipped.message
    assert [r.api for r in up.requests] == ["openai"] and up.requests[0].body["logprobs"] is True


def test_when_no_model_can_carry_it_the_error_says_what(up: LoopbackUpstream) -> None:
    router = make(up)
    with pytest.raises(AllAttemptsFailed) as caught:
        router.complete("hi", model="claude-judge", n=3)
    assert "claude-judge (answer): skipped untranslatable" in str(caught.value) and "n: has no Anthropic equivalent" in str(caught.value)
    assert up.requests == []


def test_api_version_2026_10_21_has_no_temperature(up: LoopbackUpstream) -> None:
    router = make(up, anthropic_extra='anthropic_version = "2026-10-21"')
    result = router.complete("prove it", temperature=0.5)
    assert result.model_used == "gpt-small"
    assert "Anthropic's API version 2026-10-21 has no temperature" in result.attempts[0].message


@pytest.mark.parametrize("mode", MODES)
def test_verification_with_an_anthropic_judge_and_escalation(up: LoopbackUpstream, mode: str) -> None:
    up.script("gpt-small", Reply("weak answer"))
    up.script("claude-judge", Reply("0.2"))
    up.script("claude-sonnet-upstream", Reply("strong answer"))
    result = run(make(up, verification=VERIFY), mode, "hello")
    assert (result.content, result.escalated, result.judge_score) == ("strong answer", True, 0.2)
    assert [(a.model, a.purpose) for a in result.attempts] == [("gpt-small", "answer"), ("claude-judge", "judge"), ("claude", "escalation")]
    judge = up.requests[1]
    assert judge.api == "anthropic" and "weak answer" in judge.prompt and judge.body["max_tokens"] == 4096


@pytest.mark.parametrize("mode", MODES)
def test_streams_from_anthropic_translate_to_chunks(up: LoopbackUpstream, mode: str) -> None:
    up.script("claude-sonnet-upstream", Reply("one two three", prompt_tokens=40, completion_tokens=6))
    router = make(up)
    chunks, stream, error = collect(router, mode, "prove it")
    assert error is None and stream.text == "one two three" and "".join(c.text for c in chunks) == "one two three"
    assert all(c.visible for c in chunks)  # a plain iteration gives chat-completion chunks only
    assert chunks[0].data["choices"][0]["delta"]["role"] == "assistant"
    assert [c.data["choices"][0]["finish_reason"] for c in chunks if c.data["choices"]][-1] == "stop"
    assert chunks[-1].usage_only and chunks[-1].data["usage"]["prompt_tokens"] == 40
    result = stream.result
    assert (result.model_used, result.usage.prompt_tokens, result.usage.completion_tokens) == ("claude", 40, 6)
    assert result.cost == pytest.approx((40 * 3.0 + 6 * 15.0) / 1e6)
    assert up.requests[0].body["stream"] is True and "stream_options" not in up.requests[0].body


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", [Status(529), StreamBreak(after_chunks=0), ErrorObject("overloaded", code_str="overloaded_error")])
def test_stream_falls_back_before_the_first_chunk(up: LoopbackUpstream, mode: str, fault: Any) -> None:
    up.script("claude-sonnet-upstream", fault, fault)
    up.script("gpt-small", Reply("streamed from openai"))
    chunks, stream, error = collect(make(up), mode, "prove it")
    assert error is None and stream.text == "streamed from openai" and stream.model_used == "gpt-small"
    assert [a.model for a in stream.result.attempts] == ["claude", "claude", "gpt-small"]


@pytest.mark.parametrize("mode", MODES)
def test_an_anthropic_stream_that_breaks_after_its_first_text_is_committed(up: LoopbackUpstream, mode: str) -> None:
    up.script("claude-sonnet-upstream", StreamBreak(after_chunks=3, content="alpha beta gamma delta"))
    chunks, stream, error = collect(make(up), mode, "prove it")
    assert isinstance(error, StreamInterrupted)
    assert "".join(c.text for c in chunks) == "alpha beta gamma "
    assert (error.delivered_chunks, error.delivered_chars) == (3, len("alpha beta gamma "))
    assert [r.api for r in up.requests] == ["anthropic"]  # committed: no fallback


def test_native_events_carry_anthropics_own_frames(up: LoopbackUpstream) -> None:
    up.script("claude-sonnet-upstream", Reply("hi there"))
    stream = make(up).stream("prove it")
    events = list(stream.native_events())
    frames = [c.native.split(b"\n", 1)[0] for c in events if c.native is not None]
    assert frames == [b"event: message_start", b"event: content_block_start", b"event: ping", b"event: content_block_delta",
                      b"event: content_block_delta", b"event: content_block_stop", b"event: message_delta", b"event: message_stop"]
    assert [c.visible for c in events][:3] == [False, False, False]
    assert stream.provider_api == "anthropic"


@pytest.mark.parametrize("mode", MODES)
def test_tool_calls_from_anthropic_come_back_as_openai_tool_calls(up: LoopbackUpstream, mode: str) -> None:
    weather, clock = ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time", {"zone": "UTC"})
    up.script("claude-sonnet-upstream", Reply("Checking.", tool_calls=(weather, clock)), Reply("", tool_calls=(weather, clock)))
    router = make(up)
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
             {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]
    result = run(router, mode, tools=tools, tool_choice="required", parallel_tool_calls=False)
    message = result.response["choices"][0]["message"]
    assert result.response["choices"][0]["finish_reason"] == "tool_calls" and message["content"] == "Checking."
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message["tool_calls"]] == [("get_weather", {"city": "Paris"}), ("get_time", {"zone": "UTC"})]
    sent = up.requests[0].body
    assert sent["tools"][0] == {"name": "get_weather", "description": "Weather", "input_schema": tools[0]["function"]["parameters"]}
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    chunks, stream, error = collect(router, mode, "prove it", tools=tools)
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for call in (chunk.data["choices"][0]["delta"].get("tool_calls", []) if chunk.data["choices"] else []):
            entry = calls.setdefault(call["index"], {"name": "", "arguments": ""})
            entry["name"] += call.get("function", {}).get("name") or ""
            entry["arguments"] += call.get("function", {}).get("arguments") or ""
    assert {i: (c["name"], json.loads(c["arguments"])) for i, c in calls.items()} == {0: ("get_weather", {"city": "Paris"}), 1: ("get_time", {"zone": "UTC"})}
    assert sum(1 for c in chunks if c.data.get("choices") and c.data["choices"][0]["delta"].get("tool_calls")) > 4


def test_a_second_turn_with_tool_results_is_sent_as_tool_result_blocks(up: LoopbackUpstream) -> None:
    router = make(up)
    messages = [
        {"role": "user", "content": "Weather in Paris and the time?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "12:00"}]},
    ]
    router.complete(messages=messages, model="claude")
    sent = up.requests[0].body["messages"]
    assert sent == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and the time?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                                          {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                                     {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "12:00"}]}]},
    ]


def test_context_length_from_anthropic_moves_to_the_fallback(up: LoopbackUpstream) -> None:
    from rulerouter.testing import ContextLengthExceeded

    up.script("claude-sonnet-upstream", ContextLengthExceeded(limit=10))
    result = make(up).complete("prove it " * 50)
    assert [(a.model, a.error_kind) for a in result.attempts] == [("claude", "context_length"), ("gpt-small", None)]


def test_the_key_never_leaks_from_an_anthropic_error(up: LoopbackUpstream) -> None:
    from rulerouter.testing import EchoAuth

    up.script("claude-sonnet-upstream", EchoAuth(401))
    with pytest.raises(Exception) as caught:
        make(up).complete("prove it", model="claude")
    assert KEY not in str(caught.value) and "[redacted]" in str(caught.value)


def test_the_openai_front_door_serves_an_anthropic_provider(up: LoopbackUpstream, tmp_path: Any) -> None:
    openai = pytest.importorskip("openai")
    from .gateway_helpers import serve

    policy = POLICY.format(base_url=up.base_url, anthropic_extra="", verification="") + f'\n[log]\ndestination = "{tmp_path / "e.jsonl"}"\n'
    with serve(up.base_url, tmp_path, policy_text=policy, env_extra={"ANTHROPIC_KEY": KEY, "OPENAI_KEY": OPENAI_KEY}) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="x", max_retries=0)
        up.script("claude-sonnet-upstream", Reply("a proof", prompt_tokens=9, completion_tokens=2))
        completion = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "prove it"}])
        assert (completion.model, completion.choices[0].message.content, completion.usage.total_tokens) == ("claude", "a proof", 11)
        stream = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}], stream=True)
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ok"
        assert {c.model for c in chunks} == {"claude"}


def test_a_soak_under_faults_across_both_kinds(up: LoopbackUpstream) -> None:
    """~30 % of upstream replies broken, in both APIs: every request ends in its answer or in one
    error naming its attempts, and a stream is whole or says how much it delivered."""
    from rulerouter.execute.result import ExecutionError
    from rulerouter.testing import Faults

    up.default(Faults(rate=0.3, seed=11, otherwise=Reply("fine answer")))
    router = make(up)

    async def one(i: int) -> str:
        prompt = "prove it" if i % 2 else "hello"  # claude first, or gpt-small first
        try:
            if i % 3:
                result = await router.acomplete(prompt)
                assert result.content == "fine answer" and len([a for a in result.attempts if a.outcome != "skipped"]) <= 4
                return "answered"
            stream = router.astream(prompt)
            text = "".join([chunk.text async for chunk in stream])
            assert text == "fine answer" and stream.result is not None
            return "streamed"
        except StreamInterrupted as exc:
            assert exc.delivered_chunks >= 1 and "broke after" in str(exc)
            return "interrupted"
        except ExecutionError as exc:
            assert exc.attempts and all(a.error_kind for a in exc.attempts)
            return "failed"

    async def go() -> list[str]:
        try:
            return await asyncio.gather(*(one(i) for i in range(150)))
        finally:
            await router.aclose()

    outcomes = asyncio.run(go())
    assert len(outcomes) == 150 and outcomes.count("answered") + outcomes.count("streamed") > 100
    assert {r.api for r in up.requests} == {"openai", "anthropic"} and sum(up.injected.values()) > 20
