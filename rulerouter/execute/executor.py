"""Turning a decision into an answer: the sync and async drivers of the request flow.

The plan (which model, when to retry, when to fall back, when to judge and escalate) lives in
`flow.py` and is the same for both drivers; the drivers here only build the HTTP request,
send it, read the reply into an `Outcome`, sleep when told to, and assemble the `Result`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Mapping, Protocol, TypeVar

from ..decide.compile import CompiledPolicy, Decision
from ..decide.inputs import Inputs, estimate_tokens
from ..errors import LimitExceeded, UsageError
from ..policy.schema import Policy
from .breaker import Breakers, SharedCircuits
from .cost import cost_of, sum_costs
from .flow import Call, FlowContext, FlowEnd, adrive, drive, request_flow
from .limits import Admission, Ledger, Limits, output_tokens_of
from .native import NativeRequest, Untranslatable
from .providers import Providers, Target
from .result import Attempt, Cancelled, ExecutionError, Result, Usage
from .upstream_reply import Outcome, outcome_from_exception

__all__ = ["Executor", "Prepared", "Recorder"]

E = TypeVar("E", bound=ExecutionError)
_RESERVED = frozenset({"model", "messages", "stream"})
_ids = itertools.count(1)
_PREFIX = os.urandom(4).hex()


def new_request_id() -> str:
    return f"rr-{_PREFIX}-{next(_ids):x}"


@dataclass(slots=True)
class Prepared:
    """A request ready to run: its decision, its messages and the parameters passed through,
    and the request in its client's own API when that was not the internal one."""

    decision: Decision
    messages: list[Any]
    params: dict[str, Any]
    prompt_text: str
    request_id: str
    started: float
    native: NativeRequest | None = None
    admission: Admission | None = None  # what the request reserved of its budgets and rate limits
    attempts: list[Attempt] = field(default_factory=list)  # filled by the flow as it goes
    budgets: list[dict[str, str]] = field(default_factory=list)  # the budgets that count it
    in_flight: tuple[Call, float] | None = None  # the call being waited on, and since when (perf_counter)


def _check_messages(messages: list[Any]) -> None:
    if not messages:
        raise UsageError("nothing to send: give a prompt or messages")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise UsageError(f"messages[{index}] must be an object with a string 'role'")


def untranslatable(exc: Untranslatable, call: Call, redact: Any) -> Outcome:
    """The outcome of a call its provider's API cannot carry: no I/O was done."""
    return Outcome("untranslatable", None, redact(f"{call.model}'s provider cannot take the request: {exc}"))


class Recorder(Protocol):
    """Where an executor reports each routed call (`rulerouter.observe.Observer` is one)."""

    def answered(self, result: Result, *, stream: bool = False, prompt: str | None = None) -> None: ...

    def failed(self, error: ExecutionError, *, tier: str, rule: str | None, latency_s: float,
               stream: bool = False, prompt: str | None = None) -> None: ...

    def refused(self, error: LimitExceeded, *, tier: str, rule: str | None) -> None: ...

    def emit(self, kind: str, fields: dict[str, Any]) -> None: ...


