"""The simulated provider behind `make demo`: plausible, deterministic, and clearly fake.

Without an API key the demo still has to show the whole pipeline — routing, fallback when a
provider fails, escalation when a cheap answer is poor — so `SimulatedProvider` is a hook that
answers like a small, unreliable model. Nothing here pretends to be a real model:

* Every answer, and every simulated error message, starts with `[simulated <model>]`.
* Each (seed, model, prompt) triple gets one roll in [0, 1) from BLAKE2b, so the same request
  always meets the same fate, whatever the order or concurrency of requests:
    - roll < `failure_rate` (default 0.15): **503**, a simulated outage of that model for that
      prompt. Retrying the same model fails again; falling back to another model (another roll)
      usually succeeds — so fallback is visible.
    - next `poor_rate` (default 0.20): a **poor answer**, short and unhelpful
      (`"[simulated m] Sorry, I am not sure about that."`).
    - otherwise a **plausible answer**: one of a few templates, chosen by the roll, that restate
      the start of the prompt, after a 20–80 ms delay (latency that looks like latency).
* A **judge request** — any message asks to rate/score/grade/evaluate/judge a response or answer
  — never fails, and returns only a number so a strict `float(text)` parse works: low (0.2) when
  the text under judgement contains the poor-answer phrase, high (0.9) otherwise. The scale
  follows the prompt: "0-10" gives 2 / 9, "0-100" gives 20 / 90. A poor cheap answer therefore
  scores below any sensible threshold, and escalation is visible.

Judge replies are the one exception to the label: a label would break a strict score parser, and
a number cannot be mistaken for a real answer anyway.
"""

from __future__ import annotations

import hashlib
import re

from ._behaviours import Behaviour, RecordedRequest, Reply, Status, content_text

__all__ = ["POOR_ANSWER", "SimulatedProvider"]

POOR_ANSWER = "Sorry, I am not sure about that."

_JUDGE_VERB = re.compile(r"\b(rate|score|grade|evaluate|judge)\b", re.IGNORECASE)
_JUDGE_NOUN = re.compile(r"\b(response|answer)\b", re.IGNORECASE)
_JUDGED_TEXT = re.compile(r"\b(?:response|answer)\s*:", re.IGNORECASE)
_SCALE_10 = re.compile(r"\b[01]\s*(?:-|–|to)\s*10\b")
_SCALE_100 = re.compile(r"\b[01]\s*(?:-|–|to)\s*100\b")
_TEMPLATES = (
    "Here is a short answer about “{topic}”: start from the simplest case, handle the edge cases "
    "explicitly, and check the result with a small example before relying on it.",
    "Summary for “{topic}”: the key points are the inputs, the expected output and the constraints; "
    "address them in that order and verify each step as you go.",
    "On “{topic}”: split the task into a few independent steps, solve each one, then review the "
    "combined result against the original request.",
)


class SimulatedProvider:
    """A hook for `LoopbackUpstream(default=SimulatedProvider(seed=...))`; see the module docs."""

    def __init__(self, *, seed: int = 0, failure_rate: float = 0.15, poor_rate: float = 0.20):
        if not (0 <= failure_rate <= 1 and 0 <= poor_rate <= 1 and failure_rate + poor_rate <= 1):
            raise ValueError("failure_rate and poor_rate must be within 0..1 and add up to at most 1")
        self.seed, self.failure_rate, self.poor_rate = seed, failure_rate, poor_rate

    def __repr__(self) -> str:
        return f"SimulatedProvider(seed={self.seed})"

    def __call__(self, request: RecordedRequest) -> Behaviour:
        model = request.model or "model"
        everything = "\n".join(content_text(m.get("content")) for m in request.messages if isinstance(m, dict))
        if _JUDGE_VERB.search(everything) and _JUDGE_NOUN.search(everything):
            return Reply(_score(everything))
        prompt = request.prompt or everything
        roll = self.roll(model, prompt)
        label = f"[simulated {model}]"
        if roll < self.failure_rate:
            return Status(503, f"{label} simulated outage: this model is unavailable for this prompt "
                               f"(seed {self.seed}); try another model.", code_str="simulated_outage")
        if roll < self.failure_rate + self.poor_rate:
            return Reply(f"{label} {POOR_ANSWER}")
        template = _TEMPLATES[int(roll * 1_000_000) % len(_TEMPLATES)]
        return Reply(f"{label} {template.format(topic=_topic(prompt))}", delay=0.02 + 0.06 * roll)

    def roll(self, model: str, prompt: str) -> float:
        """The fate of (seed, model, prompt): a float in [0, 1), the same on every run."""
        digest = hashlib.blake2b(f"{self.seed}\0{model}\0{prompt}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64


def _score(judge_prompt: str) -> str:
    parts = _JUDGED_TEXT.split(judge_prompt)
    judged = parts[-1] if len(parts) > 1 else judge_prompt
    poor = POOR_ANSWER in judged
    if _SCALE_100.search(judge_prompt):
        return "20" if poor else "90"
    if _SCALE_10.search(judge_prompt):
        return "2" if poor else "9"
    return "0.2" if poor else "0.9"


def _topic(prompt: str, words: int = 10, chars: int = 80) -> str:
    head = " ".join(prompt.split()[:words]) or "your request"
    return head if len(head) <= chars else head[: chars - 1].rstrip() + "…"
