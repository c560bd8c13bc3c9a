"""The simulated provider of `make demo`: labelled, deterministic, sometimes failing or poor."""

from __future__ import annotations

import httpx
import pytest

from rulerouter.testing import (
    POOR_ANSWER,
    LoopbackUpstream,
    RecordedRequest,
    Reply,
    SimulatedProvider,
    Status,
)

PROMPTS = [f"Explain topic number {i} in two sentences" for i in range(2000)]
SEED_JUDGE = ("Rate the quality of this response on a scale of 0-1. Just return the number.\n\n"
              "Original prompt: {prompt}\n\nResponse: {answer}")


def ask(provider: SimulatedProvider, prompt: str, model: str = "cheap") -> object:
    body = {"model": model, "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": prompt}]}
    return provider(RecordedRequest("POST", "/v1/chat/completions", {}, body, model=model))


def test_every_answer_is_labelled_with_the_model():
    provider = SimulatedProvider(seed=0)
    for prompt in PROMPTS[:200]:
        fate = ask(provider, prompt, model="gpt-x")
        text = fate.content if isinstance(fate, Reply) else fate.message
        assert text.startswith("[simulated gpt-x] ")


def test_fates_are_deterministic_per_seed():
    first = [ask(SimulatedProvider(seed=0), p) for p in PROMPTS[:200]]
    assert first == [ask(SimulatedProvider(seed=0), p) for p in PROMPTS[:200]]
    assert first != [ask(SimulatedProvider(seed=1), p) for p in PROMPTS[:200]]


def test_fates_spread_as_documented():
    outcomes = [ask(SimulatedProvider(seed=0), p) for p in PROMPTS]
    failed = sum(isinstance(o, Status) for o in outcomes)
    poor = sum(isinstance(o, Reply) and o.content.endswith(POOR_ANSWER) for o in outcomes)
    assert 0.10 < failed / len(PROMPTS) < 0.20  # failure_rate 0.15
    assert 0.15 < poor / len(PROMPTS) < 0.25  # poor_rate 0.20


def test_a_failing_model_usually_has_a_working_fallback():
    provider = SimulatedProvider(seed=0)
    failing = [p for p in PROMPTS if isinstance(ask(provider, p, "cheap"), Status)]
    assert failing
    assert all(o.code == 503 for o in (ask(provider, p, "cheap") for p in failing))
    rescued = sum(not isinstance(ask(provider, p, "strong"), Status) for p in failing)
    assert rescued / len(failing) > 0.7


def test_plausible_answers_restate_the_prompt_and_take_a_little_time():
    provider = SimulatedProvider(seed=0, failure_rate=0, poor_rate=0)
    answer = ask(provider, "How do I reverse a list in Python?")
    assert "How do I reverse a list in Python?" in answer.content
    assert 0.02 <= answer.delay <= 0.08


@pytest.mark.parametrize("scale, low, high", [("0-1", "0.2", "0.9"), ("0-10", "2", "9"), ("1 to 100", "20", "90")])
def test_judge_scores_poor_answers_low_and_others_high(scale, low, high):
    provider = SimulatedProvider(seed=0, failure_rate=1.0, poor_rate=0)  # judges never fail, even so
    judge = SEED_JUDGE.replace("0-1", scale)
    poor = ask(provider, judge.format(prompt="Explain X", answer=f"[simulated cheap] {POOR_ANSWER}"), "judge")
    good = ask(provider, judge.format(prompt="Explain X", answer="[simulated cheap] X does Y, then Z."), "judge")
    assert (poor, good) == (Reply(low), Reply(high))


def test_rates_are_validated():
    with pytest.raises(ValueError):
        SimulatedProvider(failure_rate=0.9, poor_rate=0.2)


def test_simulated_provider_over_http_shows_fallback_and_escalation():
    provider = SimulatedProvider(seed=0)
    prompt = next(p for p in PROMPTS if isinstance(ask(provider, p, "cheap"), Status)
                  and isinstance(ask(provider, p, "strong"), Reply))
    poor_prompt = next(p for p in PROMPTS if ask(provider, p, "cheap") == Reply(f"[simulated cheap] {POOR_ANSWER}"))
    with LoopbackUpstream(default=provider) as up, httpx.Client(base_url=up.base_url) as client:
        def post(model: str, text: str) -> httpx.Response:
            messages = [{"role": "user", "content": text}]
            return client.post("/chat/completions", json={"model": model, "messages": messages})

        assert post("cheap", prompt).status_code == 503
        assert post("strong", prompt).json()["choices"][0]["message"]["content"].startswith("[simulated strong] ")
        poor_answer = post("cheap", poor_prompt).json()["choices"][0]["message"]["content"]
        score = post("judge", SEED_JUDGE.format(prompt=poor_prompt, answer=poor_answer))
        assert float(score.json()["choices"][0]["message"]["content"]) < 0.5
