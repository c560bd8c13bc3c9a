"""The gateway's ASGI app alone: CPU per request through each door, and where it goes, in one run.

Run on demand (`python bench/profile_gateway.py`); not part of `make test`.

No HTTP server: an ASGI driver calls the app (`Gateway`, built as `rulerouter serve` builds it,
with a client key required and events written to a file) with a scope prepared once, as a
server would hand it over, against the instant loopback upstream (`python -m rulerouter.testing
serve`, its own process on CPU 1; this one on CPU 0), on uvloop as `serve` runs, with the
disconnect extension `serve`'s protocol offers (`--no-extension`: as other servers call it). Four scenarios: chat completions and
Anthropic's Messages door, each plain and streamed. For each, at concurrency 32:

  * CPU time per request (`time.process_time`, unprofiled), of this checkout's app; of the
    library alone doing the same work (the app's own router called with the arguments the door
    hands it, parsed once beforehand: `acomplete()`, or `astream()` read to its end), so that
    app minus library is the gateway's own cost; of the app alone, its router answering from
    memory (one real answer or stream, recorded at the start and replayed: no upstream call, so
    none of the noise that I/O timing brings to CPU time at concurrency 32 — the steadiest
    figure of the gateway's own work); and — with `--against DIR` — of another checkout's app
    and app alone (loaded under another name, as bench/compare.py does). They take turns in
    short slices, so that load from elsewhere falls on all alike; this checkout's figures are
    also given as ratios to the other's;
  * with `--profile`, this checkout's own CPU time under cProfile, by part: the gateway's own
    modules, the router beneath it (`Router.acomplete`/`astream`: execute/, decide/, observe/,
    state/, router.py, boundary.py), JSON, the event loop, and the rest. cProfile adds a fixed
    cost to every Python call, so many small calls look heavier than they are; the split, not
    the absolute figures, is the point. `--top N` lists the gateway's own heaviest functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any, Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import POLICY, PROMPT, start_upstream  # noqa: E402
from bench.compare import load_checkout  # noqa: E402
from bench.profile_call import part_of  # noqa: E402
from rulerouter.gateway.request_boundary import DISCONNECT_EXTENSION  # noqa: E402

Call = Callable[[], Awaitable[None]]
KEY = b"gw-bench-key"
SCENARIOS = {  # name: (path, streamed)
    "chat": ("/v1/chat/completions", False),
    "chat stream": ("/v1/chat/completions", True),
    "messages": ("/v1/messages", False),
    "messages stream": ("/v1/messages", True),
}
#: (part, what a function's file or name must contain), first match wins.
PARTS = [
    ("gateway (rulerouter/gateway/)", ("/gateway/",)),
    ("JSON encode/decode", ("json/", "boundary.py")),
    ("router: execute/, transport", ("/execute/",)),
    ("router: decide/", ("/decide/",)),
    ("router: observe/, state/, router.py", ("/observe/", "/state/", "router.py")),
    ("event loop (asyncio, futures, tasks)", ("asyncio/", "selectors.py", "_contextvars", "_asyncio", "method 'run' of", "uvloop")),
    ("sockets", ("_socket", "select")),
]


def build(package: ModuleType, base_url: str, events: Path) -> Any:
    """The package's `Gateway` as `rulerouter serve` builds it: one client key required, events to a file."""
    name = package.__name__
    sub = {part: __import__(f"{name}.{part}", fromlist=["_"]) for part in
           ("gateway.app", "gateway.client_keys", "gateway.hot_reload", "policy.load", "policy.schema")}
    env = {"BENCH_KEY": "sk-bench"}
    checked = sub["policy.load"].check_text(POLICY.format(base_url=base_url), "bench.toml", env=env)
    log = sub["policy.schema"].Log(destination=str(events))
    keys = sub["gateway.client_keys"].client_keys_from({"GW_KEYS": KEY.decode()}, "GW_KEYS")
    holder = sub["gateway.hot_reload"].PolicyHolder(Path("bench.toml"), checked, env=env, log=log, secrets=keys.secrets())
    return sub["gateway.app"].Gateway(holder, client_keys=keys)


