"""bench/quality.py and its sources, on small in-test fixtures (no snapshot is needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import quality as bench_quality
from bench.data import quality_chat as qc
from bench.data import quality_exams as qe
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


def test_gaokao_score_is_the_authors_share_of_marks_with_half_marks_for_a_right_subset_in_physics() -> None:
    assert qe.gaokao_score(["B", "C"], ["B", "C"]) == 1.0 and qe.gaokao_score(["B", "D"], ["B", "C"]) == 0.5
    assert qe.gaokao_score(["B"], ["B", "C"]) == 0.0  # another number of sub-answers earns nothing
    assert qe.gaokao_score(["AC"], ["ACD"]) == 0.0 and qe.gaokao_score(["AC"], ["ACD"], partial=True) == 0.5
    assert qe.gaokao_score(["AB"], ["ACD"], partial=True) == 0.0 and qe.gaokao_score([""], ["A"], partial=True) == 0.0
    assert qe.gaokao_score([], []) == 0.0


def test_gaokao_records_pair_the_two_models_by_index_and_question_and_keep_the_authors_instruction() -> None:
    strong = {"keyword": "2010-2022_Physics_MCQs", "prompt": "请你做一道物理选择题。\n",
              "example": [{"index": 0, "question": "Q0 (A) x (B) y\n", "standard_answer": ["AB"], "model_answer": ["AB"],
                           "model_output": "【答案】AB <eoa>" * 4},
                          {"index": 1, "question": "Q1", "standard_answer": ["C"], "model_answer": ["C"]},
                          {"index": 2, "question": "Q2", "standard_answer": ["D"], "model_answer": ["D"]},
                          {"index": 3, "question": "Q3", "standard_answer": ["A"], "model_answer": ["A"]}]}
    weak = [{"index": 0, "question": "Q0 (A) x (B) y", "standard_answer": ["AB"], "model_answer": ["A"]},
            {"index": 1, "question": "Q1 edited later", "standard_answer": ["C"], "model_answer": ["C"]},
            {"index": 2, "question": "Q2", "standard_answer": ["B"], "model_answer": ["B"]}]  # another key; no 3
    (rec,) = qe.gaokao_records("2010-2022_Physics_MCQs", strong, weak)
    assert rec["id"] == "gaokao/2010-2022_Physics_MCQs/0" and rec["category"] == "2010-2022_Physics_MCQs"
    assert rec["prompt"] == "请你做一道物理选择题。\nQ0 (A) x (B) y" and rec["source"] == "gaokao"
    assert rec["quality"] == {"strong": 1.0, "weak": 0.5} and rec["output_tokens"] > 0


def test_lawbench_scores_follow_the_authors_rules_with_the_categories_read_from_the_request() -> None:
    listed = "确定以下咨询的类别，类别包括：婚姻家庭、劳动纠纷、侵权、知识产权。将答案写在[类别]和<eoa>之间。\n咨询：…"
    assert qe.lawbench_score("ABCD", "…", "[正确答案]B<eoa>", "正确答案：B。") == 1.0
    assert qe.lawbench_score("ABCD", "…", "B或者C", "正确答案:B。") == 0.0  # another option written too
    assert qe.lawbench_score("ABCD", "…", "[正确答案]E<eoa>", "[正确答案]E<eoa>") is None  # not an option
    assert qe.lawbench_score("label", listed, "[类别]劳动纠纷<eoa>", "劳动纠纷") == 1.0
    assert qe.lawbench_score("label", listed, "[类别]知识产权<eoa>，也涉及侵权", "知识产权") == 0.0  # two named
    assert qe.lawbench_score("label", listed, "[类别]婚姻家庭<eoa>", "赔偿") is None  # key outside the list: left out
    assert qe.lawbench_score("label", "no list", "婚姻家庭", "婚姻家庭") is None
    assert qe.lawbench_score("labels", listed.replace("类别包括", "标签包括"), "婚姻家庭、侵权、劳动纠纷",
                             "类别:婚姻家庭、侵权。") == pytest.approx(0.8)
    assert qe.lawbench_score("labels", listed, "无", "类别:侵权。") == 0.0
    assert qe.lawbench_score("amount", "…", "[金额]8500元<eoa>", "上文涉及到的犯罪金额:8500.0元。") == 1.0
    assert qe.lawbench_score("amount", "…", "共计8,500元", "上文涉及到的犯罪金额:8500.0元。") == 0.0
    assert qe.lawbench_score("amount", "…", "1", "金额不明") is None


def test_lawbench_records_keep_items_both_models_were_asked_alike_and_that_the_authors_score() -> None:
    ask = [{"role": "HUMAN", "prompt": " 请你选出一个正确的答案。A:x;B:y "}]
    strong = {"0": {"origin_prompt": ask, "prediction": "[正确答案]A<eoa>", "refr": "正确答案：A。"},
              "2": {"origin_prompt": ask, "prediction": "A", "refr": "正确答案：B。"},
              "1": {"origin_prompt": [{"role": "HUMAN", "prompt": "other"}], "prediction": "A", "refr": "正确答案：A。"},
              "3": {"origin_prompt": ask, "prediction": "A", "refr": "no letter"}}
    weak = {"0": {"origin_prompt": ask, "prediction": "B", "refr": "正确答案：A。"},
            "1": {"origin_prompt": [{"role": "HUMAN", "prompt": "asked otherwise"}], "prediction": "A", "refr": "正确答案：A。"},
            "2": {"origin_prompt": ask, "prediction": "B", "refr": "正确答案：B。"},
            "3": {"origin_prompt": ask, "prediction": "A", "refr": "no letter"}}
    got = list(qe.lawbench_records("1-2", strong, weak))
    assert [(r["id"], r["quality"]) for r in got] == [("lawbench/1-2/0", {"strong": 1.0, "weak": 0.0}),
                                                      ("lawbench/1-2/2", {"strong": 0.0, "weak": 1.0})]
    assert got[0]["prompt"] == "请你选出一个正确的答案。A:x;B:y" and got[0]["category"] == "1-2"


def test_llmeval2_quality_is_the_share_of_points_the_graders_gave_and_pairs_need_the_same_question() -> None:
    assert qe.llmeval2_share({"Correctness": 3, "Explanation Correctness": 1}) == pytest.approx(0.8)
    assert qe.llmeval2_share({"Accuracy": 5, "Informativeness": 3, "Fluency": 2, "Logicality": 2}) == pytest.approx(12 / 14)
    assert qe.llmeval2_share({}) is None and qe.llmeval2_share({"Style": 3}) is None
    assert qe.llmeval2_share({"Correctness": "3"}) is None

    def row(question: str, model: str, asked: str, stars: dict, kind: str = "A") -> dict:
        return {"question_uuid": question, "llm_name": model, "type": kind, "stars": stars,
                "dialog": [{"role": "user", "content": asked}, {"role": "llm", "content": "答" * 40}]}

    graded = [row("Law_1", "GPT4", " 诉讼时效期间是多长？ ", {"Correctness": 3, "Explanation Correctness": 2}),
              row("Law_1", "GPT3.5", " 诉讼时效期间是多长？ ", {"Correctness": 1, "Explanation Correctness": 1}),
              row("Law_1", "moss", " 诉讼时效期间是多长？ ", {"Correctness": 3, "Explanation Correctness": 2}),
              row("Law_2", "GPT4", "如何学好法律？", {"Accuracy": 5, "Informativeness": 3, "Fluency": 3, "Logicality": 3}, "B"),
              row("Law_2", "GPT3.5", "如何学好民法？", {"Accuracy": 5, "Informativeness": 3, "Fluency": 3, "Logicality": 3}, "B"),
              row("Law_3", "GPT4", "只有一个模型", {"Correctness": 3, "Explanation Correctness": 2})]
    (rec,) = qe.llmeval2_records("Law", graded)
    assert rec["id"] == "llmeval2/Law_1" and rec["category"] == "Law/objective" and rec["prompt"] == "诉讼时效期间是多长？"
    assert rec["quality"] == {"strong": 1.0, "weak": 0.4} and rec["source"] == "llmeval2"


def test_oasst_turns_read_the_written_out_conversation_and_refuse_other_forms() -> None:
    assert qc.oasst_turns("### Human: ¿Cómo armo un PC? ### Assistant:") == [
        {"role": "user", "content": "¿Cómo armo un PC?"}]
    assert qc.oasst_turns("### Human: Hi ### Assistant: Hello!\n### Tips\nAsk. ### Human: And now? ### Assistant:") == [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!\n### Tips\nAsk."},
        {"role": "user", "content": "And now?"}]
    assert qc.oasst_turns("a list:\n1. Amour ### Human: and care? ### Assistant:") is None  # text before the first turn
    assert qc.oasst_turns("### Human: Hi ### Assistant: Hello ### Assistant:") is None  # two assistant turns
    assert qc.oasst_turns("### Human: Hi ### Assistant: Hello") is None  # not asking for the next answer
    assert qc.oasst_turns("### Human:  ### Assistant:") is None and qc.oasst_turns("Hi") is None
    assert qc.pairwise_share([1.0, 0.5]) == 0.75 and qc.pairwise_share([None, 0.0]) == 0.0
    assert qc.pairwise_share([None, None]) is None


def test_oasst_quality_is_the_strong_models_share_of_the_two_orders_verdicts() -> None:
    questions = [{"message_id": "m1", "lang": "es", "text": "### Human: Escribe un haiku ### Assistant:"},
                 {"message_id": "m2", "lang": "ru",
                  "text": "### Human: Исправь код ### Assistant: Покажи его. ### Human: x = 1 +  ### Assistant:"},
                 {"message_id": "m3", "lang": "en", "text": "### Human: English requests are left out ### Assistant:"},
                 {"message_id": "m4", "lang": "fr", "text": "### Human: Verdicts illisibles ### Assistant:"},
                 {"message_id": "m5", "lang": "de", "text": "### Human: Eine andere Antwort ### Assistant:"}]

    def rating(message: str, first: str, second: str, score: int) -> dict:
        return {"message_id": message, "answer1_id": first, "answer2_id": second, "score": score}

    # file 1 puts the strong model's answer (s…) first, file 2 the weak model's (w…): score 1 or 2
    # names the better answer, 3 a tie, -1 a verdict the authors' script could not read.
    strong_first = [rating("m1", "s1", "w1", 1), rating("m2", "s2", "w2", 3), rating("m3", "s3", "w3", 1),
                    rating("m4", "s4", "w4", -1), rating("m5", "s5", "w5", 1)]
    weak_first = [rating("m1", "w1", "s1", 3), rating("m2", "w2", "s2", -1), rating("m3", "w3", "s3", 2),
                  rating("m4", "w4", "s4", -1), rating("m5", "wX", "s5", 2)]  # m5: another weak answer
    weak_answers = [{"message_id": f"m{n}", "answer_id": f"w{n}", "generation": "respuesta " * 10} for n in range(1, 6)]
    got = list(qc.oasst_records(questions, strong_first, weak_first, weak_answers))
    assert [(r["id"], r["category"], r["quality"]) for r in got] == [
        ("oasst/m1", "es/first turn", {"strong": 0.75, "weak": 0.25}),
        ("oasst/m2", "ru/later turn", {"strong": 0.5, "weak": 0.5})]
    assert got[0]["prompt"] == "Escribe un haiku" and "messages" not in got[0] and got[0]["source"] == "oasst"
    assert got[1]["prompt"] == "x = 1 +" and got[1]["messages"] == [{"role": "user", "content": "Исправь код"},
                                                                 {"role": "assistant", "content": "Покажи его."}]
    assert got[0]["output_tokens"] > 0


def test_pg_copy_rows_read_a_dumps_table_with_its_escapes_and_nulls() -> None:
    dump = ("CREATE TABLE public.prompt (...);\n"
            "COPY public.prompt (prompt_id, prompt_text, difficulty) FROM stdin;\n"
            "p1\tLine one\\nLine\\ttwo \\\\ end\t\\N\n"
            "p2\tCaf\\303\\251 or \\x41\teasy\n"
            "\\.\n"
            "COPY public.other (a) FROM stdin;\nx\n\\.\n")
    assert qc.pg_copy_rows(dump, "prompt") == [
        {"prompt_id": "p1", "prompt_text": "Line one\nLine\ttwo \\ end", "difficulty": None},
        {"prompt_id": "p2", "prompt_text": "Café or A", "difficulty": "easy"}]
    assert qc.pg_copy_rows(dump, "other") == [{"a": "x"}] and qc.pg_copy_rows(dump, "missing") == []


def test_h2o_quality_is_the_judges_score_of_each_models_answer_in_either_order() -> None:
    models = [{"model_id": "g4", "model_name": "gpt-4-0613"}, {"model_id": "g35", "model_name": "gpt-3.5-turbo-0613"},
              {"model_id": "l2", "model_name": "meta-llama/Llama-2-13b-chat-hf"}]
    prompts = [{"prompt_id": "p1", "prompt_text": " Factor 3x^4y^3 - 48y^3 ", "categories": '["math"]', "difficulty": "medium"},
               {"prompt_id": "p2", "prompt_text": "Write a memo", "categories": '["writing", "planning"]', "difficulty": "easy"},
               {"prompt_id": "p3", "prompt_text": "Only another pair was judged", "categories": "[]", "difficulty": None}]

    def verdict(prompt: str, a: str, b: str, score_a: str, score_b: str, judge: str = "g4") -> dict:
        return {"prompt_id": prompt, "model_a": a, "model_b": b, "model_a_score": score_a, "model_b_score": score_b,
                "submitted_by": judge}

    verdicts = [verdict("p1", "g4", "g35", "10", "6"), verdict("p2", "g35", "g4", "9.5", "8"),
                verdict("p2", "g4", "g35", "9", "9"), verdict("p3", "g4", "l2", "9", "3"),
                verdict("p1", "g4", "g35", "1", "10", judge="l2"),  # another judge
                verdict("p3", "g4", "g35", "", "7")]  # no score
    responses = [{"prompt_id": "p1", "created_by_model": "g4", "response_text": "3y^3(x^2 + 4)(x + 2)(x - 2)" * 4},
                 {"prompt_id": "p1", "created_by_model": "g35", "response_text": "no"}]
    got = list(qc.h2o_records(models, prompts, verdicts, responses))
    assert [(r["id"], r["category"]) for r in got] == [("h2oeval/p1", "math/medium"), ("h2oeval/p2", "writing/easy")]
    assert got[0]["quality"] == {"strong": 1.0, "weak": 0.6} and got[0]["prompt"] == "Factor 3x^4y^3 - 48y^3"
    assert got[1]["quality"] == pytest.approx({"strong": 0.85, "weak": 0.925})
    assert got[0]["output_tokens"] > got[1]["output_tokens"] == 0 and got[0]["source"] == "h2oeval"


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
    assert "categories" not in result


def test_by_category_reports_each_sources_top_level_categories(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(POLICY)
    rows = [("prove a", "Math/Algebra", 1.0, 0.0), ("prove b", "Math/Geometry", 1.0, 1.0), ("chat c", "Law", 0.5, 0.5),
            ("chat d", None, 1.0, 0.0)]
    with open(tmp_path / "one.jsonl", "w") as f:
        for n, (prompt, category, s, w) in enumerate(rows):
            rec = {"id": str(n), "prompt": prompt, "quality": {"strong": s, "weak": w}, "output_tokens": 10}
            f.write(json.dumps(rec if category is None else {**rec, "category": category}) + "\n")
    src = qs.QualitySource("one", "o/one", "0" * 40, "big", "small", lambda m: [])
    result = bench_quality.report(policy, tmp_path, [src], by_category=True)
    cats = result["categories"]
    assert list(cats) == ["one/(none)", "one/Law", "one/Math"]
    assert (cats["one/Math"]["requests"], cats["one/Math"]["all_strong"], cats["one/Math"]["all_weak"]) == (2, 1.0, 0.5)
    assert cats["one/Math"]["strong_share"] == 1.0 and cats["one/Law"]["strong_share"] == 0.0
    text = bench_quality.render(result, {})
    assert "one/Math" in text and "S - W" in text


def test_bootstrap_gives_a_seeded_interval_of_the_cost_cut_and_counts_undefined_resamples(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(POLICY)
    src = qs.QualitySource("one", "o/one", "0" * 40, "big", "small", lambda m: [])

    def write(rows: list[tuple[str, float, float]]) -> None:
        with open(tmp_path / "one.jsonl", "w") as f:
            for n, (prompt, s, w) in enumerate(rows):
                f.write(json.dumps({"id": str(n), "prompt": prompt, "quality": {"strong": s, "weak": w},
                                    "output_tokens": 1000}) + "\n")

    # every prompt alike: each resample is the source itself, so the interval is the figure
    write([("prove a", 1.0, 0.2)] * 4)
    result = bench_quality.report(policy, tmp_path, [src], bootstrap=40)
    one = result["sources"]["one"]
    assert one["cost_cut_interval"] == {"draws": 40, "low": one["saving_fraction"], "high": one["saving_fraction"],
                                        "undefined": 0}
    # a mixed source: the interval is wide, the same for the same seed, and resamples in which
    # the policy beats all-strong (no random router reaches it) are counted, not averaged in
    write([("prove a", 1.0, 0.0), ("chat b", 0.0, 1.0), ("chat c", 1.0, 1.0), ("prove d", 0.5, 0.0)])
    first = bench_quality.report(policy, tmp_path, [src], bootstrap=200)["sources"]["one"]["cost_cut_interval"]
    again = bench_quality.report(policy, tmp_path, [src], bootstrap=200)["sources"]["one"]["cost_cut_interval"]
    assert first == again and first["undefined"] > 0 and first["low"] < first["high"]
    text = bench_quality.render(bench_quality.report(policy, tmp_path, [src], bootstrap=200), {})
    assert "90% interval" in text and "undefined in" in text
    assert "cost_cut_interval" not in bench_quality.report(policy, tmp_path, [src])["sources"]["one"]
