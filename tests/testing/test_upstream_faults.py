"""Random fault mode: deterministic under a seed, weighted, and counted by kind."""

from __future__ import annotations

import json

import httpx
import pytest

from rulerouter.testing import (
    Faults,
    LoopbackUpstream,
    Malformed,
    Reply,
    Reset,
    Status,
    StreamBreak,
)

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def observe(client: httpx.Client) -> str:
    """What a client sees: "ok", or the kind of failure."""
    try:
        r = client.post("/chat/completions", json=BODY)
    except httpx.TransportError:
        return "transport"
    if r.status_code != 200:
        return f"status_{r.status_code}"
    try:
        return "ok" if r.json()["choices"][0]["message"]["content"] == "fine" else "wrong"
    except (ValueError, KeyError):
        return "bad body"


def run(faults: Faults, n: int) -> tuple[list[str], dict[str, int], list[str | None]]:
    with LoopbackUpstream(default=faults) as up, httpx.Client(base_url=up.base_url, timeout=5) as client:
        seen = [observe(client) for _ in range(n)]
        kinds = [r.behaviour.kind if r.injected else None for r in up.requests]
        return seen, up.injected, kinds


def test_the_same_seed_injects_the_same_sequence():
    first = run(Faults(rate=0.5, seed=7, otherwise=Reply("fine")), 60)
    second = run(Faults(rate=0.5, seed=7, otherwise=Reply("fine")), 60)
    other_seed = run(Faults(rate=0.5, seed=8, otherwise=Reply("fine")), 60)
    assert first == second
    assert first[2] != other_seed[2]


def test_counts_match_what_the_client_saw():
    seen, injected, kinds = run(Faults(rate=0.3, seed=1, otherwise=Reply("fine")), 300)
    failures = sum(1 for s in seen if s != "ok")
    assert failures == sum(injected.values())
    assert 50 <= failures <= 130  # rate 0.3 of 300, with generous room for chance
    assert set(injected) <= {"status_500", "status_503", "status_429", "reset", "malformed", "stream_break"}
    assert len(injected) >= 5  # the default kinds all turn up over 300 draws
    assert injected == {kind: kinds.count(kind) for kind in set(kinds) - {None}}
    assert seen.count("status_503") == injected.get("status_503", 0)
    assert seen.count("bad body") == injected.get("malformed", 0)


def test_weights_choose_the_kinds():
    faults = Faults(rate=1.0, kinds={Status(503): 3, Reset(): 1}, seed=3)
    _, injected, _ = run(faults, 200)
    assert set(injected) == {"status_503", "reset"}
    assert sum(injected.values()) == 200
    assert 120 <= injected["status_503"] <= 180  # expected 150


def test_a_sequence_of_kinds_means_equal_weights_and_rate_zero_injects_nothing():
    _, injected, _ = run(Faults(rate=1.0, kinds=[Malformed(), StreamBreak()]), 40)
    assert set(injected) == {"malformed", "stream_break"} and sum(injected.values()) == 40
    seen, injected, _ = run(Faults(rate=0.0, otherwise=Reply("fine")), 30)
    assert injected == {} and set(seen) == {"ok"}


def test_otherwise_may_be_a_hook():
    faults = Faults(rate=0.0, otherwise=lambda request: Reply(f"echo {request.prompt}"))
    with LoopbackUpstream(default=faults) as up:
        r = httpx.post(f"{up.base_url}/chat/completions", json=BODY)
    assert r.json()["choices"][0]["message"]["content"] == "echo hi"


def test_faults_per_model_and_clear_resets_the_counts():
    with LoopbackUpstream() as up, httpx.Client(base_url=up.base_url) as client:
        up.default(Faults(rate=1.0, kinds=[Status(500)]), model="flaky")
        assert client.post("/chat/completions", json={**BODY, "model": "flaky"}).status_code == 500
        assert client.post("/chat/completions", json={**BODY, "model": "steady"}).status_code == 200
        assert up.injected == {"status_500": 1}
        assert [r.injected for r in up.requests] == [True, False]
        up.clear()
        assert up.injected == {}


@pytest.mark.parametrize("kwargs", [
    {"rate": 1.5}, {"rate": -0.1}, {"kinds": {}}, {"kinds": {Status(500): 0}}, {"kinds": ["status_500"]},
    {"otherwise": "fine"}, {"otherwise": Faults()},
])
def test_invalid_faults_are_rejected(kwargs):
    with pytest.raises((ValueError, TypeError)):
        Faults(**kwargs)


def test_fault_kinds_are_named_for_counting():
    names = [b.kind for b in (Status(503), Status(429), Reset(), Malformed(), StreamBreak(), Reply())]
    assert names == ["status_503", "status_429", "reset", "malformed", "stream_break", "reply"]
    assert json.dumps(names)  # plain strings, ready for a soak report
