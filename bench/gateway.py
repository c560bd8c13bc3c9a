"""The gateway's cost: a load generator against the upstream directly and through `rulerouter serve`.

Run on demand (`python bench/gateway.py`); not part of `make test`. Needs the server extra.

Processes: the instant upstream (`python -m rulerouter.testing serve`, model "primary" failing
with 500) and the load generator (`bench/loadgen.py`, keep-alive connections) share CPU 1; the
gateway runs alone on CPU 0, so its figures are its own. For each scenario the load generator
runs (a) against the upstream directly and (b) against the gateway:

  * non-streaming and streaming requests, at concurrency 1 and 32;
  * a failing primary: the gateway is asked for model "primary", which answers 500, and falls
    back; the direct baseline is one successful call.

Reported: throughput, p50 and p99 latency, the gateway's added p50, its CPU time per request
(from /proc/PID/stat) and its resident memory (VmRSS and peak VmHWM from /proc/PID/status).

Then the cost of translation: the same request through the gateway's two front doors, both
routed to the same OpenAI-compatible upstream — natively (chat completions) and translated
(Anthropic's `POST /v1/messages`, its answer and stream events translated back) — at
concurrency 1, twice: over the wire through `rulerouter serve`, alternating in short runs; and
in-process, the gateway's ASGI app called directly against an in-process loopback upstream,
alternating call by call (on a loaded machine the second is the steadier figure: both doors
share every millisecond of noise). Target: translation adds at most 0.1 ms p50.
Targets (from Portkey's and LiteLLM's figures measured on this kind of machine): added p50 at
concurrency 1 ≤ 0.30 ms, ≥ 3,038 req/s at concurrency 32, ≤ 0.41 ms CPU per request, ≤ 93 MiB,
and working streams with added latency < 6.45 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import POLICY, PROMPT, ROOT, pinned, start, start_upstream  # noqa: E402

PY = sys.executable


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    return rss, hwm


def load(url: str, body: dict, concurrency: int, seconds: float) -> dict:
    out = subprocess.run(pinned(1, [PY, str(ROOT / "bench" / "loadgen.py"), url, json.dumps(body), "--concurrency", str(concurrency), "--seconds", str(seconds)]),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def translation_cost(gw_url: str, message: list[dict], seconds: float, rounds: int = 6) -> dict[str, dict[str, float]]:
    """p50 of the same request natively and translated, alternating `rounds` times (median of each)."""
    root = gw_url.removesuffix("/v1")
    out = {}
    for kind, stream in (("non-streaming", False), ("streaming", True)):
        native_body = {"model": "auto", "messages": message, "max_tokens": 100, "stream": stream}
        translated_body = {"model": "auto", "messages": message, "max_tokens": 100, "stream": stream}
        native, translated = [], []
        for _ in range(rounds):
            for url, body, into in ((f"{gw_url}/chat/completions", native_body, native), (f"{root}/v1/messages", translated_body, translated)):
                result = load(url, body, 1, seconds / rounds)
                assert result["statuses"] == {"200": result["requests"]} and not result["errors"], result
                into.append(result["p50_ms"])
        native_p50, translated_p50 = statistics.median(native), statistics.median(translated)
        out[kind] = {"native_p50_ms": native_p50, "translated_p50_ms": translated_p50, "added_p50_ms": translated_p50 - native_p50}
    return out


async def translation_in_process(message: list[dict], n: int = 3000) -> dict[str, dict[str, float]]:
    """The same comparison with the gateway app called in-process, native and translated alternating call by call."""
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
            given = False
            done = asyncio.Event()

            async def receive() -> dict:
                nonlocal given
                if not given:
                    given = True
                    return {"type": "http.request", "body": body, "more_body": False}
                await done.wait()
                return {"type": "http.disconnect"}

            async def send(message: dict) -> None:
                pass

            await app({"type": "http", "method": "POST", "path": path, "headers": [(b"content-type", b"application/json")]}, receive, send)
            done.set()

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    upstream, up_url = start_upstream()
    with tempfile.TemporaryDirectory() as work:
        policy = Path(work) / "bench.toml"
        policy.write_text(POLICY.format(base_url=up_url) + f'\n[log]\ndestination = "{Path(work) / "events.jsonl"}"\n')
        gateway, gw_url = start(pinned(0, [PY, "-m", "rulerouter", "serve", "-c", str(policy), "--port", "0", "--no-client-keys"]), r"listening on (http://\S+/v1)")
        rows = []
        try:
            message = [{"role": "user", "content": PROMPT}]
            scenarios = [
                ("non-streaming", {"model": "cheap-model", "messages": message}, {"model": "auto", "messages": message}),
                ("streaming", {"model": "cheap-model", "messages": message, "stream": True}, {"model": "auto", "messages": message, "stream": True}),
                ("failing primary", {"model": "cheap-model", "messages": message}, {"model": "primary", "messages": message}),
            ]
            load(f"{gw_url}/chat/completions", scenarios[0][2], 8, 1.0)  # warm up
            for name, direct_body, gateway_body in scenarios:
                for concurrency in (1, 32):
                    direct = load(f"{up_url}/chat/completions", direct_body, concurrency, args.seconds)
                    before = cpu_seconds(gateway.pid)
                    through = load(f"{gw_url}/chat/completions", gateway_body, concurrency, args.seconds)
                    used = cpu_seconds(gateway.pid) - before
                    assert through["statuses"] == {"200": through["requests"]} and not through["errors"], through
                    rows.append({
                        "scenario": name, "concurrency": concurrency,
                        "direct_rps": direct["rps"], "gateway_rps": through["rps"],
                        "direct_p50_ms": direct["p50_ms"], "gateway_p50_ms": through["p50_ms"],
                        "direct_p99_ms": direct["p99_ms"], "gateway_p99_ms": through["p99_ms"],
                        "added_p50_ms": through["p50_ms"] - direct["p50_ms"],
                        "cpu_ms_per_request": used * 1000 / max(through["requests"], 1),
                    })
            translation = translation_cost(gw_url, message, args.seconds)
            translation.update(asyncio.run(translation_in_process(message)))
            rss, hwm = memory_mib(gateway.pid)
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(15)
            upstream.terminate()
            upstream.wait(10)
    if args.json:
        print(json.dumps({"rows": rows, "rss_mib": rss, "peak_rss_mib": hwm, "translation": translation}, indent=2))
        return
    print(f"{'scenario':<17}{'conc':>5}{'direct req/s':>13}{'gateway req/s':>14}{'direct p50':>11}{'gw p50':>9}{'gw p99':>9}{'added p50':>10}{'CPU/req':>9}")
    for r in rows:
        print(f"{r['scenario']:<17}{r['concurrency']:>5}{r['direct_rps']:>13.0f}{r['gateway_rps']:>14.0f}{r['direct_p50_ms']:>9.3f}ms"
              f"{r['gateway_p50_ms']:>7.3f}ms{r['gateway_p99_ms']:>7.3f}ms{r['added_p50_ms']:>8.3f}ms{r['cpu_ms_per_request']:>7.3f}ms")
    print(f"gateway memory: {rss:.1f} MiB resident, {hwm:.1f} MiB peak")
    print("targets: added p50 (c=1) <= 0.30 ms; >= 3038 req/s at c=32; <= 0.41 ms CPU/request; <= 93 MiB; streams added < 6.45 ms")
    for kind, t in translation.items():
        print(f"{kind} through the Anthropic door vs chat completions (c=1, same upstream): p50 {t['translated_p50_ms']:.3f} ms vs "
              f"{t['native_p50_ms']:.3f} ms -> translation adds {t['added_p50_ms']:.3f} ms (target <= 0.1)")


if __name__ == "__main__":
    main()
