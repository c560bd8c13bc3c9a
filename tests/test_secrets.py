"""No key ever leaks: recognisable upstream and gateway keys, every path, every output scanned."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import openai
import pytest

from rulerouter import Router
from rulerouter.cli import main
from rulerouter.execute.result import ExecutionError
from rulerouter.testing import (
    EchoAuth,
    LoopbackUpstream,
    Reply,
    Reset,
    Status,
    StreamBreak,
)

from .gateway_helpers import GATEWAY_KEY, UPSTREAM_KEY, serve

POLICY = """
schema_version = 1
default_tier = "cheap"
[tiers]
cheap = "small"
[providers.up]
base_url = "{base_url}"
api_key_env = "GATEWAY_TEST_UPSTREAM_KEY"
headers = {{ "X-Org" = "acme" }}
[models.small]
price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
fallback = ["large"]
[models.large]
price = {{ input_per_mtok = 10.0, output_per_mtok = 20.0 }}
[retry]
retries_per_model = 0
[verification]
enabled = true
tiers = ["cheap"]
judge_tier = "cheap"
threshold = 0.5
escalate_to = "cheap"
[log]
destination = "{log}"
include_text = true
"""

KEYS = (UPSTREAM_KEY, GATEWAY_KEY)


def assert_clean(text: str, where: str) -> None:
    for key in KEYS:
        assert key not in text, f"a key leaked into {where}"


def test_library_paths(up: LoopbackUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GATEWAY_TEST_UPSTREAM_KEY", UPSTREAM_KEY)
    log = tmp_path / "events.jsonl"
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.format(base_url=up.base_url, log=log))
    router = Router.from_file(policy)
    seen: list[str] = [repr(router), repr(router.policy), str(router.policy.model_dump())]
    # Success, fallback, judge, a key pasted into the prompt, upstreams that echo the key back.
    up.script("small", Reply("fine"), Reply("0.9"), EchoAuth(401))
    result = router.complete(f"please use {UPSTREAM_KEY} for this")
    seen += [repr(result), str(result.to_dict()), repr(result.attempts)]
    with pytest.raises(ExecutionError) as caught:
        router.complete("second")
    seen += [str(caught.value), repr(caught.value), repr(caught.value.attempts)]
    up.script("small", EchoAuth(500))
    up.script("large", EchoAuth(503))
    with pytest.raises(ExecutionError) as caught:
        router.complete("third")
    seen += [str(caught.value), repr(caught.value.attempts)]
    up.script("small", StreamBreak(after_chunks=1))
    stream = router.stream("fourth")
    with pytest.raises(ExecutionError) as caught:
        list(stream)
    seen += [str(caught.value), repr(stream.attempts)]

    async def run_async() -> None:
        up.script("small", EchoAuth(429))
        up.script("large", Reset())
        with pytest.raises(ExecutionError) as failed:
            await router.acomplete("fifth")
        seen.append(str(failed.value))
        await router.aclose()

    asyncio.run(run_async())
    seen += [json.dumps(router.metrics.summary()), router.metrics.prometheus()]
    router.close()
    seen.append(log.read_text())
    for fmt in ("text", "json", "html"):
        assert main(["report", str(log), "-c", str(policy), "--baseline", "large", "--format", fmt]) == 0
    captured = capsys.readouterr()
    seen += [captured.out, captured.err]
    for index, text in enumerate(seen):
        assert_clean(text, f"output #{index}")
    assert "[redacted]" in log.read_text()  # the echoed key and the pasted one were there to find


def test_gateway_paths(up: LoopbackUpstream, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    text = POLICY.format(base_url=up.base_url, log=log)
    with serve(up.base_url, tmp_path, policy_text=text, env_extra={"RULEROUTER_GATEWAY_KEYS": GATEWAY_KEY}) as served:
        client = openai.OpenAI(base_url=served.base_url, api_key=GATEWAY_KEY, max_retries=0)
        bodies = []
        up.script("small", EchoAuth(401))
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
        bodies.append(caught.value.response.text)
        up.script("small", EchoAuth(500), EchoAuth(500))
        up.script("large", Status(500))
        for stream in (False, True):
            response = httpx.post(f"{served.base_url}/chat/completions", headers={"authorization": f"Bearer {GATEWAY_KEY}"},
                                  json={"messages": [{"role": "user", "content": f"leak {GATEWAY_KEY}"}], "stream": stream})
            bodies.append(response.text + str(response.headers))
        wrong = httpx.post(f"{served.base_url}/chat/completions", headers={"authorization": f"Bearer {GATEWAY_KEY}x"}, json={"messages": []})
        bodies.append(wrong.text + str(wrong.headers))
        for path in ("/metrics", "/readyz", "/healthz"):
            bodies.append(httpx.get(served.root + path).text)
        bodies.append(httpx.get(served.base_url + "/models", headers={"authorization": f"Bearer {GATEWAY_KEY}"}).text)
    bodies += ["".join(served.stderr), log.read_text()]
    for index, body in enumerate(bodies):
        assert_clean(body, f"gateway output #{index}")
