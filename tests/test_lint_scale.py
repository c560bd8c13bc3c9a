"""Lint's shadowing check, indexed, finds exactly what comparing every pair of rules finds.

The pairwise loop is the definition: for each rule, the first earlier rule (one that can shadow)
with no condition or whose shape its own implies. Policies are generated from a small
vocabulary so that implications are common, through every kind of condition and nesting.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from rulerouter.policy.implication import TRUE, normalise
from rulerouter.policy.load import check_text
from rulerouter.policy.schema import Condition
from rulerouter.policy.shadowing import first_shadows, first_shadows_pairwise

WORDS = ["alpha", "beta", "gamma", "delta", "Alpha"]
SOURCES = ["last_user", "system"]


def _bounds(rnd: random.Random, real: bool) -> dict[str, Any]:
    keys = rnd.sample(["gt", "gte", "lt", "lte"], rnd.choice([1, 1, 2]))
    return {k: (rnd.choice([0.2, 0.5, 0.8]) if real else rnd.randrange(0, 6)) for k in keys}


def _leaf(rnd: random.Random) -> dict[str, Any]:
    kind = rnd.randrange(10)
    if kind <= 2:
        lists = rnd.sample(["any", "all", "none"], rnd.choice([1, 1, 2]))
        table: dict[str, Any] = {k: rnd.sample(WORDS, rnd.randint(1, 3)) for k in lists}
        if rnd.random() < 0.3:
            table["match"] = "substring"
        if rnd.random() < 0.2:
            table["case_sensitive"] = True
        if rnd.random() < 0.2:
            table["text"] = rnd.choice(SOURCES)
        return {"keywords": table}
    if kind == 3:
        return {rnd.choice(["words", "tokens"]): _bounds(rnd, real=False)}
    if kind == 4:
        return {"signals": {rnd.choice(["code_blocks", "questions"]): _bounds(rnd, real=True)}}
    if kind == 5:
        return {"language": rnd.choice(["en", ["en", "de"], {"not_in": ["fr"]}, {"in": ["de", "fr"], "not_in": ["de"]}])}
    if kind == 6:
        return {"regex": rnd.choice(["a+", "b"])}
    if kind == 7:
        return {"metadata": {"path": "$.team", "eq": rnd.choice(["a", "b"])}}
    if kind == 8:
        return {"spend": {"budget": "daily", **_bounds(rnd, real=True)}}
    return {"score": {"name": rnd.choice(["s", "t"]), **_bounds(rnd, real=True)}}


def _condition(rnd: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rnd.random()
    if depth < 3 and roll < 0.15:
        return {"all": [_condition(rnd, depth + 1) for _ in range(rnd.randint(0 if rnd.random() < 0.05 else 1, 3))]}
    if depth < 3 and roll < 0.3:
        return {"any": [_condition(rnd, depth + 1) for _ in range(rnd.randint(0 if rnd.random() < 0.05 else 1, 3))]}
    if depth < 3 and roll < 0.4:
        return {"not": _condition(rnd, depth + 1)}
    cond = _leaf(rnd)
    if rnd.random() < 0.3:
        cond.update(_leaf(rnd))  # two keys in one table: an implicit all
    return cond


def _rules(seed: int, count: int) -> list[tuple[tuple[Any, ...], bool]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        source = rnd.choice(SOURCES)
        shape = TRUE if rnd.random() < 0.02 else normalise(Condition.model_validate(_condition(rnd)), source)
        out.append((shape, rnd.random() < 0.9))
    return out


@pytest.mark.parametrize("seed", range(150))
def test_indexed_shadowing_finds_what_the_pairwise_check_finds(seed: int) -> None:
    rules = _rules(seed, 60)
    assert first_shadows(rules) == first_shadows_pairwise(rules)


def test_the_generated_policies_do_shadow() -> None:
    """Guards the test above: its policies are full of shadowed rules, of every kind."""
    found = [by is not None for seed in range(150) for by in first_shadows_pairwise(_rules(seed, 60))]
    assert 0.2 < sum(found) / len(found) < 0.9


def test_thousands_of_ranges_in_any_order_keep_their_first_shadow() -> None:
    rnd = random.Random(7)

    def shape(cond: dict[str, Any]) -> tuple[Any, ...]:
        return normalise(Condition.model_validate(cond), "last_user")

    rules = []
    for _ in range(3000):
        low, high = sorted(rnd.sample(range(5000), 2))
        signal = round(rnd.random(), 2)
        rules.append((rnd.choice([
            shape({"words": {"gt": low}}), shape({"words": {"lt": high}}), shape({"words": {"gte": low, "lte": high}}),
            shape({"signals": {"questions": {"gt": signal}}}), shape({"signals": {"questions": {"lte": signal}}}),
            shape({"words": {"gt": low}, "keywords": {"any": [rnd.choice(WORDS)]}}),
        ]), True))
    assert first_shadows(rules) == first_shadows_pairwise(rules)


def test_lint_reports_the_first_shadowing_rule_among_thousands() -> None:
    lines = ['schema_version = 1', 'default_tier = "t"', '[tiers]', 't = "m"', '[models.m]', 'price = { input_per_mtok = 1, output_per_mtok = 1 }']
    for i in range(3000):
        lines += ['[[rules]]', f'name = "r{i}"', f'when.keywords.any = ["w{i}", "shared{i % 7}"]', 'tier = "t"']
    lines += ['[[rules]]', 'name = "late"', 'when.keywords.all = ["w5", "other"]', 'tier = "t"']
    diagnostics = check_text("\n".join(lines) + "\n", env={}).diagnostics
    assert [(d.code, d.message) for d in diagnostics if d.code.startswith("RR3")] == [
        ("RR302", "rule 'late' can never fire: whenever it matches, rule 'r5' (line 27) matches first")]

