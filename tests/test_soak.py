"""Soak under faults: thousands of requests, ~30 % of upstream replies broken, nothing lost.

The suite runs the short form (a few hundred requests each way, seconds); `make soak` runs the
long form (RULEROUTER_SOAK=long: 5,000 through the library and 5,000 through the gateway).
Every request carries its own id, which the upstream echoes, so a lost, duplicated or crossed
answer cannot go unnoticed. Asserted: every request ends in its own correct answer or in one
error that names its attempts; none hangs; attempts never exceed the caps; a retry after a 429
waited at least its Retry-After; the circuit breaker opens on a dead model and closes once it
recovers; memory does not grow with the number of requests. A summary table is printed.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rulerouter import Router
from rulerouter.execute.result import ExecutionError
from rulerouter.execute.transport.pool import FastAsyncTransport
from rulerouter.testing import (
    ContextLengthExceeded,
    Faults,
    LoopbackUpstream,
    Malformed,
    RecordedRequest,
    Reply,
    Reset,
    Slow,
    Status,
    StreamBreak,
)

from .gateway_helpers import serve

pytestmark = pytest.mark.soak

LONG = os.environ.get("RULEROUTER_SOAK") == "long"
LIBRARY_REQUESTS = 5000 if LONG else 400
GATEWAY_REQUESTS = 5000 if LONG else 300
MAX_ATTEMPTS, JUDGE_ATTEMPTS = 4, 2

POLICY = """
schema_version = 1
default_tier = "cheap"
[tiers]
cheap = "small"
mid = "medium"
strong = "large"
fragile = "dead"
[providers.up]
base_url = "{base_url}"
timeout_s = 0.3
connect_timeout_s = 1
[models.small]
price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
context_window = 8000
fallback = ["medium", "large"]
[models.medium]
price = {{ input_per_mtok = 3.0, output_per_mtok = 6.0 }}
context_window = 8000
fallback = ["large"]
[models.large]
price = {{ input_per_mtok = 10.0, output_per_mtok = 20.0 }}
context_window = 128000
fallback = ["small"]
[models.dead]
price = {{ input_per_mtok = 1.0, output_per_mtok = 1.0 }}
fallback = ["large"]
[retry]
max_attempts = {max_attempts}
retries_per_model = 1
backoff_initial_s = 0.001
backoff_max_s = 0.01
retry_after_max_s = 0.5
[circuit_breaker]
failure_threshold = 5
cooldown_s = 0.3
[verification]
enabled = true
tiers = ["cheap"]
judge_tier = "mid"
threshold = 0.5
escalate_to = "strong"
on_unparsable = "keep"
sample_rate = 0.3
max_attempts = {judge_attempts}
[[rules]]
name = "fragile"
when.keywords.any = ["fragile"]
tier = "fragile"
[[rules]]
name = "hard"
when.keywords.any = ["hard"]
tier = "strong"
"""

FAULTS = {
    Status(500): 1.0,
    Status(503): 1.0,
    Status(429, retry_after=0.02): 1.0,
    Slow(1.0): 0.5,  # past the 0.3 s timeout
    Reset(): 1.0,
    Malformed(): 1.0,
    StreamBreak(after_chunks=2): 1.0,
    ContextLengthExceeded(): 0.5,
}
ID = re.compile(r"req-(\d+)")


def answer(request: RecordedRequest) -> Any:
    """Echo the request's id; as a judge, sometimes reply with no score at all."""
    prompt = request.prompt
    if prompt.startswith("Rate the quality"):
        number = int(ID.search(prompt).group(1)) if ID.search(prompt) else 0
        return Reply(("I cannot rate this.", "0.9", "0.2")[number % 3])
    found = ID.search(prompt)
    return Reply(f"echo {found.group(0) if found else '?'}")


def policy_text(base_url: str) -> str:
    return POLICY.format(base_url=base_url, max_attempts=MAX_ATTEMPTS, judge_attempts=JUDGE_ATTEMPTS)


