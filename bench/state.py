"""What shared state costs, and what it holds: Redis against the in-process backend, in one run.

Run on demand (`python bench/state.py`, needs redis-server and the `redis` extra); not part of
`make test`. The instant loopback upstream runs pinned to CPU 1, redis-server (started here on a
free port, in a temporary directory, no persistence) shares CPU 1, this process runs on CPU 0.

  1. concurrency 1, p50 per `acomplete()` of a policy with one budget and one rate limit: the
     in-process backend against Redis on loopback (one Lua call reserves on the request's path;
     settling is queued for the state thread). Target: Redis adds ≤ 0.3 ms. Also shown: the same
     policy without limits, and one bare PING for the round trip's floor.
  2. overshoot: 32 concurrent clients spread over two routers sharing Redis (two replicas),
     each sending until refused, against a $0.05 budget whose answers (from an in-process
     loopback upstream) each cost $0.0018 more than they reserve. Target: final spend ≤ limit +
     32 × $0.0018, the documented bound (requests in flight × cost beyond the reservation).
  3. a Redis restart: 32 concurrent clients send 4,000 requests while Redis is stopped and
     started again; every request must be answered, and the counter must equal the sum of the
     costs afterwards. Target: 0 lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import start_upstream  # noqa: E402
from rulerouter import BudgetExceeded, Router  # noqa: E402
from rulerouter.testing import LoopbackUpstream, Reply  # noqa: E402
from tests.redis_server import RedisServer, missing  # noqa: E402

POLICY = """
schema_version = 1
default_tier = "cheap"
[tiers]
cheap = "cheap-model"
[providers.up]
base_url = "{base_url}"
timeout_s = 10
[models.cheap-model]
price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
"""
LIMITS = """
[[budgets]]
name = "global"
limit_usd = {limit}
window = "day"
reserve_output_tokens = {reserve}
[[rate_limits]]
name = "per-key"
per = "key"
requests_per_minute = 100000000
"""
STATE = """
[state]
redis_url_env = "BENCH_REDIS_URL"
"""


def router(base_url: str, redis_url: str | None, *, limits: bool = True, limit: float = 1e9, reserve: int = 1000) -> Router:
    text = POLICY.format(base_url=base_url) + (LIMITS.format(limit=limit, reserve=reserve) if limits else "")
    if redis_url:
        text += STATE
    return Router.from_toml(text, env={"BENCH_REDIS_URL": redis_url or ""})


async def p50_ms(r: Router, n: int) -> float:
    times = []
    for i in range(n):
        start = time.perf_counter()
        await r.acomplete("Summarise the meeting notes in three bullet points.", client="bench", max_tokens=50)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def latency(base_url: str, redis_url: str, n: int, rounds: int) -> None:
    routers = {"no limits": router(base_url, None, limits=False), "in-process": router(base_url, None),
               "redis": router(base_url, redis_url)}
    for r in routers.values():
        await p50_ms(r, 200)  # warm up: connections, caches, scripts loaded
    results: dict[str, list[float]] = {name: [] for name in routers}
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits each alike
        for name, r in routers.items():
            results[name].append(await p50_ms(r, n))
    p50 = {name: statistics.median(v) for name, v in results.items()}
    print(f"1. p50 per acomplete() at concurrency 1 ({rounds} rounds x {n} calls, median of the rounds' p50s)")
    for name, value in p50.items():
        print(f"   {name:<12} {value:.3f} ms")
    added = p50["redis"] - p50["in-process"]
    print(f"   Redis adds {added:+.3f} ms p50 over the in-process backend (ratio {p50['redis'] / p50['in-process']:.2f}); target <= 0.3 ms")
    import redis

    client = redis.Redis.from_url(redis_url)
    pings = []
    for _ in range(2000):
        start = time.perf_counter()
        client.ping()
        pings.append(time.perf_counter() - start)
    print(f"   for scale, one bare redis-py PING in the same run: {statistics.median(pings) * 1000:.3f} ms p50 "
          f"(the request path makes one Lua call; settling is off it unless a request cost more than it reserved)")
    for r in routers.values():
        await r.aclose()


async def overshoot(server: RedisServer) -> None:
    server.client().flushall()
    with LoopbackUpstream() as up:
        up.default(Reply("ok", prompt_tokens=1000, completion_tokens=500))  # $0.002 an answer
        replicas = [router(up.base_url, server.url, limit=0.05, reserve=100) for _ in range(2)]
        reservation = (1 * 1.0 + 100 * 2.0) / 1e6  # "hi" is 1 token in; 100 tokens out reserved
        costs: list[float] = []

        async def client(i: int) -> None:
            while True:
                try:
                    costs.append((await replicas[i % 2].acomplete("hi", client=f"c{i}")).cost or 0.0)
                except BudgetExceeded:
                    return

        await asyncio.gather(*(client(i) for i in range(32)))
        for r in replicas:
            await r.aclose()
    spent = sum(float(server.client().get(k)) for k in server.client().keys("rulerouter:b:global:*"))
    bound = 32 * (0.002 - reservation)
    print(f"2. overshoot, 32 concurrent clients on 2 replicas, $0.05 budget, each answer $0.002 against a ${reservation:.6f} reservation:")
    print(f"   {len(costs)} answered, spent ${spent:.4f} (the counter equals the sum of the costs: {abs(spent - sum(costs)) < 1e-9}); "
          f"overshoot ${spent - 0.05:.4f}, bound 32 x ${0.002 - reservation:.6f} = ${bound:.4f}: within {spent - 0.05 <= bound}")


async def restart(base_url: str, server: RedisServer, total: int) -> None:
    server.client().flushall()
    replicas = [router(base_url, server.url) for _ in range(2)]
    costs: list[float] = []
    errors: list[str] = []
    queue = iter(range(total))

    async def client(i: int) -> None:
        for _ in queue:
            try:
                costs.append((await replicas[i % 2].acomplete("hi", client=f"c{i}")).cost or 0.0)
            except Exception as exc:  # counted: the target is that none happens
                errors.append(type(exc).__name__)

    async def bounce() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(32)), bounce())
    elapsed = time.perf_counter() - started
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(r.state.health()["available"] for r in replicas):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    spent = sum(float(server.client().get(k)) for k in server.client().keys("rulerouter:b:global:*"))
    print(f"3. Redis stopped and restarted mid-run: {total} requests by 32 clients in {elapsed:.1f} s, {len(costs)} answered, "
          f"{len(errors)} lost; counter ${spent:.6f} vs sum of costs ${sum(costs):.6f}")
    for r in replicas:
        await r.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per round (default 500)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    reason = missing()
    if reason:
        raise SystemExit(f"bench/state.py: {reason}")
    if sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    upstream, base_url = start_upstream()
    server = RedisServer(Path(tempfile.mkdtemp(prefix="bench-redis-")))
    server.start()
    try:
        asyncio.run(latency(base_url, server.url, args.calls, args.rounds))
        asyncio.run(overshoot(server))
        asyncio.run(restart(base_url, server, 4000))
    finally:
        server.stop()
        upstream.terminate()


if __name__ == "__main__":
    main()
