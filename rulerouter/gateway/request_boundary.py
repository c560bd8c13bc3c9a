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
from typing import Any, Awaitable, Callable

from ..boundary import InvalidInput, check, read_json
from .limits import BodyLimits

__all__ = ["DISCONNECT_EXTENSION", "BadRequest", "BodyLimits", "ClientGone", "bad_request", "metadata_from_header", "parse_body", "read_body", "while_connected"]

Receive = Callable[[], Awaitable[dict[str, Any]]]

METADATA_HEADER = b"x-rulerouter-metadata"
#: A scope extension of `rulerouter serve`'s protocol: the set of callbacks to call when the
#: connection is lost before its response is complete (`while_connected` adds to it).
DISCONNECT_EXTENSION = "rulerouter.disconnect"


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
    deadline = _Deadline(limits.timeout_s)  # a timer, not asyncio.timeout: a third of its cost on every request
    try:
        message = await receive()
        chunk = message.get("body", b"")
        if message["type"] == "http.request" and not message.get("more_body", False) and len(chunk) <= limits.max_bytes:
            return chunk, metadata_header  # the whole body in one message: the usual case
        chunks: list[bytes] = []
        size = 0
        while True:
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limits.max_bytes:
                raise BadRequest(f"the request body is over the limit of {limits.max_bytes} bytes", status=413, code="request_too_large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), metadata_header
            message = await receive()
    except asyncio.CancelledError:
        if deadline.expired():
            raise BadRequest(f"the request body did not arrive within {limits.timeout_s:g}s", status=408, code="request_timeout") from None
        raise
    finally:
        deadline.cancel()


class _Deadline:
    """Cancels the current task after `seconds`; `expired()` says, once it has, whether that
    cancellation was this deadline's alone (then it is taken back), as `asyncio.timeout` does."""

    __slots__ = ("task", "cancelling", "handle", "fired")

    def __init__(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task, self.cancelling, self.fired = task, task.cancelling(), False
        self.handle = asyncio.get_running_loop().call_later(seconds, self._fire)

    def _fire(self) -> None:
        self.fired = True
        self.task.cancel()

    def expired(self) -> bool:
        return self.fired and self.task.uncancel() <= self.cancelling

    def cancel(self) -> None:
        self.handle.cancel()


class while_connected:  # noqa: N801  (used as `async with while_connected(scope, receive):`, like a function)
    """Run the block while the client stays: when it disconnects, at any await of the block, the
    block is cancelled — so an upstream call in flight is cut off, and the router records the
    request as `cancelled` with what it spent — and `ClientGone` is raised instead.

    How the disconnect is seen depends on the server. `rulerouter serve`'s own protocol
    (`connection_limits.py`) offers the `DISCONNECT_EXTENSION` in the scope: a set of callbacks
    it calls when the connection is lost before the response is complete, so the block costs
    two set operations. Under any other server, a watcher task per request waits on the ASGI
    `receive()` for `http.disconnect` (the body has been read by then). Either way the request's
    own task is cancelled, and the block leaves as it does for any cancellation. A class, not a
    generator-based context manager: it is entered on every request.
    """

    __slots__ = ("scope", "receive", "task", "watcher", "watchers", "on_lost", "inside", "gone")

    def __init__(self, scope: dict[str, Any], receive: Receive) -> None:
        self.scope, self.receive = scope, receive
        self.inside = self.gone = False
        self.watcher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task, self.inside = task, True
        extensions = self.scope.get("extensions")
        self.watchers: set[Callable[[], None]] | None = extensions.get(DISCONNECT_EXTENSION) if extensions else None
        if self.watchers is not None:
            self.on_lost = self._lost
            self.watchers.add(self.on_lost)
        else:
            self.watcher = asyncio.get_running_loop().create_task(self._watch())

    def _lost(self) -> None:
        if self.inside and not self.gone:
            self.gone = True
            self.task.cancel("the client disconnected")

    async def _watch(self) -> None:
        receive = self.receive
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        except Exception:
            return  # a receive that fails says nothing of the client: the request goes on
        self._lost()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        self.inside = False
        if self.watchers is not None:
            self.watchers.discard(self.on_lost)
        else:
            self.watcher.cancel()  # type: ignore[union-attr]
        if kind is asyncio.CancelledError and self.gone:
            self.task.uncancel()  # the cancellation was ours: the request ends as ClientGone, not cancelled
            raise ClientGone() from None
        return False


def parse_body(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (its values are checked by the router's boundary next)."""
    try:
        data = read_json(body, "the request body")
    except InvalidInput as exc:
        raise BadRequest(str(exc), code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, not {type_name(data)}")
    model = data.get("model")
    if isinstance(model, str) and not model.isascii():  # the one field the doors read themselves: repaired here, like every text
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
