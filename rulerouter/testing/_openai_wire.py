"""Behaviours in OpenAI's chat-completions shape: completions, `chat.completion.chunk` streams
ending in `data: [DONE]`, and `{"error": {"message", "type", "param", "code"}}` errors."""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable
from typing import Any

from . import _http
from ._behaviours import (
    ContextLengthExceeded,
    EchoAuth,
    ErrorObject,
    Malformed,
    MissingChoices,
    RecordedRequest,
    Reply,
    Status,
    StreamBreak,
    ToolCall,
)
from ._exchange import ERROR_MESSAGES, Exchange, Wire, after, argument_pieces, dumps, estimate_tokens, pieces

__all__ = ["OPENAI"]

_DONE = _http.chunk(b"data: [DONE]\n\n") + _http.LAST_CHUNK
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 409: "conflict_error", 422: "invalid_request_error",
                429: "rate_limit_error"}
#: Anthropic's stop reasons, for a `Reply` scripted with them.
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
           "refusal": "content_filter", "pause_turn": "stop", "model_context_window_exceeded": "length"}


def _refusal(record: RecordedRequest) -> Status | None:
    if record.model is None:
        return Status(400, "you must provide a model parameter")
    if not isinstance(record.body.get("messages"), list):
        return Status(400, "Missing required parameter: 'messages'.", code_str="missing_required_parameter")
    return None


def _event(obj: Any) -> bytes:
    return b"data: %s\n\n" % (obj if isinstance(obj, bytes) else dumps(obj).encode())


def _send_events(ex: Exchange, events: list[Any], *, done: bool = True, close: bool = False, spacing: float = 0.0) -> Awaitable[None] | None:
    return ex.send_stream([_event(e) for e in events], end=_DONE if done else _http.LAST_CHUNK, close=close, spacing=spacing)


def _chunk(ex: Exchange, cid: str, created: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": ex.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


def _call_id(ex: Exchange, call: ToolCall) -> str:
    return call.id or ex.next_id("call")


def _send_error(ex: Exchange, status: int, message: str, error_type: str, code: str | None,
                headers: tuple[tuple[str, str], ...] = (), param: str | None = None) -> None:
    ex.send_json(status, {"error": {"message": message, "type": error_type, "param": param, "code": code}}, headers)


def _reply(b: Reply, ex: Exchange) -> Awaitable[None] | None:
    if b.delay > 0:
        return after(b.delay, b, ex, _reply_now)
    return _reply_now(b, ex)


def _reply_now(b: Reply, ex: Exchange) -> Awaitable[None] | None:
    prompt_tokens = ex.prompt_tokens() if b.prompt_tokens is None else b.prompt_tokens
    completion_tokens = estimate_tokens(b.content) if b.completion_tokens is None else b.completion_tokens
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    cid, created, finish = ex.next_id("chatcmpl"), int(time.time()), _FINISH.get(b.finish, b.finish)
    ids = [_call_id(ex, call) for call in b.tool_calls]
    if not ex.stream:
        message: dict[str, Any] = {"role": "assistant", "content": b.content if b.content or not b.tool_calls else None}
        if b.tool_calls:
            message["tool_calls"] = [{"id": i, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                     for i, c in zip(ids, b.tool_calls)]
        ex.send_json(200, {
            "id": cid, "object": "chat.completion", "created": created, "model": ex.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
        })
        return None
    texts = pieces(b.content) or ([] if b.tool_calls else [""])
    deltas: list[dict[str, Any]] = [{"content": text} for text in texts]
    for index, (call_id, call) in enumerate(zip(ids, b.tool_calls)):
        parts = argument_pieces(call.arguments)  # type: ignore[arg-type]
        deltas.append({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                       "function": {"name": call.name, "arguments": parts[0]}}]})
        deltas += [{"tool_calls": [{"index": index, "function": {"arguments": part}}]} for part in parts[1:]]
    deltas[0] = {"role": "assistant", **deltas[0]}
    events = [_chunk(ex, cid, created, delta) for delta in deltas]
    events.append(_chunk(ex, cid, created, {}, finish))
    options = ex.record.body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        events.append({"id": cid, "object": "chat.completion.chunk", "created": created, "model": ex.model,
                       "choices": [], "usage": usage})
    return _send_events(ex, events, spacing=b.chunk_delay)


