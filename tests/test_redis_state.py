"""The Redis state backend with a real redis-server: routers in one process standing in for replicas.

The multi-process proof (three `rulerouter serve` processes under the openai client) is
tests/test_replicas.py; these pin down each behaviour on its own, quickly.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

import pytest

from rulerouter import BudgetExceeded, LimitExceeded, Router
from rulerouter.state.redis import RedisState
from rulerouter.testing import LoopbackUpstream, Reply, Status

from .redis_server import RedisServer

POLICY = """
schema_version = 1
default_tier = "cheap"

[tiers]
cheap = "small"
strong = "large"

[providers.up]
base_url = "{base_url}"
timeout_s = 5

[models.small]
price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
fallback = ["large"]

[models.large]
price = {{ input_per_mtok = 10.0, output_per_mtok = 20.0 }}

[retry]
retries_per_model = 0

[circuit_breaker]
failure_threshold = 1
cooldown_s = 30

[state]
redis_url_env = "TEST_REDIS_URL"
sync_interval_ms = 50
on_unavailable = "{on_unavailable}"

[[budgets]]
name = "global"
limit_usd = {limit}
window = "day"
"""

ANSWER = Reply("ok", prompt_tokens=1000, completion_tokens=500)  # $0.002 on small


@pytest.fixture
def replicas(up: LoopbackUpstream, redis_url: str) -> Iterator[Callable[..., list[Router]]]:
    """Make routers sharing the test's Redis; closed at the end (their sync threads too)."""
    made: list[Router] = []

    def make(n: int = 2, *, limit: float = 1.0, on_unavailable: str = "local") -> list[Router]:
        text = POLICY.format(base_url=up.base_url, limit=limit, on_unavailable=on_unavailable)
        routers = [Router.from_toml(text, env={"TEST_REDIS_URL": redis_url}) for _ in range(n)]
        made.extend(routers)
        return routers

    yield make
    for router in made:
        router.close()


def spent(url: str, *routers: Router) -> float:
    """The counter on Redis, once the routers have settled what they queued."""
    import redis

    for router in routers:
        router.state.flush()

    client = redis.Redis.from_url(url)
    return sum(float(client.get(k)) for k in client.keys("rulerouter:b:global:*"))


def test_replicas_share_one_budget(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]]) -> None:
    up.default(ANSWER)
    a, b = replicas(limit=0.005)
    assert isinstance(a.state, RedisState)
    a.complete("hi")
    b.complete("hi")
    with pytest.raises(BudgetExceeded) as caught:
        a.complete("hi")
    # Spent and reserved: b's settlement (giving back $0.000001 of its reservation) may still be queued.
    assert caught.value.spent_usd == pytest.approx(0.004, abs=2e-6)
    assert spent(redis_url, a, b) == pytest.approx(0.004)


def test_concurrent_replicas_never_pass_the_limit(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]]) -> None:
    up.default(Reply("ok", prompt_tokens=1000, completion_tokens=500, delay=0.02))
    routers = replicas(4, limit=0.02)
    admitted: list[float] = []

    def worker(router: Router) -> None:
        for _ in range(6):
            try:
                admitted.append(router.complete("x" * 4000, max_tokens=500).cost)  # reserves what it costs
            except BudgetExceeded:
                pass

    threads = [threading.Thread(target=worker, args=(r,)) for r in routers for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 10 and spent(redis_url, *routers) == pytest.approx(sum(admitted)) == pytest.approx(0.02)


def test_a_circuit_opened_by_one_replica_is_respected_by_the_other(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]]) -> None:
    a, b = replicas()
    up.script("small", Status(503))
    assert a.complete("hi").model_used == "large"  # small failed once: its circuit opened (threshold 1)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and b.circuits().get("small", {}).get("state") != "open":
        time.sleep(0.01)
    result = b.complete("hi")
    assert [(x.model, x.outcome) for x in result.attempts] == [("small", "skipped"), ("large", "ok")]
    assert "opened by another replica" in (result.attempts[0].message or "")
    assert [r.model for r in up.requests] == ["small", "large", "large"]


def test_a_retry_after_told_to_one_replica_holds_for_the_other(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]]) -> None:
    a, b = replicas()
    up.script("small", Status(429, retry_after=60))
    a.complete("hi")
    time.sleep(0.2)  # past one sync interval
    result = b.complete("hi")
    assert result.attempts[0].outcome == "skipped" and "Retry-After" in (result.attempts[0].message or "")


