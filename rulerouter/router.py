"""`Router`: the object a service holds. Load a policy once, then decide (and call) per request.

Deciding needs the policy and the compiled rules only: the parts that call models (the
executor, its HTTP transport and httpx, streaming, batches) are imported when first used, so
a program that only decides never loads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .decide.compile import CompiledPolicy, Decision, RuleTrace
from .decide.inputs import Inputs
from .execute.redact import redactor_for
from .observe.metrics import Metrics
from .observe.observer import Observer, policy_event
from .policy.diagnostics import Diagnostic
from .policy.load import Checked, load_file, load_text
from .policy.schema import Log, Policy
from .state import StateBackend, state_for

if TYPE_CHECKING:
    from .execute.batch import BatchOutcome
    from .execute.executor import Executor
    from .execute.native import NativeRequest
    from .execute.result import Result
    from .execute.streaming import AsyncCompletionStream, CompletionStream

__all__ = ["Router"]


def _merged(parameters: Mapping[str, Any] | None, params: dict[str, Any]) -> dict[str, Any]:
    return {**parameters, **params} if parameters else params


class Router:
    """A compiled routing policy.

    Build it with `Router.from_file(path)`, `Router.from_toml(text)` or `Router.from_policy(p)`;
    each validates and lints the policy and raises `PolicyError` listing every error.
    """

    def __init__(
        self,
        checked: Checked,
        *,
        env: Mapping[str, str] | None = None,
        metrics: Metrics | None = None,
        log: Log | None = None,
        secrets: Iterable[str] = (),
        state: StateBackend | None = None,
    ) -> None:
        if checked.policy is None:
            raise TypeError("Router needs a checked policy; use Router.from_file or Router.from_toml")
        self.path = checked.path
        self.policy: Policy = checked.policy
        self.warnings: list[Diagnostic] = checked.warnings
        self._compiled = CompiledPolicy(checked.policy, checked.resources)
        self._env = env
        self._executor: Executor | None = None
        # Counters and shared breaker state; a router that built its own closes it.
        self._owns_state = state is None
        self.state: StateBackend = state if state is not None else state_for(checked.policy.state, env)
        self.observer = Observer(
            log or checked.policy.log, redactor_for(checked.policy, os.environ if env is None else env, secrets), metrics=metrics
        )
        self.observer.emit("policy_loaded", policy_event(checked))
        if self._owns_state:
            self.state.listen(self.observer.emit)  # state_unavailable / state_restored events

    @classmethod
    def from_file(cls, path: str | Path, *, env: Mapping[str, str] | None = None) -> Router:
        """Load a rule file. `env` replaces os.environ for API keys and base URLs."""
        return cls(load_file(path, env), env=env)

    @classmethod
    def from_toml(cls, text: str, *, path: str = "<string>", env: Mapping[str, str] | None = None) -> Router:
        return cls(load_text(text, path, env), env=env)

    @classmethod
    def from_policy(cls, policy: Policy, *, env: Mapping[str, str] | None = None) -> Router:
        """Check a policy built in code exactly as a file would be checked."""
        import tomli_w

        text = tomli_w.dumps(policy.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True))
        return cls(load_text(text, "<policy>", env), env=env)

    @property
    def compiled(self) -> CompiledPolicy:
        """The compiled policy `decide()` runs (what offline tools such as simulate use)."""
        return self._compiled

    @property
    def executor(self) -> Executor:
        """The part that calls models: provider pools and circuit breakers (built on first use)."""
        if self._executor is None:
            from .execute.executor import Executor

            self._executor = Executor(self._compiled, env=self._env, recorder=self.observer,
                                      ledger=self.state.ledger, circuits=self.state.circuits)
        return self._executor

    @property
    def metrics(self) -> Metrics:
        """Counts of every routed call: `router.metrics.summary()`, `router.metrics.prometheus()`."""
        return self.observer.metrics

    def circuits(self) -> dict[str, dict[str, object]]:
        """Each model's circuit-breaker state ({} before the first call)."""
        return self._executor.breakers.snapshot() if self._executor is not None else {}

    @property
    def tiers(self) -> dict[str, str]:
        """Tier name → model name."""
        return dict(self._compiled.tier_models)

    def decide(
        self,
        prompt: str | None = None,
        *,
        messages: Any = None,
        system_prompt: str | None = None,
        metadata: Any = None,
        request: Mapping[str, Any] | None = None,
        spend: Mapping[str, float] | None = None,
    ) -> Decision:
        """Which tier and model this request goes to, and why. Pure: no I/O. Raises only the
        request boundary's `InvalidInput`, naming the field: for a prompt or system prompt that is
        not text, messages that are not a list, or a value nested too deep.

        `spend` gives `when.spend` conditions their figures: budget name → fraction used
        (a budget not given counts as 0). `complete()` reads them from the state backend.
        """
        return self._compiled.decide(Inputs(prompt, messages, system_prompt, metadata, request, spend=spend))

    def trace(
        self,
        prompt: str | None = None,
        *,
        messages: Any = None,
        system_prompt: str | None = None,
        metadata: Any = None,
        request: Mapping[str, Any] | None = None,
        spend: Mapping[str, float] | None = None,
    ) -> list[RuleTrace]:
        """Every rule tried for this request and how it fared (slower than `decide`)."""
        return self._compiled.trace(Inputs(prompt, messages, system_prompt, metadata, request, spend=spend))

    def complete(
        self,
        prompt: str | None = None,
        *,
        messages: list[Any] | None = None,
        system_prompt: str | None = None,
        metadata: Any = None,
        tier: str | None = None,
        model: str | None = None,
        native: NativeRequest | None = None,
        verify: bool | None = None,
        client: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> Result:
        """Route and call: decide, call the model with fallback and retry, verify, return.

        `tier` or `model` skip the rules. `verify` turns the policy's verification on or off
        for this call (None: as the policy says). `client` names the caller for budgets and
        rate limits counted `per = "key"`. Other keyword arguments (max_tokens, temperature,
        response_format, tools, …) are passed to the model as they are.
        Raises an `ExecutionError` listing every attempt when there is no answer, and
        `BudgetExceeded` or `RateLimited` (before any call) when a limit is reached.
        """
        executor = self.executor
        prepared = executor.prepare(prompt, messages, system_prompt, metadata, tier, model, _merged(parameters, params), native, client=client)
        return executor.run(prepared, verify)

    async def acomplete(
        self,
        prompt: str | None = None,
        *,
        messages: list[Any] | None = None,
        system_prompt: str | None = None,
        metadata: Any = None,
        tier: str | None = None,
        model: str | None = None,
        native: NativeRequest | None = None,
        verify: bool | None = None,
        client: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> Result:
        """`complete()` for asyncio."""
        executor = self.executor
        prepared = executor.prepare(prompt, messages, system_prompt, metadata, tier, model, _merged(parameters, params), native, client=client)
        return await executor.arun(prepared, verify)

    def stream(
        self,
        prompt: str | None = None,
        *,
        messages: list[Any] | None = None,
        system_prompt: str | None = None,
        metadata: Any = None,
        tier: str | None = None,
        model: str | None = None,
        native: NativeRequest | None = None,
        parameters: Mapping[str, Any] | None = None,
        client: str | None = None,
        **params: Any,
    ) -> CompletionStream:
        """A streamed answer. Iterate it for chunks; fallback happens until the first chunk.

        `start()` (or the first iteration) routes and opens the stream; errors before the first
        chunk raise there, like `complete()`. After it, a broken stream raises
        `StreamInterrupted`, saying how much was delivered. `stream.result` holds usage, cost and
        attempts once the stream has ended.
        """
        from .execute.streaming import CompletionStream

        executor = self.executor
        return CompletionStream(executor, executor.prepare(prompt, messages, system_prompt, metadata, tier, model, _merged(parameters, params), native, client=client))

    def astream(
        self,
        prompt: str | None = None,
        *,
        messages: list[Any] | None = None,
        system_prompt: str | None = None,
        metadata: Any = None,
        tier: str | None = None,
        model: str | None = None,
        native: NativeRequest | None = None,
        parameters: Mapping[str, Any] | None = None,
        client: str | None = None,
        **params: Any,
    ) -> AsyncCompletionStream:
        """`stream()` for asyncio: `async for chunk in router.astream(...)`."""
        from .execute.streaming import AsyncCompletionStream

        executor = self.executor
        return AsyncCompletionStream(executor, executor.prepare(prompt, messages, system_prompt, metadata, tier, model, _merged(parameters, params), native, client=client))

    async def abatch(
        self,
        items: Iterable[Any],
        *,
        template: str | None = None,
        concurrency: int = 16,
        on_outcome: Callable[[int, Any, BatchOutcome], None] | None = None,
        **defaults: Any,
    ) -> list[BatchOutcome]:
        """Run many requests with at most `concurrency` in flight; outcomes in input order.

        Each item is a prompt, a mapping of `acomplete()` arguments, or — with `template` —
        a value formatted into it as `{item}`. Each outcome is a `Result` or the error that says
        why that item has none; no item is lost. `defaults` (e.g. max_tokens=200) apply to all.
        """
        from .execute.batch import run_batch

        return await run_batch(self.acomplete, items, template=template, concurrency=concurrency, on_outcome=on_outcome, **defaults)

    def close(self) -> None:
        """Close pooled connections (sync clients) and the event log."""
        if self._executor is not None:
            self._executor.providers.close()
        if self._owns_state:
            self.state.close()
        self.observer.close()

    async def aclose(self) -> None:
        """Close pooled connections of the running event loop (and the sync ones)."""
        if self._executor is not None:
            await self._executor.providers.aclose()
        if self._owns_state:
            self.state.close()
        self.observer.close()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Router(path={self.path!r}, rules={len(self._compiled.rules)}, tiers={sorted(self._compiled.tier_models)})"
