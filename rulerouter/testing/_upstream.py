"""`LoopbackUpstream`: the server's lifecycle and the surface a test talks to.

Sync tests get the server on a background thread with its own event loop (`with
LoopbackUpstream() as up:`), so a blocking httpx client can call it; async tests can run it on
their own loop (`async with` / `await up.astart()`), which needs no thread but does need an async
client — a blocking call from the loop's own thread would wait forever. Stopping resets every
open connection, so a pending `Slow` answer or an idle keep-alive connection never holds the
port or the test open.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from types import TracebackType

from ._behaviours import Behaviour, Hook, RecordedRequest, Source
from ._http import Connection
from ._script import Script
from ._server import Dispatcher

__all__ = ["LoopbackUpstream", "new_event_loop"]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (it is optional), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopbackUpstream:
    """An OpenAI-compatible HTTP server on 127.0.0.1 that answers as a test scripts it.

    `default` answers every model without a script (a behaviour, a hook, or `Faults`; plain
    `Reply()` when omitted); `models` are advertised by `GET /v1/models` besides the models
    scripted or asked for; `record=False` keeps no `requests` (for long benchmark runs).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default: Source | None = None,
        models: Iterable[str] = (),
        record: bool = True,
    ):
        self.host = host
        self._requested_port = port
        self._script = Script(default, models=models, record=record)
        self._dispatcher = Dispatcher(self._script)
        self._connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------------------
    def script(self, model: str, *behaviours: Behaviour | Hook) -> None:
        """Queue behaviours for `model`: each answers one request, in order."""
        self._script.enqueue(model, behaviours)

    def default(self, behaviour: Source, *, model: str | None = None) -> None:
        """What answers when a model's queue is empty: for `model`, or for every model."""
        self._script.set_default(behaviour, model)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        return self._script.requests

    @property
    def injected(self) -> dict[str, int]:
        """How many faults `Faults` injected, by kind (e.g. `{"status_503": 4, "reset": 2}`)."""
        return self._script.injected

    def pending(self) -> dict[str, int]:
        """Scripted behaviours not consumed yet, by model."""
        return self._script.pending()

    def clear(self) -> None:
        """Forget the recorded requests and injected-fault counts; keep scripts and defaults."""
        self._script.clear()

    def reset(self) -> None:
        """Forget everything: records, counts, queues and defaults."""
        self._script.reset()

    # -- addresses ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LoopbackUpstream is not running: use `with`, start() or await astart()")
        return self._port

    @property
    def url(self) -> str:
        """The server's root, e.g. `http://127.0.0.1:54321` (for `/healthz`)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. `http://127.0.0.1:54321/v1`."""
        return f"{self.url}/v1"

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not running"
        return f"<LoopbackUpstream {where}>"

    # -- lifecycle on a background thread -------------------------------------------------------
    def start(self) -> LoopbackUpstream:
        """Serve from a background thread with its own event loop; returns once listening."""
        self._check_not_running()
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run_thread, args=(ready,), name="LoopbackUpstream", daemon=True)
        self._thread.start()
        try:
            ready.result()
        except BaseException:
            self._thread.join()
            self._thread = None
            raise
        return self

    def stop(self) -> None:
        """Close every connection, free the port and end the thread. Safe to call twice."""
        if self._thread is None:
            if self._server is not None:
                raise RuntimeError("this upstream runs on an event loop: stop it with `await astop()`")
            return
        loop = self._loop
        assert loop is not None
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join()
        self._thread = None

    def _run_thread(self, ready: Future[None]) -> None:
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:  # noqa: BLE001 - handed to start(), which re-raises it
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def __enter__(self) -> LoopbackUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lifecycle on the caller's event loop ---------------------------------------------------
    async def astart(self) -> LoopbackUpstream:
        """Serve from the running event loop (call from async code; use an async client)."""
        self._check_not_running()
        await self._open()
        return self

    async def astop(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self.stop)
        elif self._server is not None:
            await self._close()

    async def __aenter__(self) -> LoopbackUpstream:
        return await self.astart()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.astop()

    # -- shared ---------------------------------------------------------------------------------
    def _check_not_running(self) -> None:
        if self._server is not None or self._thread is not None:
            raise RuntimeError("LoopbackUpstream is already running")

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self._dispatcher, self._connections),
            self.host,
            self._requested_port,
            backlog=1024,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._loop = loop

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        connections = list(self._connections)
        waiting = [conn.task for conn in connections if conn.task is not None]
        for conn in connections:
            conn.reset()
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await server.wait_closed()
        self._port = None
        self._loop = None
