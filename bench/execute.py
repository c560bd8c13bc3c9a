"""What does routing add to a call? Ratios against bare clients, measured in one run.

Run on demand (`python bench/execute.py`; the aiohttp baseline needs `pip install -e '.[bench]'`);
not part of `make test`.

An instant upstream (`python -m rulerouter.testing serve`, model "primary" answering 500) runs in
its own process pinned to CPU 1; this process is pinned to CPU 0. Every bare client builds the
same JSON body, POSTs it with the same headers to the same URL and parses the JSON reply, as a
caller without rulerouter would. Measured:

  1. concurrency 1, p50 per call, all sides interleaved call by call: a bare `aiohttp` session
     (the fastest Python client), a bare `httpx.AsyncClient()` with default settings, httpx on
     rulerouter's own transport (FastAsyncTransport), the transport called directly with a
     prebuilt request (as the router calls it), and `router.acomplete()` (decide + flow + call +
     Result + metrics). Target: acomplete() adds <= 0.02 ms over aiohttp. Also the p50 of each
     call's CPU time (this process's), which other load on a shared machine disturbs far less.
  2. the fallback path: the primary answers 500, the fallback answers. A hand-written
     try-then-fallback on aiohttp, against `acomplete()` with fallback (circuit breaker off, so
     the primary really is called every time). Target: added <= 0.1 ms.
  3. throughput at concurrency 32, each side for `--seconds`, in rounds that alternate the order:
     `acomplete()` against the bare aiohttp session (target >= 1.0x) and against a default
     `httpx.AsyncClient()`.
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

try:
    import aiohttp
except ImportError:  # a bench-only dependency
    raise SystemExit("bench/execute.py compares against aiohttp: pip install -e '.[bench]'") from None

Call = Callable[[], Awaitable[object]]


async def throughput(fn: Call, concurrency: int, seconds: float) -> float:
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


async def interleaved_p50(fns: dict[str, Call], n: int) -> dict[str, float]:
    """p50 wall time and p50 CPU time of each function, called in turn call by call, so drift on a
    shared machine hits all alike (keys `name` and `name_cpu`)."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    clock, cpu_clock = time.perf_counter, time.process_time
    for _ in range(n):
        for name, fn in fns.items():
            start, cpu_start = clock(), cpu_clock()
            await fn()
            samples[name].append(clock() - start)
            cpu[name].append(cpu_clock() - cpu_start)
    return {**{name: statistics.median(values) for name, values in samples.items()},
            **{f"{name}_cpu": statistics.median(values) for name, values in cpu.items()}}


