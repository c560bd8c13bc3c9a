"""Signals: what each one measures, on texts whose answer is plain to a reader."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulerouter.decide import request_forms as forms
from rulerouter.decide import text_measures as measure
from rulerouter.decide.inputs import Inputs
from rulerouter.decide.language_guess import CODES, guess_language
from rulerouter.decide.signals import INDEX, Signals, signals_of
from rulerouter.policy.vocabulary import LANGUAGES, SIGNALS


def signals(prompt: Any = None, *, messages: Any = None, system: Any = None, request: Any = None, source: str = "last_user") -> Signals:
    return signals_of(Inputs(prompt, messages, system, None, request), source)


def value(prompt: str, name: str, **kwargs: Any) -> float:
    return signals(prompt, **kwargs)[name]


# --- code ----------------------------------------------------------------------------------------

PYTHON_TRACE = '''Traceback (most recent call last):
  File "app.py", line 12, in <module>
    main()
  File "app.py", line 8, in main
    total = sum(values) / len(values)
ZeroDivisionError: division by zero'''

JAVA_TRACE = """Exception in thread "main" java.lang.NullPointerException
\tat com.shop.Cart.total(Cart.java:42)
\tat com.shop.Main.main(Main.java:7)"""

DIFF = """diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1,3 +1,3 @@
-x = 1
+x = 2"""


def test_fenced_code_blocks_are_counted_and_an_unclosed_fence_counts() -> None:
    assert value("Why does this fail?\n```python\nprint(1)\n```\nand\n```\nx\n```", "code_blocks") == 2
    assert value("Look:\n```js\nlet a = 1;", "code_blocks") == 1
    assert value("no code here, just `inline` ticks", "code_blocks") == 0
    assert value("~~~\nfenced with tildes\n~~~", "code_blocks") == 1


def test_stack_traces_and_diffs() -> None:
    assert value(PYTHON_TRACE, "stack_trace") >= 3
    assert value(JAVA_TRACE, "stack_trace") >= 3
    assert value("The stack is a data structure.", "stack_trace") == 0
    assert value(DIFF, "diff") >= 3
    assert value("What is the diff between these two words?", "diff") == 0


def test_code_flag_from_any_evidence() -> None:
    assert value("```\nx\n```", "code") == 1
    assert value(PYTHON_TRACE, "code") == 1
    assert value(DIFF, "code") == 1
    assert value("for (int i = 0; i < n; i++) { total += a[i]; } return total;", "code") == 1
    assert value("Please summarise the meeting notes (three bullet points) for the team.", "code") == 0


@pytest.mark.parametrize(
    "stub",
    [
        'def merge(a: list[int], b: list[int]) -> list[int]:\n    """Merge two sorted lists into one sorted list."""\n',
        "class Inventory:\n    Keeps the stock of each item and refuses to go below zero.",
        "function debounce(fn, wait) {\n  // Return a function that calls fn once calls stop for wait ms.\n}",
        "public int longestRun(String s) {\n    // the length of the longest run of one character\n}",
        "func (q *Queue) Pop() (int, error) {",
        "pub fn parse<T>(text: &str) -> Option<T> {",
    ],
)
def test_a_definition_to_complete_is_code(stub: str) -> None:
    assert value(stub, "code") == 1


def test_definitions_in_prose_are_no_code() -> None:
    for prose in ("The class of 2020 met again.", "define the function f(x) = x + 1", "In this class we study",
                  "Public opinion (polls) matter.", "public static int x = f(3);", "def\nclass\nfunction"):
        assert measure.count_definitions(prose) == 0, prose
    assert value("The class of 2020 met again, in the old function room.", "code") == 0
    assert measure.count_definitions("def f(x):\n" * 10) == 3  # counting stops at 3


def test_code_density_is_a_share_of_non_space_characters() -> None:
    assert value("{}();=<>_" * 3, "code_density") == 1.0
    assert value("plain words and nothing else at all here", "code_density") == 0.0
    assert value("short{}", "code_density") == 0.0  # under 20 non-space characters: no estimate


# --- maths ---------------------------------------------------------------------------------------


def test_equations_need_operands_with_the_same_spacing_on_both_sides() -> None:
    assert measure.count_equations("Solve x^2 + 3x = 10") == 3
    assert measure.count_equations("2+2 and 3 * 4") == 2
    assert measure.count_equations("C++ and <div> and a => b and **bold**") == 0
    assert measure.count_equations("Meet on 2023-10-01, pages 10-12") == 0
    assert measure.count_equations("∑ and ∫") == 2
    assert measure.count_equations("x = 1 " * 100) == measure.EQUATIONS_LIMIT


def test_a_markup_tags_brackets_are_no_comparison() -> None:
    assert measure.count_equations("【答案】A<eoa> 【答案】B<eoa>") == 0  # an answer marker after a word
    assert measure.count_equations("List<String> names and text<br/>more") == 0
    assert measure.count_equations('a<span class="x">b</span>c') == 0
    assert measure.count_equations("if a<b then c>d") == 2  # no tag: a tag's attributes have values
    assert measure.count_equations("x<y and y>z") == 2


def test_latex_and_word_problems() -> None:
    assert value(r"Compute $$\int_0^1 x^2\,dx$$ and \frac{1}{2}", "latex") == 3
    assert value(r"C:\Users\me\file.txt", "latex") == 0
    assert value("A train leaves at 3 pm at 80 km/h. How far has it gone by 5 pm?", "word_problem") == 1
    assert value("How many moons does Mars have?", "word_problem") == 0  # no numbers given
    assert value("Prove that there are infinitely many primes.", "math_terms") == 2


def test_numbers_count_decimals_and_thousands_once() -> None:
    assert measure.count_numbers(b"pay 2.50 for 1,000 items in 3 boxes") == 3
    assert measure.count_numbers(b"42") == 1
    assert measure.count_numbers(b"no digits") == 0


def test_maths_adds_its_parts() -> None:
    s = signals("What is the probability of rolling 2 sixes with 3 dice? Use the binomial theorem.")
    assert s["maths"] == s["latex"] + s["equations"] + s["math_terms"] + s["word_problem"]
    assert s["maths"] >= 2


# --- output formats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "formats"),
    [
        ("Return the result as JSON.", 1),
        ("Give me a CSV file with the totals", 1),
        ("Put it in a table with columns name and price, and also output YAML", 2),
        ("Answer with only the label: positive or negative.", 1),
        ("What does JSON stand for?", 0),
        ("Why is XML so verbose?", 0),
    ],
)
def test_format_request_needs_a_word_that_asks_for_the_format(prompt: str, formats: int) -> None:
    assert value(prompt, "format_request") == formats


@pytest.mark.parametrize(
    "prompt",
    [
        "Write the board report under the following headings: Summary, Risks, Next steps.",
        "Use this exact structure:\n1. Executive summary\n2. KPI table\n3. Risks",
        "Summarise the meeting into minutes with sections Attendees, Decisions and Action items.",
        "Draft the memo. Headings: To, From, Date, Re.",
    ],
)
def test_a_layout_given_for_the_answer_is_a_schema(prompt: str) -> None:
    assert value(prompt, "schema_given") >= 1


@pytest.mark.parametrize(
    ("prompt", "asked"),
    [
        ("Prepare the discharge summary in the hospital's SOAP format.", 1),
        ("Write the reference list using the APA template.", 1),
        ("Present the findings in the committee's usual format, one paragraph per site.", 1),
        ("Express your answer in interval notation.", 0),  # the maths' own notation
        ("How do I convert a video in mp4 format?", 0),  # a question about a format, no answer laid out
        ("Write a story in the style of Poe.", 0),
    ],
)
def test_a_layout_named_for_the_answer_is_a_format_asked_for(prompt: str, asked: int) -> None:
    assert value(prompt, "format_request") == asked


def test_a_layout_mentioned_is_no_schema() -> None:
    assert value("What is the structure of a plant cell?", "schema_given") == 0
    assert value("Sort the list in this order: largest first.", "schema_given") == 0  # an order of items, not of sections


def test_schema_response_format_and_tools() -> None:
    assert value('Fill this: {"name": "string", "age": "integer"}', "schema_given") >= 1
    assert value("List the people with the fields name and role", "schema_given") == 1
    request = {"response_format": {"type": "json_object"}, "tools": [{"type": "function"}, {"type": "function"}]}
    s = signals("hi", request=request)
    assert (s["response_format"], s["tools"], s["output_format"]) == (1, 2, 1)
    assert value("hi", "response_format", request={"response_format": {"type": "text"}}) == 0
    assert value("hi", "tools", request={"tools": "not a list"}) == 0


# --- reasoning, constraints, questions, conversation --------------------------------------------


def test_reasoning_cues_are_counted_once_each() -> None:
    assert value("Walk me through it step by step, step by step, and explain why.", "reasoning") == 3
    assert value("Optimise the query and compare the trade-offs.", "reasoning") == 3


def test_constraints_are_counted_per_occurrence() -> None:
    assert value("It must run in O(n), must not allocate, and use at most 2 threads.", "constraints") == 3
    assert value("Tell me a story.", "constraints") == 0


def test_questions_ignore_code_and_urls() -> None:
    assert value("Why? How? And what about https://x.org/a?b=1 ?", "questions") == 3
    assert value("What is this?\n```\nx = a ? b : c\n```", "questions") == 1
    assert value("これは何ですか？", "questions") == 1


def test_symptoms_and_edit_cues() -> None:
    assert value("The service hangs intermittently and memory leaks under load.", "symptoms") == 3
    assert value("Rename these variables to snake_case, one per line.", "edit_cues") == 4  # rename, these, snake_case, one per line


def test_an_edit_request_is_told_by_its_opening_verb() -> None:
    assert value("Translate this Java method to C#: ```java int f() {return 1;}```", "edit_request") == 1
    assert value("Please classify each review as positive or negative.", "edit_request") == 1
    assert value("Can you sort these names alphabetically?", "edit_request") == 1
    assert value("## Convert\n\nconvert the temperatures below to Celsius", "edit_request") == 1
    # The same verb later in a problem, or a word that only starts like one, is no request to edit.
    assert value("Write a program that can translate Roman numerals to integers.", "edit_request") == 0
    assert value("Translated novels sell less than originals: why?", "edit_request") == 0
    assert value("", "edit_request") == 0
    assert forms.opens_with_edit("  > please   rename the column") == 1


def test_code_requests_without_code() -> None:
    assert value("Write a Python function to reverse a linked list.", "code_request") == 3  # function to, python, linked list
    assert value("Implement binary search in C++.", "code_request") == 3  # implement, binary search, c++
    assert value("Write a poem about the sea.", "code_request") == 0
    assert value("How do I remove rust from a bike chain?", "code_request") == 0  # a language's name only where it is no English word
    assert value("Implement an LRU cache with get and put in O(1) time.", "code_request") == 2  # implement, o(1


def test_a_hyphenated_compound_keeps_its_cue_unless_the_phrase_refuses_it() -> None:
    assert value("We are moving our on-premise ERP to the cloud.", "deduction") == 0  # "~premise*"
    assert value("State the premise of the argument.", "deduction") == 1
    assert value("How many three-digit numbers are even?", "math_terms") == 1  # digit*
    assert value("Python-based tools, and a list:\n- python", "code_request") == 1


def test_puzzles_and_translations_and_layouts_have_cues() -> None:
    assert value("A always tells the truth and B always lies. Deduce who took the key.", "puzzle") == 2  # tells the truth, always lies
    assert value("How would you say this in German? Good morning.", "edit_cues") == 2  # how would you say this, say this in
    assert value("Output format: one line per field, as key: value.", "schema_given") == 4  # output format, format:, one line per, key: value
    assert value("CREATE TABLE t (id INT); list every id.", "schema_given") == 1
    assert value("Is this review positive or negative? What is the topic of it?", "labels") == 4  # is this review, positive or negative, topic of, what is the topic


def test_deductions_are_told_by_their_premises_and_the_conclusion_asked() -> None:
    syllogism = "All poets are dreamers. Some dreamers are sailors. Does it follow that some poets are sailors?"
    assert value(syllogism, "deduction") == 1  # does it follow
    assert value(syllogism, "premises") == 1  # All poets are
    chain = ("If the alarm rings, then the guard wakes. If the guard wakes, then the dog barks. "
             "The dog did not bark. Which of these must be true?")
    assert value(chain, "premises") == 2 and value(chain, "deduction") == 1  # must be true
    assert value("No reptile is warm-blooded; every lizard is a reptile.", "premises") == 2
    assert value("A holds if and only if B holds. Can we infer B from A?", "premises") == 1
    assert value("A holds if and only if B holds. Can we infer B from A?", "deduction") == 2  # infer, can we infer
    # Conditions that are no premises: an "if" without a "then" in its sentence, ordinary questions.
    assert value("If you have time, tell me about Rome. Then about Florence.", "premises") == 0
    assert value("What is the capital of France? I want to visit it all.", "premises") == 0
    assert value("What is the capital of France?", "deduction") == 0


def test_constraint_puzzles_have_cues() -> None:
    assert value("Use each of 2, 3, 5 and 7 exactly once with + - × ÷ to make 10.", "puzzle") == 2  # use each, exactly once
    assert value("Fill in the grid so that every row and every column holds 1 to 4.", "puzzle") == 3  # the grid, every row, every column
    assert value("Solve this riddle: what has keys but opens no locks?", "puzzle") == 1
    assert value("Write a short story about a lighthouse keeper.", "puzzle") == 0
    seating = ("Four friends sit in a row of four chairs. Ana sits immediately to the right of Bo, "
               "and Cy is not next to Di. Who sits where?")
    assert value(seating, "puzzle") == 3  # in a row of, immediately to the right, is not next to
    assert value("Get the goat, the wolf and the cabbage across the river in a boat for two.", "puzzle") == 1
    assert forms.count_premises("if a then b. " * 50) == forms.PREMISES_LIMIT


def test_how_to_questions_have_cues() -> None:
    assert value("How do I pin a dependency to a commit? Is there a way to do it per branch?", "how_to") == 2
    assert value("The build fails with this log. How can I make it use the cached wheels?", "how_to") == 2  # how can i, can i
    assert value("It returns 500 under load: what is going on and how do we fix it?", "how_to") == 0
    assert value("Implement a trie with insert and prefix search.", "how_to") == 0


def test_tools_granted_in_the_text_are_a_given_answer_shape() -> None:
    agent = ("You have access to the following tools:\nsearch: a search engine, useful for when you need to answer "
             "questions about current events. Input should be a search query.\nWho won the last Tour de France?")
    assert value(agent, "schema_given") == 4  # you have access to the following tools, …, useful for when you need, input should be a
    assert value("Which power tools are available at the hardware store?", "schema_given") == 0


def test_list_items_count_bullets_and_numbers_at_line_starts() -> None:
    assert value("- a\n- b\n* c\n1. d\n2) e\n10. f", "list_items") == 6
    assert value("Items: 1. a 2. b", "list_items") == 0


def test_turns_count_user_messages() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and now?"},
    ]
    assert signals(messages=messages)["turns"] == 2
    assert signals("one prompt")["turns"] == 1
    assert signals()["turns"] == 0


def test_words_are_capped_and_lines_counted() -> None:
    assert value("a b c", "words") == 3
    assert value("w " * 5000, "words") == 2000
    assert value("one\ntwo\nthree", "lines") == 3
    assert value("", "lines") == 0


# --- language ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What is the best way to learn the piano as an adult?", "en"),
        ("Wie lange muss ich ein Ei kochen, damit das Eigelb weich ist?", "de"),
        ("¿Cuál es la diferencia entre los dos verbos y cómo se usan?", "es"),
        ("Quelle est la différence entre un CDD et un CDI pour les salariés ?", "fr"),
        ("Qual é a diferença entre juros simples e compostos para um empréstimo?", "pt"),
        ("Qual è la differenza tra il caffè e il tè per la salute?", "it"),
        ("Wat is het verschil tussen een huur en een koop woning voor mij?", "nl"),
        ("次の変数名をスネークケースに変換してください。userName createdAt", "ja"),
        ("请把下面这些句子翻译成英文", "zh"),
        ("이 문장을 영어로 번역해 주세요", "ko"),
        ("Переведи этот текст на английский язык", "ru"),
        ("ok", "und"),
        ("x = foo(bar)", "und"),
    ],
)
def test_language_guess(text: str, language: str) -> None:
    assert guess_language(text.lower()) == language
    assert signals(text).get_language() == language
    assert signals(text)["non_english"] == (0 if language in ("en", "und") else 1)


def test_rule_language_lists_every_code_the_guess_returns() -> None:
    assert CODES == LANGUAGES


def test_language_ignores_code_blocks() -> None:
    prompt = "Bitte erkläre mir, was dieser Code macht und warum er nicht funktioniert:\n```\n" + "the value of the thing is the answer\n" * 20 + "```"
    assert signals(prompt).get_language() == "de"


# --- laziness and text sources -------------------------------------------------------------------


def test_groups_are_computed_only_when_asked() -> None:
    s = signals("Why? How? Prove it step by step.")
    assert s["questions"] == 2
    assert s.values[INDEX["reasoning"]] is None  # the cue scan has not run
    assert s["reasoning"] == 2
    assert s.values[INDEX["words"]] is None


def test_signals_are_cached_per_source() -> None:
    inputs = Inputs("user text?", None, "system text, must be brief", None, None)
    assert signals_of(inputs, "last_user") is signals_of(inputs, "last_user")
    assert signals_of(inputs, "system")["constraints"] == 1
    assert signals_of(inputs, "last_user")["constraints"] == 0


def test_as_dict_lists_every_signal_and_the_language() -> None:
    out = signals("Return as JSON").as_dict()
    assert set(out) == set(SIGNALS) | {"language"}


# --- never raises, always in range ---------------------------------------------------------------

texts = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list("`~?{}();=<>_\\$^*+-×≤∑\n\t 0123456789.,aé日\ud800")), max_size=200),
    st.lists(st.sampled_from(["```", "~~~", "as json", "why", "\n- ", "\n1. ", "@@ -", "\\frac", "$$", "? ", "http://a?b=1"]), max_size=30).map("".join),
    # The request's edges, definitions, a closed question before its item, a named layout: long
    # texts that name a given text, in pieces that the edges may cut anywhere.
    st.lists(st.sampled_from(["the article", "summarize ", "\n\n", "\n", "must ", "x = 1 ", "if a then b. ", "def f(",
                              "class A:", "Is this review positive?\n", "Review: ", '"', "on-premise", " in the SOAP format",
                              "prepare it ", "word " * 40, "\ud800", "é"]), max_size=24).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(prompt=texts, system=st.one_of(st.none(), texts), request=st.one_of(st.none(), st.dictionaries(st.sampled_from(["tools", "functions", "response_format"]), st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=3), st.fixed_dictionaries({"type": st.sampled_from(["json_object", "text", 3])})))))
def test_every_signal_is_a_number_within_its_range(prompt: str, system: str | None, request: Any) -> None:
    for source in ("last_user", "all"):
        out = signals(prompt, system=system, request=request, source=source).as_dict()
        assert out["language"] in LANGUAGES
        for name, info in SIGNALS.items():
            number = out[name]
            assert isinstance(number, (int, float)) and math.isfinite(number), name
            assert number >= 0, name
            highest = info.highest
            assert highest is None or number <= highest, name


def test_large_inputs_finish() -> None:
    prompt = "x = 1; " * 200_000 + "?" * 1000 + "```" * 1001
    out = signals(prompt).as_dict()
    assert out["equations"] == measure.EQUATIONS_LIMIT
    assert out["code_blocks"] == 501
