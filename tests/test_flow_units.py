"""The I/O-free parts of execution: score parsing, reply classification, breakers, the flow."""

from __future__ import annotations

import random

import pytest

from rulerouter import Router
from rulerouter.execute.breaker import Breakers
from rulerouter.execute.flow import Call, FlowContext, request_flow
from rulerouter.execute.result import AllAttemptsFailed
from rulerouter.execute.upstream_reply import (
    Outcome,
    Redactor,
    outcome_from_exception,
    parse_retry_after,
    read_reply,
)
from rulerouter.execute.verify import parse_score


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("0.7", 0.7),
        ("0.85\n", 0.85),
        (" 1 ", 1.0),
        ("Score: 7/10", 0.7),
        ("**0.8**", 0.8),
        ("I'd rate this 0.9 because it is complete.", 0.9),
        ("Rating: 8", 0.8),
        ("4 out of 5", 0.8),
        ("85%", 0.85),
        ("On a scale of 0-1, this deserves 0.6.", 0.6),
        ("Quality score = 65", 0.65),
        (".5", 0.5),
        ("The answer is fine overall. 0.75", 0.75),
    ],
)
def test_scores_are_read_robustly(text: str, score: float) -> None:
    assert parse_score(text) == pytest.approx(score)


@pytest.mark.parametrize("text", ["", None, "good", "between 3 and 7, maybe 5 or 6", "250", "12/5", "-"])
def test_unparsable_scores(text: str | None) -> None:
    assert parse_score(text) is None


def test_redactor_removes_keys_and_key_shapes() -> None:
    redact = Redactor(["my-very-secret-key"])
    text = "bad key my-very-secret-key; header Authorization: Bearer abc.def; sk-proj-ABCDEFGH12345 api_key=zzz123"
    cleaned = redact(text)
    for secret in ("my-very-secret-key", "abc.def", "sk-proj-ABCDEFGH12345", "zzz123"):
        assert secret not in cleaned
    assert "Bearer [redacted]" in cleaned


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, b'{"choices": [{"message": {"content": "x"}}]}', None),
        (200, b'{"choices": [{"message": {"content": null, "tool_calls": []}}]}', None),
        (200, b"<html>", "malformed"),
        (200, b"", "malformed"),
        (200, b'{"choices": []}', "malformed"),
        (200, b'{"choices": [{"message": {"content": 3}}]}', "malformed"),
        (200, b'{"error": {"message": "overloaded"}}', "server_error"),
        (200, b'{"error": {"message": "maximum context length is 8192 tokens"}}', "context_length"),
        (400, b'{"error": {"code": "context_length_exceeded", "message": "too long"}}', "context_length"),
        (400, b'{"error": {"message": "bad"}}', "rejected"),
        (404, b"not found", "rejected"),
        (408, b"", "timeout"),
        (429, b"{}", "rate_limited"),
        (500, b"oops", "server_error"),
        (503, b"{}", "server_error"),
        (301, b"", "malformed"),
    ],
)
def test_reply_classification(status: int, body: bytes, kind: str | None) -> None:
    assert read_reply(status, {}, body, Redactor()).kind == kind


def test_retry_after_forms() -> None:
    assert parse_retry_after("5") == 5
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-3") == 0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_exceptions_are_classified() -> None:
    import httpx

    request = httpx.Request("POST", "http://127.0.0.1:1/")
    assert outcome_from_exception(httpx.ReadTimeout("t", request=request), Redactor()).kind == "timeout"
    assert outcome_from_exception(httpx.ConnectTimeout("t", request=request), Redactor()).kind == "connect"
    assert outcome_from_exception(httpx.ConnectError("refused", request=request), Redactor()).kind == "connect"
    assert outcome_from_exception(httpx.RemoteProtocolError("closed", request=request), Redactor()).kind == "connect"
    assert outcome_from_exception(ValueError("bad"), Redactor()).kind == "malformed"


def test_breaker_states() -> None:
    now = [0.0]
    breakers = Breakers(2, 10, clock=lambda: now[0])
    assert breakers.admit("m") is None
    breakers.failure("m")
    assert breakers.admit("m") is None
    breakers.failure("m")
    assert "circuit open" in breakers.admit("m")
    now[0] = 11
    assert breakers.admit("m") is None  # the probe
    assert "probe is in flight" in breakers.admit("m")
    breakers.failure("m")  # the probe failed: open again
    assert "circuit open" in breakers.admit("m")
    now[0] = 22
    assert breakers.admit("m") is None
    breakers.success("m")
    assert breakers.admit("m") is None and breakers.admit("m") is None
    assert breakers.snapshot()["m"]["times_opened"] == 2
    breakers.wait("m", 5)
    assert "Retry-After" in breakers.admit("m")


POLICY = """
schema_version = 1
default_tier = "t"
[tiers]
t = "a"
[providers.p]
base_url = "http://127.0.0.1:9/v1"
[models.a]
price = { input_per_mtok = 1.0, output_per_mtok = 1.0 }
fallback = ["b"]
[models.b]
price = { input_per_mtok = 1.0, output_per_mtok = 1.0 }
[retry]
max_attempts = 10
retries_per_model = 3
backoff_initial_s = 1.0
backoff_max_s = 3.0
deadline_s = 5
"""


def drive(outcomes: list[Outcome], clock: list[float]) -> list[Call]:
    router = Router.from_toml(POLICY)
    breakers = Breakers(100, 1, clock=lambda: clock[0])
    ctx = FlowContext(router.policy, breakers, lambda m, u, ok: 0.0, random.Random(1), lambda: clock[0])
    flow = request_flow(ctx, tier="t", model="a", messages=[{"role": "user", "content": "x"}], prompt_text="x")
    calls = [next(flow)]
    try:
        for outcome in outcomes:
            clock[0] += calls[-1].delay_s
            calls.append(flow.send(outcome))
    except StopIteration:
        pass
    return calls


def test_backoff_grows_with_full_jitter_under_the_cap() -> None:
    fail = Outcome("server_error", 500)
    calls = drive([fail] * 3, [0.0])
    delays = [c.delay_s for c in calls]
    assert delays[0] == 0 and 0 <= delays[1] <= 1.0 and 0 <= delays[2] <= 2.0 and 0 <= delays[3] <= 3.0
    assert [c.model for c in calls] == ["a"] * 4


def test_deadline_stops_retries() -> None:
    clock = [0.0]
    router = Router.from_toml(POLICY)
    ctx = FlowContext(router.policy, Breakers(100, 1, clock=lambda: clock[0]), lambda m, u, ok: 0.0, random.Random(1), lambda: clock[0])
    flow = request_flow(ctx, tier="t", model="a", messages=[], prompt_text="")
    next(flow)
    clock[0] = 4.9  # the next wait would pass the 5 s deadline
    with pytest.raises(AllAttemptsFailed) as caught:
        while True:
            flow.send(Outcome("server_error", 500))
    assert caught.value.attempts[-1].error_kind == "deadline"