def check_caps(attempts: list[Any]) -> None:
    real = collections.Counter(a.purpose for a in attempts if a.outcome != "skipped")
    assert real["answer"] <= MAX_ATTEMPTS and real["judge"] <= JUDGE_ATTEMPTS and real["escalation"] <= JUDGE_ATTEMPTS, real
    for before, after in zip(attempts, attempts[1:]):
        if before.error_kind == "rate_limited" and before.retry_after_s and after.model == before.model and after.outcome != "skipped":
            assert after.waited_s >= before.retry_after_s  # Retry-After honoured


def table(title: str, rows: dict[str, Any]) -> str:
    width = max(len(k) for k in rows)
    return "\n".join([title] + [f"  {k:<{width}}  {v}" for k, v in rows.items()])


async def library_soak(router: Router, up: LoopbackUpstream) -> dict[str, Any]:
    outcomes: dict[int, tuple[str, str | None]] = {}  # kept small: the test must not be the leak
    skipped_dead = 0
    histogram: collections.Counter[int] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    objects_at: list[int] = []

    async def one(number: int) -> None:
        nonlocal skipped_dead
        prompt = f"question req-{number}" + (" fragile" if number % 10 == 0 else "") + (" hard" if number % 13 == 0 else "")
        try:
            result = await asyncio.wait_for(router.acomplete(prompt, max_tokens=50), timeout=30)
        except ExecutionError as error:
            assert error.attempts and all(a.model in str(error) for a in error.attempts)
            attempts, kind, model = error.attempts, type(error).__name__, None
        else:
            assert result.content == f"echo req-{number}", (number, result.content)  # its own answer
            attempts, kind, model = result.attempts, "answered", result.model_used
        check_caps(attempts)
        kinds[kind] += 1
        histogram[len([a for a in attempts if a.outcome != "skipped"])] += 1
        skipped_dead += sum(1 for a in attempts if a.model == "dead" and a.error_kind == "circuit_open")
        assert number not in outcomes  # never twice
        outcomes[number] = (kind, model)

    semaphore = asyncio.Semaphore(16)

    async def limited(number: int) -> None:
        async with semaphore:
            await one(number)

    half = LIBRARY_REQUESTS // 2
    up.default(Status(503), model="dead")  # a dead model for the first half
    await asyncio.gather(*(limited(n) for n in range(half // 4)))
    await asyncio.sleep(0)  # let the step that finished the gather end: it still holds every task
    gc.collect()
    objects_at.append(len(gc.get_objects()))
    await asyncio.gather(*(limited(n) for n in range(half // 4, half)))
    snapshot = router.executor.breakers.snapshot()["dead"]
    assert snapshot["times_opened"] >= 1  # the breaker opened on the dead model
    assert skipped_dead > 0
    up.default(Faults(rate=0.3, kinds=FAULTS, seed=2, otherwise=answer), model="dead")  # it recovers
    await asyncio.sleep(0.35)  # cool-down
    await asyncio.gather(*(limited(n) for n in range(half, LIBRARY_REQUESTS)))
    await asyncio.sleep(0)
    gc.collect()
    objects_at.append(len(gc.get_objects()))
    assert router.executor.breakers.snapshot()["dead"]["state"] == "closed"  # and closed again
    assert any(model == "dead" for n, (_, model) in outcomes.items() if n >= half)
    assert sorted(outcomes) == list(range(LIBRARY_REQUESTS))  # none lost
    return {"outcomes": kinds, "histogram": histogram, "objects": objects_at, "skipped_dead": skipped_dead, "opened": snapshot["times_opened"]}


def test_library_soak(capsys: pytest.CaptureFixture[str]) -> None:
    with LoopbackUpstream(record=False, default=Faults(rate=0.3, kinds=FAULTS, seed=1, otherwise=answer)) as upstream:
        router = Router.from_toml(policy_text(upstream.base_url))
        started = time.monotonic()

        async def go() -> dict[str, Any]:
            try:
                return await library_soak(router, upstream)
            finally:
                await router.aclose()

        figures = asyncio.run(go())
        injected = dict(sorted(upstream.injected.items()))
    elapsed = time.monotonic() - started
    growth = figures["objects"][1] - figures["objects"][0]
    assert growth < 1000, f"{growth} more live objects after {LIBRARY_REQUESTS} requests"
    summary = router.metrics.summary()
    assert summary["total_requests"] == LIBRARY_REQUESTS
    with capsys.disabled():
        print()
        print(table(f"library soak: {LIBRARY_REQUESTS} requests in {elapsed:.1f} s", {
            "faults injected": injected,
            "outcomes": dict(figures["outcomes"]),
            "attempts per request": dict(sorted(figures["histogram"].items())),
            "dead model: breaker opened / skips": f"{figures['opened']} / {figures['skipped_dead']}",
            "fallback rate": f"{summary['fallback_rate']:.1%}",
            "escalation rate": f"{summary['escalation_rate']:.1%}",
            "live objects growth": growth,
        }))


async def gateway_soak(base_url: str) -> dict[str, Any]:
    outcomes: collections.Counter[str] = collections.Counter()
    seen: set[int] = set()
    transport = FastAsyncTransport()
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30) as client:
        semaphore = asyncio.Semaphore(16)

        async def one(number: int) -> None:
            stream = number % 3 == 0
            body = {"model": "auto", "messages": [{"role": "user", "content": f"question req-{number}"}], "stream": stream}
            async with semaphore:
                if stream:
                    async with client.stream("POST", "/chat/completions", json=body) as response:
                        if response.status_code != 200:
                            error = json.loads(await response.aread())["error"]
                            assert response.status_code in (400, 502) and "1. " in error["message"], error
                            outcomes[f"stream error {response.status_code}"] += 1
                        else:
                            events = [line[6:] async for line in response.aiter_lines() if line.startswith("data: ")]
                            if events[-1] == "[DONE]":
                                text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1] if json.loads(e)["choices"])
                                assert text == f"echo req-{number}", text
                                outcomes["stream answered"] += 1
                            else:
                                assert json.loads(events[-1])["error"]["code"] == "stream_interrupted"
                                outcomes["stream interrupted after the first chunk"] += 1
                else:
                    response = await client.post("/chat/completions", json=body)
                    if response.status_code == 200:
                        assert response.json()["choices"][0]["message"]["content"] == f"echo req-{number}"
                        outcomes["answered"] += 1
                    else:
                        error = response.json()["error"]
                        assert response.status_code in (400, 502) and "1. " in error["message"], error
                        outcomes[f"error {response.status_code}"] += 1
            assert number not in seen
            seen.add(number)

        await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(GATEWAY_REQUESTS))), timeout=600)
    assert seen == set(range(GATEWAY_REQUESTS))
    return {"outcomes": outcomes}


