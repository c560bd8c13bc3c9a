"""Signals of what a request asks by its form (a closed question, a calculation) and of texts to read."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rulerouter.decide import request_forms as forms
from rulerouter.decide import text_measures as measure
from rulerouter.policy.vocabulary import READING_WORDS, REQUEST_EDGE_WORDS

from .test_signals import value

def test_a_closed_question_about_a_given_item_is_labelling() -> None:
    item = "The soup arrived cold, the waiter forgot our drinks, and the bill had two dishes we never ordered."
    assert value(f"{item}\nWas the diner satisfied with this restaurant?", "closed_question") == 1
    assert value(f"{item}\nWhich describes it best: angry, neutral, or pleased?", "closed_question") == 1
    assert value(f"{item}\nCould you tell me what went wrong?", "closed_question") == 0  # a request for an open answer
    assert value(f"{item}\nWhat should the owner change first?", "closed_question") == 0  # an open question
    assert value("Is Lisbon the capital of Portugal?", "closed_question") == 0  # nothing given before it
    assert value("Why do cats purr when they are content and also when they are hurt? Is it the same sound?",
                 "closed_question") == 0  # a question after a question: no given item
    assert value(f"{item} Is this review positive", "closed_question") == 0  # no question mark


def test_a_closed_question_before_its_item_is_labelling() -> None:
    review = "Title: Broke in a week\nReview: The handle cracked on the fourth day and the seller never answered my emails."
    assert value(f"Is this product review positive?\n{review}", "closed_question") == 1
    assert value(f"Does the following review mention the price?\n\"{review[7:]}\"", "closed_question") == 1  # quoted
    # Judged against the world, from knowledge: a question, not a label read off the item.
    assert value(f"Is the following sentence factually correct?\n\"{review[7:]}\"", "closed_question") == 0
    assert value(f"Is it possible to fix this?\n{review}", "closed_question") == 0  # "it" points back, not ahead
    # After the item too: whether statements are true is reasoned out, not read off them.
    liars = "Alice says Bob lies. Bob says Carol lies. Carol says that both Alice and Bob lie."
    assert value(f"{liars} Does Alice tell the truth?", "closed_question") == 0
    assert value(f"{review[7:]} Is this review positive?", "closed_question") == 1
    assert value(f"Should I return this?\n{review}", "closed_question") == 0  # the asker chooses
    assert value(f"Does this review hurt our rating?\n{review}", "closed_question") == 0  # the asker's own stake
    assert value("Is this product review positive?\nReview: Great.", "closed_question") == 0  # no item of 12+ words
    assert value(f"Is this product review positive? {review}", "closed_question") == 0  # not a line of its own
    assert value(f"Is this product review positive?\nThe handle cracked on the fourth day and the seller never "
                 "answered my emails.", "closed_question") == 0  # the item neither quoted nor labelled


def test_offered_answers_before_or_after_the_item_are_labelling() -> None:
    item = '"The parcel said delivered on Monday, but nothing was at my door and the courier will not answer."'
    asked = "Which of these topics is this message about: billing, missing delivery, returns, account access or other?"
    assert value(f"{asked}\n\n{item}", "closed_question") == 1  # the question first, then the item
    assert value(f"Message: {item}\nPick one: billing, missing delivery, returns or other.", "closed_question") == 1
    assert value(f"{item}\nIs it about billing, missing delivery, returns or other? Answer with one.", "closed_question") == 1
    # No item to label: the question stands alone.
    assert value("Is it about billing, missing delivery, returns or other?", "closed_question") == 0
    # A list inside a statement, or inside a question it does not end, offers no answers.
    assert value(f"{item} Each half of the shell is blue, red, white or yellow.", "closed_question") == 0
    assert value(f"{item} On which side, north, east, south or west, did the courier stop?", "closed_question") == 0
    # Two alternatives are a plain question; a long lead-in before the colon is a statement.
    assert forms.offered_answers("So which is it, calling or waiting?") is None
    assert value(f"{item}\nThe category of each player can be one of these: noob, random, average or pro.",
                 "closed_question") == 0
    assert value(f"{item}\nWould you say the customer is angry, worried, calm, or pleased?", "closed_question") == 1
    assert value(f"Which category best describes this message? {item}\nChoose from the following list:\n"
                 "Billing, Delivery, Returns, Account", "closed_question") == 1  # a list on its own line, no "or"
    assert value(f"{item}\nMETHODS: a randomised, double-blind, placebo-controlled trial.", "closed_question") == 0
    assert value(f"{item}\nInput: nums = [1,2,3], k = 2", "closed_question") == 0  # code, not answers
    # A choice the asker makes for themselves is advice, whatever answers it offers.
    story = "We are four adults and two kids flying in from Chicago for a week in late May."
    assert value(f"{story} Which is the better base for day trips: Florence, Bologna, Siena or Lucca?",
                 "closed_question") == 0  # runs on from the asker's story: nothing set apart or pointed at
    assert value(f"{story}\n\nShould we stay in Florence, Bologna, Siena or Lucca?", "closed_question") == 0  # "we"
    assert value(f"{story}\nShould I book the hotel now or wait?", "closed_question") == 0  # "I"
    assert value(f"{story}\n\nWhich should we pick: Florence, Bologna, or Siena?", "closed_question") == 0  # "we" before the colon
    assert value('A customer wrote: "I want to verify my identity before my trip next week, how?"\n'
                 "Is it about verify my identity, card arrival, or top up?", "closed_question") == 1  # "my" in an answer
    assert forms.offered_answers("Pick one: b, a b c d e f g h, c or d.") is None  # an answer of 8 words
    assert forms.offered_answers("Pick one: a b c d e f g h, b, c or d.") is None
    assert forms.offered_answers(" or a, b, c" * 10_000) is None  # bounded: stops after 50 tries


def test_a_bare_calculation_is_arithmetic() -> None:
    assert value("What is 17 × 23 + 5?", "arithmetic") == 1
    assert value("Calculate: $$\\frac{1}{2}\\times \\frac{22}{7}\\div \\frac{11}{5}$$.\n\nA. $$\\frac{5}{7}$$\nB. $$\\frac{4}{7}$$",
                 "arithmetic") == 1  # the options are answers to pick, not maths asked
    assert value("Round $$398\\text{ m}$$ to the nearest ten.", "arithmetic") == 1  # a unit is no variable
    assert value("Solve $x^2 - 5x + 6 = 0$.", "arithmetic") == 0  # a variable
    assert value("Find 2x + 3 when 4 + 5 = 9.", "arithmetic") == 0  # a variable outside the maths
    assert value("Mark and Karl have $$100$$ dollars in total. The money Mark owns is three times the money "
                 "Karl owns. How many dollars does Mark have?", "arithmetic") == 0  # a word problem's story
    assert value("How many cats are in the picture?", "arithmetic") == 0  # no maths
    assert value("Add up: " + "1 + " * 400 + "1", "arithmetic") == 0  # too long to be a bare calculation


def test_a_long_given_text_to_read_counts_its_references() -> None:
    story = ("The council met on Tuesday to weigh three proposals for the old mill: a museum, flats, or a "
             "market hall. Each would cost between two and four million, and the vote was close. ") * 5
    assert value(f"{story}\nAccording to the article, which proposal won, and why?", "reading") == 2  # the article, according to
    assert value(f"Summarize the following text in two sentences.\n\n{story}", "reading") == 2  # summari*, the following text
    assert value("According to the article, which proposal won?", "reading") == 0  # too short to be a given text
    assert value(f"{story}\nWhich proposal would you choose?", "reading") == 0  # a long text with no reference to it
    sentence = "The mill closed in spring and the town argued for a year over what to build instead. "
    asked = "According to the passage, why?"
    base = sentence * 8 + asked
    under = "Then " * (READING_WORDS - 1 - len(base.split())) + base  # one word short
    assert len(under.split()) == READING_WORDS - 1
    assert value(under, "reading") == 0 and value("Then " + under, "reading") == 2  # from READING_WORDS words on


def test_request_edges_are_the_first_and_last_words() -> None:
    text = " ".join(f"w{i}" for i in range(10))
    assert measure.request_edges(text, 4) == "w0 w1 w2 w3\n\nw6 w7 w8 w9"  # no line break: whole edges
    assert measure.request_edges(text, 5) is None  # 10 words: nothing between two edges of 5
    assert measure.request_edges("", 3) is None
    # An edge is the first or last paragraph, else line, when it is short enough.
    assert measure.request_edges("Summarize this:\nm1 m2 m3 m4 m5 m6\nIn French.", 3) == "Summarize this:\n\nIn French."
    assert measure.request_edges("Q1 q2\nq3\n\nm1 m2 m3\nm4 m5", 3) == "Q1 q2\nq3\n\nm4 m5"
    assert measure.request_edges("\n\nQ1 q2 q3 m1 m2 m3 m4 m5\n", 3) == "Q1 q2 q3\n\nm3 m4 m5"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\t\u00e9\u2028"), max_size=60), st.integers(1, 4))
def test_request_edges_are_a_head_and_a_tail_of_the_words(text: str, edge: int) -> None:
    words = text.split()
    edges = measure.request_edges(text, edge)
    if len(words) <= 2 * edge:
        assert edges is None
        return
    assert edges is not None
    head, tail = edges.split("\n\n", 1) if "\n\n" in edges else (edges, "")
    assert 1 <= len(head.split()) <= edge and len(tail.split()) <= edge
    assert words[: len(head.split())] == head.split()
    assert words[len(words) - len(tail.split()) :] == tail.split()


ARTICLE = """The ministry published its ten-year plan for rural broadband on Monday.

