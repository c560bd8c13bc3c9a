"""The loopback upstream's Anthropic Messages API: shapes, event sequences, faults, tool calls."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from rulerouter.testing import (
    ContextLengthExceeded,
    EchoAuth,
    ErrorObject,
    LoopbackUpstream,
    Malformed,
    MissingChoices,
    Reply,
    Reset,
    Slow,
    Status,
    StreamBreak,
    ToolCall,
)

VERSION = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-test"}
WEATHER = ToolCall("get_weather", {"city": "Paris", "unit": "celsius", "days": [1, 2, 3]})
TIME = ToolCall("get_time", {"zone": "Europe/Paris"}, id="toolu_fixed")


def message_body(model: str = "m", prompt: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": prompt}], **extra}


def post(up: LoopbackUpstream, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{up.base_url}/messages", json=body, headers=VERSION if headers is None else headers, timeout=5)


def events(response: httpx.Response) -> list[tuple[str, Any]]:
    """(event name, data) of each server-sent event; data parsed as JSON where it is JSON."""
    out = []
    for block in response.text.split("\n\n"):
        if not block:
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        try:
            data = json.loads(lines["data"])
        except ValueError:
            data = lines["data"]
        out.append((lines["event"], data))
    return out


def broken_stream_errors(anthropic: Any) -> tuple[type[BaseException], ...]:
    """What the anthropic SDK raises for a stream cut mid-way: its connection error, or (SDK 2.x)
    the transport error of its HTTP client, httpx2."""
    errors: list[type[BaseException]] = [anthropic.APIConnectionError, httpx.TransportError]
    try:
        import httpx2
    except ImportError:
        pass
    else:
        errors.append(httpx2.TransportError)
    return tuple(errors)


def test_reply_is_an_anthropic_message(up: LoopbackUpstream) -> None:
    up.script("m", Reply("Paris is the capital of France."))
    r = post(up, message_body(prompt="What is the capital of France?", system="Be brief."))
    assert r.status_code == 200
    data = r.json()
    assert data["id"].startswith("msg-") and data["type"] == "message" and data["role"] == "assistant"
    assert data["model"] == "m" and data["stop_reason"] == "end_turn" and data["stop_sequence"] is None
    assert data["content"] == [{"type": "text", "text": "Paris is the capital of France."}]
    # the system prompt counts: 9 + 30 characters -> 10 tokens; 31 answer characters -> 8
    assert data["usage"] == {"input_tokens": 10, "output_tokens": 8, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    record = up.requests[0]
    assert (record.api, record.path, record.system, record.prompt) == ("anthropic", "/v1/messages", "Be brief.", "What is the capital of France?")


@pytest.mark.parametrize(("finish", "stop"), [("length", "max_tokens"), ("tool_calls", "tool_use"), ("content_filter", "refusal"),
                                              ("stop_sequence", "stop_sequence"), ("pause_turn", "pause_turn")])
def test_finish_reasons_become_stop_reasons(up: LoopbackUpstream, finish: str, stop: str) -> None:
    up.script("m", Reply("x", finish_reason=finish))
    assert post(up, message_body()).json()["stop_reason"] == stop


def test_tool_calls_are_tool_use_blocks_in_both_apis(up: LoopbackUpstream) -> None:
    up.default(Reply("Let me look.", tool_calls=(WEATHER, TIME)))
    message = post(up, message_body()).json()
    assert message["stop_reason"] == "tool_use"
    text, first, second = message["content"]
    assert text == {"type": "text", "text": "Let me look."}
    assert first["type"] == "tool_use" and first["id"].startswith("toolu-") and first["name"] == "get_weather"
    assert first["input"] == {"city": "Paris", "unit": "celsius", "days": [1, 2, 3]}
    assert second == {"type": "tool_use", "id": "toolu_fixed", "name": "get_time", "input": {"zone": "Europe/Paris"}}
    chat = httpx.post(f"{up.base_url}/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}).json()
    choice = chat["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == "Let me look."
    calls = choice["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"] and calls[1]["id"] == "toolu_fixed"
    assert json.loads(calls[0]["function"]["arguments"]) == WEATHER.input and calls[0]["type"] == "function"


def test_stream_follows_anthropics_event_sequence(up: LoopbackUpstream) -> None:
    up.script("m", Reply("one two three", completion_tokens=3))
    r = post(up, message_body(stream=True))
    assert r.headers["content-type"] == "text/event-stream"
    seq = events(r)
    assert [name for name, _ in seq] == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                                         "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in seq)
    start = seq[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] == 3
    assert seq[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert "".join(d["delta"]["text"] for n, d in seq if n == "content_block_delta") == "one two three"
    assert seq[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 3}}


def test_streamed_tool_input_arrives_in_many_pieces(up: LoopbackUpstream) -> None:
    up.script("m", Reply("", tool_calls=(WEATHER, TIME)))
    seq = events(post(up, message_body(stream=True)))
    starts = [d for n, d in seq if n == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"], s["content_block"]["input"]) for s in starts] == [(0, "tool_use", {}), (1, "tool_use", {})]
    for index, call in enumerate((WEATHER, TIME)):
        deltas = [d["delta"] for n, d in seq if n == "content_block_delta" and d["index"] == index]
        assert all(d["type"] == "input_json_delta" for d in deltas) and deltas[0]["partial_json"] == ""
        assert json.loads("".join(d["partial_json"] for d in deltas)) == call.input
    assert len([1 for n, d in seq if n == "content_block_delta" and d["index"] == 0]) > 5
    assert seq[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_openai_stream_splits_tool_arguments_across_chunks(up: LoopbackUpstream) -> None:
    up.script("m", Reply("", tool_calls=(WEATHER, TIME)))
    r = httpx.post(f"{up.base_url}/chat/completions", json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    chunks = [json.loads(b[6:]) for b in r.text.split("\n\n") if b.startswith("data: {")]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0]["role"] == "assistant" and "content" not in deltas[0]
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    firsts = [c for c in calls if "id" in c]
    assert [(c["index"], c["function"]["name"], c["type"]) for c in firsts] == [(0, "get_weather", "function"), (1, "get_time", "function")]
    for index, call in enumerate((WEATHER, TIME)):
        assert json.loads("".join(c["function"]["arguments"] for c in calls if c["index"] == index)) == call.input
    assert len([c for c in calls if c["index"] == 0]) > 5
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(("code", "error_type"), [(400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
                                                  (404, "not_found_error"), (413, "request_too_large"), (429, "rate_limit_error"),
                                                  (500, "api_error"), (503, "api_error"), (529, "overloaded_error")])
def test_status_answers_in_anthropics_error_shape(up: LoopbackUpstream, code: int, error_type: str) -> None:
    up.script("m", Status(code, message=f"scripted {code}"))
    r = post(up, message_body(stream=True))
    assert r.status_code == code and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["type"] == "error" and body["error"] == {"type": error_type, "message": f"scripted {code}"}
    assert body["request_id"] == r.headers["request-id"]


def test_429_carries_retry_after(up: LoopbackUpstream) -> None:
    up.script("m", Status(429, retry_after=2))
    r = post(up, message_body())
    assert (r.status_code, r.headers["retry-after"], r.json()["error"]["type"]) == (429, "2", "rate_limit_error")


def test_context_length_reads_like_anthropics(up: LoopbackUpstream) -> None:
    up.script("m", ContextLengthExceeded(limit=10))
    r = post(up, message_body(prompt="x" * 400))
    assert r.status_code == 400 and r.json()["error"]["message"] == "prompt is too long: 100 tokens > 10 maximum"


@pytest.mark.parametrize(("body", "headers", "message"), [
    (message_body(), {"x-api-key": "k"}, "anthropic-version: header is required"),
    ({"model": "m", "messages": []}, VERSION, "max_tokens: Field required"),
    ({"max_tokens": 5, "messages": []}, VERSION, "model: Field required"),
    ({"model": "m", "max_tokens": 5}, VERSION, "messages: Field required"),
    (message_body(temperature=1.0), {"anthropic-version": "2026-10-21"}, "temperature: Extra inputs are not permitted"),
])
def test_requests_are_checked_as_the_api_checks_them(up: LoopbackUpstream, body: dict[str, Any], headers: dict[str, str], message: str) -> None:
    r = post(up, body, headers)
    assert r.status_code == 400 and r.json()["error"] == {"type": "invalid_request_error", "message": message}


def test_sampling_parameters_are_fine_before_2026_10_21(up: LoopbackUpstream) -> None:
    assert post(up, message_body(temperature=0.2, top_k=5)).status_code == 200


def test_faults_in_anthropics_shapes(up: LoopbackUpstream) -> None:
    up.script("m", Malformed(), MissingChoices(), ErrorObject("boom", code_str="overloaded_error"), EchoAuth())
    assert post(up, message_body()).text == "not json"
    assert "content" not in post(up, message_body()).json()
    assert post(up, message_body()).json() == {"type": "error", "error": {"type": "overloaded_error", "message": "boom"}}
    echoed = post(up, message_body())
    assert echoed.status_code == 401 and "sk-ant-test" in echoed.json()["error"]["message"]


def test_faults_in_anthropic_streams(up: LoopbackUpstream) -> None:
    up.script("m", Malformed(), MissingChoices(), ErrorObject("overloaded", code_str="overloaded_error"))
    assert events(post(up, message_body(stream=True))) == [("message_start", "not json")]
    assert events(post(up, message_body(stream=True))) == [("message_start", {"type": "message_start"}), ("message_stop", {"type": "message_stop"})]
    assert events(post(up, message_body(stream=True))) == [("error", {"type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}})]


@pytest.mark.parametrize("after_chunks", [0, 2])
def test_stream_break_sends_n_text_deltas_then_drops(up: LoopbackUpstream, after_chunks: int) -> None:
    up.script("m", StreamBreak(after_chunks=after_chunks, content="alpha beta gamma"))
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("POST", f"{up.base_url}/messages", json=message_body(stream=True), headers=VERSION) as r:
            for part in r.iter_raw():
                received += part
    names = [block.split("\n")[0] for block in received.decode().split("\n\n") if block]
    assert names == ([] if after_chunks == 0 else ["event: message_start", "event: content_block_start", "event: ping"] + ["event: content_block_delta"] * 2)
    assert "message_stop" not in received.decode()


def test_reset_and_slow_behave_as_in_the_openai_api(up: LoopbackUpstream) -> None:
    up.script("m", Reset(), Slow(0.05, Reply("late")))
    with pytest.raises(httpx.TransportError):
        post(up, message_body())
    assert post(up, message_body()).json()["content"][0]["text"] == "late"


def test_count_tokens_and_models(up: LoopbackUpstream) -> None:
    up.default(Reply(), model="m")
    r = httpx.post(f"{up.base_url}/messages/count_tokens", json={"model": "m", "system": "abcd", "messages": [{"role": "user", "content": "abcdefgh"}]}, headers=VERSION)
    assert r.json() == {"input_tokens": 3}
    assert up.requests[-1].model == "m" and up.requests[-1].api == "anthropic"
    listed = httpx.get(f"{up.base_url}/models", headers=VERSION).json()
    assert listed == {"data": [{"type": "model", "id": "m", "display_name": "m", "created_at": "2025-01-01T00:00:00Z"}],
                      "has_more": False, "first_id": "m", "last_id": "m"}
    assert httpx.get(f"{up.base_url}/models").json()["object"] == "list"  # no anthropic-version: OpenAI's shape


def test_the_anthropic_client_reads_replies_streams_tools_and_errors() -> None:
    anthropic = pytest.importorskip("anthropic")  # optional here; the gateway tests require it
    with LoopbackUpstream() as up:
        client = anthropic.Anthropic(base_url=up.url, api_key="sk-ant-test", max_retries=0)
        up.script("m", Reply("hello world"), Reply("streamed answer", tool_calls=(WEATHER,)), Status(429, retry_after=1),
                  Status(529), StreamBreak(2))
        messages = [{"role": "user", "content": "hi"}]
        message = client.messages.create(model="m", max_tokens=50, messages=messages)
        assert message.content[0].text == "hello world" and message.usage.output_tokens == 3
        with client.messages.stream(model="m", max_tokens=50, messages=messages) as stream:
            assert "".join(stream.text_stream) == "streamed answer"
            final = stream.get_final_message()
        assert final.stop_reason == "tool_use" and final.content[1].input == WEATHER.input
        with pytest.raises(anthropic.RateLimitError) as error:
            client.messages.create(model="m", max_tokens=50, messages=messages)
        assert error.value.response.headers["retry-after"] == "1"
        with pytest.raises(anthropic.OverloadedError):
            client.messages.create(model="m", max_tokens=50, messages=messages)
        with pytest.raises(broken_stream_errors(anthropic)):
            with client.messages.stream(model="m", max_tokens=50, messages=messages) as stream:
                stream.get_final_message()
        assert up.requests[0].headers["anthropic-version"]
