"""`/metrics` with the same totals whichever worker of `serve --workers N` answers the scrape.

Each worker writes its counters (`Metrics.export()`) to a file of its own in a directory the
supervising `serve` process made, every half second and whenever it answers a scrape; the worker
that answers adds every other worker's last file to its own live counters. A scrape therefore
sees the others' counts as they were at most `INTERVAL` ago, and counts from a worker that has
exited still count. One process (`--workers 1`) skips all of it.

Why files and not `prometheus_client`'s multiprocess mode: measured on this machine, recording
one call costs 1.96 µs in `Metrics` against 13.8 µs with prometheus_client (24.3 µs in its
multiprocess mode, which also mixes every registry of a process into one file, so two routers in
one process could not keep their own counts), and importing it costs ~90 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from ..observe.metrics import Metrics

__all__ = ["INTERVAL", "WorkerMetrics"]

INTERVAL = 0.5


class WorkerMetrics:
    def __init__(self, directory: str | Path, metrics: Metrics) -> None:
        self.directory = Path(directory)
        self.metrics = metrics
        self.own = self.directory / f"worker-{os.getpid()}.json"

    def write(self) -> None:
        temporary = self.own.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.metrics.export()), encoding="utf-8")
        os.replace(temporary, self.own)  # atomic: a reader sees the old file or the new one

    def merged(self) -> tuple[Metrics, int]:
        """This worker's live counters plus every other worker's last file, and how many workers."""
        self.write()
        total = Metrics()
        total.absorb(self.metrics.export())
        workers = 1
        for path in sorted(self.directory.glob("worker-*.json")):
            if path == self.own:
                continue
            try:
                total.absorb(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # being replaced right now: its next version counts at the next scrape
            workers += 1
        return total, workers

    async def keep_writing(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.write)
            except OSError:
                pass  # the directory went away (the supervisor is shutting down)
            await asyncio.sleep(INTERVAL)
