"""The gateway's Anthropic front door, as users run it: `rulerouter serve` and the official
`anthropic` client, in front of an OpenAI-compatible and an Anthropic provider on the loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from rulerouter.testing import LoopbackUpstream, Reply, Reset, Status, StreamBreak

from .gateway_helpers import GATEWAY_KEY, Served, serve
from .testing.test_upstream_anthropic import broken_stream_errors, events

anthropic = pytest.importorskip("anthropic")

UPSTREAM_KEY = "sk-upstream-GATEWAY-SECRET-42"
CLAUDE_KEY = "sk-ant-upstream-SECRET-77"

POLICY = """
schema_version = 1
default_tier = "cheap"

[tiers]
cheap = "small"
strong = "claude"

[providers.oai]
base_url = "{base_url}"
api_key_env = "GATEWAY_TEST_UPSTREAM_KEY"
timeout_s = 5

[providers.claude]
api = "anthropic"
base_url = "{base_url}"
api_key_env = "GATEWAY_TEST_CLAUDE_KEY"
timeout_s = 5

[models.small]
provider = "oai"
price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
fallback = ["claude"]

[models.solo]
provider = "oai"

[models.claude]
provider = "claude"
upstream = "claude-upstream"
price = {{ input_per_mtok = 10.0, output_per_mtok = 20.0 }}
fallback = ["small"]

[retry]
retries_per_model = 0

[circuit_breaker]
failure_threshold = 1000

[[rules]]
name = "hard"
when.keywords.any = ["prove"]
tier = "strong"

[[rules]]
name = "vip"
when.metadata = {{ path = "$.plan", eq = "vip" }}
tier = "strong"

[[rules]]
name = "careful-system"
when.keywords = {{ any = ["auditor"], text = "system" }}
tier = "strong"

[[rules]]
name = "long-answers"
when.request = {{ path = "$.max_tokens", gt = 4000 }}
tier = "strong"

[[rules]]
name = "tool-users"
when.request = {{ path = "$.tools[0].function.name", eq = "lookup" }}
tier = "strong"

