"""bench/quality.py and its sources, on small in-test fixtures (no snapshot is needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import quality as bench_quality
from bench.data import quality_sources as qs


def test_theoremqa_scores_each_question_by_the_authors_verdicts_and_leaves_pictures_out() -> None:
    questions = [{"id": "b.json", "Question": " What is 2+2? ", "Picture": None, "field": "Math", "subfield": "Arithmetic"},
                 {"id": "a.json", "Question": "Which circuit?", "Picture": "a.png", "field": "EECS", "subfield": "Circuits"},
                 {"id": "c.json", "Question": "Only the strong model answered", "Picture": None, "field": "Physics",
                  "subfield": "Optics"}]
    strong = [{"id": "b.json", "correct": True, "rationale": "x" * 40}, {"id": "a.json", "correct": True},
              {"id": "c.json", "correct": False}]
    weak = [{"id": "b.json", "correct": False}, {"id": "a.json", "correct": True}]
    (rec,) = qs.theoremqa_records(questions, strong, weak)
    assert rec == {"id": "theoremqa/b.json", "prompt": "What is 2+2?", "source": "theoremqa",
                   "category": "Math/Arithmetic", "quality": {"strong": 1.0, "weak": 0.0}, "output_tokens": 10}


def test_input_predictions_are_checked_by_running_f_and_a_dying_check_is_not_a_wrong_answer() -> None:
    double = "def f(x):\n    return x * 2"
    items = [(double, "4", ["f(2)", "f(3)", "f(", "f(*[2])", "f(undefined)"]),
             ("import os\ndef f(x):\n    os._exit(3)", "1", ["f(1)"]),  # kills the checking process
             ("def f(s):\n    return s[::-1]", "'cba'", ["f('abc')"]),
             (double, "4", [])]
    assert qs.check_input_predictions(items) == [[True, False, False, True, False], None, [True], []]


def test_cruxeval_quality_is_each_models_pass_rate_and_failed_checks_are_left_out() -> None:
    samples = [{"id": "sample_10", "code": "def f(x):\n    return x", "output": "1"},
               {"id": "sample_2", "code": "def f(x):\n    return -x", "output": "2"},
               {"id": "sample_3", "code": "def f(x):\n    return x", "output": "3"}]
    strong = {"sample_10": ["f(1)", "f(1)"], "sample_2": ["f(-2)"], "sample_3": ["f(3)"]}
    weak = {"sample_10": ["f(1)", "f(0)"], "sample_2": ["f(2)"]}  # no answer for sample_3

    def check(items):
        return [None if out == "2" and answers == ["f(2)"] else [a == f"f({out})" for a in answers]
                for _, out, answers in items]

    failures: list[str] = []
    (rec,) = qs.cruxeval_records(samples, strong, weak, check=check, failures=failures)
    assert failures == ["sample_2"]
    assert rec["id"] == "cruxeval/sample_10" and rec["quality"] == {"strong": 1.0, "weak": 0.5}
    assert rec["prompt"] == qs.cruxeval_prompt("def f(x):\n    return x", "1")
    assert "assert f(??) == 1" in rec["prompt"]


def test_leval_option_answers_are_read_from_their_leading_letters_or_one_option_a_line() -> None:
    assert qs.leval_options("AB") == {"A", "B"} and qs.leval_options(" A, B and D") == {"A", "B", "D"}
    assert qs.leval_options("(B) Their subconscious knew") == {"B"}
    assert qs.leval_options("C. to study human form") == {"C"}
    assert qs.leval_options("A. Arrive early\nB. Engage with all attendees\nC. Keep it small") == {"A", "B", "C"}
    assert qs.leval_options("Any of them") == frozenset() and qs.leval_options("") == frozenset()
    assert qs.leval_score("options", "B", "B") == 1.0 and qs.leval_score("options", "AB", "ABD") == 0.0
    assert qs.leval_score("options", "(D)", "(A) It means that the Tr'en put Korvin") == 0.0
    assert qs.leval_score("options", "nothing chosen", "A") == 0.0
    assert qs.leval_score("topic", 'The first topic was "The role of art in society".', "The role of art in society") == 1.0
    assert qs.leval_score("topic", "Space tourism.", "The future of space tourism") == 0.0


def test_leval_records_fill_the_template_with_the_document_and_score_both_models() -> None:
    docs = [{"input": " Long text. ", "instructions": ["Q1\nA. x\nB. y", "Q2\nA. x\nB. y"]}, {"input": "Other.", "instructions": ["Q3"]}]
    template = "Document is as follows. {} Question: {} Answer: "
    strong = [{"query": "Q1\nA. x\nB. y", "gt": "A", "prompt": template, "gpt4-x_pred": "A"},
              {"query": "Q2\nA. x\nB. y", "gt": "B", "prompt": template, "gpt4-x_pred": "B. y"},
              {"query": "Q3", "gt": "A", "prompt": template, "gpt4-x_pred": "A"}]
    weak = [{"query": "Q1\nA. x\nB. y", "gt": "A", "turbo-16k-0613_pred": "B"},
            {"query": "Q2\nA. x\nB. y", "gt": "B", "turbo-16k-0613_pred": "(B)"},
            {"query": "not Q3", "gt": "A", "turbo-16k-0613_pred": "A"}]  # out of step: left out
    got = list(qs.leval_records("quality", docs, strong, weak))
    assert [(r["id"], r["category"], r["quality"]) for r in got] == [
        ("leval/quality/0", "quality", {"strong": 1.0, "weak": 0.0}), ("leval/quality/1", "quality", {"strong": 1.0, "weak": 1.0})]
    assert got[0]["prompt"] == "Document is as follows. Long text. Question: Q1\nA. x\nB. y Answer: "


class FakeContamination:
    def hits(self, record: dict) -> list[str]:
        return [record["prompt"]] if "held out" in record["prompt"] else []


def test_screen_drops_duplicates_evaluation_prompts_and_corpus_prompts() -> None:
    records = [{"prompt": "Prove it"}, {"prompt": "prove  IT"}, {"prompt": "a held out prompt"},
               {"prompt": "In the corpus"}, {"prompt": "Kept too"}]
    kept, dropped = bench_quality.screen(records, FakeContamination(), {"in the corpus"})
    assert [r["prompt"] for r in kept] == ["Prove it", "Kept too"]
    assert dropped == {"duplicate prompt": 1, "held-out evaluation prompt (contamination checker)": 1,
                       "prompt of the training corpus": 1}


POLICY = """
schema_version = 1
default_tier = "cheap"
[tiers]
cheap = "small"
strong = "big"
[providers.p]
base_url = "https://llm.example/v1"
[models.small]
price = { input_per_mtok = 0.0, output_per_mtok = 1.0 }
[models.big]
price = { input_per_mtok = 0.0, output_per_mtok = 10.0 }
[[rules]]
name = "hard"
when.keywords.any = ["prove"]
tier = "strong"
"""


def test_report_gives_the_cost_cut_against_a_random_router_of_equal_quality(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(POLICY)
    rows = [("prove a", 1.0, 0.0), ("prove b", 1.0, 0.0), ("chat c", 1.0, 1.0), ("chat d", 0.0, 0.0)]
    with open(tmp_path / "one.jsonl", "w") as f:
        for n, (prompt, s, w) in enumerate(rows):
            f.write(json.dumps({"id": str(n), "prompt": prompt, "source": "one", "quality": {"strong": s, "weak": w},
                                "output_tokens": 1000}) + "\n")
    src = qs.QualitySource("one", "o/one", "0" * 40, "big", "small", lambda m: [])
    result = bench_quality.report(policy, tmp_path, [src])
    one = result["sources"]["one"]
    # S = 0.75, W = 0.25, the policy sends half to strong and reaches 0.75: a random router needs
    # p* = 1 (all strong, cost 4 × $0.01) where the policy pays 2 × $0.01 + 2 × $0.001.
    assert (one["strong_share"], one["quality"], one["random_share_for_equal_quality"]) == (0.5, 0.75, 1.0)
    assert one["saving_fraction"] == pytest.approx(1 - 0.022 / 0.04)
    assert result["sources"]["all sources"]["requests"] == 4 and one["tiers"] == {"strong": 2, "cheap": 2}
    assert "45.0%" in bench_quality.render(result, {"one": {"strong_model": "big", "weak_model": "small",
                                                            "corpus_checked": True}})