def test_redis_away_fails_open_and_catches_up_when_it_returns_empty(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]], redis_server: RedisServer) -> None:
    up.default(ANSWER)
    (a,) = replicas(1)
    events: list[dict[str, Any]] = []
    a.observer.add_sink(events.append)
    a.complete("hi")
    redis_server.stop()  # its data is gone
    for _ in range(3):
        a.complete("hi")  # served on local state, counted locally
    assert a.state.health()["available"] is False
    redis_server.start()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not a.state.health()["available"]:
        time.sleep(0.02)
    kinds = [e["event"] for e in events if e["event"].startswith("state_")]
    assert kinds == ["state_unavailable", "state_restored"]
    assert next(e for e in events if e["event"] == "state_restored")["replayed"] is True
    assert spent(redis_url, a) == pytest.approx(0.008)  # all four, the one before the restart included
    a.complete("hi")
    assert spent(redis_url, a) == pytest.approx(0.010)


def test_a_short_outage_is_caught_up_without_counting_twice(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]], redis_server: RedisServer) -> None:
    up.default(ANSWER)
    (a,) = replicas(1)
    a.complete("hi")
    redis_server.stop(save=True)  # comes back with its data, like Redis with persistence
    a.complete("hi")
    redis_server.start()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and (not a.state.health()["available"] or spent(redis_url, a) < 0.0039):
        time.sleep(0.02)
    assert spent(redis_url, a) == pytest.approx(0.004)


def test_fail_closed_refuses_while_redis_is_away(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]], redis_server: RedisServer) -> None:
    up.default(ANSWER)
    (a,) = replicas(1, on_unavailable="refuse")
    a.complete("hi")
    redis_server.stop()
    try:
        with pytest.raises(LimitExceeded) as caught:
            a.complete("hi")
        assert caught.value.unavailable and "on_unavailable = \"refuse\"" in str(caught.value)
        assert a.metrics.summary()["refused"] == {"state:unavailable": 1}
    finally:
        redis_server.start()


def _lose_replies(state: RedisState, times: int) -> list[int]:
    """Make the next `times` calls of the reserve and add scripts (direct or in a pipeline) reach
    Redis and be applied there, then fail as a timeout would: a reply lost on the way back."""
    import redis

    left = [times]
    real_reserve, real_add, real_pipeline = state._reserve, state._add, state.client.pipeline

    def losing(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            reply = real(*args, **kwargs)
            if kwargs.get("client") is None and left[0] > 0:
                left[0] -= 1
                raise redis.TimeoutError("reply lost (test)")
            return reply
        return call

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = real_pipeline(*args, **kwargs)
        execute = pipe.execute

        def lose() -> Any:
            reply = execute()
            if left[0] > 0:
                left[0] -= 1
                raise redis.TimeoutError("reply lost (test)")
            return reply
        pipe.execute = lose
        return pipe

    state._reserve, state._add, state.client.pipeline = losing(real_reserve), losing(real_add), pipeline  # type: ignore[method-assign]
    return left


@pytest.mark.parametrize("lost", [1, 2, 3, 6])
def test_a_reply_lost_after_redis_applied_the_call_is_not_counted_twice(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]], lost: int) -> None:
    up.default(ANSWER)
    (a,) = replicas(1)
    assert isinstance(a.state, RedisState)
    a.complete("hi")  # the epoch is known
    left = _lose_replies(a.state, lost)  # reservations, settlements, catch-ups: each applied, its reply lost
    for _ in range(4):
        a.complete("hi")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (left[0] or not a.state.health()["available"] or a.state._outbox or a.state._pending):
        time.sleep(0.02)
    assert left[0] == 0 and a.state.health()["available"]
    assert spent(redis_url, a) == pytest.approx(0.010)  # five answers at $0.002, each counted once


def test_a_replay_whose_reply_is_lost_is_not_counted_twice(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]], redis_server: RedisServer) -> None:
    up.default(ANSWER)
    (a,) = replicas(1)
    assert isinstance(a.state, RedisState)
    a.complete("hi")
    a.complete("hi")
    a.state.flush()
    redis_server.stop()  # its data is gone
    redis_server.start()
    left = _lose_replies(a.state, 1)  # the replay reaches the new Redis, its reply does not come back
    a.complete("hi")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (left[0] or not a.state.health()["available"] or a.state._outbox):
        time.sleep(0.02)
    assert spent(redis_url, a) == pytest.approx(0.006)


def test_operation_markers_live_no_longer_than_the_marker_ttl(up: LoopbackUpstream, redis_url: str, replicas: Callable[..., list[Router]]) -> None:
    import redis

    from rulerouter.state.redis import MARKER_TTL_S

    up.default(ANSWER)
    (a,) = replicas(1)  # a daily budget: its counters live up to a day, its markers ten minutes
    a.complete("hi")
    a.state.flush()
    client = redis.Redis.from_url(redis_url)
    ttls = [client.pttl(k) for k in client.keys("rulerouter:op:*")]
    assert len(ttls) >= 2  # the reservation's and the settlement's (earlier tests' may remain)
    assert all(0 < ttl <= MARKER_TTL_S * 1000 for ttl in ttls), ttls
