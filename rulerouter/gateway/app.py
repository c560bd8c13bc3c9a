"""The gateway: a plain ASGI application in front of a `Router`.

No web framework: the few routes are matched by hand and responses are sent as raw ASGI
messages, because every microsecond a framework spends per request is a microsecond added to
every LLM call behind the gateway. Endpoints:

    POST /v1/chat/completions   routed, with fallback, verification, streaming (SSE)
    POST /v1/messages           the same, in Anthropic's Messages API (`anthropic_door.py`)
    POST /v1/messages/count_tokens
    GET  /v1/models             "auto", the tiers and the models
    GET  /metrics               Prometheus text exposition
    GET  /healthz, /readyz      liveness; readiness (503 while every model's circuit is open)

Every error of the chat-completions door (and of the other endpoints but the Anthropic door's,
which answers in Anthropic's shapes) is an OpenAI-shaped `{"error": {"message", "type", "param", "code"}}` with a fitting
status: 400 for a malformed or mistyped request (naming the field), 401 for a missing or wrong
gateway key, 404 for an unknown model or path, 405, 408 for a body that does not arrive, 413
for a body over the limit, 429 when a budget or rate limit says no (`refusals.py`; Retry-After
for rate limits), 502 when every attempt upstream failed (naming each attempt), and 500
only for a fault of the gateway itself — never with a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from ..boundary import InvalidInput
from ..errors import LimitExceeded, RuleRouterError, UsageError
from ..execute.result import ExecutionError, StreamInterrupted
from ..observe.metrics import labels
from ..router import Router
from .anthropic_door import AnthropicDoor, models_body
from .asgi import SSE_HEADERS, Receive, Scope, Send, execution_status, routing_headers, send_bytes
from .client_keys import ClientKeys
from .hot_reload import PolicyHolder
from .refusals import refusal_for
from .request_body import ChatRequest, parse_chat_request
from .request_boundary import BadRequest, BodyLimits, ClientGone, bad_request, read_body, while_connected
from .worker_metrics import WorkerMetrics

__all__ = ["Gateway"]

_MESSAGES, _COUNT_TOKENS = "/v1/messages", "/v1/messages/count_tokens"
_PROMETHEUS = (b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error", 405: "invalid_request_error",
                408: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error", 502: "upstream_error",
                503: "service_unavailable", 500: "server_error"}
# A refusal in OpenAI's words: the error's type and code, by the refusal's kind.
_REFUSAL_TYPES = {"budget": ("insufficient_quota", "budget_exceeded"), "requests": ("requests", "rate_limit_exceeded"),
                  "tokens": ("tokens", "rate_limit_exceeded"), "unavailable": ("service_unavailable", "limits_unavailable")}


def error_body(status: int, message: str, param: str | None = None, code: str | None = None, kind: str | None = None) -> bytes:
    kind = kind or _ERROR_TYPES.get(status, "invalid_request_error")
    return json.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}}).encode()


async def send_error(send: Send, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
    await send_bytes(send, status, error_body(status, message, param, code))


async def send_refusal(send: Send, error: LimitExceeded) -> None:
    """A budget or rate limit said no: 429 (503 when it could not be checked), in OpenAI's shape."""
    refusal = refusal_for(error)
    kind, code = _REFUSAL_TYPES[refusal.kind]
    await send_bytes(send, refusal.status, error_body(refusal.status, refusal.message, code=code, kind=kind), list(refusal.headers))


async def _send_bad_request(send: Send, exc: BadRequest) -> None:
    await send_error(send, exc.status, str(exc), exc.param, exc.code)


