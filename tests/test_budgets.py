"""Budgets and rate limits through the library, against the loopback upstream (in-process state)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from rulerouter import BudgetExceeded, RateLimited, Router
from rulerouter.execute.limits import Check, Limits, _retry_after, window_of
from rulerouter.state import MemoryLedger
from rulerouter.testing import LoopbackUpstream, Reply, Status

BASE = """
schema_version = 1
default_tier = "cheap"

[tiers]
cheap = "small"
strong = "large"
bulk = "tiny"

[providers.up]
base_url = "{base_url}"
timeout_s = 5

[models.small]
price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
fallback = ["large"]

[models.large]
price = {{ input_per_mtok = 10.0, output_per_mtok = 20.0 }}

[models.tiny]
price = {{ input_per_mtok = 0.1, output_per_mtok = 0.2 }}

[retry]
retries_per_model = 0
"""

# Each answer costs (1000 × 1.0 + 500 × 2.0) / 1e6 = $0.002 on `small`.
ANSWER = Reply("ok", prompt_tokens=1000, completion_tokens=500)


def router(up: LoopbackUpstream, extra: str) -> Router:
    return Router.from_toml(BASE.format(base_url=up.base_url) + extra)


def budget_value(r: Router, name: str, scope: str = "everyone") -> float:
    ledger = r.state.ledger
    assert isinstance(ledger, MemoryLedger)
    return sum(v for k, (v, _) in ledger.snapshot().items() if k.startswith(f"b:{name}:") and k.endswith(f":{scope}"))


def test_a_refuse_budget_says_which_how_much_and_when_it_resets(up: LoopbackUpstream) -> None:
    up.default(ANSWER)
    r = router(up, '[[budgets]]\nname = "daily"\nlimit_usd = 0.005\nwindow = "day"\n')
    assert [r.complete("hi").cost for _ in range(2)] == [pytest.approx(0.002)] * 2
    with pytest.raises(BudgetExceeded) as caught:
        r.complete("hi")
    error = caught.value
    assert (error.budget, error.scope, error.limit_usd) == ("daily", "everyone", 0.005)
    assert error.spent_usd == pytest.approx(0.004)
    midnight = (datetime.now(timezone.utc).timestamp() // 86400 + 1) * 86400
    assert error.resets_at == midnight and 0 < error.retry_after_s <= 86400
    assert "budget 'daily' is spent for everyone: $0.004000 of $0.005 used this day" in str(error)
    assert datetime.fromtimestamp(midnight, timezone.utc).strftime("resets at %Y-%m-%dT00:00:00Z") in str(error)
    assert len(up.requests) == 2  # the refused request called nothing
    assert r.metrics.summary()["refused"] == {"daily:budget": 1}


def test_spend_is_the_real_cost_of_every_attempt_failed_and_judge_included(up: LoopbackUpstream) -> None:
    up.script("small", Status(500))
    up.script("large", Reply("answer", prompt_tokens=100, completion_tokens=100), Reply("0.9", prompt_tokens=50, completion_tokens=1))
    r = router(up, '[[budgets]]\nname = "all"\nlimit_usd = 1.0\nwindow = "month"\n'
                   '[verification]\ntiers = ["cheap"]\njudge_tier = "strong"\nthreshold = 0.5\nescalate_to = "strong"\n')
    result = r.complete("hi")
    assert [a.purpose for a in result.attempts] == ["answer", "answer", "judge"]
    assert budget_value(r, "all") == pytest.approx(result.cost) == pytest.approx((100 * 10 + 100 * 20 + 50 * 10 + 20) / 1e6)


def test_concurrent_requests_cannot_pass_the_limit_by_more_than_the_bound(up: LoopbackUpstream) -> None:
    # Each request reserves max_tokens = 500 at small's prices, and really costs $0.002: its
    # reservation covers it, so 32 requests at once cannot overshoot at all.
    up.default(Reply("ok", prompt_tokens=1000, completion_tokens=500, delay=0.05))
    r = router(up, '[[budgets]]\nname = "burst"\nlimit_usd = 0.02\nwindow = "hour"\n')

    async def one(i: int) -> float | None:
        try:
            return (await r.acomplete(f"{'x' * 3996} {i}", max_tokens=500)).cost
        except BudgetExceeded:
            return None

    async def many() -> list[float | None]:
        return await asyncio.gather(*(one(i) for i in range(32)))

    costs = asyncio.run(many())
    spent = sum(c for c in costs if c is not None)
    assert sum(c is not None for c in costs) == 10 and spent == pytest.approx(0.02)
    assert budget_value(r, "burst") == pytest.approx(spent)


def test_a_downgrade_budget_moves_requests_to_its_tier(up: LoopbackUpstream) -> None:
    up.default(ANSWER)
    r = router(up, '[[budgets]]\nname = "soft"\nlimit_usd = 0.003\nwindow = "day"\non_exceeded = "downgrade"\ndowngrade_to = "bulk"\n')
    first, second = r.complete("hi"), r.complete("hi")
    assert (first.tier, second.tier) == ("cheap", "bulk")
    assert second.model_used == "tiny"
    assert "budget 'soft' is spent: downgraded from tier 'cheap'" in second.explanation
    assert r.complete("hi", tier="strong").tier == "bulk"  # the budget wins over a forced tier


def test_each_scope_has_its_own_budget_and_no_scope_is_one_scope(up: LoopbackUpstream) -> None:
    up.default(ANSWER)
    r = router(up, '[[budgets]]\nname = "team"\nlimit_usd = 0.003\nwindow = "day"\nper = "$.team"\n')
    r.complete("hi", metadata={"team": "search"})
    with pytest.raises(BudgetExceeded) as caught:
        r.complete("hi", metadata={"team": "search"})
    assert caught.value.scope == "search"
    r.complete("hi", metadata={"team": "ads"})
    r.complete("hi")
    with pytest.raises(BudgetExceeded) as caught:
        r.complete("hi", metadata={"other": 1})
    assert caught.value.scope == "(none)"


def test_warn_at_fractions_emit_one_event_each(up: LoopbackUpstream) -> None:
    up.default(ANSWER)
    r = router(up, '[[budgets]]\nname = "w"\nlimit_usd = 0.01\nwindow = "day"\nwarn_at = [0.3, 0.5]\n')
    events: list[dict[str, Any]] = []
    r.observer.add_sink(events.append)
    for _ in range(4):
        r.complete("hi")
    warnings = [(e["fraction"], e["spent_usd"] >= e["fraction"] * 0.01) for e in events if e["event"] == "budget_warning"]
    assert warnings == [(0.3, True), (0.5, True)]
    request = next(e for e in events if e["event"] == "request")
    assert request["budgets"] == [{"name": "w", "scope": "everyone", "window": datetime.now(timezone.utc).strftime("%Y-%m-%d")}]


def test_when_spend_reads_the_spend_before_deciding(up: LoopbackUpstream) -> None:
    up.default(ANSWER)
    r = router(up, '[[budgets]]\nname = "team"\nlimit_usd = 0.01\nwindow = "day"\nper = "$.team"\n'
                   '[[rules]]\nname = "frugal"\nwhen.spend = { budget = "team", gte = 0.3 }\ntier = "bulk"\n')
    tiers = [r.complete("hi", metadata={"team": "a"}).tier for _ in range(3)]
    assert tiers == ["cheap", "cheap", "bulk"]  # $0.004 of $0.01 spent before the third
    assert r.complete("hi", metadata={"team": "b"}).tier == "cheap"


def test_requests_per_minute_refuse_with_a_retry_after(up: LoopbackUpstream) -> None:
    r = router(up, '[[rate_limits]]\nname = "rpm"\nper = "key"\nrequests_per_minute = 3\n')
    for _ in range(3):
        r.complete("hi", client="alice")
    with pytest.raises(RateLimited) as caught:
        r.complete("hi", client="alice")
    error = caught.value
    assert (error.name, error.scope, error.kind, error.per_minute) == ("rpm", "alice", "requests", 3)
    assert 0 < error.retry_after_s <= 120
    assert "rate limit 'rpm' reached for alice: 3 of 3 requests in the last minute" in str(error)
    r.complete("hi", client="bob")
    assert r.metrics.summary()["refused"] == {"rpm:requests": 1}


def test_tokens_per_minute_count_what_was_really_used(up: LoopbackUpstream) -> None:
    up.default(Reply("ok", prompt_tokens=300, completion_tokens=300))
    r = router(up, '[[rate_limits]]\nname = "tpm"\ntokens_per_minute = 1000\n')
    r.complete("hi")
    with pytest.raises(RateLimited):  # 600 used and the next one's estimate fits; then 1200
        r.complete("hi")
        r.complete("hi")


def test_a_cancelled_request_releases_its_reservation(up: LoopbackUpstream) -> None:
    up.default(Reply("slow", delay=2))
    r = router(up, '[[budgets]]\nname = "b"\nlimit_usd = 1.0\nwindow = "day"\n')

    async def cancel() -> None:
        task = asyncio.ensure_future(r.acomplete("hi", max_tokens=1000))
        await asyncio.sleep(0.2)
        assert budget_value(r, "b") == pytest.approx(0.002, rel=0.01)  # reserved while in flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel())
    assert budget_value(r, "b") == pytest.approx(0.0, abs=1e-12)


def test_calendar_windows_in_utc() -> None:
    new_year = datetime(2026, 12, 31, 23, 59, 30, tzinfo=timezone.utc).timestamp()
    start, end, label = window_of("month", new_year)
    assert (label, datetime.fromtimestamp(end, timezone.utc).isoformat()) == ("2026-12", "2027-01-01T00:00:00+00:00")
    assert window_of("day", new_year)[2] == "2026-12-31" and window_of("hour", new_year)[1] == new_year + 30
    assert window_of("minute", new_year)[2] == "2026-12-31T23:59Z"


def test_the_sliding_minute_and_its_retry_after() -> None:
    now = [1_000_000 * 60 + 30.0]  # half way through a minute
    ledger = MemoryLedger(clock=lambda: now[0])
    checks = lambda: [Check("c:now", 10.0, 1.0, now[0] + 120, "c:before", 0.5)]  # noqa: E731
    ledger.add([("c:before", 10.0, now[0] + 120)])  # last minute was full: counts as 5 now
    assert [ledger.reserve(checks())[0] for _ in range(6)] == [-1, -1, -1, -1, -1, 0]
    # 5 this minute, 10 in the previous one: 1 more fits once 5.0 + 10 × w ≤ 9, w ≤ 0.4: 6 s on.
    assert _retry_after(now[0], 10.0, 1.0, 5.0, 10.0) == pytest.approx(6.0)
    assert _retry_after(now[0], 10.0, 1.0, 10.0, 0.0) == pytest.approx(30.0 + 6.0)  # next minute, then slide
    assert _retry_after(now[0], 10.0, 11.0, 0.0, 0.0) == 60.0  # never fits


def test_limits_are_checked_atomically_or_not_at_all() -> None:
    ledger = MemoryLedger()
    blocked, _ = ledger.reserve([Check("a", 5.0, 1.0, 2e9), Check("b", 0.5, 1.0, 2e9)])
    assert blocked == 1 and ledger.read(["a", "b"]) == [0.0, 0.0]
    assert ledger.once("flag", 2e9) and not ledger.once("flag", 2e9)


def test_an_executor_with_limits_needs_a_ledger() -> None:
    from rulerouter.execute.executor import Executor

    r = Router.from_toml(BASE.format(base_url="http://127.0.0.1:9/v1") + '[[budgets]]\nname = "b"\nlimit_usd = 1.0\nwindow = "day"\n')
    with pytest.raises(ValueError, match="give the executor a ledger"):
        Executor(r.compiled, recorder=r.observer)
    assert isinstance(Limits(r.policy, MemoryLedger()).active, bool)


def test_report_shows_spend_per_budget(up: LoopbackUpstream, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from rulerouter.cli import main

    up.default(ANSWER)
    log = tmp_path / "events.jsonl"
    extra = ('[[budgets]]\nname = "team"\nlimit_usd = 0.005\nwindow = "day"\nper = "$.team"\n'
             f'[log]\ndestination = "{log}"\n')
    policy = tmp_path / "p.toml"
    policy.write_text(BASE.format(base_url=up.base_url) + extra)
    r = Router.from_file(policy)
    for team in ("search", "search", "ads"):
        r.complete("hi", metadata={"team": team})
    with pytest.raises(BudgetExceeded):
        r.complete("hi", metadata={"team": "search"})
    r.close()
    assert main(["report", str(log), "-c", str(policy)]) == 0
    out = capsys.readouterr().out
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert f"team                ads               {day}                1    0.002000     40.0%" in out
    assert f"team                search            {day}                2    0.004000     80.0%" in out
    assert "refused 1 (budget)" in out
    assert main(["report", str(log), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["budgets"]
    assert [(row["scope"], row["requests"]) for row in rows[:2]] == [("ads", 1), ("search", 2)] and "share" not in rows[0]