def request_for(path: str, stream: bool, extension: bool = True) -> tuple[dict[str, Any], bytes]:
    """The scope and body a server would hand the app for one request."""
    body = json.dumps({"model": "auto", "max_tokens": 100, "stream": stream, "messages": [{"role": "user", "content": PROMPT}]}).encode()
    headers = [(b"host", b"127.0.0.1:8080"), (b"user-agent", b"bench"), (b"accept", b"*/*"), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    headers.append((b"x-api-key", KEY) if path == "/v1/messages" else (b"authorization", b"Bearer " + KEY))
    if path == "/v1/messages":
        headers.append((b"anthropic-version", b"2023-06-01"))
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": headers, "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000)}
    if extension:  # as `rulerouter serve`'s protocol hands it over (connection_limits.py)
        scope["extensions"] = {DISCONNECT_EXTENSION: set()}
    return scope, body


async def call(app: Any, scope: dict[str, Any], body: bytes) -> None:
    """One request, as a server drives it: the body in one message, then `http.disconnect` once the
    response is sent; with the scope's extensions (`rulerouter serve`'s protocol offers a set of
    disconnect callbacks, which an app that knows it uses instead of a watcher task) fresh each time."""
    given = False
    done = asyncio.Event()
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif not message.get("more_body", False):
            done.set()

    fresh = dict(scope)
    if "extensions" in scope:
        fresh["extensions"] = {name: set() for name in scope["extensions"]}
    await app(fresh, receive, send)
    done.set()
    if status != 200:
        raise SystemExit(f"{scope['path']}: status {status}")


class _Replay:
    """A recorded stream, replayed: what the app reads of an `AsyncCompletionStream`."""

    def __init__(self, recorded: dict[str, Any]) -> None:
        self.__dict__.update(recorded)

    async def start(self) -> _Replay:
        return self

    async def _replay(self) -> Any:
        for batch in self.recorded_batches:
            yield batch

    def batches(self, *, native: bool = False) -> Any:
        return self._replay()

    async def aclose(self) -> None:
        pass


class _Memory:
    """A router that answers from memory: the app's own router for everything but the call."""

    def __init__(self, router: Any, result: Any, stream: dict[str, Any] | None) -> None:
        self._router, self._result, self._stream = router, result, stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._router, name)

    async def acomplete(self, **_: Any) -> Any:
        return self._result

    def astream(self, **_: Any) -> _Replay:
        assert self._stream is not None
        return _Replay(self._stream)


async def alone(package: ModuleType, base_url: str, events: Path, scope: dict[str, Any], body: bytes) -> Any:
    """An app whose router answers this request from memory: one real answer (or stream) recorded first."""
    app = build(package, base_url, events)
    router = app.holder.router
    arguments = library_arguments(package, scope, body)
    result, stream = await router.acomplete(**arguments), None
    if json.loads(body).get("stream"):
        opened = router.astream(**arguments)
        await opened.start()
        batches = [batch async for batch in opened.batches(native=arguments["native"] is not None)]
        stream = {name: getattr(opened, name) for name in ("decision", "model_used", "attempts", "request_id", "provider_api", "result")}
        stream["recorded_batches"] = batches
    app.holder.router = _Memory(router, result, stream)
    return app


def library_arguments(package: ModuleType, scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    """What the door hands the router for this request."""
    name = package.__name__
    messages_request = __import__(f"{name}.gateway.anthropic_request", fromlist=["_"])
    chat_request = __import__(f"{name}.gateway.request_body", fromlist=["_"])
    client_id = __import__(f"{name}.gateway.client_keys", fromlist=["_"]).client_id
    if scope["path"] == "/v1/messages":
        request = messages_request.parse_messages_request(body, scope["headers"])
        native = request.native
    else:
        request, native = chat_request.parse_chat_request(body), None
    return {"messages": request.messages, "metadata": request.metadata, "parameters": request.params, "client": client_id(KEY), "native": native}


def library_call(app: Any, scope: dict[str, Any], body: bytes) -> Call:
    """The work the app hands the router for this request, without the app: its arguments parsed once."""
    import rulerouter

    router = app.holder.router
    arguments = library_arguments(rulerouter, scope, body)
    if not json.loads(body).get("stream"):
        async def complete() -> None:
            await router.acomplete(**arguments)
        return complete

    async def stream() -> None:
        opened = router.astream(**arguments)
        await opened.start()
        async for _ in opened.batches(native=arguments["native"] is not None):
            pass
    return stream


async def drive(fn: Call, calls: int, concurrency: int) -> None:
    async def worker(n: int) -> None:
        for _ in range(n):
            await fn()

    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))


