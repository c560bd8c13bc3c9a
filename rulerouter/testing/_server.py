"""The OpenAI-compatible endpoints, and how each behaviour is rendered onto the wire.

`Dispatcher` is the `_http` handler: it routes a request, records it, asks the `Script` which
behaviour answers, and renders that behaviour with the function registered for its type in
`_RENDER`. Renderers write bytes at once and return None, or return a coroutine when the answer
must wait (`Slow`, `Reply(delay=...)`) — a timer on the event loop, never a blocked thread.

A stream request gets server-sent events (`chat.completion.chunk`, then `data: [DONE]`); a
behaviour that is an HTTP error is sent as an ordinary error response before any chunk, exactly
as OpenAI does when it rejects a request.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from . import _http
from ._behaviours import (
    Behaviour,
    ContextLengthExceeded,
    EchoAuth,
    ErrorObject,
    Malformed,
    MissingChoices,
    RecordedRequest,
    Reply,
    Reset,
    Slow,
    Status,
    StreamBreak,
    content_text,
)
from ._script import Script

__all__ = ["Dispatcher", "estimate_tokens"]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_PIECES = re.compile(r"\S+\s*|\s+")  # stream deltas: one word and its trailing space each
_DONE = _http.chunk(b"data: [DONE]\n\n") + _http.LAST_CHUNK
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 409: "conflict_error", 422: "invalid_request_error",
                429: "rate_limit_error"}
_ERROR_MESSAGES = {
    400: "The request was invalid.",
    401: "Incorrect API key provided.",
    403: "You are not allowed to use this model.",
    404: "The model does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request.",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}


def estimate_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: about four characters per token."""
    return (len(text) + 3) // 4


class Dispatcher:
    """Routes each HTTP request to an endpoint; the `_http.Handler` of the loopback upstream."""

    def __init__(self, script: Script):
        self.script = script
        self._ids = itertools.count(1)

    def __call__(self, req: _http.HTTPRequest, conn: _http.Connection) -> Awaitable[None] | None:
        if req.path == "/v1/chat/completions" and req.method == "POST":
            return self._chat(req, conn)
        record = RecordedRequest(req.method, req.path, req.headers, _json_or_none(req.body), connection=conn.id)
        self.script.record(record)
        ex = _Exchange(self, conn, record, req.keep_alive)
        if req.method == "GET" and req.path == "/healthz":
            ex.send_json(200, {"status": "ok"})
        elif req.method == "GET" and req.path == "/v1/models":
            ex.send_json(200, {"object": "list", "data": [_model_object(m) for m in self.script.models()]})
        elif req.method == "GET" and req.path.startswith("/v1/models/"):
            ex.send_json(200, _model_object(req.path.removeprefix("/v1/models/")))
        else:
            record.behaviour = Status(404, f"Invalid URL ({req.method} {req.path})", code_str="unknown_url",
                                      error_type="invalid_request_error")
            return render(record.behaviour, ex)
        return None

    def _chat(self, req: _http.HTTPRequest, conn: _http.Connection) -> Awaitable[None] | None:
        body = _json_or_none(req.body)
        valid = isinstance(body, dict)
        model = body.get("model") if valid else None
        stream = bool(body.get("stream")) if valid else False
        record = RecordedRequest(req.method, req.path, req.headers, body,
                                 model=model if isinstance(model, str) else None, stream=stream, connection=conn.id)
        self.script.record(record)
        ex = _Exchange(self, conn, record, req.keep_alive)
        if not valid:
            behaviour: Behaviour = Status(400, "We could not parse the JSON body of your request.")
        elif record.model is None:
            behaviour = Status(400, "you must provide a model parameter")
        elif not isinstance(body.get("messages"), list):
            behaviour = Status(400, "Missing required parameter: 'messages'.", code_str="missing_required_parameter")
        else:
            return render(self.script.decide(record), ex)
        record.behaviour = behaviour
        return render(behaviour, ex)

    def next_id(self) -> str:
        return f"chatcmpl-loopback-{next(self._ids)}"