class Executor:
    """Runs requests for one compiled policy. Holds the provider pools and circuit breakers."""

    def __init__(
        self,
        compiled: CompiledPolicy,
        *,
        env: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        recorder: Recorder,
        ledger: Ledger | None = None,
        circuits: SharedCircuits | None = None,
    ) -> None:
        policy: Policy = compiled.policy
        self.compiled = compiled
        self.policy = policy
        self.providers = Providers(policy, env)
        self.recorder = recorder
        breaker = policy.circuit_breaker
        self.breakers = Breakers(breaker.failure_threshold, breaker.cooldown_s, enabled=breaker.enabled, clock=clock, shared=circuits)
        self.clock = clock
        self.rng = rng or random.Random()
        self._sleep = sleep
        self._asleep = asleep
        self._prices = {name: model.price for name, model in policy.models.items()}
        self._context = FlowContext(policy, self.breakers, self.price, self.rng, clock)
        self.limits: Limits | None = None
        if policy.budgets or policy.rate_limits:
            if ledger is None:
                raise ValueError("this policy has budgets or rate limits: give the executor a ledger (Router does)")
            self.limits = Limits(policy, ledger, warn=lambda fields: recorder.emit("budget_warning", fields))

    # ---- preparing ------------------------------------------------------------------------------

    def price(self, model: str, usage: Usage | None, ok: bool) -> float | None:
        return cost_of(self._prices.get(model), usage, ok)

    def prepare(
        self,
        prompt: str | None,
        messages: list[Any] | None,
        system_prompt: str | None,
        metadata: Any,
        tier: str | None,
        model: str | None,
        params: dict[str, Any],
        native: NativeRequest | None = None,
        client: str | None = None,
    ) -> Prepared:
        """Check the request, decide it, and reserve its share of the budgets and rate limits.

        `client` says who is calling (the gateway passes its client key's id) for the budgets
        and rate limits that count `per = "key"`. Raises `UsageError` or `LimitExceeded`.
        """
        started = time.perf_counter()
        if params:
            if "stream" in params:
                raise UsageError("for a streamed answer call stream() or astream(), not stream=True")
            reserved = _RESERVED.intersection(params)
            if reserved:
                raise UsageError(f"pass {', '.join(sorted(reserved))} as arguments of their own, not as request parameters")
        inputs = Inputs(prompt, messages, system_prompt, metadata, None, params, sent=True)  # the boundary: checks and repairs
        params = dict(inputs.params)
        final_messages = inputs.effective_messages()
        if messages is not None or not final_messages:
            _check_messages(final_messages)
        compiled = self.compiled
        limits = self.limits
        scopes = limits.scopes(metadata, client) if limits is not None else None
        if scopes is not None and compiled.spend_budgets and model is None and tier is None:
            inputs.spend = limits.spend(scopes, compiled.spend_budgets)  # type: ignore[union-attr]  # read before deciding
        if model is not None:
            if model not in self.policy.models:
                raise UsageError(f"unknown model '{model}' (models: {', '.join(sorted(self.policy.models))})")
            forced_tier = next((t for t, m in compiled.tier_models.items() if m == model), "direct")
            decision = Decision(forced_tier, model, None, inputs, note=f"model '{model}' chosen by the caller", forced="model")
        elif tier is not None:
            if tier not in compiled.tier_models:
                raise UsageError(f"unknown tier '{tier}' (tiers: {', '.join(sorted(compiled.tier_models))})")
            decision = compiled.decide_tier(tier, inputs, note=f"tier '{tier}' chosen by the caller")
        else:
            decision = compiled.decide(inputs)
        self.providers.target(decision.model)  # fail early when the model cannot be called
        prepared = Prepared(decision, final_messages, params, inputs.text("last_user"), new_request_id(), started, native)
        if scopes is not None:
            self._admit(prepared, scopes, inputs)
        return prepared

    def _admit(self, prepared: Prepared, scopes: Any, inputs: Inputs) -> None:
        assert self.limits is not None
        decision = prepared.decision
        try:
            admission = self.limits.admit(scopes, decision.model, estimate_tokens(inputs.text("all")), output_tokens_of(prepared.params))
        except LimitExceeded as exc:
            self.recorder.refused(exc, tier=decision.tier, rule=decision.rule)
            raise
        prepared.admission = admission
        prepared.budgets = admission.counted
        if admission.downgrade_to is not None and admission.downgrade_to != decision.tier:
            note = f"budget '{admission.downgraded_by}' is spent: downgraded from tier '{decision.tier}'"
            prepared.decision = self.compiled.decide_tier(admission.downgrade_to, inputs, note=note)
            try:
                self.providers.target(prepared.decision.model)
            except BaseException:
                self.settle(prepared, [])
                raise

    def settle(self, prepared: Prepared, attempts: list[Attempt]) -> None:
        """Replace the request's reservations by its real cost; once, however it ended."""
        admission, prepared.admission = prepared.admission, None
        if admission is not None and self.limits is not None:
            self.limits.settle(admission, attempts)

    def flow(self, prepared: Prepared, verify: bool | None, allow_verify: bool = True) -> Generator[Call, Outcome, FlowEnd]:
        ctx = self._context if verify is None else FlowContext(self.policy, self.breakers, self.price, self.rng, self.clock, verify=verify)
        decision = prepared.decision
        return request_flow(
            ctx,
            tier=decision.tier,
            model=decision.model,
            messages=prepared.messages,
            prompt_text=prepared.prompt_text,
            allow_verify=allow_verify,
            attempts=prepared.attempts,
        )

    def body(self, call: Call, prepared: Prepared, *, stream: bool = False) -> tuple[Target, bytes, tuple[tuple[bytes, bytes], ...]]:
        """The target, request body and extra headers of a call, in its provider's API.

        Raises `Untranslatable` when the provider's API cannot carry the request; a judge call
        carries only the judge's messages.
        """
        target = self.providers.target(call.model)
        if call.purpose == "judge":
            body, extra = target.api.body(target.upstream, call.messages, {}, None, stream)
        else:
            body, extra = target.api.body(target.upstream, call.messages, prepared.params, prepared.native, stream)
        return target, body, extra

    def result(self, prepared: Prepared, end: FlowEnd) -> Result:
        response = end.outcome.response or {}
        try:
            content = response["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            content = None
        decision = prepared.decision
        return Result(
            content=content,
            model_used=end.model,
            tier=end.tier,
            rule=decision.rule,
            attempt=end.answer_attempt,
            usage=end.outcome.usage or Usage(),
            attempts=end.attempts,
            cost=sum_costs([a.cost for a in end.attempts]),
            latency_s=time.perf_counter() - prepared.started,
            request_id=prepared.request_id,
            escalated=end.escalated,
            escalation_reason=end.escalation_reason,
            judge_score=end.judge_score,
            response=response,
            decision=decision,
            decided_tier=decision.tier,
            raw_response=end.outcome.raw,
            provider_api=end.outcome.api,
        )

    # ---- one call -------------------------------------------------------------------------------

    def call(self, call: Call, prepared: Prepared) -> Outcome:
        redact = self.providers.redact
        try:
            target, body, extra = self.body(call, prepared)
        except Untranslatable as exc:
            return untranslatable(exc, call, redact)
        client = self.providers.client(target.provider)
        started = time.perf_counter()
        prepared.in_flight = (call, started)
        try:
            response = client.post(target.url, content=body, headers=extra or None)
        except Exception as exc:  # every transport failure becomes a classified outcome
            outcome = outcome_from_exception(exc, redact)
        else:
            outcome = target.api.read_reply(response.status_code, response.headers, response.content, redact)
        prepared.in_flight = None
        outcome.latency_s = time.perf_counter() - started
        return outcome

    async def acall(self, call: Call, prepared: Prepared) -> Outcome:
        redact = self.providers.redact
        try:
            target, body, extra = self.body(call, prepared)
        except Untranslatable as exc:
            return untranslatable(exc, call, redact)
        started = time.perf_counter()
        prepared.in_flight = (call, started)  # left set if the caller goes away during the call
        try:
            status, headers, content = await self.providers.apost(target, body, extra)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome = outcome_from_exception(exc, redact)
        else:
            outcome = target.api.read_reply(status, headers, content, redact)
        prepared.in_flight = None
        outcome.latency_s = time.perf_counter() - started
        return outcome

    # ---- drivers --------------------------------------------------------------------------------

    def answered(self, prepared: Prepared, result: Result, *, stream: bool = False) -> Result:
        self.settle(prepared, result.attempts)
        result.budgets = prepared.budgets
        self.recorder.answered(result, stream=stream, prompt=prepared.prompt_text)
        return result

    def failed(self, prepared: Prepared, error: E, *, stream: bool = False) -> E:
        error.request_id, error.rule, error.repaired = prepared.request_id, prepared.decision.rule, prepared.decision.repaired
        if error.tier is None:
            error.tier = prepared.decision.tier
        self.settle(prepared, error.attempts)
        error.budgets = prepared.budgets
        self.recorder.failed(
            error,
            tier=prepared.decision.tier,
            rule=prepared.decision.rule,
            latency_s=time.perf_counter() - prepared.started,
            stream=stream,
            prompt=prepared.prompt_text,
        )
        return error

    def abandoned(self, prepared: Prepared, how: str, *, stream: bool = False, delivered_chunks: int = 0) -> Cancelled:
        """The caller went away (`how` says when): record the request as cancelled, with the
        attempts made so far — the one cut off in flight included, its cost unknown because the
        upstream may still charge for it — and settle its budgets with what is known."""
        attempts = prepared.attempts
        if prepared.in_flight is not None:
            call, since = prepared.in_flight
            prepared.in_flight = None
            attempts.append(Attempt(model=call.model, purpose=call.purpose, outcome="cancelled", error_kind="cancelled",
                                    message="cut off: the caller went away while this call was in flight; the upstream may still charge for it",
                                    latency_s=time.perf_counter() - since, cost=None, waited_s=call.delay_s))
        spent = sum(a.cost for a in attempts if a.cost is not None)
        error = Cancelled(f"the caller went away {how}, after {len(attempts)} attempt(s) costing ${spent:.6f} so far (known part)",
                          attempts, delivered_chunks=delivered_chunks, tier=prepared.decision.tier)
        return self.failed(prepared, error, stream=stream)

    def run(self, prepared: Prepared, verify: bool | None) -> Result:
        try:
            end = drive(self.flow(prepared, verify), lambda call: self.call(call, prepared), self._sleep)
        except ExecutionError as exc:
            raise self.failed(prepared, exc) from None
        except (KeyboardInterrupt, SystemExit):  # the caller is leaving: record what was spent
            self.abandoned(prepared, "before the answer")
            raise
        except BaseException:  # a bug: charge the attempts made, release the rest
            self.settle(prepared, prepared.attempts)
            raise
        return self.answered(prepared, self.result(prepared, end))

    async def arun(self, prepared: Prepared, verify: bool | None) -> Result:
        try:
            end = await adrive(self.flow(prepared, verify), lambda call: self.acall(call, prepared), self._asleep)
        except ExecutionError as exc:
            raise self.failed(prepared, exc) from None
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):  # the caller went away: cut off, recorded
            self.abandoned(prepared, "before the answer")
            raise
        except BaseException:  # a bug: charge the attempts made, release the rest
            self.settle(prepared, prepared.attempts)
            raise
        return self.answered(prepared, self.result(prepared, end))