async def cpu_per_request(sides: dict[str, Call], calls: int, slices: int, concurrency: int) -> dict[str, float]:
    """Median over `slices` of each side's CPU µs per request, the sides taking turns slice by slice."""
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for turn in range(slices):
        names = list(sides)
        for name in names[turn % len(names):] + names[:turn % len(names)]:
            gc.collect()  # each slice starts with the collector's counts at zero, not with another side's garbage
            start = time.process_time()
            await drive(sides[name], calls, concurrency)
            samples[name].append((time.process_time() - start) / calls * 1e6)
    return {name: statistics.median(s) for name, s in samples.items()}


async def profile(fn: Call, calls: int, concurrency: int, top: int) -> None:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    await drive(fn, calls, concurrency)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    parts: dict[str, float] = defaultdict(float)
    own: list[tuple[float, str]] = []
    function_calls = sum(ncalls for _, ncalls, _, _, _ in stats.values())
    print(f"{function_calls / calls:.0f} function calls per request (counted by cProfile: Python functions and builtins)")
    for key, (_, _, tottime, _, _) in stats.items():
        part = part_of(key, PARTS, "other (builtins, httpx, …)")
        parts[part] += tottime
        if part.startswith("gateway"):
            own.append((tottime, f"{Path(key[0]).name}:{key[1]}({key[2]})"))
    total = sum(parts.values())
    print("| part | share | µs CPU per request (profiled) |\n| --- | --- | --- |")
    for part, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"| {part} | {seconds / total:.0%} | {seconds / calls * 1e6:.1f} |")
    for seconds, where in sorted(own, reverse=True)[:top]:
        print(f"    {seconds / calls * 1e6:6.1f} µs  {where}")


async def run(args: argparse.Namespace, base_url: str, work: Path) -> None:
    import rulerouter

    packages = {"this": rulerouter}
    if args.against is not None:
        packages["other"] = load_checkout(args.against.resolve())
    for scenario in args.scenarios:
        path, stream = SCENARIOS[scenario]
        scope, body = request_for(path, stream, not args.no_extension)
        apps = {name: build(package, base_url, work / f"{name}.jsonl") for name, package in packages.items()}
        apps.update({f"{name} alone": await alone(package, base_url, work / f"{name}-alone.jsonl", scope, body) for name, package in packages.items()})
        for app in apps.values():
            await app.startup()
        try:
            sides: dict[str, Call] = {name: (lambda app=app: call(app, scope, body)) for name, app in apps.items()}
            sides["library"] = library_call(apps["this"], scope, body)
            for fn in sides.values():  # warm up pools and caches
                await drive(fn, 640, args.concurrency)
            f = await cpu_per_request(sides, args.calls, args.slices, args.concurrency)
            print(f"{scenario:<16} c={args.concurrency}: app {f['this']:6.1f} µs CPU/request, library alone {f['library']:6.1f}, "
                  f"the difference {f['this'] - f['library']:6.1f}; app alone {f['this alone']:6.1f}", flush=True)
            if "other" in f:
                print(f"{'':<16} other checkout: app {f['other']:6.1f}, app alone {f['other alone']:6.1f}; ratios this/other: "
                      f"app {f['this'] / f['other']:.3f}, app alone {f['this alone'] / f['other alone']:.3f}", flush=True)
            if args.profile:
                for name in ("this", "this alone"):
                    print(f"{name}:")
                    await profile(sides[name], args.calls, args.concurrency, args.top)
        finally:
            for app in apps.values():
                await app.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, help="another checkout (its root directory), measured in turn with this one")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated: {', '.join(SCENARIOS)}")
    parser.add_argument("--calls", type=int, default=1600, help="requests per slice")
    parser.add_argument("--slices", type=int, default=5, help="slices per app and scenario")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-extension", action="store_true",
                        help="hand the app no disconnect extension, as a server other than rulerouter serve's does")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the event loop (rulerouter serve runs on uvloop)")
    parser.add_argument("--profile", action="store_true", help="also this checkout's profile, by part")
    parser.add_argument("--top", type=int, default=0, help="with --profile: the gateway's N heaviest functions")
    args = parser.parse_args()
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    proc, base_url = start_upstream()
    load_before = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory() as work:
            runner = asyncio.run
            if args.loop == "uvloop":
                import uvloop

                runner = uvloop.run
            runner(run(args, base_url, Path(work)))
    finally:
        proc.terminate()
        proc.wait(10)
    after = os.getloadavg()
    print(f"load average (1 min): {load_before[0]:.2f} before, {after[0]:.2f} after")


if __name__ == "__main__":
    main()
