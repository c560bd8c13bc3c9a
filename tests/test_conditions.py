"""Each kind of condition, decided through a real compiled policy."""

from __future__ import annotations

import pytest

from rulerouter import Router

HEAD = """
schema_version = 1
default_tier = "standard"
[tiers]
standard = "small"
complex = "big"
structured = "mid"
[models.small]
price = { input_per_mtok = 0.1, output_per_mtok = 0.4 }
[models.mid]
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
[models.big]
price = { input_per_mtok = 2.0, output_per_mtok = 8.0 }
[providers.local]
base_url = "http://127.0.0.1:9/v1"
"""


def router(rules: str) -> Router:
    return Router.from_toml(HEAD + rules)


def rule(when: str, tier: str = "complex", extra: str = "") -> Router:
    return router(f'[[rules]]\nname = "r"\ntier = "{tier}"\n{extra}\n{when}\n')


# --- keywords ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "fires"),
    [
        ("there is a deadlock here", True),
        ("DEADLOCK!", True),
        ("deadlocks everywhere", False),  # whole words by default
        ("undeadlock", False),
        ("dead lock", False),
        ("", False),
        ("deadlock", True),
        ("a deadlock_x", False),  # underscore is a word character
        ("(deadlock)", True),
    ],
)
def test_keywords_match_whole_words_case_insensitively(prompt: str, fires: bool) -> None:
    r = rule('when.keywords.any = ["deadlock"]')
    assert (r.decide(prompt).rule == "r") is fires


def test_substring_mode_matches_inside_words() -> None:
    r = rule('when.keywords = { any = ["stub"], match = "substring" }')
    assert r.decide("so stubborn").rule == "r"


def test_phrases_need_their_words_in_order() -> None:
    r = rule('when.keywords.any = ["race condition"]')
    assert r.decide("a Race Condition in the pool").rule == "r"
    assert r.decide("a condition race").rule is None
    assert r.decide("race conditions").rule is None


def test_keywords_with_punctuation_at_the_edges() -> None:
    r = rule('when.keywords.any = ["c++", ".net"]')
    assert r.decide("port this to C++ please").rule == "r"
    assert r.decide("asp.net core").rule == "r"  # '.net' starts with punctuation: no left boundary needed
    assert r.decide("c+ code").rule is None


def test_unicode_keywords_and_boundaries() -> None:
    r = rule('when.keywords.any = ["déjà vu", "日本語"]')
    assert r.decide("J'ai une impression de DÉJÀ VU.").rule == "r"
    assert r.decide("これは日本語です").rule is None  # CJK characters are word characters on both sides
    assert r.decide("日本語").rule == "r"
    assert r.decide("déjà vuvuzela").rule is None


def test_case_sensitive_keywords() -> None:
    r = rule('when.keywords = { any = ["API"], case_sensitive = true }')
    assert r.decide("the API is down").rule == "r"
    assert r.decide("the api is down").rule is None


def test_all_and_none() -> None:
    r = rule('when.keywords = { all = ["sql", "index"], none = ["postgres"] }')
    assert r.decide("add an index to this SQL").rule == "r"
    assert r.decide("add an index").rule is None
    assert r.decide("add an index to this sql for postgres").rule is None


def test_same_keyword_in_word_and_substring_rules() -> None:
    r = router(
        """
[[rules]]
name = "word"
when.keywords.any = ["test"]
tier = "complex"
[[rules]]
name = "sub"
when.keywords = { any = ["test"], match = "substring" }
tier = "structured"
"""
    )
    assert r.decide("a test").rule == "word"
    assert r.decide("testing").rule == "sub"
    assert r.decide("contest test").rule == "word"  # a later whole-word occurrence still counts


def test_ten_thousand_keywords_in_one_rule() -> None:
    words = [f"kw{i:05d}" for i in range(10_000)]
    r = rule("when.keywords.any = [" + ", ".join(f'"{w}"' for w in words) + "]")
    assert r.decide("nothing here").rule is None
    assert r.decide("only KW09999 here").rule == "r"


# --- regex, counts -----------------------------------------------------------------------------


def test_regex_is_case_insensitive_unless_told() -> None:
    r = rule(r'when.regex = "\\bTODO\\b"')
    assert r.decide("fix the todo list").rule == "r"
    r = rule(r'when.regex = { pattern = "\\bTODO\\b", case_sensitive = true }')
    assert r.decide("fix the todo list").rule is None
    assert r.decide("fix the TODO list").rule == "r"


