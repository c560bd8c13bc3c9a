"""Streamed answers: fallback until the first chunk, then a committed stream.

The commit point: until the first chunk of an answer has arrived, a failing model is handled
exactly as in `complete()` (retry, fall back, skip open circuits) and the caller sees nothing.
Once the first chunk has been handed to the caller, the answer is committed to that model: if
the stream breaks later, `StreamInterrupted` says how many chunks and characters had been
delivered, and no fallback is attempted (the caller already holds part of an answer). Streamed
answers are not verified: a judge cannot take back what was already shown.

The commit point is the first chunk of the answer itself: an Anthropic stream's `message_start`
and `ping` come before it, so an error right after them still falls back. `_Tracker` (what was
delivered, and how the stream ended) and `stream_events.py` (decoding each API's events) are the
I/O-free parts shared by the sync and async streams. Iterating a stream gives chat-completion
chunks whatever the provider's API; `native_events()` also gives the events that exist only in
the provider's own API (for a client that asked in that API).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator

import httpx

from .cost import sum_costs
from .executor import untranslatable
from .flow import adrive, drive
from .native import Untranslatable
from .result import ExecutionError, Result, StreamInterrupted
from .stream_events import AnthropicEvents, OpenAIEvents, SSEDecoder, StreamChunk
from .upstream_reply import Outcome, outcome_from_exception

if TYPE_CHECKING:
    from .executor import Executor, Prepared
    from .flow import Call, FlowEnd
    from .providers import Target

__all__ = ["AsyncCompletionStream", "CompletionStream", "SSEDecoder", "StreamChunk"]


class _Tracker:
    """What a stream has delivered so far, and how it ended."""

    def __init__(self, executor: Executor, prepared: Prepared) -> None:
        self.executor = executor
        self.prepared = prepared
        self.decoder = SSEDecoder()
        self.events: OpenAIEvents | AnthropicEvents = OpenAIEvents()
        self.pending: list[StreamChunk] = []
        self.committed = False  # a chunk of the answer itself is pending or delivered
        self.chunks = 0
        self.chars = 0
        self.model = ""
        self.end: FlowEnd | None = None
        self.result: Result | None = None
        self.reported = False  # an interruption was recorded

    def begin(self, target: Target) -> None:
        """A new attempt: forget what an earlier attempt's stream had begun to say."""
        self.decoder = SSEDecoder()
        self.events = target.api.events()
        self.pending.clear()
        self.committed = False

    @property
    def finished(self) -> bool:
        return self.events.finished

    @property
    def usage(self) -> Any:
        return self.events.usage

    def feed(self, raw: bytes) -> Outcome | None:
        """Decode bytes into pending chunks; an Outcome when the stream carried an error."""
        for event, payload in self.decoder.events(raw):
            items = self.events.read(event, payload)
            if isinstance(items, Outcome):
                return items
            for item in items:
                self.committed = self.committed or item.commits
                self.pending.append(item)
        return None

    def take(self) -> list[StreamChunk]:
        ready, self.pending = self.pending, []
        for chunk in ready:
            if chunk.visible:
                self.chunks += 1
                self.chars += len(chunk.text)
        return ready

    def whole_reply(self, target: Target, status: int, headers: Any, body: bytes) -> Outcome:
        """A provider that ignored stream=True and answered in one piece: one synthetic chunk."""
        outcome = target.api.read_reply(status, headers, body, self.executor.providers.redact)
        if outcome.ok and outcome.response is not None:
            message = outcome.response["choices"][0]["message"]
            delta = {"role": "assistant", "content": message.get("content") or ""}
            if message.get("tool_calls"):
                delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
            data = {
                "id": outcome.response.get("id", self.prepared.request_id),
                "object": "chat.completion.chunk",
                "created": outcome.response.get("created", int(time.time())),
                "model": outcome.response.get("model", ""),
                "choices": [{"index": 0, "delta": delta, "finish_reason": outcome.response["choices"][0].get("finish_reason") or "stop"}],
            }
            self.pending.append(StreamChunk(data, json.dumps(data).encode(), message.get("content") or ""))
            self.committed = True
            self.events = _Whole(outcome.usage)
        return outcome

    def failed_before_first_chunk(self, status: int | None, how: str) -> Outcome:
        return Outcome("malformed" if how == "ended" else "connect", status, f"stream {how} before its first chunk")

    def interrupted(self, reason: str) -> StreamInterrupted:
        self.reported = True
        attempts = self.end.attempts if self.end else []
        error = StreamInterrupted(
            f"stream from {self.model} broke after {self.chunks} chunk(s) ({self.chars} characters) had reached the caller: {reason}",
            attempts,
            delivered_chunks=self.chunks,
            delivered_chars=self.chars,
            tier=self.prepared.decision.tier,
            rule=self.prepared.decision.rule,
            request_id=self.prepared.request_id,
        )
        return self.executor.failed(self.prepared, error, stream=True)

    def complete(self) -> Result:
        assert self.end is not None
        end = self.end
        last = end.attempts[-1]
        usage = self.usage
        cost = self.executor.price(last.model, usage, True)
        end.attempts[-1] = dataclasses.replace(last, usage=usage, cost=cost)
        end.outcome.usage = usage
        result = self.executor.result(self.prepared, end)
        result.content = None
        result.cost = sum_costs([a.cost for a in end.attempts])
        self.result = result
        return self.executor.answered(self.prepared, result, stream=True)


