"""The event log: events rendered by a private structlog pipeline, written in batches.

Events are rendered by a structlog pipeline built for one router alone (no global structlog
configuration is touched, so an application's own logging is left as it is): an ISO
timestamp, then JSON lines or a human-readable console line, scrubbed of anything
credential-shaped, written to stderr, stdout or a file — as the rule file's `[log]` table says.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import IO, Any

from ..execute.redact import Redactor
from ..policy.schema import Log

__all__ = ["EventLog"]


_WRITERS: weakref.WeakSet[_BufferedWriter] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    for writer in list(_WRITERS):
        writer.flush()


class _BufferedWriter:
    """A structlog logger that writes lines in batches instead of one write and flush per event.

    Lines are flushed when 64 KiB are waiting, when the oldest has waited 0.2 s (checked on
    each write and by a daemon thread), and on close — so a busy gateway makes a handful of
    write calls a second instead of one per request, and a quiet one still shows each event
    within a fraction of a second.
    """

    _LIMIT = 64 * 1024
    _DELAY = 0.2

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._size = 0
        self._since = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="rulerouter-events", daemon=True)
        self._thread.start()
        _WRITERS.add(self)

    def msg(self, message: str) -> None:
        with self._lock:
            if not self._lines:
                self._since = time.monotonic()
            self._lines.append(message + "\n")
            self._size += len(message) + 1
            if self._size >= self._LIMIT or time.monotonic() - self._since >= self._DELAY:
                self._flush_locked()

    info = msg

    def _flush_locked(self) -> None:
        if self._lines:
            lines, self._lines, self._size = self._lines, [], 0
            try:
                self._stream.write("".join(lines))
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken destination must not break routing

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _tick(self) -> None:
        while not self._stop.wait(self._DELAY):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()


class EventLog:
    """Renders events through a private structlog pipeline to stderr, stdout or a file."""

    def __init__(self, settings: Log, redact: Redactor) -> None:
        self.settings = settings
        self._redact = redact
        self._file: IO[str] | None = None
        destination = settings.destination
        if destination == "off":
            self._logger = None
            return
        if destination == "stderr":
            stream: IO[str] = sys.stderr
        elif destination == "stdout":
            stream = sys.stdout
        else:
            path = Path(destination)
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = self._file = path.open("a", encoding="utf-8")
        import structlog  # only a router that writes events needs it

        renderer: Any = (
            structlog.processors.JSONRenderer(ensure_ascii=False)
            if settings.format == "json"
            else structlog.dev.ConsoleRenderer(colors=False, sort_keys=False, timestamp_key="time")
        )

        def render_scrubbed(logger: Any, method: str, event: dict[str, Any]) -> str:
            # One scrub of the rendered line instead of one per field: a key is removed wherever
            # it hides (prompt, message, nested attempt), and replacements never touch quotes.
            return self._redact(renderer(logger, method, event))

        # bind() once: structlog's lazy proxy would otherwise build a new logger per event.
        self._writer = _BufferedWriter(stream)
        self._logger = structlog.wrap_logger(
            self._writer,
            processors=[structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"), render_scrubbed],
            context_class=dict,
        ).bind()

    def _clean(self, value: Any) -> Any:
        """Scrub every string of an event (for sinks, which receive dicts, not lines)."""
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._clean(v) for v in value]
        return value

    def emit(self, kind: str, fields: dict[str, Any]) -> None:
        if self._logger is not None:
            self._logger.info(kind, **fields)

    def flush(self) -> None:
        if self._logger is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._logger is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()
            self._file = None