async def run(base_url: str, n: int, seconds: float, rounds: int) -> dict[str, float]:
    router = Router.from_toml(POLICY.format(base_url=base_url), env={"BENCH_KEY": "sk-bench"})
    url = f"{base_url}/chat/completions"
    headers = {"authorization": "Bearer sk-bench", "content-type": "application/json"}

    def body(model: str = "cheap-model") -> bytes:  # a bare caller builds its request too
        return json.dumps({"model": model, "messages": [{"role": "user", "content": PROMPT}]}).encode()

    session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=10))
    fast = httpx.AsyncClient(transport=FastAsyncTransport(), headers=headers, timeout=10)
    default = httpx.AsyncClient(headers=headers, timeout=10, limits=httpx.Limits(max_connections=100))

    async def bare_aiohttp(model: str = "cheap-model") -> object:
        async with session.post(url, data=body(model)) as response:
            return response.status, json.loads(await response.read())

    async def bare_httpx() -> object:
        response = await default.post(url, content=body())
        return response.json()

    async def httpx_fast() -> object:
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

    async def aiohttp_fallback() -> object:
        status, reply = await bare_aiohttp("primary")
        if status >= 500:
            status, reply = await bare_aiohttp()
        return reply

    async def routed() -> object:
        return await router.acomplete(PROMPT)

    async def routed_fallback() -> object:
        return await router.acomplete(PROMPT, tier="flaky")

    check = await router.acomplete(PROMPT, tier="flaky")
    assert [a.error_kind for a in check.attempts] == ["server_error", None], check.attempts
    assert (await bare_aiohttp())[0] == 200
    calls = {"aiohttp": bare_aiohttp, "httpx": bare_httpx, "httpx_fast": httpx_fast, "transport": bare_transport,
             "acomplete": routed, "aiohttp_fallback": aiohttp_fallback, "acomplete_fallback": routed_fallback}
    for fn in calls.values():  # warm up pools and caches
        for _ in range(200):
            await fn()
    p50 = await interleaved_p50({name: calls[name] for name in ("aiohttp", "httpx", "httpx_fast", "transport", "acomplete")}, n)
    p50.update(await interleaved_p50({name: calls[name] for name in ("aiohttp_fallback", "acomplete_fallback")}, n))
    rps: dict[str, list[float]] = {"aiohttp": [], "httpx": [], "acomplete": []}
    for i in range(rounds):  # alternate the order round by round
        order = list(rps) if i % 2 == 0 else list(reversed(rps))
        for name in order:
            rps[name].append(await throughput(calls[name], 32, seconds / rounds))
    await session.close()
    await fast.aclose()
    await transport.aclose()
    await default.aclose()
    await router.aclose()
    c32 = {name: statistics.median(values) for name, values in rps.items()}
    ms = {f"{name}_p50_ms": value * 1000 for name, value in p50.items()}
    return {
        **ms,
        "added_p50_ms": ms["acomplete_p50_ms"] - ms["aiohttp_p50_ms"],
        "added_cpu_p50_ms": ms["acomplete_cpu_p50_ms"] - ms["aiohttp_cpu_p50_ms"],
        "added_over_transport_p50_ms": ms["acomplete_p50_ms"] - ms["transport_p50_ms"],
        "added_fallback_p50_ms": ms["acomplete_fallback_p50_ms"] - ms["aiohttp_fallback_p50_ms"],
        **{f"{name}_c32": value for name, value in c32.items()},
        "acomplete_vs_aiohttp_c32": c32["acomplete"] / c32["aiohttp"],
        "acomplete_vs_httpx_c32": c32["acomplete"] / c32["httpx"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000, help="calls per latency measurement")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per throughput measurement, split into rounds")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the throughput measurement (median reported)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    proc, base_url = start_upstream()
    try:
        f = asyncio.run(run(base_url, args.n, args.seconds, args.rounds))
    finally:
        proc.terminate()
        proc.wait(10)
    if args.json:
        print(json.dumps(f, indent=2))
        return
    print(f"concurrency 1, p50:  aiohttp {f['aiohttp_p50_ms']:.3f} ms, default httpx {f['httpx_p50_ms']:.3f} ms, "
          f"httpx+FastAsyncTransport {f['httpx_fast_p50_ms']:.3f} ms, the transport directly {f['transport_p50_ms']:.3f} ms")
    print(f"                     acomplete {f['acomplete_p50_ms']:.3f} ms -> added {f['added_p50_ms']:+.3f} ms over aiohttp "
          f"(target <= +0.02), {f['added_over_transport_p50_ms']:+.3f} ms over the transport")
    print(f"                     CPU per call, p50: aiohttp {f['aiohttp_cpu_p50_ms']:.3f} ms, acomplete {f['acomplete_cpu_p50_ms']:.3f} ms "
          f"-> added {f['added_cpu_p50_ms']:+.3f} ms (the client's own work, less disturbed by other load)")
    print(f"fallback path, p50:  hand-written on aiohttp {f['aiohttp_fallback_p50_ms']:.3f} ms, acomplete "
          f"{f['acomplete_fallback_p50_ms']:.3f} ms -> added {f['added_fallback_p50_ms']:+.3f} ms (target <= +0.1)")
    print(f"concurrency 32:      aiohttp {f['aiohttp_c32']:.0f} req/s, default httpx {f['httpx_c32']:.0f} req/s, "
          f"acomplete {f['acomplete_c32']:.0f} req/s -> {f['acomplete_vs_aiohttp_c32']:.2f}x aiohttp (target >= 1.0), "
          f"{f['acomplete_vs_httpx_c32']:.1f}x default httpx")


if __name__ == "__main__":
    main()