class _Exchange:
    """One request being answered: where to write, and what the answer needs to know."""

    __slots__ = ("dispatcher", "conn", "record", "keep_alive")

    def __init__(self, dispatcher: Dispatcher, conn: _http.Connection, record: RecordedRequest, keep_alive: bool):
        self.dispatcher, self.conn, self.record, self.keep_alive = dispatcher, conn, record, keep_alive

    @property
    def model(self) -> str:
        return self.record.model or ""

    def prompt_tokens(self) -> int:
        return estimate_tokens("".join(content_text(m.get("content")) for m in self.record.messages
                                       if isinstance(m, dict)))

    def include_usage(self) -> bool:
        options = self.record.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True

    def send_json(self, status: int, obj: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.conn.write(_http.response(status, _dumps(obj).encode(), headers=headers, keep_alive=self.keep_alive))

    def send_error(self, status: int, message: str, error_type: str, code: str | None,
                   headers: tuple[tuple[str, str], ...] = (), param: str | None = None) -> None:
        error = {"message": message, "type": error_type, "param": param, "code": code}
        self.send_json(status, {"error": error}, headers)

    def send_events(self, events: list[Any], *, done: bool = True) -> None:
        """A whole SSE response in one write: each event is a JSON object, or raw bytes."""
        parts = [_http.stream_head(self.keep_alive)]
        for event in events:
            data = event if isinstance(event, bytes) else _dumps(event).encode()
            parts.append(_http.chunk(b"data: %s\n\n" % data))
        if done:
            parts.append(_DONE)
        self.conn.write(b"".join(parts))

    def chunk(self, cid: str, created: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


Renderer = Callable[[Any, _Exchange], Awaitable[None] | None]


def render(behaviour: Behaviour, ex: _Exchange) -> Awaitable[None] | None:
    renderer = _RENDER.get(type(behaviour))
    if renderer is None:  # a subclass of a known behaviour renders as its base
        base = next((cls for cls in type(behaviour).__mro__ if cls in _RENDER), None)
        if base is None:
            return _status(Status(500, f"loopback upstream cannot render {behaviour!r}"), ex)
        renderer = _RENDER[base]
    return renderer(behaviour, ex)


async def _after(seconds: float, behaviour: Behaviour, ex: _Exchange, renderer: Renderer = render) -> None:
    await asyncio.sleep(seconds)
    pending = renderer(behaviour, ex)
    if pending is not None:
        await pending


def _reply(b: Reply, ex: _Exchange) -> Awaitable[None] | None:
    if b.delay > 0:
        return _after(b.delay, b, ex, _reply_now)
    return _reply_now(b, ex)


def _reply_now(b: Reply, ex: _Exchange) -> None:
    prompt_tokens = ex.prompt_tokens() if b.prompt_tokens is None else b.prompt_tokens
    completion_tokens = estimate_tokens(b.content) if b.completion_tokens is None else b.completion_tokens
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    cid, created = ex.dispatcher.next_id(), int(time.time())
    if not ex.record.stream:
        ex.send_json(200, {
            "id": cid, "object": "chat.completion", "created": created, "model": ex.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": b.content},
                         "logprobs": None, "finish_reason": b.finish_reason}],
            "usage": usage,
        })
        return None
    pieces = _PIECES.findall(b.content) or [""]
    events = [ex.chunk(cid, created, {"role": "assistant", "content": pieces[0]})]
    events += [ex.chunk(cid, created, {"content": piece}) for piece in pieces[1:]]
    events.append(ex.chunk(cid, created, {}, b.finish_reason))
    if ex.include_usage():
        events.append({"id": cid, "object": "chat.completion.chunk", "created": created, "model": ex.model,
                       "choices": [], "usage": usage})
    ex.send_events(events)
    return None


def _status(b: Status, ex: _Exchange) -> None:
    headers: tuple[tuple[str, str], ...] = ()
    if b.retry_after is not None:
        seconds = int(b.retry_after) if float(b.retry_after).is_integer() else b.retry_after
        headers = (("Retry-After", str(seconds)),)
    message = b.message or _ERROR_MESSAGES.get(b.code) or _http.reason(b.code)
    error_type = b.error_type or _ERROR_TYPES.get(b.code, "server_error" if b.code >= 500 else "invalid_request_error")
    ex.send_error(b.code, message, error_type, b.code_str, headers)


def _context_length(b: ContextLengthExceeded, ex: _Exchange) -> None:
    used = max(ex.prompt_tokens(), b.limit + 1)
    message = (f"This model's maximum context length is {b.limit} tokens. However, your messages resulted in "
               f"{used} tokens. Please reduce the length of the messages.")
    ex.send_error(400, message, "invalid_request_error", "context_length_exceeded", param="messages")


def _slow(b: Slow, ex: _Exchange) -> Awaitable[None]:
    return _after(b.seconds, b.then, ex)


def _reset(b: Reset, ex: _Exchange) -> None:
    ex.conn.reset()


def _malformed(b: Malformed, ex: _Exchange) -> None:
    if ex.record.stream:
        ex.send_events([b.body])
    else:
        ex.conn.write(_http.response(200, b.body, content_type=b.content_type, keep_alive=ex.keep_alive))


def _missing_choices(b: MissingChoices, ex: _Exchange) -> None:
    obj = {"id": ex.dispatcher.next_id(), "object": "chat.completion.chunk" if ex.record.stream else "chat.completion",
           "created": int(time.time()), "model": ex.model}
    if ex.record.stream:
        ex.send_events([obj])
    else:
        ex.send_json(200, {**obj, "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})


def _error_object(b: ErrorObject, ex: _Exchange) -> None:
    obj = {"error": {"message": b.message, "type": "server_error", "param": None, "code": b.code_str}}
    if ex.record.stream:
        ex.send_events([obj])
    else:
        ex.send_json(200, obj)


def _stream_break(b: StreamBreak, ex: _Exchange) -> None:
    if ex.record.stream:
        cid, created = ex.dispatcher.next_id(), int(time.time())
        pieces = itertools.islice(itertools.cycle(_PIECES.findall(b.content) or ["…"]), b.after_chunks)
        events = [ex.chunk(cid, created, {"role": "assistant", "content": p} if i == 0 else {"content": p})
                  for i, p in enumerate(pieces)]
        ex.send_events(events, done=False)
    else:
        body = _dumps({"id": ex.dispatcher.next_id(), "object": "chat.completion", "model": ex.model,
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": b.content}}]}).encode()
        whole = _http.response(200, body, keep_alive=ex.keep_alive)
        ex.conn.write(whole[: len(whole) - len(body) // 2])
    ex.conn.close()  # a FIN after the partial body: the client reads what was sent, then a broken framing


def _echo_auth(b: EchoAuth, ex: _Exchange) -> None:
    presented = ex.record.headers.get("authorization", "<no Authorization header>")
    ex.send_error(b.status, f"Incorrect API key provided: {presented}.", _ERROR_TYPES.get(b.status, "server_error"),
                  "invalid_api_key")


_RENDER: dict[type, Renderer] = {
    Reply: _reply,
    Status: _status,
    ContextLengthExceeded: _context_length,
    Slow: _slow,
    Reset: _reset,
    Malformed: _malformed,
    MissingChoices: _missing_choices,
    ErrorObject: _error_object,
    StreamBreak: _stream_break,
    EchoAuth: _echo_auth,
}


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "rulerouter-loopback"}
