"""What does routing add to a call? Ratios against bare clients, measured in one run.

Run on demand (`python bench/execute.py`); not part of `make test`.

An instant upstream (`python -m rulerouter.testing serve`, model "primary" answering 500) runs in
its own process pinned to CPU 1; this process is pinned to CPU 0. Measured:

  1. concurrency 1, p50 per call: a bare `httpx.AsyncClient` on the same transport rulerouter
     uses (FastAsyncTransport) serialising the same body, posting it and parsing the JSON
     reply, against `router.acomplete()` (decide + flow + call + Result + metrics). Target:
     added ≤ 0.05 ms. Also shown: the transport called directly with a prebuilt request, as the
     router itself calls it; the difference is the cost of routing alone.
  2. the fallback path: the primary answers 500, the fallback answers. A hand-written
     try-then-fallback with the same client, against `acomplete()` with fallback (circuit
     breaker off, so the primary really is called every time).
     Target: added ≤ 0.1 ms.
  3. throughput at concurrency 32: `acomplete()` against a bare `httpx.AsyncClient()` with
     default settings (httpcore). Target ≥ 3×.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import POLICY, PROMPT, start_upstream  # noqa: E402
from rulerouter import Router  # noqa: E402
from rulerouter.execute.transport.pool import FastAsyncTransport  # noqa: E402


async def timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - start)
    return out


async def throughput(fn: Callable[[], Awaitable[object]], concurrency: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await fn()
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


async def run(base_url: str, n: int, seconds: float) -> dict[str, float]:
    router = Router.from_toml(POLICY.format(base_url=base_url), env={"BENCH_KEY": "sk-bench"})
    url = f"{base_url}/chat/completions"
    headers = {"authorization": "Bearer sk-bench", "content-type": "application/json"}

    def body(model: str = "cheap-model") -> bytes:  # a bare caller builds its request too
        return json.dumps({"model": model, "messages": [{"role": "user", "content": PROMPT}]}).encode()
    fast = httpx.AsyncClient(transport=FastAsyncTransport(), headers=headers, timeout=10)
    default = httpx.AsyncClient(headers=headers, timeout=10, limits=httpx.Limits(max_connections=100))

    async def bare() -> object:
        response = await fast.post(url, content=body())
        return response.json()

    transport = FastAsyncTransport()
    url_obj = httpx.URL(url)
    raw_headers = [(b"authorization", b"Bearer sk-bench"), (b"content-type", b"application/json")]
    timeouts = httpx.Timeout(10).as_dict()

    async def bare_transport() -> object:  # the transport called directly, as the router does
        request = httpx.Request("POST", url_obj, headers=raw_headers, content=body(), extensions={"timeout": timeouts})
        response = await transport.handle_async_request(request)
        return json.loads(b"".join([chunk async for chunk in response.stream]))  # type: ignore[union-attr]

    async def bare_fallback() -> object:
        response = await fast.post(url, content=body("primary"))
        if response.status_code >= 500:
            response = await fast.post(url, content=body())
        return response.json()

    async def bare_default() -> object:
        response = await default.post(url, content=body())
        return response.json()

    async def routed() -> object:
        return await router.acomplete(PROMPT)

    async def routed_fallback() -> object:
        return await router.acomplete(PROMPT, tier="flaky")

    check = await router.acomplete(PROMPT, tier="flaky")
    assert [a.error_kind for a in check.attempts] == ["server_error", None], check.attempts
    for fn in (bare, bare_transport, routed, bare_fallback, routed_fallback, bare_default):  # warm up pools and caches
        await timed(fn, 200)
    p50 = {}
    # Alternate the two sides call by call, so drift on a shared machine hits both alike.
    fns = {"bare": bare, "bare_transport": bare_transport, "routed": routed, "bare_fallback": bare_fallback, "routed_fallback": routed_fallback}
    for group in (("bare", "bare_transport", "routed"), ("bare_fallback", "routed_fallback")):
        samples: dict[str, list[float]] = {name: [] for name in group}
        for _ in range(n):
            for name in group:
                start = time.perf_counter()
                await fns[name]()
                samples[name].append(time.perf_counter() - start)
        for name in group:
            p50[name] = statistics.median(samples[name])
    rps = {
        "default_httpx_c32": await throughput(bare_default, 32, seconds),
        "fast_transport_c32": await throughput(bare, 32, seconds),
        "routed_c32": await throughput(routed, 32, seconds),
    }
    await fast.aclose()
    await transport.aclose()
    await default.aclose()
    await router.aclose()
    return {
        "bare_p50_ms": p50["bare"] * 1000,
        "routed_p50_ms": p50["routed"] * 1000,
        "added_p50_ms": (p50["routed"] - p50["bare"]) * 1000,
        "bare_transport_p50_ms": p50["bare_transport"] * 1000,
        "added_over_transport_p50_ms": (p50["routed"] - p50["bare_transport"]) * 1000,
        "bare_fallback_p50_ms": p50["bare_fallback"] * 1000,
        "routed_fallback_p50_ms": p50["routed_fallback"] * 1000,
        "added_fallback_p50_ms": (p50["routed_fallback"] - p50["bare_fallback"]) * 1000,
        **rps,
        "routed_vs_default_httpx": rps["routed_c32"] / rps["default_httpx_c32"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000, help="calls per latency measurement")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per throughput measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    proc, base_url = start_upstream()
    try:
        figures = asyncio.run(run(base_url, args.n, args.seconds))
    finally:
        proc.terminate()
        proc.wait(10)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"concurrency 1, p50:  bare client {figures['bare_p50_ms']:.3f} ms, acomplete {figures['routed_p50_ms']:.3f} ms "
          f"-> added {figures['added_p50_ms']:.3f} ms (target <= 0.05)")
    print(f"                     the transport called directly {figures['bare_transport_p50_ms']:.3f} ms "
          f"-> routing adds {figures['added_over_transport_p50_ms']:.3f} ms over it")
    print(f"fallback path, p50:  hand-written {figures['bare_fallback_p50_ms']:.3f} ms, acomplete {figures['routed_fallback_p50_ms']:.3f} ms "
          f"-> added {figures['added_fallback_p50_ms']:.3f} ms (target <= 0.1)")
    print(f"concurrency 32:      default httpx {figures['default_httpx_c32']:.0f} req/s, httpx+FastAsyncTransport "
          f"{figures['fast_transport_c32']:.0f} req/s, acomplete {figures['routed_c32']:.0f} req/s "
          f"-> {figures['routed_vs_default_httpx']:.2f}x default httpx (target >= 3)")


if __name__ == "__main__":
    main()
