"""The corpus rules of the gap sources (TweetEval, GPTeacher, TAL-SCQ5K), on small in-test fixtures."""

from __future__ import annotations

from bench.data import corpus_rules_text as text


def test_tweeteval_labels_come_from_the_mapping_in_id_order_emoji_as_emoji() -> None:
    assert text.tweeteval_labels("1\tjoy\n0\tanger\n\n") == ["anger", "joy"]
    assert text.tweeteval_labels("0\t❤\t_red_heart_\n1\t🔥\t_fire_\n") == ["❤", "🔥"]


def test_tweeteval_every_tweet_is_bulk_phrased_in_turn_with_the_task_labels() -> None:
    got = list(text.tweeteval_candidates("stance/climate", ["Hot again today", "  ", "Plant trees", "Ice melts"],
                                         ["none", "against", "favor"]))
    assert [(c.key, c.tier, c.category) for c in got] == [
        ("stance/climate/0", "bulk", "stance/climate"), ("stance/climate/2", "bulk", "stance/climate"),
        ("stance/climate/3", "bulk", "stance/climate")]
    assert got[0].prompt == ("Label this tweet with its stance on climate change being a real concern. "
                             "Answer with one of: none, against, favor.\n\nTweet: Hot again today")
    assert got[1].prompt.startswith("Classify the tweet below by its stance on climate change")
    assert got[2].prompt.startswith("Label this tweet with")  # line 3: the phrasings come round again


def test_gpteacher_roleplay_is_standard_and_toolformer_is_structured_when_the_answer_calls_a_granted_tool() -> None:
    roleplay = [{"instruction": "Play a pirate captain greeting the crew.", "input": "", "response": "Arr!"},
                {"instruction": "  ", "input": "", "response": "nothing asked"}]
    tools = [{"instruction": "toolformer: enabled\ntoolformer access: weather, news\nweather(q)\nIs it raining?",
              "input": "Oslo", "response": "weather('Oslo rain')"},
             {"instruction": "toolformer: enabled\ntoolformer access: weather\nweather(q)\nWhat is the weather?",
              "input": "", "response": "Please tell me where you are."},
             {"instruction": "toolformer: enabled\ntoolformer access: python\npython(code)\nAdd 2 and 2.",
              "input": "", "response": "newspython(2+2) is not a call of the granted tool"}]
    got = [*text.gpteacher_candidates("roleplay", roleplay), *text.gpteacher_candidates("toolformer", tools)]
    assert [(c.key, c.tier, c.category) for c in got] == [
        ("roleplay/0", "standard", "roleplay"), ("toolformer/0", "structured", "toolformer/call"),
        ("toolformer/1", "standard", "toolformer/no-call"), ("toolformer/2", "standard", "toolformer/no-call")]
    assert got[1].prompt.endswith("Is it raining?\n\nOslo")



def tal_row(qid: str, route: str, difficulty: str, problem: str = "What is $2+3$?") -> dict:
    return {"queId": qid, "problem": problem, "difficulty": difficulty, "knowledge_point_routes": [route],
            "answer_option_list": [[{"aoVal": "A", "content": "$$5$$ "}], [{"aoVal": "B", "content": "$$6$$"}]]}


def test_tal_arithmetic_at_low_difficulty_is_standard_the_rest_complex_and_unnamed_calculation_left_out() -> None:
    root = "Overseas Competition->Knowledge Point->"
    rows = [tal_row("a", root + "Calculation Modules->Fractions->Adding Fractions", "1"),
            tal_row("b", root + "Calculation Modules->Fractions", "2"),
            tal_row("c", root + "Calculation Modules->Basic Concepts of Equation", "0"),
            tal_row("d", root + "Number Theory Modules->Remainder Problems", "1"),
            tal_row("e", root + "Calculation Modules", "1"),
            tal_row("f", "Overseas In-curriculum", "1"),
            {**tal_row("g", root + "Counting Modules", "1"), "knowledge_point_routes": []}]
    got = list(text.tal_candidates(rows))
    assert [(c.key, c.tier, c.category) for c in got] == [
        ("a", "standard", "Calculation Modules/Fractions/difficulty 1"),
        ("b", "complex", "Calculation Modules/Fractions/difficulty 2"),
        ("c", "complex", "Calculation Modules/Basic Concepts of Equation/difficulty 0"),
        ("d", "complex", "Number Theory Modules/Remainder Problems/difficulty 1")]
    assert got[0].prompt == "What is $2+3$?\n\nA. $$5$$\nB. $$6$$"


PUBTATOR = ("11|t|Drug A and rash.\n11|a|Drug A caused a rash.\n11\t0\t6\tDrug A\tChemical\tD1\n11\tCID\tD1\tD2\n\n"
            "12|t|No abstract here.\n\n"
            "13|t|Drug B.\n13|a|Drug B lowered fever.\n\n14|t|Drug C.\n14|a|Drug C is fine.\n\n"
            "15|t|Drug D.\n15|a|Drug D again.\n")


