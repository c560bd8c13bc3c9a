"""The training corpus's build rules, on small in-test fixtures (the corpus itself is not needed)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from bench.data import build_corpus as build
from bench.data import corpus_rules as rules
from bench.data.corpus_common import read_table, record_problems, render_table
from bench.data.corpus_mirror import Mirror, MirrorMissing


def test_math_tier_follows_subject_and_level() -> None:
    items = [("train/prealgebra/1.json", {"problem": "What is 3+4?", "type": "Prealgebra", "level": "Level 1"}),
             ("train/prealgebra/2.json", {"problem": "Solve x.", "type": "Prealgebra", "level": "Level 3"}),
             ("train/algebra/3.json", {"problem": "Find a+b.", "type": "Algebra", "level": "Level 1"}),
             ("train/algebra/4.json", {"problem": "  ", "type": "Algebra", "level": "Level 2"})]
    got = [(c.key, c.tier, c.category) for c in rules.math_candidates(items)]
    assert got == [("train/prealgebra/1.json", "standard", "Prealgebra/Level 1"),
                   ("train/prealgebra/2.json", "complex", "Prealgebra/Level 3"),
                   ("train/algebra/3.json", "complex", "Algebra/Level 1")]


def leetcode_item(number: int, difficulty: str = "Easy", description: str = "Return the sum.\nExample 1:\nConstraints:") -> dict:
    return {"frontend_id": str(number), "title": "Sum", "difficulty": difficulty, "description": description,
            "examples": [{"example_num": 1, "example_text": "Input: [1,2]\nOutput: 3"}],
            "constraints": ["1 <= n <= 10"], "code_snippets": {"python3": "class Solution:\n    def f(self): pass"}}


def test_leetcode_every_difficulty_is_complex_and_recent_problems_are_left_out() -> None:
    items = [("a", leetcode_item(1)), ("b", leetcode_item(2, "Hard")), ("c", leetcode_item(rules.LEETCODE_LAST_ID + 1)),
             ("d", leetcode_item(3, "Unknown")), ("e", leetcode_item(4, description="Example 1:"))]
    got = list(rules.leetcode_candidates(items))
    assert [(c.key, c.tier, c.category) for c in got] == [("a", "complex", "Easy"), ("b", "complex", "Hard")]
    prompt = got[0].prompt
    assert prompt.startswith("Sum\n\nReturn the sum.") and "Example 1:\nInput: [1,2]" in prompt
    assert "- 1 <= n <= 10" in prompt and "```python\nclass Solution:" in prompt
    assert "Example 1:\n\n" not in prompt  # the statement's empty placeholders are gone


@pytest.mark.parametrize(("template", "expected"), [
    ("yelp_review_full_format_star", ("yelp_review_full", "sentiment", "bulk")),
    ("app_reviews_generate_review", ("app_reviews", "sentiment", "standard")),
    ("trec_fine_grained_LOC", ("trec", "topic_classification", "bulk")),
    ("samsum_Summarize_", ("samsum", "summarization", "standard")),
    ("duorc_SelfRC_answer_question", ("duorc_SelfRC", "extractive_qa", "standard")),
    ("commonsense_qa_answer_to_question", ("commonsense_qa", "multiple_choice_qa", None)),
    ("common_gen_Put_together", ("common_gen", "structure_to_text", "standard")),
    ("xsum_summarize_DOC", ("xsum", "summarization", None)),
    ("unknown_dataset_template", None),
])
def test_p3_rule_reads_the_t0_cluster_of_the_template_dataset(template: str, expected: tuple | None) -> None:
    assert rules.p3_rule(template) == expected


def test_p3_left_out_datasets_give_no_candidates() -> None:
    rows = [{"prompt": "Article text\nSummarize:", "completion": "x"}]
    assert list(rules.p3_candidates("xsum_summarize_DOC", rows)) == []
    (cand,) = rules.p3_candidates("samsum_Summarize_", rows)
    assert (cand.key, cand.tier, cand.category) == ("samsum_Summarize_/0", "standard", "summarization/samsum/Summarize_")


SCHEMA = {"Restaurants_1": {
    "service_name": "Restaurants_1",
    "slots": [{"name": "city", "description": "City", "is_categorical": False, "possible_values": []},
              {"name": "price", "description": "Price", "is_categorical": True, "possible_values": ["cheap", "pricey"]}],
    "intents": [{"name": "FindRestaurants", "description": "Find a restaurant", "required_slots": ["city"],
                 "optional_slots": {"price": "dontcare"}}]}}


def sgd_turn(speaker: str, text: str, call: bool = False) -> dict:
    frame = {"service": "Restaurants_1", "actions": []}
    if call:
        frame["service_call"] = {"method": "FindRestaurants", "parameters": {"city": "San Jose"}}
    return {"speaker": speaker, "utterance": text, "frames": [frame]}


def sgd_dialogue(number: int) -> dict:
    return {"dialogue_id": f"1_{number:05d}", "services": ["Restaurants_1"], "turns": [
        sgd_turn("USER", "I want to eat."), sgd_turn("SYSTEM", "Where?"), sgd_turn("USER", "San Jose."),
        sgd_turn("SYSTEM", "Try 71 Saint Peter.", call=True), sgd_turn("USER", "Book it."),
        sgd_turn("SYSTEM", "Booked.", call=True)]}


def test_sgd_takes_the_user_turn_before_the_first_service_call() -> None:
    no_call = {"dialogue_id": "1_00002", "services": ["Restaurants_1"],
               "turns": [sgd_turn("USER", "Hi"), sgd_turn("SYSTEM", "Hello")]}
    call, state = rules.sgd_candidates([sgd_dialogue(0), no_call, sgd_dialogue(1)], SCHEMA)
    assert (call.key, call.prompt, call.tier, call.category) == ("1_00000", "San Jose.", "structured", "service_call/Restaurants_1")
    assert [m["role"] for m in call.extra["messages"]] == ["user", "assistant", "user"]
    (tool,) = call.extra["request"]["tools"]
    params = tool["function"]["parameters"]
    assert tool["function"]["name"] == "FindRestaurants" and params["required"] == ["city"]
    assert params["properties"]["price"]["enum"] == ["cheap", "pricey"] and "enum" not in params["properties"]["city"]
    # odd dialogues: the conversation so far and a request for the state as JSON with the schema's names
    assert (state.key, state.tier, state.category, state.extra) == ("1_00001", "structured", "state_json/Restaurants_1", {})
    assert state.prompt.startswith("User: I want to eat.\nAssistant: Where?\nUser: San Jose.\n\n")
    assert '"intent" (one of: FindRestaurants)' in state.prompt and "among: city, price)" in state.prompt


def test_glaive_labels_each_user_turn_by_the_recorded_next_turn() -> None:
    conv = {"tools": json.dumps([{"name": "get_weather", "parameters": {"type": "object", "properties": {}}}]),
            "conversations": [{"from": "human", "value": "Hi, can you help?"}, {"from": "gpt", "value": "Sure."},
                              {"from": "human", "value": " Weather in Oslo? "}, {"from": "function_call", "value": "{}"},
                              {"from": "observation", "value": "{}"}, {"from": "human", "value": "Thanks"}]}
    got = list(rules.glaive_candidates("en", [conv]))
    assert [(c.key, c.prompt, c.tier, c.category) for c in got] == [
        ("en/0/0", "Hi, can you help?", "standard", "text_reply"),
        ("en/0/2", "Weather in Oslo?", "structured", "function_call")]
    assert got[1].extra["messages"][-1] == {"role": "user", "content": "Weather in Oslo?"}
    assert got[1].extra["request"]["tools"][0]["function"]["name"] == "get_weather"
    for n, cand in enumerate(got, 1):
        assert record_problems(build.to_record("glaive-toolcall", n, cand), "glaive-toolcall") == []


def test_codexglue_translations_alternate_direction_and_are_bulk() -> None:
    got = list(rules.codexglue_candidates("text-to-text", [("Hello .", "Sveiki ."), ("Bye .", "Atā ."), ("  ", "x")]))
    assert [(c.key, c.tier, c.category) for c in got] == [
        ("text-to-text/0", "bulk", "text-to-text/English->Latvian"),
        ("text-to-text/1", "bulk", "text-to-text/Latvian->English")]
    assert got[0].prompt == "Translate into Latvian:\n\nHello ." and got[1].prompt.endswith("\n\nAtā .")


def test_flan_cot_tier_follows_the_flan_task_category() -> None:
    tsv = "Q one?\\nOptions:\\n(A) 1\t(A)\twhy\n\t\t\n"
    (cand,) = rules.flan_cot_candidates("aqua", tsv)
    assert (cand.key, cand.prompt, cand.tier, cand.category) == (
        "aqua/0", "Q one?\nOptions:\n(A) 1", "complex", "aqua/Algebraic Question Answering")
    (cand,) = rules.flan_cot_candidates("creak", "Claim: x\tyes\tbecause")
    assert cand.tier == "standard"


def test_text2sql_reads_training_questions_with_the_schema() -> None:
    schema = rules.sql_schema("Table Name, Field Name, Is Primary Key, Is Foreign Key, Type\n"
                              "STATE, STATE_NAME, y, n, varchar(255)\nSTATE, AREA, n, n, double\n-, -, -, -, -\n")
    assert schema == "CREATE TABLE STATE (\n  STATE_NAME varchar(255) PRIMARY KEY,\n  AREA double\n);"
    entries = [{"sentences": [{"question-split": "train", "text": "area of state_name0", "variables": {"state_name0": "ohio"}},
                              {"question-split": "test", "text": "area of texas", "variables": {}}]}]
    (cand,) = rules.text2sql_candidates("geography", entries, schema)
    assert (cand.key, cand.tier, cand.category) == ("geography/0/0", "structured", "text-to-sql/geography")
    assert cand.prompt.endswith(schema + "\n\nQuestion: area of ohio")
    assert len(list(rules.text2sql_candidates("imdb", [{"sentences": [{"question-split": "3", "text": "x"}]}], ""))) == 1


def test_multi30k_rotates_language_direction_and_phrasing() -> None:
    captions = {"en": "A dog runs.", "de": "Ein Hund rennt.", "fr": "Un chien court.", "cs": "Pes běží."}
    got = list(rules.multi30k_candidates((n, captions) for n in range(12)))
    assert {c.tier for c in got} == {"bulk"}
    assert [c.category for c in got[:6]] == ["translation/en->de", "translation/en->fr", "translation/en->cs",
                                             "translation/de->en", "translation/fr->en", "translation/cs->en"]
    assert got[0].prompt == "Translate to German: A dog runs." and got[3].prompt == "Translate to English: Ein Hund rennt."
    assert got[6].prompt == "How would you say this in German?\n\nA dog runs."
    assert list(rules.multi30k_candidates([(0, {**captions, "de": " "})])) == []


def test_clinc_queries_take_the_intent_tier_labelling_is_bulk_and_json_is_structured() -> None:
    domains = {"travel": ["translate", "book_flight"], "utility": ["weather"]}
    rows = [("how do you say hi in french", "translate"), ("what is my flight status", "book_flight"),
            ("is it raining", "weather"), ("book a flight to oslo", "book_flight"), ("tell me a joke", "oos")]
    got = list(rules.clinc_candidates(rows, domains))
    assert [(c.tier, c.category) for c in got] == [
        ("bulk", "query/travel/translate"), ("bulk", "domain-labelling/travel"), ("structured", "json-labelling/utility"),
        ("standard", "query/travel/book_flight"), ("bulk", "domain-labelling/out_of_scope")]
    assert got[0].prompt == "how do you say hi in french"
    assert got[1].prompt.startswith("Which of these domains") and "travel, utility, out of scope" in got[1].prompt
    assert got[1].prompt.endswith("Request: what is my flight status")
    assert got[2].prompt.startswith("Classify the request below. Reply with a JSON object") and got[2].prompt.endswith("is it raining")


def test_selection_is_deterministic_spread_over_categories_and_capped() -> None:
    cands = [rules.Candidate(f"{cat}{i}", f"p {cat}{i}", "bulk", cat) for cat in "ab" for i in range(10)]
    cands.append(rules.Candidate("c0", "p c0", "bulk", "c"))
    first = build.select(cands, cap=7)
    assert first == build.select(list(reversed(cands)), cap=7)
    assert [c.key for c in first] == sorted(c.key for c in first)
    by_cat = {cat: sum(c.category == cat for c in first) for cat in "abc"}
    assert by_cat == {"a": 3, "b": 3, "c": 1}
    assert len(build.select(cands, per_category=2)) == 5
    by_first_letter = build.select(cands, cap=4, stratum=lambda c: "ab" if c.category in "ab" else "c")
    assert sum(c.category == "c" for c in by_first_letter) == 1


class FlagOne:
    def hits(self, record: dict) -> list[str]:
        return [record["prompt"]] if record["prompt"] == "flagged prompt text" else []


def test_screening_numbers_before_dropping_and_counts_every_drop() -> None:
    cands = [rules.Candidate(k, p, "standard", "c") for k, p in [
        ("a", "Kept one"), ("b", "kept  ONE"), ("c", "from before"), ("d", "In the devset"),
        ("e", "flagged prompt text"), ("f", "kept two")]]
    seen = {"from before"}
    kept, dropped = build.screen("src", cands, seen, {"in the devset"}, FlagOne())
    assert [(r["id"], r["prompt"]) for r in kept] == [("src-1", "Kept one"), ("src-6", "kept two")]
    assert dropped == {"duplicate prompt in this source": 1, "prompt already taken from an earlier source": 1,
                       "prompt of the development set": 1, build.CONTAMINATED: 1}
    assert "kept two" in seen and "kept one" in seen


def test_record_schema_problems_are_named() -> None:
    good = {"id": "src-1", "prompt": "Hi", "expected_tier": "standard", "source": "src", "category": "x",
            "messages": [{"role": "user", "content": "Hi"}]}
    assert record_problems(good, "src") == []
    assert record_problems({**good, "id": "src-a"}, "src") == ["id 'src-a' is not <source>-<n>"]
    assert record_problems({**good, "expected_tier": "cheap"}, "src")[0].startswith("expected_tier 'cheap'")
    assert record_problems({**good, "messages": [{"role": "user", "content": "Other"}]}, "src") == [
        "the last message must be the user's and equal 'prompt'"]
    assert record_problems({**good, "metadata": {"tier": "bulk"}}, "src") == ["metadata.tier would hand the router the label"]
    assert record_problems({**good, "extra": 1}, "other") == ["unknown field(s) extra", "source 'src' in the file of source 'other'"]


def test_counts_table_round_trips_through_markdown() -> None:
    counts = {"b": {"complex": 1, "standard": 2, "structured": 0, "bulk": 3}, "a": {"complex": 0, "standard": 0, "structured": 5, "bulk": 0}}
    doc = "# Doc\n\n" + render_table(counts) + "\n\nafter\n"
    assert read_table(doc) == counts
    with pytest.raises(ValueError):
        read_table("no table")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_mirror_reads_a_pinned_commit_and_names_the_fetch_for_a_missing_one(tmp_path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "d").mkdir()
    (work / "d" / "a.json").write_text('{"x": 1}')
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    mirrors = tmp_path / "mirrors"
    (mirrors / "own+repo").mkdir(parents=True)
    (work / ".git").rename(mirrors / "own+repo" / "repo")
    with Mirror("own/repo", commit, mirrors) as m:
        assert m.ls("d/") == [("d/a.json", 8)] == m.ls()  # no prefix: the whole tree
        assert json.loads(m.text("d/a.json")) == {"x": 1}
        with pytest.raises(MirrorMissing, match="d/b.json is not in the snapshot"):
            m.read("d/b.json")
    with pytest.raises(MirrorMissing, match=r'fetch\(source="github:own/other"\)'):
        Mirror("own/other", commit, mirrors)
    with pytest.raises(MirrorMissing, match="lacks the pinned commit"):
        Mirror("own/repo", "0" * 40, mirrors)
