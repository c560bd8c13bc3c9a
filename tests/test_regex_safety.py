"""Regex safety: a rule file's regex cannot stall the router, whatever the prompt.

Patterns run on RE2, which matches in time linear in the input; constructs that need
backtracking (backreferences, lookaround) are refused by lint (see tests/lint/rr303_*). Here
known catastrophic patterns meet a 1 MB adversarial prompt: decide() must stay within a small
multiple of deciding the same prompt with a plain literal pattern. (A backtracking engine would
take longer than the age of the universe on some of these.) The bound is a ratio measured in the
same process, with a wide margin, not a wall-clock limit.
"""

from __future__ import annotations

import time

import pytest

from rulerouter import PolicyError, Router

HEAD = """
schema_version = 1
default_tier = "standard"
[tiers]
standard = "m"
complex = "m"
[models.m]
price = { input_per_mtok = 1.0, output_per_mtok = 1.0 }
[providers.p]
base_url = "http://127.0.0.1:9/v1"
[[rules]]
name = "r"
tier = "complex"
when.regex = { pattern = '%s', case_sensitive = true }
"""

ADVERSARIAL = "a" * 1_000_000 + "!"
CATASTROPHIC = ["(a+)+$", "(a|a)*b", "(a|aa)+$", "^(a+)+b", "(a*)*c", "(x+x+)+y|(a+)+z", "(.*a){20}!b"]


def best_of(router: Router, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        router.decide(ADVERSARIAL)
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_stay_linear(pattern: str) -> None:
    plain = Router.from_toml(HEAD % "needle")
    hostile = Router.from_toml(HEAD % pattern)
    assert hostile.decide(ADVERSARIAL).rule is None
    baseline = best_of(plain)
    measured = best_of(hostile)
    assert measured < 25 * baseline + 0.05, f"{pattern}: {measured * 1000:.1f} ms vs {baseline * 1000:.1f} ms for a literal"


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)b", "(?<!a)b", "(?P<x>a)(?P=x)"])
def test_backtracking_only_constructs_are_refused(pattern: str) -> None:
    with pytest.raises(PolicyError) as caught:
        Router.from_toml(HEAD % pattern)
    assert caught.value.diagnostics[0].code == "RR303"
