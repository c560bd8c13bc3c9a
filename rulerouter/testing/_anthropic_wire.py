"""Behaviours in Anthropic's Messages API shape.

A reply is a `message` with `text` and `tool_use` content blocks and Anthropic's stop reasons;
a stream is Anthropic's exact event sequence — `message_start`, then per block
`content_block_start`, deltas (`text_delta`, or `input_json_delta` for tool input, the first one
empty) and `content_block_stop`, a `ping` after the first block opens, then `message_delta`
(stop reason and output tokens) and `message_stop`, each framed as `event: NAME` / `data: JSON`.
Errors are `{"type": "error", "error": {"type", "message"}, "request_id"}` with Anthropic's
error types (529 is `overloaded_error`). Requests are checked as the API checks them: the
`anthropic-version` header, `model`, `messages` and `max_tokens` are required, and API version
2026-10-21 refuses `temperature`, `top_p` and `top_k`.
"""

from __future__ import annotations

import itertools
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
)
from ._exchange import ERROR_MESSAGES, Exchange, Wire, after, argument_pieces, dumps, estimate_tokens, pieces

__all__ = ["ANTHROPIC"]

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
                404: "not_found_error", 409: "conflict_error", 413: "request_too_large", 429: "rate_limit_error",
                504: "timeout_error", 529: "overloaded_error"}
#: OpenAI's finish reasons (what a `Reply` says by default) as Anthropic's stop reasons.
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
         "content_filter": "refusal"}
_SAMPLING = ("temperature", "top_p", "top_k")  # refused from API version 2026-10-21 on


