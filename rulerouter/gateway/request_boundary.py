"""The gateway's request boundary: what every front door does before it reads its own fields.

Each front door (OpenAI chat completions in `request_body.py`; any other API beside it) takes a
request through the same steps, so that a client is treated the same whichever API it speaks:

1. `read_body(scope, receive, limits)` — the body off the connection: a declared Content-Length
   over the limit is refused before a byte is read (413), the body is counted again as it
   arrives (413), a body that does not arrive in time is refused (408), and a client that
   leaves raises `ClientGone`. The routing-metadata header is read here too.
2. `parse_body(body)` — the bytes as a JSON object, by the rules of `rulerouter.boundary`:
   text that is not valid Unicode is kept for the boundary to repair and report, a body nested
   past any limit is refused, and numbers JSON forbids (NaN, Infinity, 1e999, 5,000-digit
   integers) are kept as placeholders so the check that follows names their field.
3. `metadata_from_header(value)` — `X-Rulerouter-Metadata`, checked on its own so that its
   errors name the header.

The values then go to the `Router`, whose boundary (`rulerouter.boundary.check`, applied when
the request's `Inputs` are built) checks every one of them once — depth, numbers, types, text —
and names the field at fault in an `InvalidInput`; `bad_request(exc)` turns that into a 400.

Every problem is a `BadRequest` carrying an HTTP status, the field at fault (`param`) and a
machine-readable `code`; each front door renders it in its own API's error shape.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Awaitable, Callable

from ..boundary import InvalidInput, check, read_json
from .limits import BodyLimits

__all__ = ["BadRequest", "BodyLimits", "ClientGone", "bad_request", "metadata_from_header", "parse_body", "read_body", "while_connected"]

Receive = Callable[[], Awaitable[dict[str, Any]]]

METADATA_HEADER = b"x-rulerouter-metadata"


class BadRequest(ValueError):
    """The client's request cannot be used; `param` names the field when there is one."""

    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.status = status
        self.code = code


class ClientGone(Exception):
    """The client disconnected before its request was read."""


def bad_request(exc: InvalidInput) -> BadRequest:
    """A value the boundary refused, as a 400 naming its field."""
    return BadRequest(str(exc), exc.field, code="invalid_value")


async def read_body(scope: dict[str, Any], receive: Receive, limits: BodyLimits) -> tuple[bytes, bytes | None]:
    """The request body, and the raw `X-Rulerouter-Metadata` header (None when absent)."""
    metadata_header = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise BadRequest("the Content-Length header is not a number") from None
            if declared > limits.max_bytes:
                raise BadRequest(f"the request body is {declared} bytes; the limit is {limits.max_bytes}", status=413, code="request_too_large")
        elif name == METADATA_HEADER:
            metadata_header = value
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limits.max_bytes:
                    raise BadRequest(f"the request body is over the limit of {limits.max_bytes} bytes", status=413, code="request_too_large")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise BadRequest(f"the request body did not arrive within {limits.timeout_s:g}s", status=408, code="request_timeout") from None
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), metadata_header


@contextlib.asynccontextmanager
async def while_connected(receive: Receive) -> AsyncIterator[None]:
    """Run the block while the client stays: when it disconnects, at any await of the block, the
    block is cancelled — so an upstream call in flight is cut off, and the router records the
    request as `cancelled` with what it spent — and `ClientGone` is raised instead.

    One watcher task per request: it waits on the ASGI `receive()` for `http.disconnect` (the
    body has been read by then) and cancels the request's own task, which the block leaves as it
    does for any cancellation.
    """
    task = asyncio.current_task()
    assert task is not None
    inside = True

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    def gone(watcher: asyncio.Task[None]) -> None:
        if inside and not watcher.cancelled() and watcher.exception() is None:
            task.cancel("the client disconnected")

    watcher = asyncio.get_running_loop().create_task(watch())
    watcher.add_done_callback(gone)
    try:
        yield
    except asyncio.CancelledError:
        if watcher.done() and not watcher.cancelled() and watcher.exception() is None:
            task.uncancel()  # the cancellation was ours: the request ends as ClientGone, not cancelled
            raise ClientGone() from None
        raise
    finally:
        inside = False
        watcher.cancel()


def parse_body(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (its values are checked by the router's boundary next)."""
    try:
        data = read_json(body, "the request body")
    except InvalidInput as exc:
        raise BadRequest(str(exc), code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, not {type_name(data)}")
    model = data.get("model")
    if isinstance(model, str):  # the one field the doors read themselves: repaired here, like every text
        data["model"] = check(model, "model")[0]
    return data


def metadata_from_header(value: bytes | None) -> dict[str, Any] | None:
    """Routing metadata from the `X-Rulerouter-Metadata` header: a JSON object, checked here so
    that a problem in it names the header."""
    if value is None:
        return None
    try:
        metadata = read_json(value, "the X-Rulerouter-Metadata header")
        check(metadata, "X-Rulerouter-Metadata")  # refusals name the header; repairs are reported as metadata.*
    except InvalidInput as exc:
        raise BadRequest(str(exc), "X-Rulerouter-Metadata") from None
    if not isinstance(metadata, dict):
        raise BadRequest("the X-Rulerouter-Metadata header must be a JSON object", "X-Rulerouter-Metadata")
    return metadata


def type_name(value: Any) -> str:
    """How a JSON value's type is named in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