def test_regex_on_catastrophic_pattern_and_large_input_finishes() -> None:
    r = rule('when.regex = "(a+)+$"')
    assert r.decide("a" * 200_000 + "b").rule is None


@pytest.mark.parametrize(
    ("bounds", "words", "fires"),
    [
        ("{ gt = 3 }", 3, False),
        ("{ gt = 3 }", 4, True),
        ("{ gte = 3 }", 3, True),
        ("{ lt = 3 }", 3, False),
        ("{ lt = 3 }", 2, True),
        ("{ lte = 3 }", 3, True),
        ("{ gt = 2, lt = 5 }", 4, True),
        ("{ gt = 2, lt = 5 }", 5, False),
        ("{ lt = 1 }", 0, True),
    ],
)
def test_word_thresholds(bounds: str, words: int, fires: bool) -> None:
    r = rule(f"when.words = {bounds}")
    assert (r.decide(" ".join(["w"] * words)).rule == "r") is fires


def test_words_count_like_str_split() -> None:
    r = rule("when.words = { gt = 3 }")
    assert r.decide("  a\tb\n\nc  ").rule is None
    assert r.decide("a\u00a0b c d").rule == "r"  # str.split() treats a no-break space as whitespace
    assert r.decide("a b c d").rule == "r"


def test_token_estimate() -> None:
    r = rule("when.tokens = { gte = 10 }")
    assert r.decide("x" * 36).rule is None
    assert r.decide("x" * 37).rule == "r"


def test_explanation_names_counts() -> None:
    r = rule("when.words = { gt = 1000 }")
    decision = r.decide("w " * 5000)
    assert "words (in last_user) = at least 1001; > 1000 holds" in decision.explanation


# --- metadata and request ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("predicate", "metadata", "fires"),
    [
        ('{ path = "$.team", exists = true }', {"team": "x"}, True),
        ('{ path = "$.team", exists = true }', {}, False),
        ('{ path = "$.team", exists = false }', None, True),
        ('{ path = "$.team", eq = "ml" }', {"team": "ml"}, True),
        ('{ path = "$.team", eq = "ml" }', {"team": "ML"}, False),
        ('{ path = "$.n", eq = 1 }', {"n": True}, False),  # true is not 1
        ('{ path = "$.n", eq = 1 }', {"n": 1.0}, True),
        ('{ path = "$.team", ne = "ml" }', {"team": "web"}, True),
        ('{ path = "$.team", ne = "ml" }', {}, True),
        ('{ path = "$.team", in = ["a", "b"] }', {"team": "b"}, True),
        ('{ path = "$.team", not_in = ["a", "b"] }', {"team": "b"}, False),
        ('{ path = "$.budget", gt = 10 }', {"budget": 11}, True),
        ('{ path = "$.budget", gt = 10 }', {"budget": "11"}, False),
        ('{ path = "$.budget", gte = 10, lt = 20 }', {"budget": 10}, True),
        ('{ path = "$.budget", lte = 10 }', {"budget": 10.5}, False),
        ('{ path = "$.user.plan", matches = "^pro" }', {"user": {"plan": "professional"}}, True),
        ('{ path = "$.user.plan", matches = "^pro" }', {"user": {"plan": 7}}, False),
        ('{ path = "$.tags[*]", eq = "urgent" }', {"tags": ["a", "urgent"]}, True),
        ('{ path = "$.tags[0]", eq = "urgent" }', {"tags": ["a", "urgent"]}, False),
        ('{ path = "$.flag", truthy = true }', {"flag": 0}, False),
        ('{ path = "$.flag", truthy = false }', {"flag": 0}, True),
    ],
)
def test_metadata_predicates(predicate: str, metadata: object, fires: bool) -> None:
    r = rule(f"when.metadata = {predicate}")
    assert (r.decide("hi", metadata=metadata).rule == "r") is fires


def test_several_predicates_must_all_hold() -> None:
    r = rule('when.metadata = [{ path = "$.a", eq = 1 }, { path = "$.b", eq = 2 }]')
    assert r.decide("x", metadata={"a": 1, "b": 2}).rule == "r"
    assert r.decide("x", metadata={"a": 1, "b": 3}).rule is None