class Gateway:
    """An ASGI application serving one rule file, hot-reloaded."""

    def __init__(self, holder: PolicyHolder, *, max_body_bytes: int = 4 * 1024 * 1024, body_timeout_s: float = 30.0,
                 client_keys: ClientKeys, watch_interval_s: float = 0.25, metrics_dir: str | None = None) -> None:
        self.holder = holder
        self.limits = BodyLimits(max_body_bytes, body_timeout_s)
        self.client_keys = client_keys  # required: no keys is a mode chosen explicitly (ClientKeys.none())
        self.watch_interval_s = watch_interval_s
        self._watcher: asyncio.Task[None] | None = None
        # `serve --workers N`: every worker's counters, whichever answers the scrape.
        self.workers = WorkerMetrics(metrics_dir, holder.metrics) if metrics_dir else None
        self._writer: asyncio.Task[None] | None = None
        self.anthropic = AnthropicDoor(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                await self._http(scope, receive, send)
            except ClientGone:
                return
            except Exception as exc:  # a bug of ours: a plain 500, never a traceback to the client
                self.holder.router.observer.emit("gateway_error", {"path": scope.get("path"), "error": f"{type(exc).__name__}: {exc}"})
                try:
                    if scope.get("path", "").startswith(_MESSAGES):
                        await self.anthropic.error(send, 500, "internal error in the gateway; it has been logged")
                    else:
                        await send_error(send, 500, "internal error in the gateway; it has been logged")
                except Exception:
                    pass  # the response had already started; the connection is closed by the server
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # ---- lifespan -------------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        loop = asyncio.get_running_loop()
        self._watcher = loop.create_task(self.holder.watch(self.watch_interval_s))
        if self.workers is not None:
            self._writer = loop.create_task(self.workers.keep_writing())
        try:
            import signal

            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.holder.reload("SIGHUP")))
        except (ImportError, AttributeError, NotImplementedError, RuntimeError, ValueError):
            pass  # no SIGHUP here (e.g. not the main thread): the file watcher still reloads

    async def shutdown(self) -> None:
        for task in (self._watcher, self._writer):
            if task is not None:
                task.cancel()
        await self.holder.close()
        if self.workers is not None:
            self.workers.write()  # its last counts keep counting after it has gone

    # ---- routing --------------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/v1/chat/completions":
            if method != "POST":
                return await send_error(send, 405, "use POST for /v1/chat/completions")
            if not self._authorised(scope):
                return await send_error(send, 401, "missing or wrong gateway key: send 'Authorization: Bearer <key>'", code="invalid_api_key")
            return await self._chat(scope, receive, send)
        if path.startswith(_MESSAGES):
            door = self.anthropic
            if path not in (_MESSAGES, _COUNT_TOKENS):
                return await door.error(send, 404, f"no such endpoint: {path}")
            if method != "POST":
                return await door.error(send, 405, f"use POST for {path}")
            if not self._authorised(scope):
                return await door.error(send, 401, "missing or wrong gateway key: send it as 'x-api-key: <key>' or 'Authorization: Bearer <key>'")
            return await (door.messages if path == _MESSAGES else door.count_tokens)(scope, receive, send)
        if method != "GET":
            return await send_error(send, 405 if path in ("/v1/models", "/metrics", "/healthz", "/readyz") else 404, f"{method} {path} is not served here")
        if path == "/healthz":
            return await send_bytes(send, 200, b'{"status":"ok"}')
        if path == "/readyz":
            return await self._ready(send)
        if path == "/metrics":
            if self.workers is None:
                text = self.holder.metrics.prometheus(self._extra_metrics()).encode()
            else:
                merged, workers = await asyncio.to_thread(self.workers.merged)
                extra = ["# HELP rulerouter_workers_reporting Worker processes whose counters these totals add up.",
                         "# TYPE rulerouter_workers_reporting gauge", f"rulerouter_workers_reporting {workers}"]
                text = merged.prometheus(self._extra_metrics() + extra).encode()
                return await send_bytes(send, 200, text, [(b"x-rulerouter-worker", str(os.getpid()).encode())], content_type=_PROMETHEUS)
            return await send_bytes(send, 200, text, content_type=_PROMETHEUS)
        if path == "/v1/models":
            if not self._authorised(scope):
                return await send_error(send, 401, "missing or wrong gateway key: send 'Authorization: Bearer <key>'", code="invalid_api_key")
            if any(name == b"anthropic-version" for name, _ in scope["headers"]):  # Anthropic's SDK lists models too
                return await send_bytes(send, 200, models_body(self.holder.router))
            return await send_bytes(send, 200, self._models())
        await send_error(send, 404, f"no such endpoint: {path}", code="not_found")

    def connection_refused(self, reason: str) -> None:
        """Called by the server's protocol (`connection_limits.py`) for a connection it refused."""
        self.holder.metrics.record_connection_refused(reason)
        self.holder.router.observer.emit("connection_refused", {"reason": reason})

    def _authorised(self, scope: Scope) -> bool:
        allowed, scope["rulerouter.client"] = self.client_keys.identify(scope["headers"])
        return allowed

    def _models(self) -> bytes:
        router = self.holder.router
        data = [{"id": "auto", "object": "model", "owned_by": "rulerouter", "description": "route by the policy's rules"}]
        for tier, model in router.tiers.items():
            data.append({"id": tier, "object": "model", "owned_by": "rulerouter", "description": f"tier: {model}"})
        for model in router.policy.models:
            data.append({"id": model, "object": "model", "owned_by": "rulerouter", "description": "model, with its fallbacks"})
        return json.dumps({"object": "list", "data": data}).encode()

    def _extra_metrics(self) -> list[str]:
        router = self.holder.router
        lines = ["# HELP rulerouter_policy_generation Reloads served so far (1 = the policy loaded at start).",
                 "# TYPE rulerouter_policy_generation gauge", f"rulerouter_policy_generation {self.holder.generation}",
                 "# HELP rulerouter_circuit_open Whether a model's circuit breaker is open (1) or not (0).",
                 "# TYPE rulerouter_circuit_open gauge"]
        for model, state in sorted(router.circuits().items()):
            lines.append(f'rulerouter_circuit_open{labels(("model",), (model,))} {1 if state["state"] == "open" else 0}')
        health = router.state.health()
        backend = labels(("backend",), (health["backend"],))
        lines += ["# HELP rulerouter_state_available Whether the state backend answers (1) or the gateway runs on local state (0).",
                  "# TYPE rulerouter_state_available gauge", f"rulerouter_state_available{backend} {int(health['available'])}",
                  "# HELP rulerouter_state_errors_total State backend calls that failed.",
                  "# TYPE rulerouter_state_errors_total counter", f"rulerouter_state_errors_total{backend} {health.get('errors', 0)}",
                  "# HELP rulerouter_state_outages_total Times the state backend became unreachable.",
                  "# TYPE rulerouter_state_outages_total counter", f"rulerouter_state_outages_total{backend} {health.get('outages', 0)}"]
        return lines

    async def _ready(self, send: Send) -> None:
        router = self.holder.router
        open_models = [m for m, s in router.circuits().items() if s["state"] == "open"]
        every_model_open = bool(router.policy.models) and set(router.policy.models) <= set(open_models)
        body = {"status": "unavailable" if every_model_open else "ready", "policy": str(self.holder.path),
                "generation": self.holder.generation, "rules": len(router.policy.rules), "open_circuits": sorted(open_models),
                "state": router.state.health(), "last_reload": self.holder.last_reload}
        await send_bytes(send, 503 if every_model_open else 200, json.dumps(body).encode())

    # ---- chat completions -----------------------------------------------------------------------

    def target(self, router: Router, model: str) -> dict[str, Any]:
        if model == "auto":
            return {}
        if model in router.tiers:
            return {"tier": model}
        if model in router.policy.models:
            return {"model": model}
        raise BadRequest(f"unknown model '{model}': use 'auto', a tier ({', '.join(router.tiers)}) or a model "
                         f"({', '.join(router.policy.models)})", "model", status=404, code="model_not_found")

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body, metadata_header = await read_body(scope, receive, self.limits)
            request = parse_chat_request(body, metadata_header)
        except BadRequest as exc:
            return await _send_bad_request(send, exc)
        router = self.holder.acquire()
        try:
            try:
                target = self.target(router, request.model)
            except BadRequest as exc:
                return await _send_bad_request(send, exc)
            target["client"] = scope.get("rulerouter.client")
            if request.stream:
                await self._stream(router, request, target, scope, receive, send)
            else:
                await self._complete(router, request, target, scope, receive, send)
        finally:
            await self.holder.release(router)

    async def _complete(self, router: Router, request: ChatRequest, target: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with while_connected(scope, receive):  # the client leaves: the upstream call is cut off and recorded
                result = await router.acomplete(messages=request.messages, metadata=request.metadata, **target, parameters=request.params)
        except InvalidInput as exc:
            return await _send_bad_request(send, bad_request(exc))
        except UsageError as exc:
            return await send_error(send, 400, str(exc))
        except LimitExceeded as exc:
            return await send_refusal(send, exc)
        except ExecutionError as exc:
            status, code = execution_status(exc)
            return await send_error(send, status, str(exc), code=code)
        except RuleRouterError as exc:
            return await send_error(send, 502, str(exc), code="upstream_failed")
        response = result.response
        if result.provider_api == "openai" and response.get("model") == result.model_used and result.raw_response is not None:
            body = result.raw_response  # already what the client should see: pass it through
        else:
            response["model"] = result.model_used
            body = json.dumps(response, ensure_ascii=False).encode()
        headers = routing_headers(result.tier, result.model_used, result.rule, len(result.attempts), result.cost, result.request_id, result.repaired)
        await send_bytes(send, 200, body, headers)

    async def _stream(self, router: Router, request: ChatRequest, target: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
        async with while_connected(scope, receive):  # the client leaves, at any point: the upstream stream is cut off and recorded
            await self._stream_connected(router, request, target, send)

    async def _stream_connected(self, router: Router, request: ChatRequest, target: dict[str, Any], send: Send) -> None:
        try:
            stream = router.astream(messages=request.messages, metadata=request.metadata, **target, parameters=request.params)
            await stream.start()  # fallback happens here, before any byte reaches the client
        except InvalidInput as exc:
            return await _send_bad_request(send, bad_request(exc))
        except UsageError as exc:
            return await send_error(send, 400, str(exc))
        except LimitExceeded as exc:
            return await send_refusal(send, exc)
        except ExecutionError as exc:
            status, code = execution_status(exc)
            return await send_error(send, status, str(exc), code=code)
        decision = stream.decision
        attempts = len(stream.attempts)
        headers = SSE_HEADERS + routing_headers(decision.tier, stream.model_used, decision.rule, attempts, None, stream.request_id, decision.repaired)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        rename = stream.model_used
        batches = stream.batches()  # what arrived in one read from the upstream goes out in one write
        try:
            async for batch in batches:
                frames = []
                for chunk in batch:
                    if chunk.usage_only and not request.include_usage:
                        continue
                    raw = chunk.raw
                    if chunk.data.get("model") not in (None, rename):
                        raw = json.dumps({**chunk.data, "model": rename}, ensure_ascii=False).encode()
                    frames.append(b"data: " + raw + b"\n\n")
                if frames:
                    await send({"type": "http.response.body", "body": b"".join(frames), "more_body": True})
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
        except StreamInterrupted as exc:
            event = error_body(502, exc.summary, code="stream_interrupted")
            await send({"type": "http.response.body", "body": b"data: " + event + b"\n\n", "more_body": False})
        except OSError:
            pass  # the client went away while we were sending: closing the stream below records it
        finally:
            await batches.aclose()  # a stream left before its end is closed upstream and recorded as cancelled