def _status(b: Status, ex: Exchange) -> None:
    headers: tuple[tuple[str, str], ...] = ()
    if b.retry_after is not None:
        seconds = int(b.retry_after) if float(b.retry_after).is_integer() else b.retry_after
        headers = (("Retry-After", str(seconds)),)
    message = b.message or ERROR_MESSAGES.get(b.code) or _http.reason(b.code)
    error_type = b.error_type or _ERROR_TYPES.get(b.code, "server_error" if b.code >= 500 else "invalid_request_error")
    _send_error(ex, b.code, message, error_type, b.code_str, headers)


def _context_length(b: ContextLengthExceeded, ex: Exchange) -> None:
    used = max(ex.prompt_tokens(), b.limit + 1)
    message = (f"This model's maximum context length is {b.limit} tokens. However, your messages resulted in "
               f"{used} tokens. Please reduce the length of the messages.")
    _send_error(ex, 400, message, "invalid_request_error", "context_length_exceeded", param="messages")


def _malformed(b: Malformed, ex: Exchange) -> None:
    if ex.stream:
        _send_events(ex, [b.body])
    else:
        ex.conn.write(_http.response(200, b.body, content_type=b.content_type, keep_alive=ex.keep_alive))


def _missing_choices(b: MissingChoices, ex: Exchange) -> None:
    obj = {"id": ex.next_id("chatcmpl"), "object": "chat.completion.chunk" if ex.stream else "chat.completion",
           "created": int(time.time()), "model": ex.model}
    if ex.stream:
        _send_events(ex, [obj])
    else:
        ex.send_json(200, {**obj, "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})


def _error_object(b: ErrorObject, ex: Exchange) -> None:
    obj = {"error": {"message": b.message, "type": "server_error", "param": None, "code": b.code_str}}
    if ex.stream:
        _send_events(ex, [obj])
    else:
        ex.send_json(200, obj)


def _stream_break(b: StreamBreak, ex: Exchange) -> None:
    if ex.stream:
        cid, created = ex.next_id("chatcmpl"), int(time.time())
        texts = itertools.islice(itertools.cycle(pieces(b.content) or ["…"]), b.after_chunks)
        events = [_chunk(ex, cid, created, {"role": "assistant", "content": p} if i == 0 else {"content": p})
                  for i, p in enumerate(texts)]
        _send_events(ex, events, done=False, close=True)
        return
    body = dumps({"id": ex.next_id("chatcmpl"), "object": "chat.completion", "model": ex.model,
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": b.content}}]}).encode()
    whole = _http.response(200, body, keep_alive=ex.keep_alive)
    ex.conn.write(whole[: len(whole) - len(body) // 2])
    ex.conn.close()  # a FIN after the partial body: the client reads what was sent, then a broken framing


def _echo_auth(b: EchoAuth, ex: Exchange) -> None:
    presented = ex.record.headers.get("authorization", "<no Authorization header>")
    _send_error(ex, b.status, f"Incorrect API key provided: {presented}.", _ERROR_TYPES.get(b.status, "server_error"),
                "invalid_api_key")


def _model(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "rulerouter-loopback"}


OPENAI = Wire(
    name="openai",
    render={
        Reply: _reply,
        Status: _status,
        ContextLengthExceeded: _context_length,
        Malformed: _malformed,
        MissingChoices: _missing_choices,
        ErrorObject: _error_object,
        StreamBreak: _stream_break,
        EchoAuth: _echo_auth,
    },
    refusal=_refusal,
    models=lambda models: {"object": "list", "data": [_model(m) for m in models]},
    model=_model,
)