class _Whole:
    """The events of a reply that came in one piece: finished, with its usage."""

    finished = True

    def __init__(self, usage: Any) -> None:
        self.usage = usage


class _StreamBase:
    def __init__(self, executor: Executor, prepared: Prepared) -> None:
        self._executor = executor
        self.prepared = prepared
        self.decision = prepared.decision
        self.request_id = prepared.request_id
        self._tracker = _Tracker(executor, prepared)
        self._response: httpx.Response | None = None
        self._raw: Any = None  # the response's byte iterator, already started
        self._text: list[str] = []
        self._started = False
        self._closed = False
        self._native = False  # also deliver the events that exist only in the provider's own API

    @property
    def result(self) -> Result | None:
        """The finished call (usage, cost, attempts); None until the stream has ended."""
        return self._tracker.result

    @property
    def text(self) -> str:
        """Everything delivered so far."""
        return "".join(self._text)

    @property
    def model_used(self) -> str:
        return self._tracker.model

    @property
    def provider_api(self) -> str:
        """The API of the provider streaming the answer ("openai" or "anthropic"), once started."""
        return self._executor.providers.target(self._tracker.model).api.name if self._tracker.model else ""

    @property
    def attempts(self) -> list[Any]:
        """Every attempt so far (the successful one last, once the stream has started)."""
        end = self._tracker.end
        return list(end.attempts) if end is not None else []

    def _abandoned(self) -> None:
        """The caller stopped reading before the end: record it, once, as cancelled."""
        tracker = self._tracker
        if tracker.end is not None and tracker.result is None and not tracker.reported:
            tracker.reported = True
            self._executor.abandoned(self.prepared, f"after {tracker.chunks} chunk(s) of the stream", stream=True, delivered_chunks=tracker.chunks)

    def _flow(self) -> Any:
        return self._executor.flow(self.prepared, verify=False, allow_verify=False)

    def _opened(self, end: FlowEnd) -> None:
        self._tracker.end = end
        self._tracker.model = end.model

    def _deliver(self) -> list[StreamChunk]:
        chunks = self._tracker.take()
        self._text.extend(c.text for c in chunks)
        return chunks if self._native else [c for c in chunks if c.visible]

    def _open_request(self, call: Call) -> tuple[Target, bytes, tuple[tuple[bytes, bytes], ...]] | Outcome:
        try:
            target, body, extra = self._executor.body(call, self.prepared, stream=True)
        except Untranslatable as exc:
            return untranslatable(exc, call, self._executor.providers.redact)
        self._tracker.begin(target)
        return target, body, extra


