"""Execution against a real OpenAI-compatible server on 127.0.0.1, one fault at a time.

Every scenario asserts the exact list of attempts, through the sync and the async driver alike
(they share one flow, so they must agree).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from rulerouter import Router
from rulerouter.execute.executor import Executor
from rulerouter.execute.result import AllAttemptsFailed, Result, UpstreamRejected
from rulerouter.testing import (
    ContextLengthExceeded,
    EchoAuth,
    ErrorObject,
    LoopbackUpstream,
    Malformed,
    MissingChoices,
    Reply,
    Reset,
    Slow,
    Status,
)

KEY = "sk-test-SECRETKEY1234567890"

POLICY = """
schema_version = 1
default_tier = "cheap"

[tiers]
cheap = "small"
mid = "medium"
strong = "large"

[providers.up]
base_url = "{base_url}"
api_key_env = "TEST_KEY"
timeout_s = 0.5

[models.small]
upstream = "small-upstream"
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

[retry]
max_attempts = {max_attempts}
retries_per_model = {retries}
backoff_initial_s = 0.1
backoff_max_s = 1.0
retry_after_max_s = 5

[circuit_breaker]
failure_threshold = {threshold}
cooldown_s = 30

[[rules]]
name = "hard"
when.keywords.any = ["prove"]
tier = "strong"

[verification]
enabled = {verify}
tiers = ["cheap"]
judge_tier = "mid"
threshold = 0.7
escalate_to = "strong"
on_unparsable = "{unparsable}"
"""


class FakeTime:
    """A clock and sleeps that record instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def make(up: LoopbackUpstream, *, max_attempts: int = 4, retries: int = 0, threshold: int = 5, verify: bool = False,
         unparsable: str = "keep") -> tuple[Executor, FakeTime, Router]:
    text = POLICY.format(base_url=up.base_url, max_attempts=max_attempts, retries=retries, threshold=threshold,
                         verify=str(verify).lower(), unparsable=unparsable)
    router = Router.from_toml(text, env={"TEST_KEY": KEY})
    fake = FakeTime()
    executor = Executor(router._compiled, env={"TEST_KEY": KEY}, rng=random.Random(7), sleep=fake.sleep, asleep=fake.asleep, clock=fake.clock,
                        recorder=router.observer)
    router._executor = executor
    return executor, fake, router


def complete(router: Router, mode: str, prompt: str = "hello", **kwargs: Any) -> Result:
    if mode == "sync":
        return router.complete(prompt, **kwargs)

    async def go() -> Result:
        try:
            return await router.acomplete(prompt, **kwargs)
        finally:
            await router.aclose()

    return asyncio.run(go())


def summary(attempts: list) -> list[tuple]:
    return [(a.model, a.purpose, a.outcome, a.error_kind, a.status) for a in attempts]


MODES = ["sync", "async"]


@pytest.mark.parametrize("mode", MODES)
def test_first_attempt_succeeds(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Reply("hi!", prompt_tokens=1000, completion_tokens=500))
    _, _, router = make(up)
    result = complete(router, mode, max_tokens=50, temperature=0.2)
    assert (result.content, result.model_used, result.tier, result.attempt, result.rule) == ("hi!", "small", "cheap", 1, None)
    assert summary(result.attempts) == [("small", "answer", "ok", None, 200)]
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (1000, 500)
    assert result.cost == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    sent = up.requests[0]
    assert sent.model == "small-upstream"  # the upstream name, not ours
    assert sent.body["max_tokens"] == 50 and sent.body["temperature"] == 0.2
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert not result.fallback


@pytest.mark.parametrize("mode", MODES)
def test_server_error_falls_back(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Status(500))
    up.script("medium", Reply("from medium"))
    _, fake, router = make(up)
    result = complete(router, mode)
    assert summary(result.attempts) == [("small", "answer", "error", "server_error", 500), ("medium", "answer", "ok", None, 200)]
    assert (result.content, result.model_used, result.attempt, result.tier) == ("from medium", "medium", 2, "cheap")
    assert fake.sleeps == []  # a fallback to another model does not wait
    assert result.fallback


