"""How fast is `Router.decide()`? Ratios against a hand-written classifier, measured in one run.

Run on demand (`make bench` or `python bench/decide.py`); it is not part of `make test`.

Baseline: the article's classify_request written by hand (lower-case the prompt, split it to
count words, then `in` tests for each signal list in order), timed in the same process on the
same prompts. Compared:

  * a 75-word prompt and a 56,000-word prompt (about 75k tokens, the article's request size),
    each with no signal in it (every rule is evaluated: the worst case for both) and with a
    bulk signal at the end;
  * the default policy with its 31 keywords, and the same policy with its keyword lists grown
    to 1,000 and 10,000 keywords (the extra keywords never occur in the prompt).

Targets: 75 words ≤ 1.0× the hand-written classifier; 56,000 words ≤ 0.5×; 10,000 keywords
≤ 1.5× the time of 31 keywords. Figures vary from machine to machine; the ratios are what to
compare. Times are CPU time of this process (`time.process_time`), so that other load on a
shared machine distorts the ratios less; still run it when the machine is quiet (`uptime`).

Signals (issue 7), on the same no-signal prompts, against the default policy's decide():

  * every signal computed on a fresh request (what a policy using all of them pays once);
  * decide() with rules/recommended.toml (three scores over 17 signals, computed lazily).

Target: signals ≤ 2.0× the default policy's decide() time.

Learned signals (issue 11): the default policy with two rules put first, so they run on every
request — a learned-classifier signal (the shipped `builtin:task` classifier) and a similarity
to 20 example prompts — on prompts of 75, 750 and 7,500 words, against the default policy on
the same prompt. Targets: they add ≤ 50 µs on 75 words, and the added time per word does not
grow with the prompt (linear, or flat once the text is sampled).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rulerouter import Router  # noqa: E402
from rulerouter.decide.inputs import Inputs  # noqa: E402
from rulerouter.decide.signals import EVERYTHING, signals_of  # noqa: E402
from tests.article import BULK, COMPLEX, STRUCTURED, make_classifier  # noqa: E402

VOCABULARY = (
    "the a service request cache value returns module function class object list data user "
    "server client network thread process memory file path config option error message "
    "response handler queue worker job result table index query record field update delete "
    "create read write open close start stop check test build deploy release version branch "
    "commit merge review comment issue ticket plan team week day report summary number count"
).split()


def prose(words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(VOCABULARY) for _ in range(words))


def filler_keywords(count: int, seed: int = 7) -> list[str]:
    """Keywords that never occur in the prompts (letters outside the vocabulary's patterns)."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        out.add("zq" + "".join(rng.choice("bcdfghjkmnpvwxz") for _ in range(rng.randint(4, 10))))
    return sorted(out)


def grown_policy(total_keywords: int) -> tuple[str, list[str], list[str], list[str]]:
    """rules/default.toml with its three keyword lists grown to `total_keywords` in all."""
    extra = filler_keywords(total_keywords - 31) if total_keywords > 31 else []
    thirds = [extra[i::3] for i in range(3)]
    structured, complex_, bulk = STRUCTURED + thirds[0], COMPLEX + thirds[1], BULK + thirds[2]
    text = (ROOT / "rules" / "default.toml").read_text()
    for original, grown in ((STRUCTURED, structured), (COMPLEX, complex_), (BULK, bulk)):
        start = text.index(f'"{original[0]}"')
        end = text.index("]", text.index(f'"{original[-1]}"', start))
        text = text[:start] + ", ".join(json.dumps(k) for k in grown) + text[end:]
    return text, structured, complex_, bulk


def per_call(fn: Callable[[], object], budget_s: float) -> float:
    """Median CPU seconds per call over several timed batches of about budget_s / 5 each.

    CPU time of this process, not wall time: on a shared machine the other processes'
    load then stretches a measurement far less (time spent waiting for a core is not counted).
    """
    number = 1
    while True:
        elapsed = timeit.timeit(fn, number=number, timer=time.process_time)
        if elapsed > budget_s / 25 or number > 1_000_000:
            break
        number *= 4
    batch = max(1, int(number * (budget_s / 5) / max(elapsed, 1e-9)))
    return statistics.median(timeit.repeat(fn, number=batch, repeat=5, timer=time.process_time)) / batch


def signal_costs(prompts: dict[str, str], default: Router, budget: float) -> dict[str, dict[str, float]]:
    """Signals against the default policy's decide(), on the prompts without any signal."""
    recommended = Router.from_file(ROOT / "rules" / "recommended.toml", env={"RULEROUTER_API_KEY": "x"})
    out = {}
    for name in ("75 words, no signal", "56,000 words, no signal"):
        prompt = prompts[name]
        assert recommended.decide(prompt) == recommended.decide(prompt)
        base = per_call(lambda: default.decide(prompt), budget)
        every = per_call(lambda: signals_of(Inputs(prompt, None, None, None, None), "last_user").ensure(EVERYTHING), budget)
        policy = per_call(lambda: recommended.decide(prompt), budget)
        out[name] = {"default_us": base * 1e6, "all_signals_us": every * 1e6, "all_signals_ratio": every / base,
                     "recommended_us": policy * 1e6, "recommended_ratio": policy / base}
    return out


LEARNED_RULES = """
[classifiers.task]
model = "builtin:task"

[[rules]]
name = "learned"
when.signals."task.complex" = { gte = 0.99 }
tier = "complex"

[[rules]]
name = "similar"
when.similar = { examples = EXAMPLES, gte = 0.99 }
tier = "complex"
"""


def learned_costs(default: Router, budget: float) -> dict[str, dict[str, float]]:
    """Time the learned-signal and similarity rules add to the default policy's decide()."""
    text = (ROOT / "rules" / "default.toml").read_text()
    examples = json.dumps([prose(30, 100 + i) for i in range(20)])
    first_rule = text.index("[[rules]]")
    learned = text[:first_rule] + LEARNED_RULES.replace("EXAMPLES", examples) + text[first_rule:]
    router = Router.from_toml(learned, env={"RULEROUTER_API_KEY": "x"})
    out = {}
    for words in (75, 750, 7_500):
        prompt = prose(words, 9)
        assert router.decide(prompt).rule == default.decide(prompt).rule  # the extra rules never match
        base = per_call(lambda: default.decide(prompt), budget)
        ours = per_call(lambda: router.decide(prompt), budget)
        out[f"{words} words"] = {"default_us": base * 1e6, "learned_us": ours * 1e6, "added_us": (ours - base) * 1e6,
                                 "added_ns_per_word": (ours - base) * 1e9 / words}
    return out


def print_learned(learned: dict[str, dict[str, float]]) -> None:
    print()
    print("learned signal + similarity (20 examples) added to the default policy's decide() (target <= 50 us on 75 words):")
    print(f"  {'case':<12} {'default':>11} {'with them':>11} {'added':>10} {'added per word':>15}")
    for name, row in learned.items():
        print(f"  {name:<12} {row['default_us']:>8.2f} us {row['learned_us']:>8.2f} us {row['added_us']:>7.2f} us"
              f" {row['added_ns_per_word']:>11.1f} ns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timing per measurement")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    prompts = {
        "75 words, no signal": prose(75, 1),
        "75 words, bulk signal last": prose(74, 2) + " boilerplate",
        "56,000 words, no signal": prose(56_000, 3),
        "56,000 words, structured signal last": prose(55_999, 4) + " json",
    }
    results: dict[str, dict[str, float]] = {}
    routers = {}
    for keywords in (31, 1_000, 10_000):
        text, structured, complex_, bulk = grown_policy(keywords)
        router = Router.from_toml(text, env={"RULEROUTER_API_KEY": "x"})
        routers[keywords] = router
        classify = make_classifier(structured, complex_, bulk)
        for name, prompt in prompts.items():
            assert router.decide(prompt).tier == classify(prompt), (keywords, name)
            hand = per_call(lambda: classify(prompt), args.budget)
            ours = per_call(lambda: router.decide(prompt), args.budget)
            results[f"{keywords} keywords / {name}"] = {"hand_us": hand * 1e6, "decide_us": ours * 1e6, "ratio": ours / hand}

    # For orientation: one stdlib `re` alternation with word boundaries (what not to do).
    alternation = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in STRUCTURED + COMPLEX + BULK) + r")\b")
    short = prompts["75 words, no signal"]
    regex_short = per_call(lambda: alternation.search(short.lower()), args.budget)

    flat = {
        name: results[f"10000 keywords / {name}"]["decide_us"] / results[f"31 keywords / {name}"]["decide_us"]
        for name in prompts
    }
    signals = signal_costs(prompts, routers[31], args.budget)
    learned = learned_costs(routers[31], args.budget)
    if args.json:
        print(json.dumps({"results": results, "flatness_10000_vs_31": flat, "re_alternation_75w_us": regex_short * 1e6,
                          "signals": signals, "learned": learned}, indent=2))
        return
    print(f"{'case':<58} {'hand-written':>13} {'decide()':>10} {'ratio':>7}")
    for name, row in results.items():
        print(f"{name:<58} {row['hand_us']:>10.2f} us {row['decide_us']:>7.2f} us {row['ratio']:>6.2f}x")
    print()
    print("decide() time with 10,000 keywords / with 31 keywords (target <= 1.5x):")
    for name, ratio in flat.items():
        print(f"  {name:<40} {ratio:.2f}x")
    print()
    print("targets: 75 words <= 1.0x hand-written; 56,000 words <= 0.5x; 10,000 keywords <= 1.5x of 31")
    print(f"(for orientation: one `re` alternation of the 31 keywords with \\b on 75 words: {regex_short * 1e6:.2f} us)")
    print()
    print("signals, against the default policy's decide() on the same prompt (target <= 2.0x):")
    print(f"  {'case':<26} {'default':>11} {'all signals':>13} {'ratio':>6} {'recommended':>13} {'ratio':>6}")
    for name, row in signals.items():
        print(f"  {name:<26} {row['default_us']:>8.2f} us {row['all_signals_us']:>10.2f} us {row['all_signals_ratio']:>5.2f}x"
              f" {row['recommended_us']:>10.2f} us {row['recommended_ratio']:>5.2f}x")
    print_learned(learned)


if __name__ == "__main__":
    main()