class CompletionStream(_StreamBase):
    """A streamed answer (sync). Iterate for `StreamChunk`s; `result` is set at the end."""

    def start(self) -> CompletionStream:
        """Route and open the stream up to its first chunk (fallback happens here)."""
        if not self._started:
            self._started = True
            try:
                end = drive(self._flow(), self._attempt, self._executor._sleep)
            except ExecutionError as exc:
                raise self._executor.failed(self.prepared, exc, stream=True) from None
            except (KeyboardInterrupt, SystemExit):  # the caller is leaving: record what was spent
                self._executor.abandoned(self.prepared, "before the stream's first chunk", stream=True)
                raise
            except BaseException:
                self._executor.settle(self.prepared, self.prepared.attempts)
                raise
            self._opened(end)
        return self

    def _attempt(self, call: Call) -> Outcome:
        opened = self._open_request(call)
        if isinstance(opened, Outcome):
            return opened
        target, body, extra = opened
        client = self._executor.providers.client(target.provider)
        started = time.perf_counter()
        self.prepared.in_flight = (call, started)  # left set if the caller goes away during the call
        tracker = self._tracker
        response = None
        try:
            response = client.send(client.build_request("POST", target.url, content=body, headers=extra or None), stream=True)
            if response.status_code != 200 or not response.headers.get("content-type", "").startswith("text/event-stream"):
                outcome = tracker.whole_reply(target, response.status_code, response.headers, response.read())
                response.close()
                response = None
            else:
                outcome = None
                chunks = response.iter_raw()
                for raw in chunks:
                    outcome = tracker.feed(raw)
                    if outcome is not None or tracker.committed:
                        break
                if outcome is None and not tracker.committed:
                    outcome = tracker.failed_before_first_chunk(200, "ended")
                if outcome is None:
                    outcome = Outcome(None, 200)
                    self._response, self._raw = response, chunks
                    response = None
        except Exception as exc:
            outcome = outcome_from_exception(exc, self._executor.providers.redact)
        finally:
            if response is not None:
                response.close()
        if not outcome.ok:
            tracker.pending.clear()
        self.prepared.in_flight = None
        outcome.latency_s = time.perf_counter() - started
        return outcome

    def native_events(self) -> Iterator[StreamChunk]:
        """Iterate with the events that exist only in the provider's own API (`visible=False`)."""
        self._native = True
        return iter(self)

    def __iter__(self) -> Iterator[StreamChunk]:
        self.start()
        tracker = self._tracker
        response = self._response
        try:
            yield from self._deliver()
            if response is not None:
                for raw in self._raw:
                    error = tracker.feed(raw)
                    yield from self._deliver()
                    if error is not None:
                        raise tracker.interrupted(error.message or "error event")
                if not tracker.finished:
                    raise tracker.interrupted("the connection closed before the stream's end")
            tracker.complete()
        except httpx.HTTPError as exc:
            raise tracker.interrupted(outcome_from_exception(exc, self._executor.providers.redact).message or "connection lost") from None
        finally:
            self._abandoned()  # records nothing when the stream completed or its break was recorded
            if response is not None:
                response.close()
            self._response = None

    def close(self) -> None:
        if self._response is not None:
            self._abandoned()
            self._response.close()
            self._response = None

    def __enter__(self) -> CompletionStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncCompletionStream(_StreamBase):
    """A streamed answer (asyncio). `async for` over it; `result` is set at the end."""

    async def start(self) -> AsyncCompletionStream:
        """Route and open the stream up to its first chunk (fallback happens here)."""
        if not self._started:
            self._started = True
            try:
                end = await adrive(self._flow(), self._attempt, self._executor._asleep)
            except ExecutionError as exc:
                raise self._executor.failed(self.prepared, exc, stream=True) from None
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):  # the caller went away: cut off, recorded
                self._executor.abandoned(self.prepared, "before the stream's first chunk", stream=True)
                raise
            except BaseException:
                self._executor.settle(self.prepared, self.prepared.attempts)
                raise
            self._opened(end)
        return self

    async def _attempt(self, call: Call) -> Outcome:
        opened = self._open_request(call)
        if isinstance(opened, Outcome):
            return opened
        target, body, extra = opened
        started = time.perf_counter()
        self.prepared.in_flight = (call, started)  # left set if the caller goes away during the call
        tracker = self._tracker
        response = None
        try:
            response = await self._executor.providers.asend(target, body, extra)
            if response.status_code != 200 or not response.headers.get("content-type", "").startswith("text/event-stream"):
                outcome = tracker.whole_reply(target, response.status_code, response.headers, await response.aread())
                await response.aclose()
                response = None
            else:
                outcome = None
                chunks = response.aiter_raw()
                async for raw in chunks:
                    outcome = tracker.feed(raw)
                    if outcome is not None or tracker.committed:
                        break
                if outcome is None and not tracker.committed:
                    outcome = tracker.failed_before_first_chunk(200, "ended")
                if outcome is None:
                    outcome = Outcome(None, 200)
                    self._response, self._raw = response, chunks
                    response = None
        except Exception as exc:
            outcome = outcome_from_exception(exc, self._executor.providers.redact)
        finally:
            if response is not None:
                await response.aclose()
        if not outcome.ok:
            tracker.pending.clear()
        self.prepared.in_flight = None
        outcome.latency_s = time.perf_counter() - started
        return outcome

    def __aiter__(self) -> AsyncIterator[StreamChunk]:
        return self._chunks()

    def native_events(self) -> AsyncIterator[StreamChunk]:
        """`async for` with the events that exist only in the provider's own API (`visible=False`)."""
        self._native = True
        return self._chunks()

    def batches(self, *, native: bool = False) -> AsyncIterator[list[StreamChunk]]:
        """The chunks as they arrived together: one list per read from the upstream (never
        empty), so that a server can pass on in one write what reached it in one read. `native`
        as for `native_events()`; `aclose()` it when leaving early, as for the chunks."""
        self._native = self._native or native
        return self._batches()

    async def _chunks(self) -> AsyncIterator[StreamChunk]:
        batches = self._batches()
        try:
            async for batch in batches:
                for chunk in batch:
                    yield chunk
        finally:
            await batches.aclose()  # at once, not when collected: leaving early is recorded now

    async def _batches(self) -> AsyncIterator[list[StreamChunk]]:
        await self.start()
        tracker = self._tracker
        response = self._response
        try:
            ready = self._deliver()
            if ready:
                yield ready
            if response is not None:
                async for raw in self._raw:
                    error = tracker.feed(raw)
                    ready = self._deliver()
                    if ready:
                        yield ready
                    if error is not None:
                        raise tracker.interrupted(error.message or "error event")
                if not tracker.finished:
                    raise tracker.interrupted("the connection closed before the stream's end")
            tracker.complete()
        except httpx.HTTPError as exc:
            raise tracker.interrupted(outcome_from_exception(exc, self._executor.providers.redact).message or "connection lost") from None
        finally:
            self._abandoned()  # records nothing when the stream completed or its break was recorded
            if response is not None:
                await response.aclose()
            self._response = None

    async def aclose(self) -> None:
        if self._response is not None:
            self._abandoned()
            await self._response.aclose()
            self._response = None

    async def __aenter__(self) -> AsyncCompletionStream:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
