"""`make demo`: the whole pipeline on the article's examples, end to end.

1. Decide: the article's example prompts (and a few more) routed by rules/default.toml, each with
   the rule that decided it and why. No model is called.
2. Execute: the same prompts sent through the router with quality verification on, so fallback
   (a provider failing) and escalation (a poor cheap answer re-run on the complex tier) show up,
   with every attempt, its tokens and its cost; then a streamed answer and a small batch.
3. Serve: `rulerouter serve` in front of the same provider, called with the openai client.

Without RULEROUTER_API_KEY the calls go to a SIMULATED provider on 127.0.0.1 (its answers are
fake and labelled so). With RULEROUTER_API_KEY and RULEROUTER_BASE_URL set, they go to the
endpoint RULEROUTER_BASE_URL names, with that key, and cost real money; a key without an
endpoint stops the demo before anything is sent.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from ..errors import PolicyError
from ..execute.result import ExecutionError, Result
from ..router import Router

__all__ = ["main"]

POLICY = "rules/default.toml"
SIMULATION_SEED = 3  # a seed under which the examples show a fallback and an escalation
DEMO_GATEWAY_KEY = "demo-client-key"  # the demo's gateway requires a client key, as every gateway does by default

EXAMPLES: list[tuple[str, dict[str, object] | None]] = [
    (
        "Design a distributed caching system that handles partition tolerance and maintains "
        "consistency across 3 regions. Consider the CAP trade-offs.",
        None,
    ),
    (
        "Extract all API endpoints from this codebase and return as JSON with method, path, "
        "description, and parameters for each.",
        {"json_output": True},
    ),
    ("Generate unit tests for all 15 functions in this utils module.", None),
    ("Find the root cause of the deadlock in our job scheduler.", None),
    ("Add docstrings to every public function in utils.py.", None),
    ("What is the capital of France?", None),
    ("Summarise this incident report for the weekly update.", {"tier": "bulk"}),
    (" ".join(["context"] * 1200) + " — what does this module do?", None),
]


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _heading(title: str) -> None:
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}")


def show_decisions(router: Router) -> None:
    _heading(f"1. Decisions by {router.path} (no model is called)")
    for prompt, metadata in EXAMPLES:
        decision = router.decide(prompt, metadata=metadata)
        print(f"\nprompt:   {_short(prompt)}")
        if metadata:
            print(f"metadata: {metadata}")
        print(f"  -> {decision.tier} ({decision.model}), rule: {decision.rule or 'none, default tier'}")
        print(f"     why: {decision.explanation}")


def _money(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.6f}"


def show_result(prompt: str, result: Result) -> None:
    print(f"\nprompt:  {_short(prompt)}")
    print(f"answer:  {_short(result.content or '', 100)}")
    tier = result.tier if not result.escalated else f"{result.decided_tier}, escalated to {result.tier}"
    print(f"routed:  tier {tier}, model {result.model_used}, rule {result.rule or '(default)'}, attempt {result.attempt}")
    for number, attempt in enumerate(result.attempts, 1):
        tokens = f"{attempt.usage.prompt_tokens}+{attempt.usage.completion_tokens} tok" if attempt.usage else "no usage"
        print(f"   {number}. {attempt.purpose:<10} {attempt.model:<18} {attempt.outcome:<7} {attempt.error_kind or '':<13} {tokens:<14} {_money(attempt.cost)}")
    if result.judge_score is not None:
        verdict = f"escalated ({result.escalation_reason})" if result.escalated else (result.escalation_reason or "kept")
        print(f"judge:   score {result.judge_score:g} -> {verdict}")
    print(f"cost:    {_money(result.cost)} in {result.latency_s * 1000:.0f} ms")


async def show_execution(router: Router, label: str) -> None:
    _heading(f"2. Calls through {label}")
    for prompt, metadata in EXAMPLES:
        try:
            result = await router.acomplete(prompt, metadata=metadata, verify=True, max_tokens=300)
        except ExecutionError as exc:
            print(f"\nprompt:  {_short(prompt)}\nfailed:  {exc}")
            continue
        show_result(prompt, result)

    print("\nstreamed (fallback may happen until the first chunk arrives):\n  ", end="")
    stream = router.astream("Explain in two sentences why a router needs fallback chains.", max_tokens=120)
    try:
        async for chunk in stream:
            print(chunk.text, end="", flush=True)
        print()
        if stream.result is not None:
            print(f"  model {stream.result.model_used}, {stream.result.usage.total_tokens} tokens, cost {_money(stream.result.cost)}")
    except ExecutionError as exc:
        print(f"\n  stream failed: {exc}")

    items = ["utils.py", "models.py", "views.py", "forms.py", "admin.py", "urls.py"]
    print(f"\nbatch: 'Add docstrings to {{item}}' for {len(items)} files, 3 at a time")
    outcomes = await router.abatch(items, template="Add docstrings to {item}", concurrency=3, max_tokens=200)
    for item, outcome in zip(items, outcomes):
        if isinstance(outcome, Result):
            print(f"  {item:<10} -> {outcome.tier}/{outcome.model_used}, attempt {outcome.attempt}, {_money(outcome.cost)}")
        else:
            print(f"  {item:<10} -> error: {getattr(outcome, 'summary', outcome)}")


def main(policy: str = POLICY) -> int:
    real = bool(os.environ.get("RULEROUTER_API_KEY"))
    with ExitStack() as stack:
        env: dict[str, str] = dict(os.environ)
        if real:
            endpoint = os.environ.get("RULEROUTER_BASE_URL")
            if not endpoint:
                print("rulerouter demo: RULEROUTER_API_KEY is set but RULEROUTER_BASE_URL is not: set it to the endpoint "
                      "that key belongs to (the key is sent there), or unset the key for the simulated demo", file=sys.stderr)
                return 2
            label = f"the real endpoint {endpoint} (RULEROUTER_API_KEY is set and is sent there)"
        else:
            from ..testing import LoopbackUpstream, SimulatedProvider

            upstream = stack.enter_context(LoopbackUpstream(default=SimulatedProvider(seed=SIMULATION_SEED), record=False))
            env["RULEROUTER_BASE_URL"] = upstream.base_url
            env["RULEROUTER_API_KEY"] = "simulated-key"
            label = f"a SIMULATED provider at {upstream.base_url} (answers are fake; set RULEROUTER_API_KEY to use a real endpoint)"
        try:
            router = Router.from_file(Path(policy), env=env)
        except PolicyError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"rulerouter demo — policy {policy}")
        show_decisions(router)

        async def run() -> None:
            try:
                await show_execution(router, label)
            finally:
                await router.aclose()

        asyncio.run(run())
        show_gateway(policy, env, label)
    return 0


def show_gateway(policy: str, env: dict[str, str], label: str) -> None:
    """Start `rulerouter serve` on the same provider and call it with the official openai client."""
    _heading("3. The gateway: rulerouter serve, called with the openai client")
    try:
        import openai
        import uvicorn  # noqa: F401  (the server extra)
    except ImportError:
        print("skipped: needs pip install 'rulerouter[server]' openai")
        return
    command = [sys.executable, "-m", "rulerouter", "serve", "-c", policy, "--port", "0", "--keys-env", "RULEROUTER_DEMO_GATEWAY_KEYS"]
    print("$ " + " ".join(command[2:]))
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**env, "RULEROUTER_DEMO_GATEWAY_KEYS": DEMO_GATEWAY_KEY})
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        print(line.rstrip())
        match = re.search(r"(http://\S+/v1)", line)
        if match is None:
            print("the gateway did not start")
            return
        client = openai.OpenAI(base_url=match.group(1), api_key=DEMO_GATEWAY_KEY, max_retries=0)
        prompt = "Add docstrings to every function in utils.py"
        raw = client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": prompt}])
        reply = raw.parse()
        print(f"\nclient.chat.completions.create(model='auto', messages=[{{'role': 'user', 'content': {prompt!r}}}])")
        print(f"  -> {_short(reply.choices[0].message.content or '', 90)}")
        print(f"     model {reply.model}; headers: tier={raw.headers.get('x-rulerouter-tier')} rule={raw.headers.get('x-rulerouter-rule')} "
              f"attempts={raw.headers.get('x-rulerouter-attempts')} cost={raw.headers.get('x-rulerouter-cost')}")
        stream = client.chat.completions.create(model="complex", messages=[{"role": "user", "content": "Why route LLM calls?"}], stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        print(f"  streamed from tier 'complex': {_short(text, 90)}")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
