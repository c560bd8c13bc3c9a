"""The gateway's cost under each HTTP server stack, in one run: a load generator against the
upstream directly, through `rulerouter serve`'s stack, and through the same app on another server.

Run on demand (`python bench/gateway.py`); not part of `make test`. Needs the server extra, and
granian (`pip install granian`) for the comparison; without it only the current stack runs.

Stacks (`--servers`, default all that are installed), each serving the same ASGI app:

  * `uvicorn`: `rulerouter serve` itself — uvicorn on uvloop with httptools, its protocol
    extended with the connection limits (`gateway/connection_limits.py`);
  * `granian`: granian (Rust, hyper) over ASGI, one worker, uvloop, HTTP/1 — the app built by
    `rulerouter.gateway.server:create_app` from the same settings. It does not enforce the
    gateway's connection limits (docs/performance.md says which), so it is measured, not shipped.

Processes: the instant upstream (`python -m rulerouter.testing serve`, model "primary" failing
with 500) and the load generator (`bench/loadgen.py`, keep-alive connections) share CPU 1; every
server is pinned to CPU 0 (one core; only one is under load at a time), so its figures are its
own (`--gateway-cpu 1` puts the servers beside the upstream and the load generator instead: on a
loaded machine a wakeup across CPUs can take milliseconds, docs/performance.md shows how many). For each scenario and concurrency (1 and 32) the direct call and every stack take turns in
`--rounds` short rounds, so that a loaded machine's drift falls on all of them alike:

  * non-streaming and streaming requests, against the upstream directly and through each stack;
  * a failing primary: the gateway is asked for model "primary", which answers 500, and falls
    back; the direct baseline is one successful call;
  * the floor: each server in front of `bench/floor_app.py` (a fixed answer, no routing, no
    upstream call), against the upstream directly — what the server stack costs by itself.

Reported per stack (medians over the rounds): throughput, p50 and p99 latency, added p50 (over
the direct call in the same round, with its spread over the rounds), CPU time per request (from
/proc/PID/stat, the server's processes and threads together), resident memory (VmRSS of the
server's processes); each stack's figures as ratios to uvicorn's.

Then the cost of translation: the same request through the gateway's two front doors, natively
(chat completions) and translated (Anthropic's `POST /v1/messages`), at concurrency 1, twice:
over the wire through `rulerouter serve`, alternating in short runs; and in-process, the
gateway's ASGI app called directly against an in-process loopback upstream, alternating call by
call (on a loaded machine the steadier figure). Target: translation adds at most 0.1 ms p50.

Targets (issue 15, same machine, same run): added p50 at concurrency 1 ≤ 0.20 ms; ≥ 8,000 req/s
at concurrency 32 on one core; CPU ≤ 0.12 ms per request; streaming added ≤ 0.3 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import POLICY, PROMPT, ROOT, pinned, start, start_upstream  # noqa: E402

PY = sys.executable
SETTINGS_ENV = "RULEROUTER_GATEWAY_SETTINGS"
GATEWAY_CPU = 0  # --gateway-cpu
AGAINST = "against"  # the name of the other checkout's stack (--against)
TARGETS = "targets (non-streaming unless said): added p50 (c=1) <= 0.20 ms; >= 8000 req/s at c=32; <= 0.12 ms CPU/request; streaming added <= 0.3 ms"


def tree(pid: int) -> list[int]:
    """`pid` and every process below it (granian's workers are child processes)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(child) for child in task.read_text().split()]
    return out


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for each in tree(pid):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def memory_mib(pid: int) -> float:
    return sum(int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{each}/status").read_text()).group(1))  # type: ignore[union-attr]
               for each in tree(pid)) / 1024


def load(url: str, body: dict, concurrency: int, seconds: float) -> dict:
    out = subprocess.run(pinned(1, [PY, str(ROOT / "bench" / "loadgen.py"), url, json.dumps(body), "--concurrency", str(concurrency), "--seconds", str(seconds)]),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(proc: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"no answer from {url} after 30 s")


@dataclass
class Served:
    name: str
    proc: subprocess.Popen[str]
    url: str  # ends in /v1

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_serve(settings: dict, root: Path = ROOT, name: str = "uvicorn") -> Served:
    """`rulerouter serve` of the checkout at `root`."""
    proc, url = start(pinned(GATEWAY_CPU, [PY, "-m", "rulerouter", "serve", "-c", settings["rules"], "--port", "0", "--no-client-keys"]),
                      r"listening on (http://\S+/v1)", cwd=root)
    return Served(name, proc, url)


def start_uvicorn(settings: dict, floor: bool) -> Served:
    """`rulerouter serve` itself, or the floor app under the same uvicorn configuration."""
    if not floor:
        return start_serve(settings)
    port = free_port()
    proc = subprocess.Popen(pinned(GATEWAY_CPU, [PY, str(ROOT / "bench" / "floor_app.py"), "--port", str(port)]),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    wait_until_up(proc, f"http://127.0.0.1:{port}/healthz")
    return Served("uvicorn", proc, f"http://127.0.0.1:{port}/v1")


def start_granian(settings: dict, floor: bool) -> Served:
    port = free_port()
    target = "bench.floor_app:create_app" if floor else "rulerouter.gateway.server:create_app"
    env = {**os.environ, SETTINGS_ENV: json.dumps(settings)}
    proc = subprocess.Popen(pinned(GATEWAY_CPU, [PY, "-m", "granian", "--interface", "asgi", "--factory", target, "--host", "127.0.0.1", "--port", str(port),
                                       "--no-ws", "--loop", "uvloop", "--http", "1", "--workers", "1", "--log-level", "warning", "--backlog", "2048"]),
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    wait_until_up(proc, f"http://127.0.0.1:{port}/healthz")
    return Served("granian", proc, f"http://127.0.0.1:{port}/v1")


STACKS = {"uvicorn": start_uvicorn, "granian": start_granian}


def installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def measure(stacks: list[Served], direct_url: str, name: str, direct_body: dict, gateway_body: dict, seconds: float, rounds: int) -> list[dict]:
    """Each concurrency in `rounds` short rounds, the direct call and every stack taking turns in
    each (the order turned round by round), so that the machine's drift falls on all alike; a
    row holds the medians over the rounds, and the spread of the added p50 over them."""
    rows = []
    for concurrency in (1, 32):
        samples: dict[str, list[dict]] = {served.name: [] for served in stacks}
        direct_runs = []
        for turn in range(rounds):
            order = stacks[turn % len(stacks):] + stacks[:turn % len(stacks)]
            direct = load(f"{direct_url}/chat/completions", direct_body, concurrency, seconds / rounds)
            direct_runs.append(direct)
            for served in order:
                before = cpu_seconds(served.proc.pid)
                through = load(f"{served.url}/chat/completions", gateway_body, concurrency, seconds / rounds)
                used = cpu_seconds(served.proc.pid) - before
                assert through["statuses"] == {"200": through["requests"]} and not through["errors"], (served.name, through)
                samples[served.name].append({"rps": through["rps"], "p50": through["p50_ms"], "p99": through["p99_ms"],
                                             "added": through["p50_ms"] - direct["p50_ms"], "cpu": used * 1000 / max(through["requests"], 1)})
        direct_rps = statistics.median(d["rps"] for d in direct_runs)
        direct_p50 = statistics.median(d["p50_ms"] for d in direct_runs)
        for served in stacks:
            runs = samples[served.name]
            added = [r["added"] for r in runs]
            rows.append({
                "scenario": name, "server": served.name, "concurrency": concurrency,
                "direct_rps": direct_rps, "gateway_rps": statistics.median(r["rps"] for r in runs),
                "direct_p50_ms": direct_p50, "gateway_p50_ms": statistics.median(r["p50"] for r in runs),
                "gateway_p99_ms": statistics.median(r["p99"] for r in runs),
                "added_p50_ms": statistics.median(added), "added_p50_spread_ms": [min(added), max(added)],
                "cpu_ms_per_request": statistics.median(r["cpu"] for r in runs),
            })
    return rows


def translation_cost(gw_url: str, message: list[dict], seconds: float, rounds: int = 6) -> dict[str, dict[str, float]]:
    """p50 of the same request natively and translated, alternating `rounds` times (median of each)."""
    root = gw_url.removesuffix("/v1")
    out = {}
    for kind, stream in (("non-streaming", False), ("streaming", True)):
        body = {"model": "auto", "messages": message, "max_tokens": 100, "stream": stream}
        native, translated = [], []
        for _ in range(rounds):
            for url, into in ((f"{gw_url}/chat/completions", native), (f"{root}/v1/messages", translated)):
                result = load(url, body, 1, seconds / rounds)
                assert result["statuses"] == {"200": result["requests"]} and not result["errors"], result
                into.append(result["p50_ms"])
        native_p50, translated_p50 = statistics.median(native), statistics.median(translated)
        out[kind] = {"native_p50_ms": native_p50, "translated_p50_ms": translated_p50, "added_p50_ms": translated_p50 - native_p50}
    return out


async def translation_in_process(message: list[dict], n: int = 3000) -> dict[str, dict[str, float]]:
    """The same comparison with the gateway app called in-process, native and translated alternating call by call."""
    from bench.profile_gateway import call as driven
    from rulerouter.gateway.app import Gateway
    from rulerouter.gateway.client_keys import ClientKeys
    from rulerouter.gateway.hot_reload import PolicyHolder
    from rulerouter.policy.load import check_text
    from rulerouter.testing import LoopbackUpstream

    out = {}
    async with LoopbackUpstream(record=False) as up:
        env = {"BENCH_KEY": "sk-bench"}
        holder = PolicyHolder(Path("bench.toml"), check_text(POLICY.format(base_url=up.base_url), "bench.toml", env=env), env=env, log=None)
        app = Gateway(holder, client_keys=ClientKeys.none("bench"))

        async def call(path: str, body: bytes) -> None:
            await driven(app, {"type": "http", "method": "POST", "path": path, "headers": [(b"content-type", b"application/json")]}, body)

        for kind, stream in (("non-streaming in-process", False), ("streaming in-process", True)):
            body = json.dumps({"model": "auto", "messages": message, "max_tokens": 100, "stream": stream}).encode()
            doors = {"native": ("/v1/chat/completions", body), "translated": ("/v1/messages", body)}
            samples: dict[str, list[float]] = {door: [] for door in doors}
            for _ in range(300):  # warm up
                for path, data in doors.values():
                    await call(path, data)
            for _ in range(n):
                for door, (path, data) in doors.items():
                    start = time.perf_counter()
                    await call(path, data)
                    samples[door].append(time.perf_counter() - start)
            native, translated = (statistics.median(samples[d]) * 1000 for d in ("native", "translated"))
            out[kind] = {"native_p50_ms": native, "translated_p50_ms": translated, "added_p50_ms": translated - native}
        await holder.close()
    return out


def run(servers: list[str], seconds: float, rounds: int, against: Path | None = None) -> dict:
    upstream, up_url = start_upstream()
    message = [{"role": "user", "content": PROMPT}]
    rows: list[dict] = []
    memory: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as work:
            policy = Path(work) / "bench.toml"
            policy.write_text(POLICY.format(base_url=up_url) + f'\n[log]\ndestination = "{Path(work) / "events.jsonl"}"\n')
            settings = {"rules": str(policy), "no_client_keys": True}
            stacks = [STACKS[name](settings, floor=False) for name in servers]
            if against is not None:  # the other checkout's `rulerouter serve`: a change to the gateway, measured against its base
                stacks.append(start_serve(settings, against, AGAINST))
            try:
                for served in stacks:  # warm up
                    load(f"{served.url}/chat/completions", {"model": "auto", "messages": message}, 8, 1.0)
                scenarios = [
                    ("non-streaming", {"model": "cheap-model", "messages": message}, {"model": "auto", "messages": message}),
                    ("streaming", {"model": "cheap-model", "messages": message, "stream": True}, {"model": "auto", "messages": message, "stream": True}),
                    ("failing primary", {"model": "cheap-model", "messages": message}, {"model": "primary", "messages": message}),
                ]
                for name, direct_body, gateway_body in scenarios:
                    rows += measure(stacks, up_url, name, direct_body, gateway_body, seconds, rounds)
                memory = {served.name: memory_mib(served.proc.pid) for served in stacks}
                translation = translation_cost(stacks[0].url, message, seconds)
            finally:
                for served in stacks:
                    served.stop()
            floors = [STACKS[name](settings, floor=True) for name in servers]
            try:
                for served in floors:
                    load(f"{served.url}/chat/completions", {"model": "auto", "messages": message}, 8, 1.0)
                rows += measure(floors, up_url, "floor (no routing)", {"model": "cheap-model", "messages": message}, {"model": "auto", "messages": message}, seconds, rounds)
            finally:
                for served in floors:
                    served.stop()
    finally:
        upstream.terminate()
        upstream.wait(10)
    translation.update(asyncio.run(translation_in_process(message)))
    return {"rows": rows, "rss_mib": memory, "translation": translation}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="load per scenario, concurrency and stack, split over the rounds")
    parser.add_argument("--rounds", type=int, default=3, help="turns the direct call and the stacks take in each scenario")
    parser.add_argument("--servers", default=",".join(name for name in STACKS if installed(name)), help="comma-separated: uvicorn, granian")
    parser.add_argument("--gateway-cpu", type=int, default=0, choices=(0, 1),
                        help="the CPU the servers run on (1: beside the upstream and the load generator)")
    parser.add_argument("--against", type=Path, help="also another checkout's rulerouter serve (its root directory), e.g. main's")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    global GATEWAY_CPU
    GATEWAY_CPU = args.gateway_cpu
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in servers if name not in STACKS or not installed(name)]
    if unknown:
        parser.error(f"not available: {', '.join(unknown)} (known: {', '.join(STACKS)}; each must be installed)")
    load_before = os.getloadavg()
    if args.against is not None and not (args.against / "rulerouter" / "__init__.py").exists():
        parser.error(f"{args.against} has no rulerouter/ package")
    figures = run(servers, args.seconds, args.rounds, args.against.resolve() if args.against else None)
    if args.against is not None:
        servers = [*servers, AGAINST]
    figures["load_average"] = {"before": load_before, "after": os.getloadavg()}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'scenario':<19}{'server':<9}{'conc':>5}{'direct req/s':>13}{'gateway req/s':>14}{'direct p50':>11}{'gw p50':>9}{'gw p99':>9}"
          f"{'added p50':>10}{'(rounds)':>16}{'CPU/req':>9}")
    for r in figures["rows"]:
        low, high = r["added_p50_spread_ms"]
        print(f"{r['scenario']:<19}{r['server']:<9}{r['concurrency']:>5}{r['direct_rps']:>13.0f}{r['gateway_rps']:>14.0f}{r['direct_p50_ms']:>9.3f}ms"
              f"{r['gateway_p50_ms']:>7.3f}ms{r['gateway_p99_ms']:>7.3f}ms{r['added_p50_ms']:>8.3f}ms  {low:>6.3f}-{high:<6.3f}{r['cpu_ms_per_request']:>7.3f}ms")
    by_key = {(r["scenario"], r["concurrency"], r["server"]): r for r in figures["rows"]}
    if len(servers) > 1:
        base = servers[0]
        print(f"\nratios against {base} (same scenario, same run): req/s, added p50, CPU/request")
        for (scenario, concurrency, server), r in by_key.items():
            if server == base:
                continue
            b = by_key[(scenario, concurrency, base)]
            print(f"  {server:<8} {scenario:<19} c={concurrency:<3} {r['gateway_rps'] / b['gateway_rps']:.2f}x  "
                  f"{r['added_p50_ms'] / b['added_p50_ms']:.2f}x  {r['cpu_ms_per_request'] / b['cpu_ms_per_request']:.2f}x")
    print("\n" + TARGETS)
    for server in servers:
        plain1, plain32 = by_key[("non-streaming", 1, server)], by_key[("non-streaming", 32, server)]
        stream1 = by_key[("streaming", 1, server)]
        print(f"  {server:<8} added p50 (c=1) {plain1['added_p50_ms']:.3f} ms; {plain32['gateway_rps']:.0f} req/s at c=32 "
              f"({plain32['gateway_rps'] / plain32['direct_rps']:.2f}x the bare upstream's {plain32['direct_rps']:.0f}); "
              f"CPU {plain32['cpu_ms_per_request']:.3f} ms/request (c=32), {plain1['cpu_ms_per_request']:.3f} (c=1), so one whole core "
              f"would serve {1000 / plain32['cpu_ms_per_request']:.0f} req/s; streaming added {stream1['added_p50_ms']:.3f} ms")
    print("  (req/s at c=32 is what the server got of a core other jobs share, and a server with more threads gets more of it;\n"
          "   CPU per request, and the req/s one whole core would serve at that cost, do not depend on the share)")
    print("resident memory: " + ", ".join(f"{name} {mib:.1f} MiB" for name, mib in figures["rss_mib"].items()))
    for kind, t in figures["translation"].items():
        print(f"{kind} through the Anthropic door vs chat completions (c=1, same upstream): p50 {t['translated_p50_ms']:.3f} ms vs "
              f"{t['native_p50_ms']:.3f} ms -> translation adds {t['added_p50_ms']:.3f} ms (target <= 0.1)")
    before, after = figures["load_average"]["before"], figures["load_average"]["after"]
    print(f"load average (1, 5, 15 min): {before[0]:.2f} {before[1]:.2f} {before[2]:.2f} before, {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} after")


if __name__ == "__main__":
    main()
