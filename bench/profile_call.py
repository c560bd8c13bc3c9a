"""Where does `acomplete()`'s time go? A profile of routed calls, grouped by part, in one run.

Run on demand (`python bench/profile_call.py`); not part of `make test`.

The loopback upstream of bench/execute.py (its own process, CPU 1; this one on CPU 0). After a
warm-up, `--calls` calls of `router.acomplete()` run at concurrency 32 under cProfile, and a
bare aiohttp session's calls (`--aiohttp`) the same way for comparison. Each function's own
CPU time (cProfile's tottime, timed by process_time) is counted in the part its file belongs to. cProfile adds a fixed
cost to every Python function call, so parts made of many small Python calls look heavier
than they are unprofiled; the split, not the absolute figures, is the point. CPU time per call
without the profiler is printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import POLICY, PROMPT, start_upstream  # noqa: E402
from rulerouter import Router  # noqa: E402

#: (part, what a function's file or name must contain), first match wins.
PARTS = [
    ("socket send/recv, epoll", ("method 'send' of '_socket", "method 'recv' of '_socket", "method 'poll' of 'select")),
    ("event loop (asyncio, futures, tasks)", ("asyncio/", "selectors.py", "_contextvars", "_asyncio", "method 'run' of")),
    ("transport: head out, httptools in, pool", ("execute/transport/", "httptools", "HttpResponseParser")),
    ("aiohttp client", ("aiohttp/", "multidict", "yarl/", "propcache")),
    ("JSON encode/decode", ("json/", "boundary.py")),
    ("decide: Inputs, rules", ("decide/",)),
    ("prepare: checks, request id", ("(prepare)", "(new_request_id)", "(_check_messages)")),
    ("flow: plan, attempts, breakers, cost", ("flow.py", "breaker.py", "cost.py")),
    ("executor drivers, result; provider API: body, reply read", ("provider_api.py", "providers.py", "upstream_reply.py", "executor.py")),
    ("result, metrics, events", ("result.py", "observe/", "router.py")),
]


def part_of(key: tuple[str, int, str], parts: list[tuple[str, tuple[str, ...]]] = PARTS, rest: str = "other builtins (isinstance, dict, str …)") -> str:
    """The part a profiled function (cProfile's key) belongs to: the first of `parts` whose needle its name holds."""
    filename, line, name = key
    text = f"{filename}:{line}({name})" if line else name
    for part, needles in parts:
        if any(needle in text for needle in needles):
            return part
    return rest


async def drive(fn: Callable[[], Awaitable[object]], calls: int, concurrency: int = 32) -> None:
    async def worker(n: int) -> None:
        for _ in range(n):
            await fn()

    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))


async def run(base_url: str, calls: int, with_aiohttp: bool) -> None:
    router = Router.from_toml(POLICY.format(base_url=base_url), env={"BENCH_KEY": "sk-bench"})

    async def routed() -> object:
        return await router.acomplete(PROMPT)

    sides: dict[str, Callable[[], Awaitable[object]]] = {"acomplete()": routed}
    session = None
    if with_aiohttp:
        import aiohttp

        session = aiohttp.ClientSession(headers={"authorization": "Bearer sk-bench", "content-type": "application/json"})
        url = f"{base_url}/chat/completions"

        async def bare() -> object:
            body = json.dumps({"model": "cheap-model", "messages": [{"role": "user", "content": PROMPT}]}).encode()
            async with session.post(url, data=body) as response:  # type: ignore[union-attr]
                return json.loads(await response.read())

        sides["bare aiohttp"] = bare
    for name, fn in sides.items():
        await drive(fn, 1600)  # warm up
        cpu = time.process_time()
        await drive(fn, calls)
        per_call = (time.process_time() - cpu) / calls * 1e6
        profile = cProfile.Profile(time.process_time)  # CPU time: other load on the machine distorts it less
        profile.enable()
        await drive(fn, calls)
        profile.disable()
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        parts: dict[str, float] = defaultdict(float)
        for key, (_, _, tottime, _, _) in stats.items():
            parts[part_of(key)] += tottime
        total = sum(parts.values())
        print(f"\n{name}: {per_call:.1f} µs CPU per call unprofiled; profiled, own time by part:")
        print("| part | share | µs CPU per call (profiled) |\n| --- | --- | --- |")
        for part, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"| {part} | {seconds / total:.0%} | {seconds / calls * 1e6:.1f} |")
    if session is not None:
        await session.close()
    await router.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=16000)
    parser.add_argument("--aiohttp", action="store_true", help="profile a bare aiohttp session too")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    proc, base_url = start_upstream()
    try:
        asyncio.run(run(base_url, args.calls, args.aiohttp))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
