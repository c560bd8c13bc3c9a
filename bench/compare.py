"""This checkout's `acomplete()` against another checkout's, interleaved in one process.

Run on demand: `python bench/compare.py --against ../other-checkout` (a git worktree at the
commit to compare with, e.g. `git worktree add --detach ../base main`); not part of `make test`.

On a shared machine two benchmark runs minutes apart differ by more than most changes do, so the
two versions run side by side instead: the other checkout's `rulerouter` package is loaded
under another name (its modules import each other relatively), both routers call the same
instant upstream (`python -m rulerouter.testing serve` on CPU 1; this process on CPU 0), and
their measurements alternate — call by call for the p50 at concurrency 1, in short slices for
the throughput at concurrency 32 — so load from elsewhere falls on both alike. Also measured the
same way: each checkout's `FastAsyncTransport` called directly with a prebuilt request. Printed:
each figure for both, and this checkout's as a ratio of the other's.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import POLICY, PROMPT, start_upstream  # noqa: E402

Call = Callable[[], Awaitable[object]]


def load_checkout(path: Path, name: str = "rulerouter_other") -> ModuleType:
    """The `rulerouter` package of another checkout, importable as `name`."""
    package = path / "rulerouter" / "__init__.py"
    if not package.exists():
        raise SystemExit(f"{path} has no rulerouter/ package")
    spec = importlib.util.spec_from_file_location(name, package, submodule_search_locations=[str(package.parent)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def transport_call(module: Any, url: str) -> tuple[Call, Any]:
    transport = module.FastAsyncTransport()
    url_obj = httpx.URL(url)
    headers = [(b"authorization", b"Bearer sk-bench"), (b"content-type", b"application/json")]
    timeouts = httpx.Timeout(10).as_dict()
    body = json.dumps({"model": "cheap-model", "messages": [{"role": "user", "content": PROMPT}]}).encode()

    async def call() -> object:
        request = httpx.Request("POST", url_obj, headers=headers, content=body, extensions={"timeout": timeouts})
        response = await transport.handle_async_request(request)
        return json.loads(b"".join([chunk async for chunk in response.stream]))  # type: ignore[union-attr]

    return call, transport


async def p50s(calls: dict[str, Call], n: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            start = time.perf_counter()
            await call()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) * 1000 for name, s in samples.items()}


async def throughputs(calls: dict[str, Call], concurrency: int, slices: int, slice_s: float) -> dict[str, float]:
    done = {name: 0 for name in calls}
    spent = {name: 0.0 for name in calls}
    for _ in range(slices):
        for name, call in calls.items():
            stop = time.perf_counter() + slice_s
            count = 0

            async def worker() -> None:
                nonlocal count
                while time.perf_counter() < stop:
                    await call()
                    count += 1

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            spent[name] += time.perf_counter() - start
            done[name] += count
    return {name: done[name] / spent[name] for name in calls}


async def run(other: ModuleType, base_url: str, n: int, slices: int, slice_s: float) -> dict[str, dict[str, float]]:
    import rulerouter
    from rulerouter.execute.transport import FastAsyncTransport

    env = {"BENCH_KEY": "sk-bench"}
    routers = {"this": rulerouter.Router.from_toml(POLICY.format(base_url=base_url), env=env),
               "other": other.Router.from_toml(POLICY.format(base_url=base_url), env=env)}
    other_transport = importlib.import_module(f"{other.__name__}.execute.transport")
    url = f"{base_url}/chat/completions"
    this_call, this_t = transport_call(sys.modules[FastAsyncTransport.__module__], url)
    other_call, other_t = transport_call(other_transport, url)
    routed = {name: (lambda r=r: r.acomplete(PROMPT)) for name, r in routers.items()}
    bare = {"this": this_call, "other": other_call}
    for calls in (routed, bare):  # warm up pools and caches
        await p50s(calls, 300)
    figures = {
        "acomplete p50 ms (c=1)": await p50s(routed, n),
        "acomplete req/s (c=32)": await throughputs(routed, 32, slices, slice_s),
        "transport p50 ms (c=1)": await p50s(bare, n),
        "transport req/s (c=32)": await throughputs(bare, 32, slices, slice_s),
    }
    for router in routers.values():
        await router.aclose()
    await this_t.aclose()
    await other_t.aclose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, required=True, help="the other checkout (its root directory)")
    parser.add_argument("-n", type=int, default=3000, help="calls per p50, for each version")
    parser.add_argument("--slices", type=int, default=8, help="throughput slices, for each version")
    parser.add_argument("--slice-seconds", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    other = load_checkout(args.against.resolve())
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    proc, base_url = start_upstream()
    try:
        figures = asyncio.run(run(other, base_url, args.n, args.slices, args.slice_seconds))
    finally:
        proc.terminate()
        proc.wait(10)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"this checkout against {args.against} (interleaved in one run)")
    for name, pair in figures.items():
        print(f"  {name:24s} this {pair['this']:9.3f}   other {pair['other']:9.3f}   ratio {pair['this'] / pair['other']:.3f}")


if __name__ == "__main__":
    main()
