"""The gateway's second front door: Anthropic's Messages API, routed by the same rules.

    POST /v1/messages               routed, with fallback and verification; streamed or not
    POST /v1/messages/count_tokens  counted by the provider of the model the rules choose
    GET  /v1/models                 in Anthropic's shape when the request has `anthropic-version`

A request is read and translated by `anthropic_request.py` (so the rules see the same text,
system prompt, metadata and fields as for chat completions), routed by the same `Router`, and
answered in Anthropic's shapes by `anthropic_response.py` — or, when the provider that answered
speaks Anthropic's API too, with its own reply and events, untouched but for the model's name.
Gateway keys are accepted as `x-api-key` or `Authorization: Bearer` (what Anthropic's SDKs and
`ANTHROPIC_API_KEY` / `ANTHROPIC_AUTH_TOKEN` send). Every error is Anthropic's
`{"type": "error", "error": {"type", "message"}}` with the status its SDK maps to its exception
classes, and a stream that breaks after its commit point ends with an `error` event.

count_tokens is honest or absent: a token count is only given by a provider that speaks
Anthropic's API, for the model the rules choose; for any other model it is a 404 that says so.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import httpx

from ..boundary import InvalidInput
from ..errors import LimitExceeded, RuleRouterError, UsageError
from ..execute.result import ExecutionError, StreamInterrupted
from ..router import Router
from .anthropic_request import MessagesRequest, parse_messages_request
from .anthropic_response import MessageEvents, error_body, message_of
from .asgi import SSE_HEADERS, Receive, Scope, Send, execution_status, routing_headers, send_bytes
from .refusals import refusal_for
from .request_boundary import BadRequest, bad_request, read_body, while_connected

__all__ = ["AnthropicDoor", "models_body"]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def models_body(router: Router) -> bytes:
    """GET /v1/models in Anthropic's shape: "auto", the tiers and the models."""
    ids = ["auto", *router.tiers, *router.policy.models]
    data = [{"type": "model", "id": i, "display_name": i, "created_at": "1970-01-01T00:00:00Z"} for i in ids]
    return _dumps({"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]}).encode()


def _renamed(frame: bytes, model: str) -> bytes:
    """A native `message_start` frame with the message's model named as the policy names it."""
    head, _, payload = frame.partition(b"\ndata: ")
    data = json.loads(payload)
    message = data.get("message")
    if not isinstance(message, dict) or message.get("model") == model:
        return frame
    message["model"] = model
    return head + b"\ndata: " + _dumps(data).encode() + b"\n\n"


class _Gateway(Protocol):
    """What the door uses of the `Gateway` it belongs to."""

    holder: Any
    limits: Any  # request_boundary.BodyLimits

    def target(self, router: Router, model: str) -> dict[str, Any]: ...


class AnthropicDoor:
    """`POST /v1/messages` and `/v1/messages/count_tokens` for one `Gateway`."""

    def __init__(self, gateway: _Gateway) -> None:
        self.gateway = gateway

    async def error(self, send: Send, status: int, message: str, request_id: str | None = None,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
        extra = [*(headers or ()), *([(b"request-id", request_id.encode())] if request_id else ())]
        await send_bytes(send, status, error_body(status, message, request_id), extra)

    async def _read(self, scope: Scope, receive: Receive, send: Send, *, count_tokens: bool = False) -> MessagesRequest | None:
        try:
            body, metadata_header = await read_body(scope, receive, self.gateway.limits)  # the boundary every door shares
            return parse_messages_request(body, scope["headers"], metadata_header, count_tokens=count_tokens)
        except BadRequest as exc:
            await self.error(send, exc.status, str(exc))
            return None

    async def messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = await self._read(scope, receive, send)
        if request is None:
            return
        router = self.gateway.holder.acquire()
        try:
            try:
                target = self.gateway.target(router, request.model)
            except BadRequest as exc:
                return await self.error(send, exc.status, str(exc))
            target["client"] = scope.get("rulerouter.client")
            if request.stream:
                await self._stream(router, request, target, scope, receive, send)
            else:
                await self._complete(router, request, target, scope, receive, send)
        finally:
            await self.gateway.holder.release(router)

    async def _failed(self, send: Send, exc: Exception) -> None:
        if isinstance(exc, InvalidInput):  # the request boundary refused a value, naming its field
            return await self.error(send, 400, str(bad_request(exc)))
        if isinstance(exc, UsageError):
            return await self.error(send, 400, str(exc))
        if isinstance(exc, LimitExceeded):  # a budget or rate limit said no: 429 (503 unchecked), Retry-After
            refusal = refusal_for(exc)
            return await self.error(send, refusal.status, refusal.message, headers=list(refusal.headers))
        if isinstance(exc, ExecutionError):
            status, _ = execution_status(exc)
            return await self.error(send, status, str(exc), exc.request_id)
        await self.error(send, 502, str(exc))

    async def _complete(self, router: Router, request: MessagesRequest, target: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with while_connected(scope, receive):  # the client leaves: the upstream call is cut off and recorded
                result = await router.acomplete(messages=request.messages, metadata=request.metadata, native=request.native,
                                                parameters=request.params, **target)
        except RuleRouterError as exc:
            return await self._failed(send, exc)
        if result.provider_api == "anthropic" and result.raw_response is not None:
            body = result.raw_response  # the provider's own message, as it came
            if result.response.get("model") != result.model_used:  # its translation names the same model
                message = json.loads(body)
                message["model"] = result.model_used
                body = _dumps(message).encode()
        else:
            try:
                message = message_of(result.response, message_id=f"msg_{result.request_id}", model=result.model_used, usage=result.usage)
            except ValueError as exc:
                return await self.error(send, 502, f"{result.model_used} answered with {exc}", result.request_id)
            body = _dumps(message).encode()
        headers = routing_headers(result.tier, result.model_used, result.rule, len(result.attempts), result.cost, result.request_id, result.repaired)
        await send_bytes(send, 200, body, [*headers, (b"request-id", result.request_id.encode())])

    async def _stream(self, router: Router, request: MessagesRequest, target: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
        async with while_connected(scope, receive):  # the client leaves, at any point: the upstream stream is cut off and recorded
            await self._stream_connected(router, request, target, send)

    async def _stream_connected(self, router: Router, request: MessagesRequest, target: dict[str, Any], send: Send) -> None:
        try:
            stream = router.astream(messages=request.messages, metadata=request.metadata, native=request.native,
                                    parameters=request.params, **target)
            await stream.start()  # fallback happens here, before any byte reaches the client
        except RuleRouterError as exc:
            return await self._failed(send, exc)
        decision, model = stream.decision, stream.model_used
        headers = SSE_HEADERS + routing_headers(decision.tier, model, decision.rule, len(stream.attempts), None, stream.request_id, decision.repaired)
        await send({"type": "http.response.start", "status": 200, "headers": [*headers, (b"request-id", stream.request_id.encode())]})
        events = MessageEvents(f"msg_{stream.request_id}", model)
        native = None  # decided by the first chunk: the provider's own events, or a translation
        batches = stream.batches(native=True)  # what arrived in one read from the upstream goes out in one write
        frames: list[bytes] = []
        try:
            async for batch in batches:
                for chunk in batch:
                    if native is None:
                        native = chunk.native is not None
                        if not native:
                            frames.append(events.start())
                    if native:
                        if chunk.native is None:
                            continue  # the second chunk of one event (its usage): the frame went with the first
                        frame = _renamed(chunk.native, model) if chunk.native.startswith(b"event: message_start") else chunk.native
                    elif chunk.visible:
                        frame = events.chunk(chunk.data)
                    else:
                        continue
                    if frame:
                        frames.append(frame)
                if frames:
                    body, frames = b"".join(frames), []
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            tail = b"" if native else events.end(stream.result.usage if stream.result is not None else None)
            await send({"type": "http.response.body", "body": tail, "more_body": False})
        except StreamInterrupted as exc:
            await send({"type": "http.response.body", "body": events.error(exc.summary), "more_body": False})
        except ValueError as exc:  # a chunk the translation cannot read: the stream ends here, saying why
            await stream.aclose()
            sent_before = b"".join(frames)  # its batch's frames before the chunk that cannot be read
            await send({"type": "http.response.body", "body": sent_before + events.error(f"{model} sent what Anthropic's events cannot carry: {exc}"),
                        "more_body": False})
        except OSError:
            pass  # the client went away while we were sending: closing the stream below records it
        finally:
            await batches.aclose()  # a stream left before its end is closed upstream and recorded as cancelled

    async def count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = await self._read(scope, receive, send, count_tokens=True)
        if request is None:
            return
        router = self.gateway.holder.acquire()
        try:
            await self._count(router, request, scope.get("rulerouter.client"), send)
        finally:
            await self.gateway.holder.release(router)

    async def _count(self, router: Router, request: MessagesRequest, client: str | None, send: Send) -> None:
        executor = router.executor
        try:
            target = self.gateway.target(router, request.model)
            prepared = executor.prepare(None, request.messages, None, request.metadata, target.get("tier"), target.get("model"),
                                        dict(request.params), request.native, client=client)
        except BadRequest as exc:
            return await self.error(send, exc.status, str(exc))
        except RuleRouterError as exc:
            return await self._failed(send, exc)
        try:
            await self._counted(executor, prepared, request, send)
        finally:
            executor.settle(prepared, [])  # a count calls no model: nothing is charged, reservations go back

    async def _counted(self, executor: Any, prepared: Any, request: MessagesRequest, send: Send) -> None:
        decision = prepared.decision
        upstream = executor.providers.target(decision.model)
        if upstream.api.name != "anthropic":
            return await self.error(send, 404, f"count_tokens: the rules send this request to {decision.model} (tier '{decision.tier}'), "
                                    "whose provider speaks OpenAI's chat completions, which has no token counting; only models "
                                    "of a provider with api = \"anthropic\" can count tokens", prepared.request_id)
        body, extra = upstream.api.body(upstream.upstream, [], {}, request.native, stream=False)
        url = httpx.URL(upstream.url + "/count_tokens")
        redact = executor.providers.redact
        try:
            response = await executor.providers.asend(upstream, body, extra, url)
            content = await response.aread()
        except httpx.HTTPError as exc:
            return await self.error(send, 502, redact(f"count_tokens: {decision.model} could not be reached: {exc}"), prepared.request_id)
        headers = [(b"x-rulerouter-model", decision.model.encode()), (b"x-rulerouter-tier", decision.tier.encode()),
                   (b"request-id", prepared.request_id.encode())]
        if response.status_code != 200:
            return await self.error(send, response.status_code if response.status_code < 500 else 502,
                                    redact(f"count_tokens: {decision.model} answered {response.status_code}: {content[:300].decode('utf-8', 'replace')}"),
                                    prepared.request_id)
        await send_bytes(send, 200, content, headers)
