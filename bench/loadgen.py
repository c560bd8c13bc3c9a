"""A small, fast HTTP/1.1 load generator for the gateway benchmark (stdlib asyncio only).

Keeps `concurrency` keep-alive connections busy with the same POST, for a number of seconds
or requests, and records each request's latency from the first byte sent to the last byte of
the response (Content-Length or chunked — streamed answers are read to their last chunk).
Run as a process of its own so that its CPU time is not the gateway's:

    python bench/loadgen.py URL BODY_JSON --concurrency 32 --seconds 5  → one JSON line of results
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._check()

    def _check(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buffer[:head_end]).lower()
        status = int(head[9:12])
        body_start = head_end + 4
        marker = head.find(b"content-length:")
        if marker >= 0:
            length = int(head[marker + 15 : head.find(b"\r\n", marker) if head.find(b"\r\n", marker) > 0 else None])
            if len(self.buffer) >= body_start + length:
                body = bytes(self.buffer[body_start : body_start + length])
                del self.buffer[: body_start + length]
                self.waiter.set_result((status, body))
            return
        end = self.buffer.find(b"\r\n0\r\n\r\n", body_start - 2)
        if end >= 0:
            body = bytes(self.buffer[body_start : end + 7])
            del self.buffer[: end + 7]
            self.waiter.set_result((status, body))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(data)
        self._check()
        return await self.waiter


async def run(url: str, body: bytes, concurrency: int, seconds: float, requests: int | None) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"POST {parts.path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer bench\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    deadline = time.perf_counter() + seconds
    remaining = [requests] if requests is not None else None

    async def worker() -> None:
        nonlocal errors
        _, conn = await loop.create_connection(_Conn, host, port)
        while time.perf_counter() < deadline:
            if remaining is not None:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            start = time.perf_counter()
            try:
                status, _ = await conn.request(request)
            except ConnectionError:
                errors += 1
                _, conn = await loop.create_connection(_Conn, host, port)
                continue
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
        if conn.transport is not None:
            conn.transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("body")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--requests", type=int)
    args = parser.parse_args()
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(run(args.url, args.body.encode(), args.concurrency, args.seconds, args.requests))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
