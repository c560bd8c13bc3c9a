"""Budgets and rate limits at the gateway: 429s in OpenAI's shape, per gateway key, with the openai client."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import openai
import pytest

from rulerouter.testing import LoopbackUpstream, Reply

from .gateway_helpers import POLICY, Served, serve

KEYS = "key-alpha-1111,key-beta-2222"
LIMITS = """
[[budgets]]
name = "per-key-daily"
limit_usd = 0.005
window = "day"
per = "key"

[[rate_limits]]
name = "team-rpm"
per = "$.team"
requests_per_minute = 2
"""


@pytest.fixture(scope="module")
def limited(upstream: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("limited")
    policy = POLICY.format(base_url=upstream.base_url, log=tmp / "events.jsonl") + LIMITS
    with serve(upstream.base_url, tmp, policy_text=policy, env_extra={"RULEROUTER_GATEWAY_KEYS": KEYS}) as served:
        yield served


def client(served: Served, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url, api_key=key, max_retries=0)


def test_a_spent_budget_is_a_429_naming_the_budget(up: LoopbackUpstream, limited: Served) -> None:
    up.default(Reply("ok", prompt_tokens=1000, completion_tokens=500))  # $0.002 a request on `small`
    alpha = client(limited, "key-alpha-1111")
    ask = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}  # each in its own team: no rate limit here
    for i in range(2):
        alpha.chat.completions.create(**ask, extra_body={"metadata": {"team": f"a{i}"}})
    with pytest.raises(openai.RateLimitError) as caught:
        alpha.chat.completions.create(**ask, extra_body={"metadata": {"team": "a2"}})
    response = caught.value.response
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("insufficient_quota", "budget_exceeded", None)
    assert "budget 'per-key-daily' is spent for key-" in error["message"] and "it resets at" in error["message"]
    assert response.headers["x-rulerouter-budget"] == "per-key-daily"
    assert response.headers["x-rulerouter-budget-resets-at"].endswith("T00:00:00Z")
    assert "retry-after" not in response.headers
    assert "key-alpha-1111" not in response.text  # the key is named by its id, never itself
    # Another key has its own budget; a stream is refused the same way, before any byte.
    client(limited, "key-beta-2222").chat.completions.create(**ask, extra_body={"metadata": {"team": "b0"}})
    with httpx.stream("POST", f"{limited.base_url}/chat/completions", headers={"authorization": "Bearer key-alpha-1111"},
                      json={**ask, "stream": True, "metadata": {"team": "a3"}}) as streamed:
        assert streamed.status_code == 429 and b"budget_exceeded" in streamed.read()


def test_a_rate_limit_is_a_429_with_retry_after(up: LoopbackUpstream, limited: Served) -> None:
    beta = client(limited, "key-beta-2222")
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "extra_body": {"metadata": {"team": "search"}}}
    for _ in range(2):
        beta.chat.completions.create(**body)
    with pytest.raises(openai.RateLimitError) as caught:
        beta.chat.completions.create(**body)
    response = caught.value.response
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert "rate limit 'team-rpm' reached for search: 2 of 2 requests in the last minute" in error["message"]
    assert 1 <= int(response.headers["retry-after"]) <= 120
    assert response.headers["x-ratelimit-limit-requests"] == "2"
    metrics = httpx.get(f"{limited.root}/metrics").text
    assert 'rulerouter_refused_total{limit="team-rpm",reason="requests"} 1' in metrics
    assert 'rulerouter_refused_total{limit="per-key-daily",reason="budget"}' in metrics


def test_refusals_are_events(limited: Served, tmp_path: Path) -> None:
    import json
    import time

    time.sleep(0.5)  # events are written in batches, at least every 0.2 s
    events = [json.loads(line) for line in limited.log.read_text().splitlines()]
    refused = [e for e in events if e["event"] == "request_refused"]
    assert {e["limit"] for e in refused} >= {"per-key-daily"}
    assert all("key-alpha-1111" not in json.dumps(e) for e in events)
    counted = [e["budgets"] for e in events if e["event"] == "request" and "budgets" in e]
    assert counted and counted[0][0]["name"] == "per-key-daily" and counted[0][0]["scope"].startswith("key-")


def test_a_reload_keeps_what_was_spent(tmp_path: Path) -> None:
    import asyncio

    from rulerouter.gateway.hot_reload import PolicyHolder
    from rulerouter.policy.load import check_file

    path = tmp_path / "p.toml"
    path.write_text(POLICY.format(base_url="http://127.0.0.1:9/v1", log="off") + LIMITS)
    holder = PolicyHolder(path, check_file(path), env=None, log=None)
    first = holder.router
    path.write_text(path.read_text() + '\n[[rules]]\nname = "new"\nwhen.keywords.any = ["x"]\ntier = "strong"\n')
    assert asyncio.run(holder.reload("test"))
    assert holder.router is not first and holder.router.state is first.state is holder.state


def test_the_anthropic_door_renders_refusals_in_anthropics_shape(up: LoopbackUpstream, tmp_path: Path) -> None:
    anthropic = pytest.importorskip("anthropic")
    policy = POLICY.format(base_url=up.base_url, log=tmp_path / "events.jsonl") + LIMITS
    up.default(Reply("ok", prompt_tokens=1000, completion_tokens=500))  # $0.002 a request on `small`
    with serve(up.base_url, tmp_path, policy_text=policy, env_extra={"RULEROUTER_GATEWAY_KEYS": KEYS}) as served:
        alpha = anthropic.Anthropic(base_url=served.root, api_key="key-alpha-1111", max_retries=0)
        ask = {"model": "auto", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
        for team in ("search", "search"):
            alpha.messages.create(**ask, metadata={"team": team})
        with pytest.raises(anthropic.RateLimitError) as caught:  # the team's rate limit
            alpha.messages.create(**ask, metadata={"team": "search"})
        body = caught.value.response.json()
        assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
        assert "rate limit 'team-rpm' reached for search" in body["error"]["message"]
        assert 1 <= int(caught.value.response.headers["retry-after"]) <= 120
        alpha.messages.create(**ask, metadata={"team": "other"})  # $0.006 spent: past the key's budget
        with pytest.raises(anthropic.RateLimitError) as caught:
            alpha.messages.create(**ask, metadata={"team": "another"})
        assert "budget 'per-key-daily' is spent for key-" in caught.value.response.json()["error"]["message"]
        assert caught.value.response.headers["x-rulerouter-budget"] == "per-key-daily"
        with httpx.stream("POST", f"{served.root}/v1/messages", headers={"x-api-key": "key-alpha-1111"},
                          json={**ask, "stream": True, "metadata": {"team": "t"}}) as streamed:
            assert streamed.status_code == 429 and b'"rate_limit_error"' in streamed.read()  # refused before any event
        assert "key-alpha-1111" not in caught.value.response.text
