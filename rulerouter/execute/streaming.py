"""Streamed answers: fallback until the first chunk, then a committed stream.

The commit point: until the first chunk of an answer has arrived, a failing model is handled
exactly as in `complete()` (retry, fall back, skip open circuits) and the caller sees nothing.
Once the first chunk has been handed to the caller, the answer is committed to that model: if
the stream breaks later, `StreamInterrupted` says how many chunks and characters had been
delivered, and no fallback is attempted (the caller already holds part of an answer). Streamed
answers are not verified: a judge cannot take back what was already shown.

`SSEDecoder` and `_Tracker` are the I/O-free parts shared by the sync and async streams.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator

import httpx

from .cost import sum_costs
from .flow import adrive, drive
from .result import ExecutionError, Result, StreamInterrupted, Usage
from .upstream_reply import Outcome, outcome_from_exception, read_reply, usage_of

if TYPE_CHECKING:
    from .executor import Executor, Prepared
    from .flow import Call, FlowEnd

__all__ = ["AsyncCompletionStream", "CompletionStream", "SSEDecoder", "StreamChunk"]


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """One `chat.completion.chunk`: parsed, as raw JSON bytes (for pass-through), and its text."""

    data: dict[str, Any]
    raw: bytes
    text: str
    usage_only: bool = False  # a final usage chunk with no choices


class SSEDecoder:
    """Server-Sent Events → the data payload of each event, fed bytes as they arrive."""

    __slots__ = ("_buffer", "_data")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        events = []
        buffer = self._buffer + chunk
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            # comments (":") and other fields (event, id, retry) carry nothing we use
        self._buffer = buffer[start:]
        return events


def _chunk(payload: bytes) -> StreamChunk | Outcome:
    """A chunk, or the outcome of an event that is an error or not JSON."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return Outcome("malformed", 200, f"stream event is not JSON ({len(payload)} bytes)")
    if not isinstance(data, dict):
        return Outcome("malformed", 200, "stream event is not a JSON object")
    if "error" in data and "choices" not in data:
        error = data["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        return Outcome("server_error", 200, f"error event in the stream: {str(message)[:300]}")
    choices = data.get("choices")
    text = ""
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        delta = choices[0].get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            text = delta["content"]
    return StreamChunk(data, payload, text, usage_only=not choices and "usage" in data)


class _Tracker:
    """What a stream has delivered so far, and how it ended."""

    def __init__(self, executor: Executor, prepared: Prepared) -> None:
        self.executor = executor
        self.prepared = prepared
        self.decoder = SSEDecoder()
        self.pending: list[StreamChunk] = []
        self.chunks = 0
        self.chars = 0
        self.usage: Usage | None = None
        self.finished = False  # [DONE], or a finish_reason
        self.model = ""
        self.end: FlowEnd | None = None
        self.result: Result | None = None
        self.reported = False  # an interruption was recorded

    def feed(self, raw: bytes) -> Outcome | None:
        """Decode bytes into pending chunks; an Outcome when the stream carried an error."""
        for payload in self.decoder.feed(raw):
            if payload.strip() == b"[DONE]":
                self.finished = True
                continue
            item = _chunk(payload)
            if isinstance(item, Outcome):
                return item
            usage = usage_of(item.data)
            if usage is not None:
                self.usage = usage
            choices = item.data.get("choices")
            if isinstance(choices, list) and choices and isinstance(choices[0], dict) and choices[0].get("finish_reason"):
                self.finished = True
            self.pending.append(item)
        return None

    def take(self) -> list[StreamChunk]:
        ready, self.pending = self.pending, []
        for chunk in ready:
            self.chunks += 1
            self.chars += len(chunk.text)
        return ready

    def whole_reply(self, status: int, headers: Any, body: bytes) -> Outcome:
        """A provider that ignored stream=True and answered in one piece: one synthetic chunk."""
        outcome = read_reply(status, headers, body, self.executor.providers.redact)
        if outcome.ok and outcome.response is not None:
            message = outcome.response["choices"][0]["message"]
            data = {
                "id": outcome.response.get("id", self.prepared.request_id),
                "object": "chat.completion.chunk",
                "created": outcome.response.get("created", int(time.time())),
                "model": outcome.response.get("model", ""),
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": message.get("content") or ""}, "finish_reason": "stop"}],
            }
            self.pending.append(StreamChunk(data, json.dumps(data).encode(), message.get("content") or ""))
            self.usage = outcome.usage
            self.finished = True
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
        cost = self.executor.price(last.model, self.usage, True)
        end.attempts[-1] = dataclasses.replace(last, usage=self.usage, cost=cost)
        end.outcome.usage = self.usage
        result = self.executor.result(self.prepared, end)
        result.content = None
        result.cost = sum_costs([a.cost for a in end.attempts])
        self.result = result
        return self.executor.answered(self.prepared, result, stream=True)


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
    def attempts(self) -> list[Any]:
        """Every attempt so far (the successful one last, once the stream has started)."""
        end = self._tracker.end
        return list(end.attempts) if end is not None else []

    def _abandoned(self) -> None:
        """The caller stopped reading before the end: record it, once, as an interrupted stream."""
        tracker = self._tracker
        if tracker.end is not None and tracker.result is None and not tracker.reported:
            tracker.interrupted("the caller closed the stream before its end")

    def _flow(self) -> Any:
        return self._executor.flow(self.prepared, verify=False, allow_verify=False)

    def _opened(self, end: FlowEnd) -> None:
        self._tracker.end = end
        self._tracker.model = end.model

    def _deliver(self) -> list[StreamChunk]:
        chunks = self._tracker.take()
        self._text.extend(c.text for c in chunks)
        return chunks

    def _open_request(self, call: Call) -> tuple[str, httpx.Request, Any]:
        provider, body = self._executor.body(call, self.prepared.params, stream=True)
        target = self._executor.providers.target(call.model)
        return provider, body, target.url


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
            self._opened(end)
        return self

    def _attempt(self, call: Call) -> Outcome:
        provider, body, url = self._open_request(call)
        client = self._executor.providers.client(provider)
        started = time.perf_counter()
        tracker = self._tracker
        response = None
        try:
            response = client.send(client.build_request("POST", url, content=body), stream=True)
            if response.status_code != 200 or not response.headers.get("content-type", "").startswith("text/event-stream"):
                outcome = tracker.whole_reply(response.status_code, response.headers, response.read())
                response.close()
                response = None
            else:
                outcome = None
                chunks = response.iter_raw()
                for raw in chunks:
                    outcome = tracker.feed(raw)
                    if outcome is not None or tracker.pending:
                        break
                if outcome is None and not tracker.pending:
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
        outcome.latency_s = time.perf_counter() - started
        return outcome

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
            self._opened(end)
        return self

    async def _attempt(self, call: Call) -> Outcome:
        _, body, _ = self._open_request(call)
        target = self._executor.providers.target(call.model)
        started = time.perf_counter()
        tracker = self._tracker
        response = None
        try:
            response = await self._executor.providers.asend(target, body)
            if response.status_code != 200 or not response.headers.get("content-type", "").startswith("text/event-stream"):
                outcome = tracker.whole_reply(response.status_code, response.headers, await response.aread())
                await response.aclose()
                response = None
            else:
                outcome = None
                chunks = response.aiter_raw()
                async for raw in chunks:
                    outcome = tracker.feed(raw)
                    if outcome is not None or tracker.pending:
                        break
                if outcome is None and not tracker.pending:
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
        outcome.latency_s = time.perf_counter() - started
        return outcome

    def __aiter__(self) -> AsyncIterator[StreamChunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[StreamChunk]:
        await self.start()
        tracker = self._tracker
        response = self._response
        try:
            for chunk in self._deliver():
                yield chunk
            if response is not None:
                async for raw in self._raw:
                    error = tracker.feed(raw)
                    for chunk in self._deliver():
                        yield chunk
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
