"""Streaming: fallback until the first chunk, then a committed stream that reports breaks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from rulerouter import Router
from rulerouter.execute.result import AllAttemptsFailed, StreamInterrupted
from rulerouter.execute.streaming import SSEDecoder, StreamChunk
from rulerouter.testing import LoopbackUpstream, Reply, Reset, Status, StreamBreak

from .test_execute import KEY, make, summary


def collect(router: Router, mode: str, prompt: str = "hello", **kwargs: Any) -> tuple[list[StreamChunk], Any, BaseException | None]:
    """Chunks received, the stream object, and the exception that ended it (if any)."""
    chunks: list[StreamChunk] = []
    if mode == "sync":
        stream = router.stream(prompt, **kwargs)
        try:
            for chunk in stream:
                chunks.append(chunk)
        except Exception as exc:
            return chunks, stream, exc
        return chunks, stream, None

    async def go() -> tuple[list[StreamChunk], Any, BaseException | None]:
        stream = router.astream(prompt, **kwargs)
        try:
            async for chunk in stream:
                chunks.append(chunk)
        except Exception as exc:
            return chunks, stream, exc
        finally:
            await router.aclose()
        return chunks, stream, None

    return asyncio.run(go())


MODES = ["sync", "async"]


@pytest.mark.parametrize("mode", MODES)
def test_stream_delivers_chunks_and_a_result(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Reply("one two three", prompt_tokens=100, completion_tokens=30))
    _, _, router = make(up)
    chunks, stream, error = collect(router, mode, max_tokens=20)
    assert error is None
    assert "".join(c.text for c in chunks) == "one two three" == stream.text
    assert chunks[-1].usage_only  # we asked the upstream for usage
    result = stream.result
    assert (result.model_used, result.tier, result.attempt) == ("small", "cheap", 1)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (100, 30)
    assert result.cost == pytest.approx((100 * 1.0 + 30 * 2.0) / 1e6)
    body = up.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True} and body["max_tokens"] == 20


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fault", "kind", "status"), [(Status(503), "server_error", 503), (Reset(), "connect", None), (StreamBreak(after_chunks=0), "connect", None)])
def test_fallback_before_the_first_chunk(up: LoopbackUpstream, mode: str, fault: Any, kind: str, status: int | None) -> None:
    up.script("small-upstream", fault)
    up.script("medium", Reply("from medium"))
    _, _, router = make(up)
    chunks, stream, error = collect(router, mode)
    assert error is None
    assert stream.text == "from medium"
    assert summary(stream.result.attempts) == [("small", "answer", "error", kind, status), ("medium", "answer", "ok", None, 200)]
    assert stream.result.attempt == 2


@pytest.mark.parametrize("mode", MODES)
def test_a_break_after_the_first_chunk_is_reported_not_retried(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", StreamBreak(after_chunks=3, content="alpha beta gamma delta epsilon"))
    _, _, router = make(up)
    chunks, stream, error = collect(router, mode)
    assert isinstance(error, StreamInterrupted)
    assert "".join(c.text for c in chunks) == "alpha beta gamma "
    assert (error.delivered_chunks, error.delivered_chars) == (3, len("alpha beta gamma "))
    assert "broke after 3 chunk(s) (17 characters) had reached the caller" in str(error)
    assert error.request_id == stream.request_id
    assert [r.model for r in up.requests] == ["small-upstream"]  # committed: no fallback
    assert stream.result is None


@pytest.mark.parametrize("mode", MODES)
def test_every_model_failing_before_the_first_chunk(up: LoopbackUpstream, mode: str) -> None:
    for model in ("small-upstream", "medium", "large"):
        up.script(model, Status(500))
    _, _, router = make(up)
    chunks, _, error = collect(router, mode)
    assert chunks == [] and isinstance(error, AllAttemptsFailed)
    assert [a.error_kind for a in error.attempts] == ["server_error"] * 3


def test_start_routes_before_iteration(up: LoopbackUpstream) -> None:
    up.script("small-upstream", Status(500))
    _, _, router = make(up)
    with router.stream("hi") as stream:  # entering starts: fallback is done by now
        assert stream.model_used == "medium"
        assert len(up.requests) == 2
        assert "".join(c.text for c in stream) == "ok"


def test_closing_early_releases_the_connection(up: LoopbackUpstream) -> None:
    up.script("small-upstream", Reply("many words " * 50))
    _, _, router = make(up)
    stream = router.stream("hi")
    iterator = iter(stream)
    next(iterator)
    stream.close()
    assert router.complete("again").content == "ok"


def test_batches_hold_the_chunks_one_read_brought(up: LoopbackUpstream) -> None:
    """`batches()`: the same chunks as `async for`, grouped by the read that brought them — the
    loopback sends a whole stream in one write, so several chunks share a batch."""
    _, _, router = make(up)

    async def go() -> tuple[list[list[StreamChunk]], list[StreamChunk], Any]:
        up.script("small-upstream", Reply("one two three four five"), Reply("one two three four five"))
        stream = router.astream("hello")
        batches = [batch async for batch in stream.batches()]
        chunks = [chunk async for chunk in router.astream("hello")]
        await router.aclose()
        return batches, chunks, stream

    batches, chunks, stream = asyncio.run(go())
    assert all(batches)  # never an empty batch
    assert [(c.text, c.usage_only) for batch in batches for c in batch] == [(c.text, c.usage_only) for c in chunks]
    assert len(batches) < len(chunks)
    assert stream.text == "one two three four five" and stream.result is not None


def test_streams_are_not_verified(up: LoopbackUpstream) -> None:
    _, _, router = make(up, verify=True)
    _, stream, error = collect(router, "sync")
    assert error is None and [a.purpose for a in stream.result.attempts] == ["answer"]


# --- I/O-free parts ------------------------------------------------------------------------------


def test_sse_decoder_handles_splits_crlf_comments_and_multiline_data() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b": keep-alive\r\n\r\ndata: {\"a\"")
    assert events == []
    events += decoder.feed(b": 1}\r\n\r\ndata: line1\ndata: line2\n\nevent: x\ndata:[DONE]\n")
    events += decoder.feed(b"\n")
    assert events == [b'{"a": 1}', b"line1\nline2", b"[DONE]"]


def test_provider_that_ignores_stream_true_still_streams_one_chunk() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "x", "choices": [{"message": {"role": "assistant", "content": "whole"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})

    with LoopbackUpstream() as up:
        _, _, router = make(up)
    router.executor.providers._providers["up"].sync_client = httpx.Client(transport=httpx.MockTransport(handler))
    stream = router.stream("hi")
    assert [c.text for c in stream] == ["whole"]
    assert stream.result.usage.total_tokens == 5
    assert KEY not in repr(stream.result)