def test_pubtator_documents_pair_titles_with_abstracts_and_skip_incomplete_ones() -> None:
    assert list(text.pubtator_documents(PUBTATOR)) == [
        ("11", "Drug A and rash.", "Drug A caused a rash."), ("13", "Drug B.", "Drug B lowered fever."),
        ("14", "Drug C.", "Drug C is fine."), ("15", "Drug D.", "Drug D again.")]


def test_bc5cdr_abstracts_take_the_three_forms_in_turn_contracts_structured_plain_language_standard() -> None:
    got = list(text.bc5cdr_candidates(text.pubtator_documents(PUBTATOR)))
    assert [(c.key, c.tier, c.category) for c in got] == [
        ("11", "structured", "json"), ("13", "structured", "csv"), ("14", "standard", "plain-language"),
        ("15", "structured", "json")]
    assert got[0].prompt.endswith("Title: Drug A and rash.\n\nDrug A caused a rash.")
    assert "CSV with the header row chemical,disease" in got[1].prompt


def test_logicbench_every_deduction_is_complex_one_question_per_context_and_evaluation_contexts_left_out() -> None:
    pairs = [{"question": "Does this mean A?", "answer": "yes"}, {"question": "Does this mean B?", "answer": "no"}]
    files = [{"type": "propositional_logic", "axiom": "modus_tollens",
              "data_samples": [{"context": "If P then Q.", "qa_pairs": pairs}, {"context": "If R then S.", "qa_pairs": pairs},
                               {"context": "Shared  with EVAL.", "qa_pairs": pairs}, {"context": " ", "qa_pairs": pairs}]}]
    got = list(text.logicbench_candidates(files, ["shared with eval."]))
    assert [(c.key, c.tier, c.category, c.prompt) for c in got] == [
        ("propositional_logic/modus_tollens/0", "complex", "propositional_logic/modus_tollens",
         "If P then Q.\n\nDoes this mean A?"),
        ("propositional_logic/modus_tollens/1", "complex", "propositional_logic/modus_tollens",
         "If R then S.\n\nDoes this mean B?")]


def test_tot_puzzles_are_complex_and_the_papers_test_games_are_left_out() -> None:
    game24 = [{"Rank": str(n + 1), "Puzzles": "1 1 4 6", "Solved rate": "99.20%"} for n in range(902)]
    game24[1]["Solved rate"], game24[2]["Puzzles"] = "45.5%", "1 2"
    clues = [f"clue {i}" for i in range(10)]
    crosswords = [(clues, ["A"] * 25)] * 7
    got = list(text.tot_candidates(game24, crosswords))
    keys = [c.key for c in got]
    assert "game24/901" not in keys and "game24/3" not in keys and "game24/902" not in keys  # test range, 2 numbers
    assert keys[:2] == ["game24/1", "game24/2"] and {c.tier for c in got} == {"complex"}
    assert (got[0].category, got[1].category) == ("game24/solved 90-100%", "game24/solved 40-50%")
    assert got[0].prompt.startswith("Use the numbers 1, 1, 4, 6 and the operations")
    words = [c for c in got if c.category == "crossword"]
    assert [c.key for c in words] == ["crossword/1", "crossword/2", "crossword/3", "crossword/4", "crossword/6"]
    assert "Across:\nh1. clue 0" in words[0].prompt and "Down:\nv1. clue 5" in words[0].prompt


def test_banking77_every_message_is_bulk_asked_with_five_of_its_intents_and_unknown_intents_skipped() -> None:
    intents = ["card_arrival", "card_linking", "exchange_rate", "top_up_failed", "lost_or_stolen_card", "age_limit"]
    rows = [{"text": "Where is my  card?", "category": "card_arrival"}, {"text": "Rate?", "category": "not_an_intent"},
            {"text": "  ", "category": "age_limit"}, {"text": "My top-up failed.", "category": "top_up_failed"}]
    got = list(text.banking77_candidates(rows, intents))
    assert [(c.key, c.tier, c.category) for c in got] == [("00000", "bulk", "card_arrival"),
                                                        ("00003", "bulk", "top_up_failed")]
    assert got[0].prompt.startswith("Which of these topics is this bank customer's message about: ")
    assert got[0].prompt.endswith('?\n\n"Where is my card?"')
    line = got[0].prompt.split(": ", 1)[1].split("?\n")[0]
    assert "card arrival" in line and sum(i.replace("_", " ") in line for i in intents) == 5
    assert got[1].prompt.startswith("Which of these topics")  # row 4: the phrasings come round again
    assert got == list(text.banking77_candidates(rows, intents))  # deterministic