@pytest.mark.parametrize("mode", MODES)
def test_retry_same_model_with_backoff(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Status(503), Reply("second try"))
    _, fake, router = make(up, retries=1)
    result = complete(router, mode)
    assert summary(result.attempts) == [("small", "answer", "error", "server_error", 503), ("small", "answer", "ok", None, 200)]
    assert len(fake.sleeps) == 1 and 0 <= fake.sleeps[0] <= 0.1  # full jitter under backoff_initial_s


@pytest.mark.parametrize("mode", MODES)
def test_rate_limit_honours_retry_after(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Status(429, retry_after=2), Reply("after waiting"))
    _, fake, router = make(up, retries=1)
    result = complete(router, mode)
    assert summary(result.attempts) == [("small", "answer", "error", "rate_limited", 429), ("small", "answer", "ok", None, 200)]
    assert result.attempts[0].retry_after_s == 2
    assert fake.sleeps and fake.sleeps[0] >= 2
    assert result.attempts[1].waited_s == fake.sleeps[0]


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_beyond_the_cap_falls_back_at_once(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Status(429, retry_after=60))
    _, fake, router = make(up, retries=3)
    result = complete(router, mode)
    assert summary(result.attempts) == [("small", "answer", "error", "rate_limited", 429), ("medium", "answer", "ok", None, 200)]
    assert fake.sleeps == []
    # Every later request skips the model until its Retry-After has passed.
    again = complete(router, mode)
    assert summary(again.attempts) == [("small", "answer", "skipped", "circuit_open", None), ("medium", "answer", "ok", None, 200)]
    fake.now += 61
    assert summary(complete(router, mode).attempts) == [("small", "answer", "ok", None, 200)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("behaviour", "kind", "status"),
    [
        (Slow(2.0), "timeout", None),
        (Reset(), "connect", None),
        (Malformed(), "malformed", 200),
        (MissingChoices(), "malformed", 200),
        (ErrorObject(), "server_error", 200),
        (Status(502), "server_error", 502),
        (Status(504), "timeout", 504),
    ],
)
def test_each_fault_is_classified_and_falls_back(up: LoopbackUpstream, mode: str, behaviour: Any, kind: str, status: int | None) -> None:
    up.script("small-upstream", behaviour)
    _, _, router = make(up)
    result = complete(router, mode)
    assert summary(result.attempts) == [("small", "answer", "error", kind, status), ("medium", "answer", "ok", None, 200)]
    assert result.attempts[0].cost == 0.0  # a failure without usage cost nothing


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_request_errors_fail_fast(up: LoopbackUpstream, mode: str, code: int) -> None:
    up.script("small-upstream", Status(code, message=f"nope {code}"))
    _, _, router = make(up)
    with pytest.raises(UpstreamRejected) as caught:
        complete(router, mode)
    assert caught.value.status == code
    assert summary(caught.value.attempts) == [("small", "answer", "error", "rejected", code)]
    assert f"nope {code}" in str(caught.value)
    assert [r.model for r in up.requests] == ["small-upstream"]  # no fallback was tried
    assert caught.value.request_id and caught.value.tier == "cheap"


