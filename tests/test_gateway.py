"""The gateway as users run it: a real `rulerouter serve` process, the official openai client."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx
import openai
import pytest

from rulerouter.testing import (
    EchoAuth,
    LoopbackUpstream,
    Reply,
    Reset,
    Status,
    StreamBreak,
)

from .gateway_helpers import GATEWAY_KEY, POLICY, UPSTREAM_KEY, Served, serve


@pytest.fixture(scope="module")
def gateway(upstream: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(upstream.base_url, tmp_path_factory.mktemp("gateway")) as served:
        yield served


@pytest.fixture
def client(gateway: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)


def test_sync_client_routes_and_reports_the_routing(up: LoopbackUpstream, client: openai.OpenAI) -> None:
    up.script("large", Reply("a proof", prompt_tokens=7, completion_tokens=3))
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": "prove it"}], max_tokens=30)
    completion = raw.parse()
    assert completion.choices[0].message.content == "a proof"
    assert completion.model == "large" and completion.usage.total_tokens == 10
    assert raw.headers["x-rulerouter-tier"] == "strong" and raw.headers["x-rulerouter-model"] == "large"
    assert raw.headers["x-rulerouter-rule"] == "hard" and raw.headers["x-rulerouter-attempts"] == "1"
    assert float(raw.headers["x-rulerouter-cost"]) == pytest.approx((7 * 10 + 3 * 20) / 1e6)
    sent = up.requests[0]
    assert sent.body["max_tokens"] == 30 and "metadata" not in sent.body
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"  # the gateway's key upstream, never the client's


def test_model_names_a_tier_or_a_model(up: LoopbackUpstream, client: openai.OpenAI) -> None:
    for model, used, rule in (("strong", "large", "(forced tier)"), ("small", "small", "(forced model)")):
        raw = client.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": "hi"}])
        assert raw.parse().model == used and raw.headers["x-rulerouter-rule"] == rule  # never "(default)"


def test_metadata_from_the_body_and_from_the_header(up: LoopbackUpstream, gateway: Served, tmp_path: Path) -> None:
    policy = POLICY.format(base_url=up.base_url, log=tmp_path / "e.jsonl") + '\n[[rules]]\nname = "vip"\nwhen.metadata = { path = "$.plan", eq = "vip" }\ntier = "strong"\n'
    with serve(up.base_url, tmp_path, policy_text=policy) as served:
        c = openai.OpenAI(base_url=served.base_url, api_key="x", max_retries=0)
        body = c.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], extra_body={"metadata": {"plan": "vip"}})
        header = c.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], extra_headers={"X-Rulerouter-Metadata": '{"plan": "vip"}'})
        plain = c.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert (body.model, header.model, plain.model) == ("large", "large", "small")


def test_async_client(up: LoopbackUpstream, gateway: Served) -> None:
    async def go() -> list[str]:
        async with openai.AsyncOpenAI(base_url=gateway.base_url, api_key="x", max_retries=0) as c:
            results = await asyncio.gather(*(c.chat.completions.create(model="auto", messages=[{"role": "user", "content": f"q{i}"}]) for i in range(20)))
        return [r.choices[0].message.content for r in results]

    assert asyncio.run(go()) == ["ok"] * 20


def test_streaming_with_fallback_before_the_first_chunk(up: LoopbackUpstream, client: openai.OpenAI) -> None:
    up.script("small", Status(503))
    up.script("large", Reply("streamed from the fallback"))
    stream = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed from the fallback"
    assert {c.model for c in chunks} == {"large"}
    assert all(c.choices for c in chunks)  # the usage chunk we asked for is not forwarded unrequested
    assert [r.model for r in up.requests] == ["small", "large"]


def test_streaming_usage_when_asked(up: LoopbackUpstream, client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_stream_that_breaks_midway_ends_with_an_error_event(up: LoopbackUpstream, gateway: Served) -> None:
    up.script("small", StreamBreak(after_chunks=2, content="one two three four"))
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", json={"model": "auto", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as response:
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert [json.loads(e)["choices"][0]["delta"]["content"] for e in events[:2]] == ["one ", "two "]
    error = json.loads(events[-1])["error"]
    assert error["code"] == "stream_interrupted" and "2 chunk(s)" in error["message"]
    assert "[DONE]" not in events


def test_client_that_disconnects_mid_stream(up: LoopbackUpstream, gateway: Served, client: openai.OpenAI) -> None:
    up.script("small", Reply("word " * 20000))
    sock = socket.create_connection(("127.0.0.1", int(gateway.root.rsplit(":", 1)[1])))
    body = json.dumps({"model": "auto", "stream": True, "messages": [{"role": "user", "content": "long"}]}).encode()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert b"200 OK" in sock.recv(4096)
    sock.close()  # gone after the first bytes
    assert client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "still up?"}]).choices[0].message.content == "ok"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        metrics = httpx.get(f"{gateway.root}/metrics").text
        if 'outcome="cancelled"' in metrics:
            break
        time.sleep(0.05)
    assert 'outcome="cancelled"' in metrics  # the client left: recorded as such


@pytest.mark.parametrize(
    ("body", "status", "param", "fragment"),
    [
        (b"{", 400, None, "not valid JSON"),
        (b"\xff\xfe", 400, None, "not UTF-8"),
        (b"[]", 400, None, "must be a JSON object"),
        (b'{"messages": []}', 400, "messages", "at least one message"),
        (b'{"messages": [{"role": "user", "content": 5}]}', 400, "messages[0].content", "string or an array"),
        (b'{"messages": [{"role": "wizard", "content": "x"}]}', 400, "messages[0].role", "must be one of"),
        (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"}', 400, "max_tokens", "integer"),
        (b'{"messages": [{"role": "user", "content": "x"}], "temperature": true}', 400, "temperature", "number"),
        (b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}', 400, "stream", "true or false"),
        (b'{"messages": [{"role": "user", "content": "x"}], "metadata": [1]}', 400, "metadata", "an object"),
        (b'{"messages": [{"role": "user", "content": "x"}], "model": "gpt-9"}', 404, "model", "unknown model 'gpt-9'"),
    ],
)
def test_client_mistakes_get_openai_shaped_4xx(gateway: Served, body: bytes, status: int, param: str | None, fragment: str) -> None:
    response = httpx.post(f"{gateway.base_url}/chat/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert fragment in error["message"] and error["param"] == param and error["type"]


def test_bad_metadata_header(gateway: Served) -> None:
    response = httpx.post(f"{gateway.base_url}/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}, headers={"x-rulerouter-metadata": "{nope"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "X-Rulerouter-Metadata"


def test_body_over_the_limit_is_413(up: LoopbackUpstream, tmp_path: Path) -> None:
    with serve(up.base_url, tmp_path, args=("--max-body-bytes", "2048")) as served:
        big = {"messages": [{"role": "user", "content": "x" * 5000}]}
        response = httpx.post(f"{served.base_url}/chat/completions", json=big)
        assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
            yield b'{"messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}]}'

        response = httpx.post(f"{served.base_url}/chat/completions", content=chunks())
        assert response.status_code == 413


def test_every_attempt_failing_is_a_502_naming_each(up: LoopbackUpstream, client: openai.OpenAI) -> None:
    up.script("small", Status(500, message="small is down"))
    up.script("large", Reset())
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    message = caught.value.body["message"]
    assert "1. small (answer): error server_error 500: small is down" in message
    assert "2. large (answer): error connect" in message


def test_upstream_key_never_reaches_the_client(up: LoopbackUpstream, client: openai.OpenAI, gateway: Served) -> None:
    up.script("small", EchoAuth(401))
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502  # our upstream credentials: not the client's fault
    assert UPSTREAM_KEY not in caught.value.response.text
    for path in ("/metrics", "/readyz", "/v1/models"):
        assert UPSTREAM_KEY not in httpx.get(gateway.root + path).text
    time.sleep(0.6)  # events are flushed in batches, at least every 0.2 s
    assert UPSTREAM_KEY not in gateway.log.read_text() and UPSTREAM_KEY not in "".join(gateway.stderr)


def test_models_metrics_health(gateway: Served) -> None:
    models = httpx.get(f"{gateway.base_url}/models").json()
    assert [m["id"] for m in models["data"]] == ["auto", "cheap", "strong", "small", "large"]
    assert httpx.get(f"{gateway.root}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.root}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = httpx.get(f"{gateway.root}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "rulerouter_requests_total" in metrics.text and "rulerouter_policy_generation 1" in metrics.text
    assert httpx.get(f"{gateway.root}/nope").status_code == 404
    assert httpx.delete(f"{gateway.root}/metrics").status_code == 405
    assert httpx.get(f"{gateway.base_url}/chat/completions").status_code == 405


def test_gateway_keys(up: LoopbackUpstream, tmp_path: Path) -> None:
    with serve(up.base_url, tmp_path, env_extra={"RULEROUTER_GATEWAY_KEYS": f"other-key, {GATEWAY_KEY}"}) as served:
        good = openai.OpenAI(base_url=served.base_url, api_key=GATEWAY_KEY, max_retries=0)
        assert good.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content == "ok"
        bad = openai.OpenAI(base_url=served.base_url, api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
        assert httpx.get(f"{served.base_url}/models").status_code == 401
        assert httpx.get(f"{served.root}/healthz").status_code == 200
    assert GATEWAY_KEY not in "".join(served.stderr)


def test_invalid_policy_refuses_to_start(up: LoopbackUpstream, tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.toml"
    bad.write_text('schema_version = 1\ndefault_tier = "x"\n[tiers]\ny = "m"\n')
    result = subprocess.run([sys.executable, "-m", "rulerouter", "serve", "-c", str(bad), "--port", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "RR201" in result.stderr and "Traceback" not in result.stderr


def test_reload_under_load_loses_nothing(up: LoopbackUpstream, tmp_path: Path) -> None:
    up.default(Reply("from the upstream", delay=0.002))
    with serve(up.base_url, tmp_path) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="x", max_retries=0)
        failures: list[str] = []
        models: list[str] = []
        stop = time.monotonic() + 3.0

        def load() -> None:
            while time.monotonic() < stop:
                try:
                    models.append(client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hello"}]).model)
                except Exception as exc:  # any failure is a lost request
                    failures.append(repr(exc))

        original = served.policy.read_text()
        with ThreadPoolExecutor(8) as pool:
            for _ in range(8):
                pool.submit(load)
            time.sleep(0.5)
            served.policy.write_text(original + "\n[[rules]\nbroken")  # invalid: keep serving the old policy
            time.sleep(0.5)
            served.policy.unlink()  # deleted: keep serving
            time.sleep(0.5)
            switched_at = time.monotonic()
            served.policy.write_text(original.replace('default_tier = "cheap"', 'default_tier = "strong"'))
            while time.monotonic() < switched_at + 1.0 and (not models or models[-1] != "large"):
                time.sleep(0.01)
            took = time.monotonic() - switched_at
        assert failures == []
        assert len(models) > 50 and models[0] == "small" and models[-1] == "large"
        assert took < 1.0  # a valid edit takes effect within a second
        deadline = time.monotonic() + 5  # events are flushed in batches
        while time.monotonic() < deadline and '"policy_reloaded"' not in served.log.read_text():
            time.sleep(0.05)
        events = [json.loads(line) for line in served.log.read_text().splitlines()]
        kinds = [e["event"] for e in events if e["event"].startswith("policy")]
        assert kinds[0] == "policy_loaded" and "policy_reload_failed" in kinds and kinds[-1] == "policy_reloaded"
        failed = [e for e in events if e["event"] == "policy_reload_failed"]  # the watcher may also catch a write half done
        assert any(":" in line and "RR001" in line for e in failed for line in e["errors"])  # diagnostics with line:col
        assert "rulerouter_policy_generation 2" in httpx.get(f"{served.root}/metrics").text


def test_sighup_reloads(up: LoopbackUpstream, tmp_path: Path) -> None:
    import signal

    with serve(up.base_url, tmp_path, args=("--watch-interval", "3600")) as served:  # only SIGHUP can reload
        client = openai.OpenAI(base_url=served.base_url, api_key="x", max_retries=0)
        ask = lambda: client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}]).model  # noqa: E731
        assert ask() == "small"
        served.policy.write_text(served.policy.read_text().replace('default_tier = "cheap"', 'default_tier = "strong"'))
        time.sleep(0.3)
        assert ask() == "small"  # no watcher: still the old policy
        served.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ask() != "large":
            time.sleep(0.05)
        assert ask() == "large"
        assert served.proc.poll() is None


def test_several_workers(up: LoopbackUpstream, tmp_path: Path) -> None:
    with serve(up.base_url, tmp_path, args=("--workers", "2")) as served:
        deadline = time.monotonic() + 30
        while True:  # the workers start after the supervisor has printed the address
            try:
                httpx.get(f"{served.root}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "".join(served.stderr)
                time.sleep(0.1)
        client = openai.OpenAI(base_url=served.base_url, api_key="x", max_retries=0)
        answers = [client.chat.completions.create(model="auto", messages=[{"role": "user", "content": f"q{i}"}]).choices[0].message.content for i in range(10)]
        assert answers == ["ok"] * 10
        deadline = time.monotonic() + 30
        while "rulerouter_workers_reporting 2" not in (text := httpx.get(f"{served.root}/metrics").text):
            # the second worker may still be starting (on a loaded machine, seconds after the first)
            assert time.monotonic() < deadline, text + "".join(served.stderr)
            time.sleep(0.1)
        time.sleep(0.7)  # past the half second in which each worker writes its counters
        answered_by: set[str] = set()
        for _ in range(12):  # a new connection each time: the kernel hands it to either worker
            scrape = httpx.get(f"{served.root}/metrics")
            answered_by.add(scrape.headers["x-rulerouter-worker"])
            totals = [float(line.rsplit(" ", 1)[1]) for line in scrape.text.splitlines() if line.startswith("rulerouter_requests_total{")]
            assert sum(totals) == 10 and "rulerouter_workers_reporting 2" in scrape.text
        print(f"\n/metrics answered by {len(answered_by)} worker(s), the same totals each time")
        served.proc.send_signal(__import__("signal").SIGTERM)
        assert served.proc.wait(30) in (0, -15)
    assert "internal error" not in "".join(served.stderr)
