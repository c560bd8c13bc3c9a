"""The upstream from async code: on the caller's loop, or on its own thread."""

from __future__ import annotations

import asyncio
import threading

import httpx

from rulerouter.testing import LoopbackUpstream, Reply, Slow, Status

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_async_with_serves_on_the_running_loop():
    async def main() -> None:
        threads = threading.active_count()
        async with LoopbackUpstream() as up:
            assert threading.active_count() == threads  # no thread: this loop serves it
            up.script("m", Status(503), Reply("second"))
            async with httpx.AsyncClient(base_url=up.base_url) as client:
                first = await client.post("/chat/completions", json=BODY)
                second = await client.post("/chat/completions", json=BODY)
            assert first.status_code == 503
            assert second.json()["choices"][0]["message"]["content"] == "second"
            assert len(up.requests) == 2

    asyncio.run(main())


def test_async_streaming():
    async def main() -> list[str]:
        async with LoopbackUpstream(default=Reply("a b c")) as up:
            async with httpx.AsyncClient(base_url=up.base_url) as client:
                async with client.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as r:
                    return [line async for line in r.aiter_lines() if line.startswith("data: ")]

    lines = asyncio.run(main())
    assert lines[-1] == "data: [DONE]"
    assert len(lines) == 5  # three deltas, the finishing chunk, [DONE]


def test_slow_answers_wait_concurrently():
    async def main() -> int:
        async with LoopbackUpstream(default=Slow(2.0)) as up:
            async with httpx.AsyncClient(base_url=up.base_url, timeout=30) as client:
                pending = [asyncio.ensure_future(client.post("/chat/completions", json=BODY)) for _ in range(20)]
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                arrived_before_first_answer = len(up.requests)
                responses = await asyncio.gather(*pending)
                assert all(r.status_code == 200 for r in responses)
                return arrived_before_first_answer

    # Served one after another, only one request would have arrived when the first answer came.
    assert asyncio.run(main()) == 20


def test_astart_and_astop_explicitly():
    async def main() -> int:
        up = await LoopbackUpstream().astart()
        port = up.port
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{up.url}/healthz")).status_code == 200
        await up.astop()
        await up.astop()  # harmless
        async with httpx.AsyncClient() as client:
            try:
                await client.get(f"http://127.0.0.1:{port}/healthz")
            except httpx.ConnectError:
                return port
        raise AssertionError("the port still answers after astop()")

    asyncio.run(main())


def test_a_threaded_upstream_works_with_an_async_client():
    async def main(up: LoopbackUpstream) -> int:
        async with httpx.AsyncClient(base_url=up.base_url) as client:
            return (await client.post("/chat/completions", json=BODY)).status_code

    with LoopbackUpstream() as up:
        assert asyncio.run(main(up)) == 200
