"""`decide()` never raises, whatever it is given."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulerouter import Router
from rulerouter.boundary import InvalidInput

from .conftest import ROOT

POLICY = """
schema_version = 1
default_tier = "standard"
[tiers]
standard = "small"
complex = "big"
[models.small]
price = { input_per_mtok = 0.1, output_per_mtok = 0.4 }
[models.big]
price = { input_per_mtok = 2.0, output_per_mtok = 8.0 }
[providers.local]
base_url = "http://127.0.0.1:9/v1"

[[rules]]
name = "meta"
when.metadata = [{ path = "$.a.b[2].c", gt = 1 }, { path = "$.tags[*]", matches = "x" }, { path = "$..deep", exists = true }]
tier = "complex"
[[rules]]
name = "pick"
tier_from_metadata = "$.tier"
[[rules]]
name = "req"
when.request = [{ path = "$.tools[*].function.name", in = ["a", 1, true] }, { path = "$.messages[-1].content", ne = "x" }]
tier = "complex"
[[rules]]
name = "kw"
when.any = [{ keywords = { any = ["é", "日本", "x"], none = ["y"] } }, { regex = "\\\\p{Greek}+" }, { words = { gt = 3, lt = 9 } }]
text = "all"
tier = "complex"
[[rules]]
name = "sys"
when.keywords = { all = ["a"], match = "substring", text = "system" }
tier = "complex"
"""

SIGNAL_POLICY = POLICY.split("[[rules]]")[0] + """
[scores.everything]
weights = { code = 0.1, code_blocks = 0.1, stack_trace = 0.1, diff = 0.1, code_density = 0.1, maths = 0.1, latex = 0.1, equations = 0.1, numbers = 0.1, word_problem = 0.1, math_terms = 0.1, output_format = 0.1, format_request = 0.1, schema_given = 0.1, response_format = 0.1, tools = 0.1, reasoning = 0.1, constraints = 0.1, symptoms = 0.1, edit_cues = 0.1, list_items = 0.1, questions = 0.1, turns = 0.1, words = 0.1, lines = 0.1, non_english = 0.1 }
logistic = true

[[rules]]
name = "lang"
when.language = { not_in = ["en", "und"] }
text = "all"
tier = "complex"
[[rules]]
name = "sig"
when.signals = { questions = { gt = 1 }, code_density = { gte = 0.1 } }
text = "system"
tier = "complex"
[[rules]]
name = "score"
when.score = { name = "everything", gte = 0.7 }
tier = "complex"
"""

ROUTERS = [
    Router.from_toml(POLICY),
    Router.from_file(ROOT / "rules" / "default.toml"),
    Router.from_toml(SIGNAL_POLICY),
    Router.from_file(ROOT / "rules" / "recommended.toml"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)
odd = st.one_of(json_values, st.binary(max_size=10), st.just(object()), st.sets(st.integers(), max_size=3))
messages = st.one_of(
    odd,
    st.lists(
        st.one_of(
            odd,
            st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "developer", "tool", 3]), "content": odd}),
        ),
        max_size=5,
    ),
)


@settings(max_examples=300, deadline=None)
@given(prompt=st.one_of(st.none(), st.text(), odd), messages=st.one_of(st.none(), messages),
       system=st.one_of(st.none(), st.text(max_size=30), odd), metadata=odd, request=st.one_of(st.none(), odd))
def test_decide_never_raises_but_for_text_that_is_not_text(prompt: Any, messages: Any, system: Any, metadata: Any, request: Any) -> None:
    not_text = [field for field, value in (("prompt", prompt), ("system_prompt", system)) if value is not None and not isinstance(value, str)]
    if messages is not None and not isinstance(messages, (list, tuple)):
        not_text.append("messages")
    for router in ROUTERS:
        if not_text:  # a number is not an empty prompt: refused, naming the field, never routed as if absent
            with pytest.raises(InvalidInput) as refused:
                router.decide(prompt, messages=messages, system_prompt=system, metadata=metadata, request=request)
            assert refused.value.field in not_text
            continue
        decision = router.decide(prompt, messages=messages, system_prompt=system, metadata=metadata, request=request)
        assert decision.tier in router.tiers
        assert isinstance(decision.explanation, str)
        router.trace(prompt, messages=messages, system_prompt=system, metadata=metadata, request=request)


def test_ten_megabyte_prompt() -> None:
    prompt = ("lorem ipsum dolor sit amet " * 400_000)[: 10 * 1024 * 1024]
    assert ROUTERS[0].decide(prompt).tier == "standard"
    decision = ROUTERS[1].decide(prompt)
    assert (decision.tier, decision.rule) == ("complex", "long-prompt")
    for router in ROUTERS[2:]:
        assert router.decide(prompt).tier in router.tiers
        assert router.decide("x = 1; " * 1_500_000 + "?" * 10_000).tier in router.tiers


def test_odd_unicode() -> None:
    texts = ["\x00\x01", "\ud800", "e\u0301", "ǅ", "İstanbul", "ß" * 50, "\u202e reversed", "🙂" * 1001, "\u2028\u2029"]
    for router in ROUTERS:
        for text in texts:
            router.decide(text, metadata={"tier": text, "tags": [text]}, system_prompt=text)
            router.trace(text, metadata={"tier": text, "tags": [text]}, system_prompt=text)