Every region must report its progress at least twice a year, and the analysis of those reports \
should be public within ninety days. If a region misses a deadline, then its funding is reviewed. \
The plan compares the percent of households served in each region and evaluates the strategy that \
the previous government followed, which the new minister called too slow.

Opposition parties welcomed the money but asked who will maintain the networks once they are \
built. Several mayors said that their towns had waited for years and would believe the promise \
when the first cables were laid. The ministry expects the first contracts to be signed in the \
spring, with work starting in the north, where fewer than half of the villages have a fast line.

Engineers at the national network operator said the hardest part is the last mile: long \
private roads, old farm buildings and hills that block the radio links used in the first phase.

A public consultation on the details will open next month and run until the end of the summer."""


def test_what_is_asked_of_a_given_text_is_read_from_its_edges() -> None:
    asked = f"Summarize the following article in three sentences.\n\n{ARTICLE}"
    told = f"Here are my notes.\n\n{ARTICLE}"  # no given text is named: all of it is the request
    assert len(ARTICLE.split()) > 2 * REQUEST_EDGE_WORDS
    for name in ("constraints", "reasoning", "math_terms", "premises"):
        assert value(told, name) > value(asked, name) == 0, name  # the article's cues are not the request's
    question = f"{asked}\n\nThen explain why the plan was criticised, and compare it with the old strategy."
    assert value(question, "reasoning") == 3  # explain why, compare, strategy: asked after the article
    assert value(asked, "reading") == 2  # summari*, the following article: counted on the whole text
    # "according to" names no text: a long problem statement that says it keeps its own cues.
    rules = f"{ARTICLE}\nAccording to the rules above, what is the least number of reports?"
    plain = f"{ARTICLE}\nUnder the rules above, what is the least number of reports?"
    assert value(rules, "constraints") == value(plain, "constraints") > 0