def _refusal(record: RecordedRequest) -> Status | None:
    version = record.headers.get("anthropic-version")
    body = record.body
    if not version:
        return Status(400, "anthropic-version: header is required")
    if record.model is None:
        return Status(400, "model: Field required")
    if not isinstance(body.get("messages"), list):
        return Status(400, "messages: Field required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return Status(400, "max_tokens: Field required" if max_tokens is None else "max_tokens: Input should be a positive integer")
    if version >= "2026-10-21":
        for name in _SAMPLING:
            if name in body:
                return Status(400, f"{name}: Extra inputs are not permitted")
    return None


def _event(name: str, data: Any) -> bytes:
    payload = data if isinstance(data, bytes) else dumps(data).encode()
    return b"event: %s\ndata: %s\n\n" % (name.encode(), payload)


def _message(ex: Exchange, mid: str, content: list[Any], stop_reason: str | None, usage: dict[str, int]) -> dict[str, Any]:
    return {"id": mid, "type": "message", "role": "assistant", "model": ex.model, "content": content,
            "stop_reason": stop_reason, "stop_sequence": None, "usage": usage}


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def _send_error(ex: Exchange, status: int, error_type: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
    request_id = ex.next_id("req")
    ex.send_json(status, {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id},
                 (("request-id", request_id), *headers))


def _reply(b: Reply, ex: Exchange) -> Awaitable[None] | None:
    if b.delay > 0:
        return after(b.delay, b, ex, _reply_now)
    return _reply_now(b, ex)


def _reply_now(b: Reply, ex: Exchange) -> Awaitable[None] | None:
    input_tokens = ex.prompt_tokens() if b.prompt_tokens is None else b.prompt_tokens
    output_tokens = estimate_tokens(b.content) if b.completion_tokens is None else b.completion_tokens
    mid, stop = ex.next_id("msg"), _STOP.get(b.finish, b.finish)
    calls = [(call, call.id or ex.next_id("toolu")) for call in b.tool_calls]
    text = [] if not b.content and calls else [{"type": "text", "text": b.content}]
    if not ex.stream:
        tools = [{"type": "tool_use", "id": tid, "name": c.name, "input": c.input} for c, tid in calls]
        ex.send_json(200, _message(ex, mid, text + tools, stop, _usage(input_tokens, output_tokens)))
        return None
    events = [_event("message_start", {"type": "message_start",
                                       "message": _message(ex, mid, [], None, _usage(input_tokens, 1))})]
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if text:
        blocks.append(({"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces(b.content) or [""]]))
    for call, tid in calls:
        parts = [""] + argument_pieces(call.arguments)  # type: ignore[arg-type]
        blocks.append(({"type": "tool_use", "id": tid, "name": call.name, "input": {}},
                       [{"type": "input_json_delta", "partial_json": p} for p in parts]))
    for index, (start, deltas) in enumerate(blocks):
        events.append(_event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        if index == 0:
            events.append(_event("ping", {"type": "ping"}))
        events += [_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        events.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not blocks:
        events.append(_event("ping", {"type": "ping"}))
    events.append(_event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                           "usage": {"output_tokens": output_tokens}}))
    events.append(_event("message_stop", {"type": "message_stop"}))
    return ex.send_stream(events, spacing=b.chunk_delay)


def _status(b: Status, ex: Exchange) -> None:
    headers: tuple[tuple[str, str], ...] = ()
    if b.retry_after is not None:
        seconds = int(b.retry_after) if float(b.retry_after).is_integer() else b.retry_after
        headers = (("retry-after", str(seconds)),)
    message = b.message or ERROR_MESSAGES.get(b.code) or _http.reason(b.code)
    error_type = b.error_type or _ERROR_TYPES.get(b.code, "api_error" if b.code >= 500 else "invalid_request_error")
    _send_error(ex, b.code, error_type, message, headers)


def _context_length(b: ContextLengthExceeded, ex: Exchange) -> None:
    used = max(ex.prompt_tokens(), b.limit + 1)
    _send_error(ex, 400, "invalid_request_error", f"prompt is too long: {used} tokens > {b.limit} maximum")


def _malformed(b: Malformed, ex: Exchange) -> None:
    if ex.stream:
        ex.send_stream([_event("message_start", b.body)])
    else:
        ex.conn.write(_http.response(200, b.body, content_type=b.content_type, keep_alive=ex.keep_alive))


def _missing_choices(b: MissingChoices, ex: Exchange) -> None:
    """A message without its `content` (streamed: a `message_start` without its message)."""
    if ex.stream:
        ex.send_stream([_event("message_start", {"type": "message_start"}), _event("message_stop", {"type": "message_stop"})])
    else:
        message = _message(ex, ex.next_id("msg"), [], "end_turn", _usage(0, 0))
        del message["content"]
        ex.send_json(200, message)


def _error_object(b: ErrorObject, ex: Exchange) -> None:
    error = {"type": "error", "error": {"type": b.code_str or "api_error", "message": b.message}}
    if ex.stream:
        ex.send_stream([_event("error", error)])
    else:
        ex.send_json(200, error)


def _stream_break(b: StreamBreak, ex: Exchange) -> None:
    if not ex.stream:
        body = dumps(_message(ex, ex.next_id("msg"), [{"type": "text", "text": b.content}], "end_turn", _usage(1, 1))).encode()
        whole = _http.response(200, body, keep_alive=ex.keep_alive)
        ex.conn.write(whole[: len(whole) - len(body) // 2])
        ex.conn.close()
        return
    events = []
    if b.after_chunks:
        events = [_event("message_start", {"type": "message_start", "message": _message(ex, ex.next_id("msg"), [], None, _usage(1, 1))}),
                  _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                  _event("ping", {"type": "ping"})]
        texts = itertools.islice(itertools.cycle(pieces(b.content) or ["…"]), b.after_chunks)
        events += [_event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}})
                   for t in texts]
    ex.send_stream(events, close=True)


def _echo_auth(b: EchoAuth, ex: Exchange) -> None:
    headers = ex.record.headers
    presented = headers.get("x-api-key") or headers.get("authorization") or "<no x-api-key header>"
    _send_error(ex, b.status, _ERROR_TYPES.get(b.status, "api_error"), f"invalid x-api-key: {presented}")


def _model(model: str) -> dict[str, Any]:
    return {"type": "model", "id": model, "display_name": model, "created_at": "2025-01-01T00:00:00Z"}


def _models(models: list[str]) -> dict[str, Any]:
    return {"data": [_model(m) for m in models], "has_more": False,
            "first_id": models[0] if models else None, "last_id": models[-1] if models else None}


ANTHROPIC = Wire(
    name="anthropic",
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
    models=_models,
    model=_model,
)
