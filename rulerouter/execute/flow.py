"""The fallback, retry and verification plan of one request, as pure logic.

`request_flow()` is a generator written once and driven by both the sync and the async caller
(as httpx drives `Auth.auth_flow`): it yields a `Call` — which model, for what, after how long
a wait — and receives the `Outcome` of that call. It decides what comes next from the policy:
retry the same model (backoff with full jitter, or the upstream's Retry-After), fall back to the
next model in the list, skip a model whose circuit is open, move to a model with a larger
context window, fail fast on a request the upstream refuses, then judge the answer and escalate
it when it is poor. The drivers only do I/O and sleeping.

Attempt caps: the answer takes at most `retry.max_attempts` calls; the judge and the escalation
each at most `verification.max_attempts`. A judge or escalation that fails never loses the
answer already in hand: it is kept, and the failed attempts are on the result.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Generator

from ..policy.schema import Policy, Verification
from .breaker import Breakers
from .result import AllAttemptsFailed, Attempt, ExecutionError, UpstreamRejected, Usage
from .upstream_reply import Outcome
from .verify import judge_messages, parse_score

__all__ = ["Call", "FlowEnd", "adrive", "drive", "request_flow"]

RETRYABLE = frozenset({"timeout", "connect", "rate_limited", "server_error", "malformed"})
PriceFn = Callable[[str, Usage | None, bool], float | None]


@dataclass(slots=True)
class Call:
    """What the driver must do next: wait `delay_s`, then call `model` with `messages`."""

    model: str
    purpose: str
    messages: list[Any]
    delay_s: float = 0.0
    number: int = 1  # 1-based number of this call within its purpose


@dataclass(slots=True)
class FlowEnd:
    """The answer a request ended with, and everything that happened on the way."""

    outcome: Outcome
    model: str
    tier: str
    answer_attempt: int
    attempts: list[Attempt] = field(default_factory=list)
    escalated: bool = False
    escalation_reason: str | None = None
    judge_score: float | None = None


@dataclass(slots=True)
class FlowContext:
    policy: Policy
    breakers: Breakers
    price: PriceFn
    rng: random.Random
    clock: Callable[[], float] = time.monotonic
    verify: bool | None = None  # None: as the policy says


def _content(outcome: Outcome) -> str:
    try:
        content = outcome.response["choices"][0]["message"].get("content")  # type: ignore[index]
    except (TypeError, KeyError, IndexError, AttributeError):
        return ""
    return content if isinstance(content, str) else ""


class _Phase:
    """Tries one chain of models for one purpose, within a cap on calls."""

    def __init__(self, ctx: FlowContext, purpose: str, chain: list[str], cap: int, attempts: list[Attempt], deadline: float | None) -> None:
        self.ctx = ctx
        self.purpose = purpose
        self.chain = chain
        self.cap = cap
        self.attempts = attempts
        self.deadline = deadline
        self.calls = 0

    def record(self, model: str, outcome: Outcome, skipped: bool = False, waited: float = 0.0) -> None:
        cost = 0.0 if skipped else self.ctx.price(model, outcome.usage, outcome.ok)
        self.attempts.append(
            Attempt(
                model=model,
                purpose=self.purpose,
                outcome="skipped" if skipped else ("ok" if outcome.ok else "error"),
                error_kind=outcome.kind,
                status=outcome.status,
                message=outcome.message,
                latency_s=outcome.latency_s,
                usage=outcome.usage,
                cost=cost,
                retry_after_s=outcome.retry_after_s,
                waited_s=waited,
            )
        )

    def backoff(self, retry: int) -> float:
        settings = self.ctx.policy.retry
        ceiling = min(settings.backoff_max_s, settings.backoff_initial_s * (2 ** retry))
        return self.ctx.rng.uniform(0, ceiling)

    def out_of_time(self, delay: float) -> bool:
        return self.deadline is not None and self.ctx.clock() + delay >= self.deadline

    def run(self, messages: list[Any]) -> Generator[Call, Outcome, tuple[Outcome, str] | None]:
        """Yield calls until one succeeds (returns its outcome and model) or the chain is spent."""
        models = self.ctx.policy.models
        too_small: int | None = None  # a context window known to be too small for this request
        circuit_open: list[str] = []
        for model in self.chain:
            window = models[model].context_window if model in models else None
            if too_small is not None and window is not None and window <= too_small:
                self.record(model, Outcome("context_length", message=f"context window {window} is not larger than {too_small}"), skipped=True)
                continue
            blocked = self.ctx.breakers.admit(model)
            if blocked is not None:
                self.record(model, Outcome("circuit_open", message=blocked), skipped=True)
                circuit_open.append(model)
                continue
            verdict, value = yield from self.attempt(model, messages)
            if verdict == "ok":
                return value, model
            if verdict == "stop":
                return None
            if verdict == "too_small":
                too_small = max(too_small or 0, window or 0) or too_small
        if circuit_open:
            # Models skipped for a Retry-After that ends soon are worth waiting for rather than
            # giving up, soonest first, while the cap allows; and when no call was made at all,
            # one call to a model whose circuit is open beats none (the first of the chain, as a
            # probe would be).
            breakers = self.ctx.breakers
            cap = self.ctx.policy.retry.retry_after_max_s
            waiting = [m for m in circuit_open if breakers.wait_remaining(m) > 0.0]
            opened = [m for m in circuit_open if m not in waiting]
            for model in sorted(waiting, key=breakers.wait_remaining):
                wait = breakers.wait_remaining(model)
                if wait > cap:
                    continue
                verdict, value = yield from self.attempt(model, messages, wait)
                if verdict == "ok":
                    return value, model
                if verdict == "stop":
                    return None
            if opened and self.calls == 0:
                verdict, value = yield from self.attempt(opened[0], messages)
                if verdict == "ok":
                    return value, opened[0]
        return None

    def attempt(self, model: str, messages: list[Any], delay: float = 0.0) -> Generator[Call, Outcome, tuple[str, Any]]:
        """Call one model, retrying it as the policy allows: ("ok", outcome), ("next", None),
        ("too_small", None) for a context-length error, or ("stop", None) at the cap or deadline."""
        policy = self.ctx.policy
        breakers = self.ctx.breakers
        retries = 0
        while True:
            if self.calls >= self.cap:
                breakers.release(model)
                return "stop", None
            if self.out_of_time(delay):
                breakers.release(model)
                self.record(model, Outcome("deadline", message=f"the request's deadline of {policy.retry.deadline_s}s ran out"), skipped=True)
                return "stop", None
            self.calls += 1
            try:
                outcome = yield Call(model, self.purpose, messages, delay, self.calls)
            except GeneratorExit:
                breakers.release(model)
                raise
            if outcome.kind == "untranslatable":  # no call was made: a skip, like a context too small
                self.calls -= 1
                breakers.release(model)
                self.record(model, outcome, skipped=True)
                return "next", None
            self.record(model, outcome, waited=delay)
            if outcome.ok:
                breakers.success(model)
                return "ok", outcome
            kind = outcome.kind
            if kind == "rejected":
                breakers.release(model)
                raise UpstreamRejected(f"{model} refused the request ({outcome.status}): {outcome.message}", self.attempts, status=outcome.status)
            if kind == "context_length":
                breakers.release(model)
                return "too_small", None
            breakers.failure(model)
            if kind == "rate_limited" and outcome.retry_after_s is not None:
                wait = outcome.retry_after_s
                breakers.wait(model, wait)
                if wait > policy.retry.retry_after_max_s:
                    return "next", None  # asked to wait longer than we will: fall back now
                delay = max(wait, self.backoff(retries))
            else:
                delay = self.backoff(retries)
            if kind not in RETRYABLE or retries >= policy.retry.retries_per_model:
                return "next", None
            if kind != "rate_limited" and breakers.admit(model) is not None:
                return "next", None  # this failure opened the circuit: do not hammer the model
            retries += 1


def _chain(policy: Policy, first: str) -> list[str]:
    model = policy.models.get(first)
    return [first] + (list(model.fallback) if model is not None else [])


def _should_verify(ctx: FlowContext, verification: Verification | None, tier: str) -> bool:
    if verification is None:
        return False
    enabled = verification.enabled if ctx.verify is None else ctx.verify
    if not enabled or tier not in verification.tiers:
        return False
    return verification.sample_rate >= 1.0 or ctx.rng.random() < verification.sample_rate


def request_flow(
    ctx: FlowContext,
    *,
    tier: str,
    model: str,
    messages: list[Any],
    prompt_text: str,
    allow_verify: bool = True,
    attempts: list[Attempt] | None = None,
) -> Generator[Call, Outcome, FlowEnd]:
    """The whole plan of one request. Raises `ExecutionError` subclasses when there is no answer.

    Attempts are appended to `attempts` as they happen (a new list when None), so a caller
    interrupted mid-flow still knows what was spent.
    """
    policy = ctx.policy
    attempts = [] if attempts is None else attempts
    deadline = ctx.clock() + policy.retry.deadline_s if policy.retry.deadline_s else None
    chain = _chain(policy, model)
    answer = _Phase(ctx, "answer", chain, policy.retry.max_attempts, attempts, deadline)
    try:
        got = yield from answer.run(messages)
    except ExecutionError as exc:
        exc.tier = tier
        raise
    if got is None:
        if answer.calls >= answer.cap:
            why = f"the cap of {answer.cap} attempt(s) was reached"
        else:
            why = f"every model in the chain {' -> '.join(chain)} failed or was skipped"
        raise AllAttemptsFailed(f"no answer for tier '{tier}': {why}", attempts, tier=tier)
    outcome, used = got
    end = FlowEnd(outcome, used, tier, answer.calls, attempts)
    verification = policy.verification
    if not allow_verify or not _should_verify(ctx, verification, tier):
        return end
    assert verification is not None
    judge_model = policy.tiers[verification.judge_tier].model
    judge = _Phase(ctx, "judge", _chain(policy, judge_model), verification.max_attempts, attempts, deadline)
    try:
        judged = yield from judge.run(judge_messages(verification.prompt, prompt_text, _content(outcome)))
    except ExecutionError:
        judged = None  # a judge that refuses us must not cost the answer
    if judged is None:
        return end  # no verdict: keep the answer; the failed judge attempts are on the result
    score = parse_score(_content(judged[0]))
    end.judge_score = score
    if score is None:
        if verification.on_unparsable != "escalate":
            return end
        reason = "judge reply had no score"
    elif score < verification.threshold:
        reason = f"judge score {score:g} < {verification.threshold:g}"
    else:
        return end
    target = policy.tiers[verification.escalate_to].model
    escalation = _Phase(ctx, "escalation", _chain(policy, target), verification.max_attempts, attempts, deadline)
    try:
        escalated = yield from escalation.run(messages)
    except ExecutionError:
        escalated = None
    if escalated is None:
        end.escalation_reason = f"{reason}; escalation to '{verification.escalate_to}' failed, kept the first answer"
        return end
    end.outcome, end.model = escalated
    end.tier = verification.escalate_to
    end.escalated = True
    end.escalation_reason = reason
    return end


Flow = Generator[Call, Outcome, FlowEnd]


def drive(flow: Flow, call: Callable[[Call], Outcome], sleep: Callable[[float], Any]) -> FlowEnd:
    """Run a flow synchronously: wait when told, make each call, feed back its outcome."""
    try:
        step = next(flow)
        while True:
            if step.delay_s > 0:
                sleep(step.delay_s)
            step = flow.send(call(step))
    except StopIteration as stop:
        return stop.value
    finally:
        flow.close()


async def adrive(flow: Flow, call: Callable[[Call], Awaitable[Outcome]], sleep: Callable[[float], Awaitable[Any]]) -> FlowEnd:
    """`drive` for asyncio: the same flow, awaited calls and sleeps."""
    try:
        step = next(flow)
        while True:
            if step.delay_s > 0:
                await sleep(step.delay_s)
            step = flow.send(await call(step))
    except StopIteration as stop:
        return stop.value
    finally:
        flow.close()
