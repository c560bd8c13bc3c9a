"""What both front doors share: ASGI types, sending a response, the routing headers, and what an
execution error means for the client. (Reading a request, and noticing that the client went
away, are the request boundary's: `request_boundary.py`.)"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from ..execute.result import ExecutionError, UpstreamRejected

__all__ = ["SSE_HEADERS", "Receive", "Scope", "Send", "execution_status", "routing_headers", "send_bytes"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


async def send_bytes(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None, content_type: tuple[bytes, bytes] = _JSON) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [content_type, (b"content-length", str(len(body)).encode()), *(headers or ())]})
    await send({"type": "http.response.body", "body": body})


def routing_headers(tier: str, model: str, rule: str | None, attempts: int, cost: float | None, request_id: str,
                    repaired: tuple[str, ...] = ()) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-rulerouter-tier", tier.encode()),
        (b"x-rulerouter-model", model.encode()),
        (b"x-rulerouter-rule", (rule or "(default)").encode()),
        (b"x-rulerouter-attempts", str(attempts).encode()),
        (b"x-rulerouter-cost", b"unknown" if cost is None else f"{cost:.10f}".encode()),
        (b"x-rulerouter-request-id", request_id.encode()),
    ]
    if repaired:  # fields whose text was not valid Unicode, repaired to U+FFFD (names are ASCII)
        headers.append((b"x-rulerouter-repaired", ", ".join(repaired).encode("ascii", "replace")))
    return headers


def execution_status(error: ExecutionError) -> tuple[int, str | None]:
    """A client's own mistake is a 4xx; anything else upstream is a 502."""
    if isinstance(error, UpstreamRejected) and error.status in (400, 422):
        return 400, "upstream_rejected"
    attempts = [a for a in error.attempts if a.outcome != "skipped"]
    if attempts and all(a.error_kind == "context_length" for a in attempts):
        return 400, "context_length_exceeded"
    if not attempts and any(a.error_kind == "untranslatable" for a in error.attempts):
        return 400, "untranslatable"  # no model on the chain could be sent the request as it was asked
    return 502, "upstream_failed"

