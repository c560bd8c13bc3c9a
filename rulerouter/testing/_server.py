"""The endpoints, and how a behaviour is rendered onto the wire in the API it was asked in.

`Dispatcher` is the `_http` handler: it routes a request, records it, asks the `Script` which
behaviour answers, and renders that behaviour with the renderer its API registers for its type —
OpenAI chat completions (`_openai_wire.py`) or Anthropic messages (`_anthropic_wire.py`). A
behaviour means the same in both: `Status(429, retry_after=1)` is a 429 with Retry-After in each
API's error shape, `StreamBreak(2)` two pieces of text in each API's event sequence and then a
dropped connection. Renderers write bytes at once and return None, or return a coroutine when
the answer must wait (`Slow`, `Reply(delay=...)`) — a timer on the event loop, never a blocked
thread.

A behaviour that is an HTTP error is sent as an ordinary error response before any stream event,
exactly as both APIs do when they reject a request. Endpoints besides the two completions:
`GET /healthz`, `GET /v1/models[/{id}]` (in Anthropic's shape when the request carries an
`anthropic-version` header), `POST /v1/messages/count_tokens` (the same token estimate as usage).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable
from typing import Any

from . import _http
from ._anthropic_wire import ANTHROPIC
from ._behaviours import Behaviour, RecordedRequest, Reset, Slow, Status
from ._exchange import Exchange, Wire, after, estimate_tokens
from ._openai_wire import OPENAI
from ._script import Script

__all__ = ["Dispatcher", "estimate_tokens", "render"]

_COMPLETIONS = {"/v1/chat/completions": OPENAI, "/v1/messages": ANTHROPIC}


class Dispatcher:
    """Routes each HTTP request to an endpoint; the `_http.Handler` of the loopback upstream."""

    def __init__(self, script: Script):
        self.script = script
        self.ids = itertools.count(1)

    def __call__(self, req: _http.HTTPRequest, conn: _http.Connection) -> Awaitable[None] | None:
        wire = _COMPLETIONS.get(req.path)
        if wire is not None and req.method == "POST":
            return self._completion(wire, req, conn)
        body = _json_or_none(req.body)
        wire = ANTHROPIC if req.path.startswith("/v1/messages") or "anthropic-version" in req.headers else OPENAI
        record = RecordedRequest(req.method, req.path, req.headers, body, connection=conn.id, api=wire.name)
        self.script.record(record)
        ex = Exchange(self.ids, conn, record, req.keep_alive, wire)
        if req.method == "GET" and req.path == "/healthz":
            ex.send_json(200, {"status": "ok"})
        elif req.method == "GET" and req.path == "/v1/models":
            ex.send_json(200, wire.models(self.script.models()))
        elif req.method == "GET" and req.path.startswith("/v1/models/"):
            ex.send_json(200, wire.model(req.path.removeprefix("/v1/models/")))
        elif req.method == "POST" and req.path == "/v1/messages/count_tokens" and isinstance(body, dict):
            record.model = body.get("model") if isinstance(body.get("model"), str) else None
            ex.send_json(200, {"input_tokens": ex.prompt_tokens()})
        else:
            record.behaviour = Status(404, f"Invalid URL ({req.method} {req.path})", code_str="unknown_url")
            return render(record.behaviour, ex)
        return None

    def _completion(self, wire: Wire, req: _http.HTTPRequest, conn: _http.Connection) -> Awaitable[None] | None:
        body = _json_or_none(req.body)
        valid = isinstance(body, dict)
        model = body.get("model") if valid else None
        record = RecordedRequest(req.method, req.path, req.headers, body, model=model if isinstance(model, str) else None,
                                 stream=bool(body.get("stream")) if valid else False, connection=conn.id, api=wire.name)
        self.script.record(record)
        ex = Exchange(self.ids, conn, record, req.keep_alive, wire)
        refusal = wire.refusal(record) if valid else Status(400, "We could not parse the JSON body of your request.")
        if refusal is None:
            return render(self.script.decide(record), ex)
        record.behaviour = refusal
        return render(refusal, ex)


def render(behaviour: Behaviour, ex: Exchange) -> Awaitable[None] | None:
    """Render `behaviour` in the exchange's API (a subclass of a known behaviour as its base)."""
    for cls in type(behaviour).__mro__:
        renderer = _SHARED.get(cls) or ex.wire.render.get(cls)
        if renderer is not None:
            return renderer(behaviour, ex)
    return ex.wire.render[Status](Status(500, f"loopback upstream cannot render {behaviour!r}"), ex)


def _slow(b: Slow, ex: Exchange) -> Awaitable[None]:
    return after(b.seconds, b.then, ex, render)


def _reset(b: Reset, ex: Exchange) -> None:
    ex.conn.reset()


_SHARED = {Slow: _slow, Reset: _reset}


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None