def rss_mib(pid: int) -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024  # type: ignore[union-attr]


def test_gateway_soak(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with LoopbackUpstream(record=False, default=Faults(rate=0.3, kinds=FAULTS, seed=3, otherwise=answer)) as upstream:
        run_gateway_soak(upstream, tmp_path, capsys)


def run_gateway_soak(upstream: LoopbackUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = policy_text(upstream.base_url) + f'\n[log]\ndestination = "{tmp_path / "events.jsonl"}"\n'
    with serve(upstream.base_url, tmp_path, policy_text=text) as served:
        httpx.post(f"{served.base_url}/chat/completions", json={"messages": [{"role": "user", "content": "warm up req-0"}]}, timeout=30)
        before = rss_mib(served.proc.pid)
        started = time.monotonic()
        figures = asyncio.run(gateway_soak(served.base_url))
        elapsed = time.monotonic() - started
        after = rss_mib(served.proc.pid)
        metrics = httpx.get(f"{served.root}/metrics").text
        assert served.proc.poll() is None  # still up
    served_total = sum(int(v) for v in re.findall(r"^rulerouter_requests_total\{.*\} (\d+)$", metrics, re.M))
    assert served_total >= GATEWAY_REQUESTS  # every request was routed and counted (plus the warm-up)
    assert after - before < 25, f"gateway memory grew from {before:.1f} to {after:.1f} MiB"
    with capsys.disabled():
        print()
        print(table(f"gateway soak: {GATEWAY_REQUESTS} requests in {elapsed:.1f} s", {
            "faults injected": dict(sorted(upstream.injected.items())),
            "outcomes": dict(figures["outcomes"]),
            "gateway memory": f"{before:.1f} -> {after:.1f} MiB",
        }))
