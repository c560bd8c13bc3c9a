"""The public surface of rulerouter.testing, and compatibility with the official OpenAI client."""

from __future__ import annotations

import pytest

import rulerouter.testing as testing
from rulerouter.testing import LoopbackUpstream, Reply, Status, StreamBreak


def test_exported_names():
    assert sorted(testing.__all__) == sorted([
        "POOR_ANSWER", "Behaviour", "ContextLengthExceeded", "EchoAuth", "ErrorObject", "Faults", "Hook",
        "LoopbackUpstream", "Malformed", "MissingChoices", "RecordedRequest", "Reply", "Reset",
        "SimulatedProvider", "Slow", "Source", "Status", "StreamBreak", "ToolCall", "estimate_tokens",
    ])
    assert all(hasattr(testing, name) for name in testing.__all__)


def test_the_openai_client_reads_replies_streams_and_errors():
    openai = pytest.importorskip("openai")  # optional here; the gateway tests require it
    with LoopbackUpstream() as up:
        client = openai.OpenAI(base_url=up.base_url, api_key="sk-test", max_retries=0)
        up.script("m", Reply("hello world"), Reply("streamed answer"), Status(429, retry_after=1), StreamBreak(2))
        messages = [{"role": "user", "content": "hi"}]

        completion = client.chat.completions.create(model="m", messages=messages)
        assert completion.choices[0].message.content == "hello world"
        assert completion.usage.total_tokens == completion.usage.prompt_tokens + 3

        stream = client.chat.completions.create(model="m", messages=messages, stream=True,
                                                stream_options={"include_usage": True})
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed answer"
        assert chunks[-1].usage.completion_tokens == 4

        with pytest.raises(openai.RateLimitError) as error:
            client.chat.completions.create(model="m", messages=messages)
        assert error.value.response.headers["retry-after"] == "1"

        with pytest.raises(openai.APIConnectionError):
            list(client.chat.completions.create(model="m", messages=messages, stream=True))
        assert [m.id for m in client.models.list()] == ["m"]
        assert up.requests[0].headers["authorization"] == "Bearer sk-test"