@pytest.mark.parametrize("mode", MODES)
def test_upstream_echoing_the_key_is_redacted(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", EchoAuth(401))
    _, _, router = make(up)
    with pytest.raises(UpstreamRejected) as caught:
        complete(router, mode)
    text = str(caught.value) + repr(caught.value.attempts)
    assert KEY not in text
    assert "[redacted]" in text


@pytest.mark.parametrize("mode", MODES)
def test_context_length_moves_to_a_larger_window(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", ContextLengthExceeded())
    up.script("large", Reply("big window"))
    _, _, router = make(up)
    result = complete(router, mode)
    assert summary(result.attempts) == [
        ("small", "answer", "error", "context_length", 400),
        ("medium", "answer", "skipped", "context_length", None),  # 8000 is not larger than 8000
        ("large", "answer", "ok", None, 200),
    ]
    assert [r.model for r in up.requests] == ["small-upstream", "large"]


@pytest.mark.parametrize("mode", MODES)
def test_every_attempt_failing_raises_one_error_listing_them(up: LoopbackUpstream, mode: str) -> None:
    for model in ("small-upstream", "medium", "large"):
        up.script(model, Status(500, message=f"{model} down"))
    _, _, router = make(up)
    with pytest.raises(AllAttemptsFailed) as caught:
        complete(router, mode)
    error = caught.value
    assert summary(error.attempts) == [
        ("small", "answer", "error", "server_error", 500),
        ("medium", "answer", "error", "server_error", 500),
        ("large", "answer", "error", "server_error", 500),
    ]
    text = str(error)
    assert "every model in the chain small -> medium -> large failed" in text
    for model in ("small-upstream down", "medium down", "large down"):
        assert model in text


@pytest.mark.parametrize("mode", MODES)
def test_attempt_cap(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Status(500), Status(500), Status(500))
    up.script("medium", Status(500))
    _, _, router = make(up, max_attempts=3, retries=2)
    with pytest.raises(AllAttemptsFailed) as caught:
        complete(router, mode)
    assert len(caught.value.attempts) == 3
    assert "the cap of 3 attempt(s) was reached" in str(caught.value)
    assert [r.model for r in up.requests] == ["small-upstream"] * 3


@pytest.mark.parametrize("mode", MODES)
def test_circuit_breaker_opens_then_lets_one_probe_through(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Status(500), Status(500))
    _, fake, router = make(up, threshold=2)
    for _ in range(2):
        assert complete(router, mode).model_used == "medium"
    skipped = complete(router, mode)
    assert summary(skipped.attempts)[0] == ("small", "answer", "skipped", "circuit_open", None)
    assert "circuit open" in skipped.attempts[0].message
    assert [r.model for r in up.requests].count("small-upstream") == 2
    fake.now += 31  # cool-down over: one probe goes through and closes the circuit
    probe = complete(router, mode)
    assert summary(probe.attempts) == [("small", "answer", "ok", None, 200)]
    assert router.executor.breakers.snapshot()["small"]["state"] == "closed"


@pytest.mark.parametrize("mode", MODES)
def test_forced_tier_and_model(up: LoopbackUpstream, mode: str) -> None:
    _, _, router = make(up)
    assert complete(router, mode, tier="strong").model_used == "large"
    result = complete(router, mode, model="medium")
    assert (result.model_used, result.tier) == ("medium", "mid")


@pytest.mark.parametrize("mode", MODES)
def test_rules_decide_the_tier(up: LoopbackUpstream, mode: str) -> None:
    _, _, router = make(up)
    result = complete(router, mode, prompt="prove that 2 is prime")
    assert (result.tier, result.rule, result.model_used) == ("strong", "hard", "large")
    assert "prove" in result.explanation


# --- verification ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_poor_answer_is_escalated(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Reply("meh", prompt_tokens=10, completion_tokens=10))
    up.script("medium", Reply("Score: 3/10 — misses the point", prompt_tokens=20, completion_tokens=5))
    up.script("large", Reply("a careful answer", prompt_tokens=10, completion_tokens=40))
    _, _, router = make(up, verify=True)
    result = complete(router, mode, prompt="explain monads", max_tokens=99)
    assert summary(result.attempts) == [
        ("small", "answer", "ok", None, 200),
        ("medium", "judge", "ok", None, 200),
        ("large", "escalation", "ok", None, 200),
    ]
    assert (result.content, result.model_used, result.tier) == ("a careful answer", "large", "strong")
    assert result.escalated and result.judge_score == pytest.approx(0.3)
    assert result.escalation_reason == "judge score 0.3 < 0.7"
    assert result.cost == pytest.approx((10 + 20) / 1e6 + (20 * 3 + 5 * 6) / 1e6 + (10 * 10 + 40 * 20) / 1e6)
    judge_body = up.requests[1].body
    assert "explain monads" in judge_body["messages"][0]["content"] and "meh" in judge_body["messages"][0]["content"]
    assert "max_tokens" not in judge_body  # the caller's parameters are for the answer, not the judge
    assert up.requests[2].body["max_tokens"] == 99


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("judge_says", "unparsable", "escalated"),
    [("0.9", "keep", False), ("I cannot rate this.", "keep", False), ("I cannot rate this.", "escalate", True)],
)
def test_judge_verdicts(up: LoopbackUpstream, mode: str, judge_says: str, unparsable: str, escalated: bool) -> None:
    up.script("small-upstream", Reply("fine answer"))
    up.script("medium", Reply(judge_says))
    _, _, router = make(up, verify=True, unparsable=unparsable)
    result = complete(router, mode)
    assert result.escalated is escalated
    assert [a.purpose for a in result.attempts] == ["answer", "judge"] + (["escalation"] if escalated else [])


@pytest.mark.parametrize("mode", MODES)
def test_failing_judge_keeps_the_answer(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Reply("the answer"))
    up.script("medium", Status(500))
    up.script("large", Status(500))
    _, _, router = make(up, verify=True)
    result = complete(router, mode)
    assert result.content == "the answer" and not result.escalated and result.judge_score is None
    assert summary(result.attempts) == [
        ("small", "answer", "ok", None, 200),
        ("medium", "judge", "error", "server_error", 500),
        ("large", "judge", "error", "server_error", 500),
    ]


@pytest.mark.parametrize("mode", MODES)
def test_failing_escalation_keeps_the_first_answer(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Reply("first"))
    up.script("medium", Reply("0.1"))
    up.script("large", Status(503), Status(503))
    _, _, router = make(up, verify=True)
    result = complete(router, mode)
    assert result.content == "first" and not result.escalated
    assert "escalation to 'strong' failed, kept the first answer" in result.escalation_reason


def test_verify_argument_overrides_the_policy(up: LoopbackUpstream) -> None:
    _, _, router = make(up, verify=False)
    up.script("medium", Reply("0.95"))
    assert [a.purpose for a in router.complete("x", verify=True).attempts] == ["answer", "judge"]
    assert [a.purpose for a in router.complete("x").attempts] == ["answer"]
    _, _, router = make(up, verify=True)
    assert [a.purpose for a in router.complete("x", verify=False).attempts] == ["answer"]


def test_answers_from_unchecked_tiers_are_not_judged(up: LoopbackUpstream) -> None:
    _, _, router = make(up, verify=True)
    assert [a.purpose for a in router.complete("x", tier="strong").attempts] == ["answer"]


# --- usage errors ------------------------------------------------------------------------------


def test_usage_errors(up: LoopbackUpstream) -> None:
    from rulerouter import UsageError

    _, _, router = make(up)
    with pytest.raises(UsageError, match="nothing to send"):
        router.complete()
    with pytest.raises(UsageError, match="unknown tier 'nope'"):
        router.complete("x", tier="nope")
    with pytest.raises(UsageError, match="unknown model 'nope'"):
        router.complete("x", model="nope")
    with pytest.raises(UsageError, match=r"messages\[0\] must be an object"):
        router.complete(messages=["hi"])
    with pytest.raises(UsageError, match=r"call stream\(\) or astream\(\)"):
        router.complete("x", stream=True)
    with pytest.raises(UsageError, match="must be a string"):
        router.complete(123)  # type: ignore[arg-type]
    assert up.requests == []


@pytest.mark.parametrize("mode", MODES)
def test_when_every_circuit_is_open_one_call_is_still_made(up: LoopbackUpstream, mode: str) -> None:
    for model in ("small-upstream", "medium", "large"):
        up.script(model, Status(500))
    _, fake, router = make(up, threshold=1)
    with pytest.raises(AllAttemptsFailed):
        complete(router, mode)  # opens all three circuits
    result = complete(router, mode)
    assert summary(result.attempts) == [
        ("small", "answer", "skipped", "circuit_open", None),
        ("medium", "answer", "skipped", "circuit_open", None),
        ("large", "answer", "skipped", "circuit_open", None),
        ("small", "answer", "ok", None, 200),  # the last resort, rather than no call at all
    ]


@pytest.mark.parametrize("mode", MODES)
def test_when_every_model_asked_to_wait_the_soonest_is_called_after_its_wait(up: LoopbackUpstream, mode: str) -> None:
    up.script("small-upstream", Status(429, retry_after=3))
    up.script("medium", Status(429, retry_after=1))
    up.script("large", Status(429, retry_after=2))
    _, fake, router = make(up)
    with pytest.raises(AllAttemptsFailed):
        complete(router, mode)
    result = complete(router, mode)
    assert [(a.model, a.outcome) for a in result.attempts][-1] == ("medium", "ok")
    assert result.attempts[-1].waited_s == pytest.approx(1.0)  # Retry-After honoured, not ignored