[log]
destination = "{log}"
"""

ENV = {"GATEWAY_TEST_CLAUDE_KEY": CLAUDE_KEY}


@pytest.fixture(scope="module")
def gateway(upstream: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("gateway-anthropic")
    with serve(upstream.base_url, tmp, policy_text=POLICY.format(base_url=upstream.base_url, log=tmp / "e.jsonl"), env_extra=ENV) as served:
        yield served


@pytest.fixture
def client(gateway: Served) -> Any:
    return anthropic.Anthropic(base_url=gateway.root, api_key="unused", max_retries=0)


def hello(text: str = "hi") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_a_message_routed_to_an_openai_provider_comes_back_in_anthropics_shape(up: LoopbackUpstream, client: Any) -> None:
    up.script("small", Reply("hello from small", prompt_tokens=7, completion_tokens=3))
    raw = client.messages.with_raw_response.create(model="auto", max_tokens=50, messages=hello(), system="Be brief.")
    message = raw.parse()
    assert (message.type, message.role, message.model, message.stop_reason) == ("message", "assistant", "small", "end_turn")
    assert [(b.type, b.text) for b in message.content] == [("text", "hello from small")]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 3)
    assert message.id.startswith("msg_rr-")
    assert raw.headers["x-rulerouter-tier"] == "cheap" and raw.headers["x-rulerouter-model"] == "small"
    assert raw.headers["request-id"] == raw.headers["x-rulerouter-request-id"]
    sent = up.requests[0]
    assert sent.api == "openai" and sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert sent.body["max_tokens"] == 50


def test_a_message_for_an_anthropic_provider_goes_and_comes_back_as_it_is(up: LoopbackUpstream, client: Any) -> None:
    up.script("claude-upstream", Reply("a proof", prompt_tokens=11, completion_tokens=2))
    system = [{"type": "text", "text": "You prove things.", "cache_control": {"type": "ephemeral"}}]
    message = client.messages.create(model="auto", max_tokens=60, system=system, messages=hello("prove it"),
                                     metadata={"user_id": "u-1"}, extra_headers={"anthropic-beta": "fine-grained-tool-streaming-2025-05-14"})
    assert (message.model, message.content[0].text, message.usage.input_tokens) == ("claude", "a proof", 11)
    sent = up.requests[0]
    assert sent.api == "anthropic" and sent.headers["x-api-key"] == CLAUDE_KEY and "authorization" not in sent.headers
    assert sent.headers["anthropic-beta"] == "fine-grained-tool-streaming-2025-05-14"
    assert sent.body == {"model": "claude-upstream", "max_tokens": 60, "system": system, "messages": hello("prove it"),
                         "metadata": {"user_id": "u-1"}}


@pytest.mark.parametrize(("kwargs", "rule"), [
    ({"messages": hello("please prove this")}, "hard"),
    ({"messages": hello(), "metadata": {"plan": "vip"}}, "vip"),
    ({"messages": hello(), "system": [{"type": "text", "text": "You are an auditor."}]}, "careful-system"),
    ({"messages": hello(), "max_tokens": 5000}, "long-answers"),
    ({"messages": hello(), "tools": [{"name": "lookup", "description": "Look up", "input_schema": {"type": "object"}}]}, "tool-users"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}, "(default)"),
])
def test_both_doors_route_the_same_request_the_same_way(up: LoopbackUpstream, gateway: Served, client: Any, kwargs: dict[str, Any], rule: str) -> None:
    openai = pytest.importorskip("openai")
    chat = openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0)
    body = {"max_tokens": 100, **kwargs}
    via_messages = client.messages.with_raw_response.create(model="auto", **body).headers["x-rulerouter-rule"]
    messages = [{"role": "system", "content": " ".join(b["text"] for b in body["system"])}] if "system" in body else []
    messages += body["messages"]
    extra = {"tools": [{"type": "function", "function": {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]}}
                       for t in body["tools"]]} if "tools" in body else {}
    via_chat = chat.chat.completions.with_raw_response.create(model="auto", messages=messages, max_tokens=body["max_tokens"],
                                                               extra_body={"metadata": body.get("metadata")} if "metadata" in body else None,
                                                               **extra).headers["x-rulerouter-rule"]
    assert via_messages == via_chat == rule


def test_metadata_header_and_async_client(up: LoopbackUpstream, gateway: Served) -> None:
    async def go() -> list[str]:
        async with anthropic.AsyncAnthropic(base_url=gateway.root, api_key="x", max_retries=0) as c:
            answers = await asyncio.gather(*(c.messages.create(model="auto", max_tokens=10, messages=hello(f"q{i}"),
                                                               extra_headers={"X-Rulerouter-Metadata": '{"plan": "vip"}'}) for i in range(10)))
        return [a.model for a in answers]

    assert asyncio.run(go()) == ["claude"] * 10


def test_streaming_translated_from_an_openai_provider(up: LoopbackUpstream, client: Any, gateway: Served) -> None:
    up.script("small", Reply("one two three", prompt_tokens=5, completion_tokens=3), Reply("four five"))
    with client.messages.stream(model="auto", max_tokens=50, messages=hello()) as stream:
        assert "".join(stream.text_stream) == "one two three"
        final = stream.get_final_message()
    assert (final.model, final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == ("small", "end_turn", 5, 3)
    response = httpx.post(f"{gateway.root}/v1/messages", json={"model": "auto", "max_tokens": 9, "stream": True, "messages": hello()},
                          headers={"anthropic-version": "2023-06-01"})
    assert response.headers["content-type"] == "text/event-stream"
    names = [name for name, _ in events(response)]
    assert names == ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"]


def test_streaming_from_an_anthropic_provider_is_its_own_event_sequence(up: LoopbackUpstream, client: Any, gateway: Served) -> None:
    up.script("claude-upstream", Reply("proved it", completion_tokens=4))
    response = httpx.post(f"{gateway.root}/v1/messages", json={"model": "strong", "max_tokens": 9, "stream": True, "messages": hello()},
                          headers={"anthropic-version": "2023-06-01"})
    seq = events(response)
    assert [name for name, _ in seq] == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                                         "content_block_stop", "message_delta", "message_stop"]
    assert seq[0][1]["message"]["model"] == "claude"  # renamed as the policy names it
    assert seq[-2][1]["usage"] == {"output_tokens": 4}
    up.script("claude-upstream", Reply("again"))
    with client.messages.stream(model="strong", max_tokens=50, messages=hello()) as stream:
        assert stream.get_final_text() == "again"


def test_stream_fallback_before_the_first_chunk_across_kinds(up: LoopbackUpstream, client: Any) -> None:
    up.script("small", Status(503))
    up.script("claude-upstream", Reply("from the fallback"))
    with client.messages.stream(model="auto", max_tokens=50, messages=hello()) as stream:
        assert "".join(stream.text_stream) == "from the fallback"
        assert stream.get_final_message().model == "claude"
    assert [r.api for r in up.requests] == ["openai", "anthropic"]


@pytest.mark.parametrize("model", ["small", "claude-upstream"])
def test_a_stream_that_breaks_after_its_commit_point_ends_with_an_error_event(up: LoopbackUpstream, gateway: Served, client: Any, model: str) -> None:
    up.script(model, StreamBreak(after_chunks=2, content="one two three"))
    tier = "cheap" if model == "small" else "strong"
    response = httpx.post(f"{gateway.root}/v1/messages", json={"model": tier, "max_tokens": 9, "stream": True, "messages": hello()},
                          headers={"anthropic-version": "2023-06-01"})
    name, data = events(response)[-1]
    assert name == "error" and data["type"] == "error" and data["error"]["type"] == "api_error"
    assert "2 chunk(s)" in data["error"]["message"]
    up.script(model, StreamBreak(after_chunks=2))
    with pytest.raises((anthropic.APIStatusError, *broken_stream_errors(anthropic))):
        with client.messages.stream(model=tier, max_tokens=50, messages=hello()) as stream:
            stream.get_final_message()


@pytest.mark.parametrize(("body", "status", "error_type", "fragment"), [
    (b"{", 400, "invalid_request_error", "not valid JSON"),
    (b'{"model": "auto", "messages": [{"role": "user", "content": "x"}]}', 400, "invalid_request_error", "max_tokens: Field required"),
    (b'{"model": "auto", "max_tokens": 5, "messages": []}', 400, "invalid_request_error", "messages: Field required"),
    (b'{"model": "auto", "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]}', 400, "invalid_request_error", "messages.0.role"),
    (b'{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": [{"text": "x"}]}]}', 400, "invalid_request_error", "messages.0.content.0"),
    (b'{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', 400, "invalid_request_error", "temperature"),
    (b'{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "maybe"}}', 400, "invalid_request_error", "tool_choice.type"),
    (b'{"model": "gpt-9", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}', 404, "not_found_error", "unknown model 'gpt-9'"),
])
def test_client_mistakes_get_anthropic_shaped_errors(gateway: Served, body: bytes, status: int, error_type: str, fragment: str) -> None:
    response = httpx.post(f"{gateway.root}/v1/messages", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    data = response.json()
    assert data["type"] == "error" and data["error"]["type"] == error_type and fragment in data["error"]["message"]


def test_the_sdk_raises_its_own_exception_classes(up: LoopbackUpstream, client: Any, gateway: Served) -> None:
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="gpt-9", max_tokens=5, messages=hello())
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="auto", max_tokens=5, messages=[{"role": "user", "content": [{"type": "text"}]}])
    up.script("small", Status(500))
    up.script("claude-upstream", Reset())
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model="auto", max_tokens=5, messages=hello())
    assert caught.value.status_code == 502 and "1. small (answer): error server_error 500" in caught.value.message
    assert httpx.get(f"{gateway.root}/v1/messages").status_code == 405
    assert httpx.post(f"{gateway.root}/v1/messages/batches", json={}).json()["error"]["type"] == "not_found_error"


def test_what_only_anthropic_can_carry_skips_openai_models(up: LoopbackUpstream, client: Any) -> None:
    up.script("claude-upstream", Reply("thought about it"))
    raw = client.messages.with_raw_response.create(model="auto", max_tokens=2000, messages=hello(),
                                                   extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert raw.parse().model == "claude" and raw.headers["x-rulerouter-attempts"] == "2"
    assert [r.api for r in up.requests] == ["anthropic"] and up.requests[0].body["thinking"]["budget_tokens"] == 1024
    with pytest.raises(anthropic.BadRequestError) as caught:  # a model with no fallback that can carry it
        client.messages.create(model="solo", max_tokens=10, messages=hello(), extra_body={"top_k": 3, "thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert caught.value.status_code == 400
    assert "thinking (extended thinking)" in caught.value.message and "top_k (unknown to chat completions)" in caught.value.message


def test_gateway_keys_by_x_api_key_or_bearer(up: LoopbackUpstream, tmp_path: Path) -> None:
    policy = POLICY.format(base_url=up.base_url, log=tmp_path / "e.jsonl")
    with serve(up.base_url, tmp_path, policy_text=policy, env_extra={**ENV, "RULEROUTER_GATEWAY_KEYS": GATEWAY_KEY}) as served:
        for kwargs in ({"api_key": GATEWAY_KEY}, {"auth_token": GATEWAY_KEY}):
            good = anthropic.Anthropic(base_url=served.root, max_retries=0, **kwargs)
            assert good.messages.create(model="auto", max_tokens=5, messages=hello()).content[0].text == "ok"
        legacy = httpx.post(f"{served.root}/v1/messages", json={"model": "auto", "max_tokens": 5, "messages": hello()},
                            headers={"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"})
        assert legacy.status_code == 200
        with pytest.raises(anthropic.AuthenticationError):
            anthropic.Anthropic(base_url=served.root, api_key="wrong", max_retries=0).messages.create(model="auto", max_tokens=5, messages=hello())
    assert GATEWAY_KEY not in "".join(served.stderr)


def test_count_tokens_is_honest_or_a_clear_404(up: LoopbackUpstream, client: Any) -> None:
    counted = client.messages.count_tokens(model="auto", system="abcd", messages=hello("prove: abcd"))
    assert counted.input_tokens == 4  # counted by the Anthropic provider the rules chose ("prove" -> strong)
    sent = up.requests[-1]
    assert (sent.path, sent.model, sent.headers["x-api-key"]) == ("/v1/messages/count_tokens", "claude-upstream", CLAUDE_KEY)
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.count_tokens(model="auto", messages=hello())
    assert "small" in caught.value.message and "no token counting" in caught.value.message


def test_models_in_anthropics_shape(client: Any, gateway: Served) -> None:
    assert [m.id for m in client.models.list()] == ["auto", "cheap", "strong", "small", "solo", "claude"]
    assert httpx.get(f"{gateway.base_url}/models").json()["object"] == "list"  # without anthropic-version: OpenAI's shape


def test_the_upstream_keys_never_reach_the_client(up: LoopbackUpstream, client: Any, gateway: Served) -> None:
    from rulerouter.testing import EchoAuth

    up.script("claude-upstream", EchoAuth(401))
    up.script("small", EchoAuth(401))
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="strong", max_tokens=5, messages=hello())
    text = caught.value.response.text
    assert CLAUDE_KEY not in text and UPSTREAM_KEY not in text and "[redacted]" in text


def test_a_body_field_named_like_a_router_argument_is_never_used_to_route(up: LoopbackUpstream, gateway: Served) -> None:
    for door, body in (("/v1/messages", {"model": "auto", "max_tokens": 5, "messages": hello()}),
                       ("/v1/chat/completions", {"model": "auto", "messages": hello()})):
        response = httpx.post(f"{gateway.root}{door}", json={**body, "tier": "strong", "verify": True, "prompt": "x", "native": 1})
        assert response.status_code in (200, 400), response.text
        assert response.headers.get("x-rulerouter-tier", "cheap") == "cheap"
    assert json.loads(json.dumps(up.requests[-1].body)).get("tier") == "strong"  # passed on as a field, not used


# --- in process: what one read of a stream brings goes out in one write ----------------------------

def test_a_chunk_the_translation_cannot_read_ends_the_stream_after_what_came_before_it_in_the_same_read() -> None:
    """The upstream's stream arrives in one read: a text chunk, then a tool-call delta Anthropic's
    events cannot carry. The client gets the text's events, then the error event, and the end."""
    from rulerouter.gateway.app import Gateway
    from rulerouter.gateway.client_keys import ClientKeys
    from rulerouter.gateway.hot_reload import PolicyHolder
    from rulerouter.policy.load import check_text

    policy = ('schema_version = 1\ndefault_tier = "cheap"\n[tiers]\ncheap = "m1"\n[providers.p]\nbase_url = "http://127.0.0.1:9/v1"\n'
              '[models.m1]\nprice = { input_per_mtok = 1.0, output_per_mtok = 2.0 }\n')
    holder = PolicyHolder(Path("one-read.toml"), check_text(policy, "one-read.toml", env={}), env={}, log=None)
    chunk = {"id": "x", "object": "chat.completion.chunk", "model": "m1"}
    text = {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "partial answer"}, "finish_reason": None}]}
    unreadable = {**chunk, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": "first", "function": {"name": "f"}}]}, "finish_reason": None}]}
    stream = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in (text, unreadable)) + b"data: [DONE]\n\n"

    class OneRead(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[override]
            yield stream

    async def upstream(target: Any, body: bytes, extra: Any = (), url: Any = None) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=OneRead())

    holder.router.executor.providers.asend = upstream  # type: ignore[method-assign]
    app = Gateway(holder, client_keys=ClientKeys.none("test"))
    request = json.dumps({"model": "auto", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    sent: list[dict[str, Any]] = []
    given = [False]

    async def receive() -> dict[str, Any]:
        if not given[0]:
            given[0] = True
            return {"type": "http.request", "body": request, "more_body": False}
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def go() -> None:
        await app({"type": "http", "method": "POST", "path": "/v1/messages", "headers": []}, receive, send)
        await holder.close()

    asyncio.run(go())
    assert sent[0]["status"] == 200, sent
    body = b"".join(message.get("body", b"") for message in sent[1:])
    assert body.index(b"message_start") < body.index(b"partial answer") < body.index(b"cannot carry") and b"event: error" in body
    assert sent[-1]["more_body"] is False


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions"])
def test_a_model_name_cut_in_half_is_repaired_like_any_text_and_answered_404(gateway: Served, path: str) -> None:
    body = b'{"model": "\\ud83d", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}'  # half an emoji
    response = httpx.post(f"{gateway.root}{path}", content=body, headers={"anthropic-version": "2023-06-01", "content-type": "application/json"})
    assert response.status_code == 404, response.text
    assert "unknown model '\ufffd'" in json.loads(response.content)["error"]["message"]