def test_request_predicates_over_the_chat_request() -> None:
    r = rule('when.request = { path = "$.response_format.type", in = ["json_object", "json_schema"] }', tier="structured")
    assert r.decide(request={"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}}).tier == "structured"
    assert r.decide("hi").tier == "standard"
    tools = rule('when.request = { path = "$.tools", exists = true }')
    assert tools.decide(request={"messages": [], "tools": [{"type": "function"}]}).rule == "r"
    maxed = rule('when.request = { path = "$.max_tokens", gte = 8000 }')
    assert maxed.decide(request={"messages": [], "max_tokens": 9000}).rule == "r"


def test_request_built_from_messages_when_none_given() -> None:
    r = rule('when.request = { path = "$.messages[0].role", eq = "system" }')
    assert r.decide("hi", system_prompt="be brief").rule == "r"
    assert r.decide("hi").rule is None


def test_tier_from_metadata() -> None:
    r = router('[[rules]]\nname = "pick"\ntier_from_metadata = "$.route.tier"\n')
    assert r.decide("x", metadata={"route": {"tier": "complex"}}).tier == "complex"
    assert r.decide("x", metadata={"route": {"tier": "nope"}}).rule is None
    assert r.decide("x", metadata={"route": {"tier": 3}}).rule is None
    assert r.decide("x").tier == "standard"


# --- combinators and text sources --------------------------------------------------------------


def test_all_any_not() -> None:
    r = rule(
        """
[rules.when]
any = [{ keywords.any = ["deadlock"] }, { words = { gt = 5 } }]
not = { metadata = { path = "$.cheap", truthy = true } }
"""
    )
    assert r.decide("deadlock").rule == "r"
    assert r.decide("a b c d e f").rule == "r"
    assert r.decide("a b").rule is None
    assert r.decide("deadlock", metadata={"cheap": True}).rule is None


def test_nested_all() -> None:
    r = rule('when.all = [{ keywords.any = ["sql"] }, { all = [{ words = { lt = 4 } }] }]')
    assert r.decide("fix sql").rule == "r"
    assert r.decide("fix this sql query").rule is None


CONVERSATION = [
    {"role": "system", "content": "You are a JSON extraction service."},
    {"role": "user", "content": "First: explain the deadlock."},
    {"role": "assistant", "content": "Sure."},
    {"role": "user", "content": [{"type": "text", "text": "Now summarise it."}, {"type": "image_url", "image_url": {"url": "x"}}]},
]


@pytest.mark.parametrize(
    ("text", "keyword", "fires"),
    [
        ("last_user", "deadlock", False),
        ("last_user", "summarise", True),
        ("all_user", "deadlock", True),
        ("all_user", "json", False),
        ("system", "json", True),
        ("system", "summarise", False),
        ("all", "sure", True),
    ],
)
def test_text_sources(text: str, keyword: str, fires: bool) -> None:
    r = rule(f'when.keywords.any = ["{keyword}"]', extra=f'text = "{text}"')
    assert (r.decide(messages=CONVERSATION).rule == "r") is fires


def test_condition_can_override_the_rules_text() -> None:
    r = rule(
        'when.keywords = { any = ["json"], text = "system" }\nwhen.regex = { pattern = "summar", text = "last_user" }'
    )
    assert r.decide(messages=CONVERSATION).rule == "r"


def test_prompt_with_messages_is_the_new_user_turn() -> None:
    r = rule('when.keywords.any = ["deadlock"]')
    assert r.decide("what about the deadlock?", messages=CONVERSATION).rule == "r"


def test_disabled_rule_is_skipped() -> None:
    r = rule('when.keywords.any = ["x"]', extra="enabled = false")
    assert r.decide("x").rule is None


def test_first_matching_rule_wins_and_explains_itself() -> None:
    r = router(
        """
[[rules]]
name = "first"
when.keywords.any = ["alpha"]
tier = "complex"
[[rules]]
name = "second"
when.keywords.any = ["alpha", "beta"]
tier = "structured"
"""
    )
    d = r.decide("alpha beta")
    assert (d.tier, d.model, d.rule) == ("complex", "big", "first")
    assert d.explanation == "rule 'first': keywords (word, in last_user) any of 1 keyword(s): 'alpha' at 0"
    d = r.decide("beta")
    assert d.rule == "second" and "'beta' at 0" in d.explanation
    d = r.decide("gamma")
    assert d.is_default and d.explanation == "no rule matched; default tier 'standard'"
    assert [t.rule for t in r.trace("beta")] == ["first", "second"]
    assert [t.matched for t in r.trace("beta")] == [False, True]
