"""Corpus rules of the sources added for the corpus's gaps: tweet labelling tasks (TweetEval,
bulk), GPT-4-written role-play and tool-use instructions (GPTeacher, standard and structured),
maths competition problems by knowledge point and difficulty (TAL-SCQ5K, arithmetic
standard, the rest complex), and biomedical abstracts put in requests with a machine-readable
answer contract or a free-text one (BC5CDR, structured and standard), and deductions in
propositional, first-order and non-monotonic logic (LogicBench(Aug), complex), and puzzles to
solve by search (the Game of 24 and 5x5 mini crosswords of Tree of Thoughts, complex), and bank
customers' messages to label with one of five Banking77 intents, asked as a question (bulk).

As in ``corpus_rules.py``, a tier comes only from the source's own task, module or annotation
field; no rule reads the prompt text. ``corpus/SOURCES.md`` states each rule in prose and
``tests/test_corpus_rules_text.py`` pins them on small fixtures.

Standard library only.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable, Iterator

try:
    from .corpus_rules import Candidate
except ImportError:
    from corpus_rules import Candidate

__all__ = ["TAL_ARITHMETIC", "TWEETEVAL_PHRASINGS", "TWEETEVAL_TASKS", "gpteacher_candidates", "tal_candidates",
           "tal_tier", "tweeteval_candidates", "tweeteval_labels", "BC5CDR_FORMS", "bc5cdr_candidates",
           "logicbench_candidates", "pubtator_documents", "tot_candidates", "BANKING77_PHRASINGS", "banking77_candidates"]


# --- TweetEval (Barbieri et al., Findings of EMNLP 2020), training splits ------------------

# Each task asks for one label from a fixed set for one given tweet: a labelling task (bulk).
# What the label means, per task, for the request wording; the label names come from the
# task's own mapping.txt. `sentiment` is absent: its training text is a file of 4 MiB+.
TWEETEVAL_TASKS = {
    "emoji": "the emoji that most likely ended it",
    "emotion": "the emotion it expresses",
    "hate": "whether it is hate speech against immigrants or women",
    "irony": "whether it is ironic",
    "offensive": "whether it is offensive",
    "stance/abortion": "its stance on legal abortion",
    "stance/atheism": "its stance on atheism",
    "stance/climate": "its stance on climate change being a real concern",
    "stance/feminist": "its stance on feminism",
    "stance/hillary": "its stance on Hillary Clinton",
}
TWEETEVAL_PHRASINGS = (
    "Label this tweet with {what}. Answer with one of: {labels}.\n\nTweet: {text}",
    "Tweet: {text}\n\nWhich label fits it best for {what}? Choose from {labels}.",
    "Classify the tweet below by {what} ({labels}); reply with the label only.\n\n{text}",
)


def tweeteval_labels(mapping: str) -> list[str]:
    """The label names of a task's ``mapping.txt`` (``id<TAB>name[<TAB>description]``), in id order;
    for emoji the emoji itself, not its underscored description."""
    rows = [line.split("\t") for line in mapping.splitlines() if line.strip()]
    return [row[1] for row in sorted(rows, key=lambda r: int(r[0]))]


def tweeteval_candidates(task: str, texts: Iterable[str], labels: list[str]) -> Iterator[Candidate]:
    """One bulk candidate per training tweet, its line number choosing the phrasing in turn."""
    what = TWEETEVAL_TASKS[task]
    names = ", ".join(labels)
    for n, text in enumerate(texts):
        text = text.strip()
        if text:
            prompt = TWEETEVAL_PHRASINGS[n % len(TWEETEVAL_PHRASINGS)].format(what=what, labels=names, text=text)
            yield Candidate(f"{task}/{n}", prompt, "bulk", task)


# --- GPTeacher (teknium1), GPT-4-generated instruction modules ------------------------------

TOOL_ACCESS = re.compile(r"^toolformer access:\s*(.+)$", re.MULTILINE)


def _request(item: dict) -> str:
    instruction, given = str(item.get("instruction", "")).strip(), str(item.get("input", "")).strip()
    return f"{instruction}\n\n{given}" if given else instruction


def gpteacher_candidates(module: str, items: Iterable[dict]) -> Iterator[Candidate]:
    """``module``: ``roleplay`` or ``toolformer``.

    Roleplay (characters to play, scenes to write) → **standard**. Toolformer items grant the
    model tools by name and signature in the request; when the recorded response calls one of
    the granted tools (``name(``), the answer is bound to that call syntax → **structured**;
    otherwise → **standard**.
    """
    for n, item in enumerate(items):
        prompt = _request(item)
        if not prompt:
            continue
        if module == "roleplay":
            yield Candidate(f"roleplay/{n}", prompt, "standard", "roleplay")
            continue
        access = TOOL_ACCESS.search(str(item.get("instruction", "")))
        tools = [t.strip() for t in access.group(1).split(",")] if access else []
        response = str(item.get("response", ""))
        calls = any(re.search(rf"\b{re.escape(tool)}\(", response) for tool in tools if tool)
        yield Candidate(f"toolformer/{n}", prompt, "structured" if calls else "standard",
                        "toolformer/call" if calls else "toolformer/no-call")


# --- TAL-SCQ5K-EN (TAL Education Group), training split ---------------------------------------

# Sub-modules of TAL's "Calculation Modules" that are arithmetic: computing with given numbers.
# Everything else - number theory, counting and probability, combinatorics and logical
# reasoning, word problems, equations, sequences, powers - is competition maths. A route that
# stops at the Calculation Modules does not say which kind of calculation: left out.
TAL_ARITHMETIC = frozenset({"Whole Numbers", "Fractions", "Decimals", "Ratios and Proportions", "Unit Conversion",
                            "Comparing, Ordering and Estimating"})


def tal_tier(route: str, difficulty: str) -> tuple[str, str] | None:
    """(tier, category) from a knowledge point route ``Overseas Competition->Knowledge Point->
    <module>->[<sub-module>->…]`` and TAL's difficulty 0-4: arithmetic sub-modules of the
    Calculation Modules at difficulty 0 or 1 are **standard**, every other problem **complex**;
    None for a route that names no module, or the Calculation Modules without a sub-module."""
    parts = [p.strip() for p in route.split("->")]
    module, sub = (parts[2] if len(parts) > 2 else ""), (parts[3] if len(parts) > 3 else "")
    if not module or (module == "Calculation Modules" and not sub):
        return None
    arithmetic = module == "Calculation Modules" and sub in TAL_ARITHMETIC and difficulty in ("0", "1")
    return ("standard" if arithmetic else "complex"), f"{module}/{sub or '-'}/difficulty {difficulty}"


def tal_candidates(rows: Iterable[dict]) -> Iterator[Candidate]:
    """One candidate per problem with a knowledge point; prompt = the problem and its options."""
    for row in rows:
        problem, routes = str(row.get("problem", "")).strip(), row.get("knowledge_point_routes") or []
        if not problem or not routes:
            continue
        options = [f"{opt[0]['aoVal']}. {str(opt[0]['content']).strip()}" for opt in row.get("answer_option_list", [])
                   if opt and opt[0].get("aoVal")]
        rule = tal_tier(routes[0], str(row.get("difficulty", "")))
        if rule is None:
            continue
        yield Candidate(str(row["queId"]), "\n".join([problem, "", *options]) if options else problem, *rule)


# --- BioCreative V CDR (BC5CDR), training set -------------------------------------------------

# Each abstract goes into one of three requests of ours, in turn by its position in the file: two
# whose answer is bound to a machine-readable contract (a JSON object with fixed keys, a CSV table
# with a fixed header) filled from the corpus's own annotations (chemicals, diseases, and the
# chemical-induced-disease relations) -> structured; one asking for a plain-language account of
# the same abstract, free text -> standard. The contrast keeps "a long biomedical abstract"
# from standing for either tier.
BC5CDR_FORMS = (
    ("json", "structured",
     "Read the PubMed abstract below. Return only a JSON object with three keys: \"chemicals\" and \"diseases\" "
     "(lists of every distinct chemical and disease name, as written), and \"induces\" (a list of "
     "[chemical, disease] pairs for which the abstract reports that the chemical induces the disease).\n\n"
     "Title: {title}\n\n{abstract}"),
    ("csv", "structured",
     "Title: {title}\n\n{abstract}\n\nFrom this abstract, list every chemical-induced disease relation it "
     "reports as CSV with the header row chemical,disease and one row per relation; output the CSV and nothing else."),
    ("plain-language", "standard",
     "Explain to a patient with no medical training, in a short paragraph of plain words, what the study "
     "below found.\n\nTitle: {title}\n\n{abstract}"),
)


def pubtator_documents(text: str) -> Iterator[tuple[str, str, str]]:
    """(PubMed id, title, abstract) of each document of a PubTator file, in file order."""
    for block in re.split(r"\n\s*\n", text.strip()):
        fields = {}
        for line in block.splitlines():
            parts = line.split("|", 2)
            if len(parts) == 3 and parts[1] in ("t", "a"):
                fields[parts[1]] = (parts[0], parts[2].strip())
        if "t" in fields and "a" in fields:
            yield fields["t"][0], fields["t"][1], fields["a"][1]


def bc5cdr_candidates(documents: Iterable[tuple[str, str, str]]) -> Iterator[Candidate]:
    for n, (pmid, title, abstract) in enumerate(documents):
        if not abstract:
            continue
        form, tier, template = BC5CDR_FORMS[n % len(BC5CDR_FORMS)]
        yield Candidate(pmid, template.format(title=title, abstract=abstract), tier, form)


# --- LogicBench(Aug) (Parmar et al., ACL 2024), the augmented set made for training -------------

def _words(text: str) -> str:
    return " ".join(text.lower().split())


def logicbench_candidates(files: Iterable[dict], evaluation_contexts: Iterable[str] = ()) -> Iterator[Candidate]:
    """``files``: the parsed ``data_instances.json`` of each inference rule (``type``, ``axiom``,
    ``data_samples`` of a context with yes/no questions). Every sample is a deduction to carry out
    with that rule in that logic -> **complex** (logical reasoning); one question per sample, the
    n-th sample taking its (n mod k)-th question, so that a context is not repeated. A sample
    whose context is also one of ``evaluation_contexts`` (LogicBench(Eval)'s) is left out."""
    held = {_words(c) for c in evaluation_contexts}
    for f in files:
        category = f"{f['type']}/{f['axiom']}"
        for n, sample in enumerate(f.get("data_samples", [])):
            context, pairs = str(sample.get("context", "")).strip(), sample.get("qa_pairs") or []
            if not context or not pairs or _words(context) in held:
                continue
            question = str(pairs[n % len(pairs)].get("question", "")).strip()
            if question:
                yield Candidate(f"{category}/{n}", f"{context}\n\n{question}", "complex", category)


# --- Tree of Thoughts puzzles (Yao et al., NeurIPS 2023): Game of 24 and mini crosswords ----------

# The games the paper tests on are left out: Game of 24 ranks 901-1000 (indices 900-999) and the
# crosswords at indices 0, 5, ..., 95.
TOT_24_TEST = range(900, 1000)
TOT_CROSSWORD_TEST = range(0, 100, 5)
TOT_24_PHRASINGS = (
    "Use the numbers {numbers} and the operations +, -, * and / to make 24. Use each number exactly once; "
    "show the expression.",
    "Game of 24: with {numbers}, each used once, and basic arithmetic, reach 24. What is the expression?",
    "Can you combine {numbers} with addition, subtraction, multiplication and division (every number once) "
    "so that the result is 24?",
)


def tot_candidates(game24: Iterable[dict], crosswords: Iterable[tuple[list[str], list[str]]]) -> Iterator[Candidate]:
    """Every puzzle is a search for a solution under constraints -> **complex**.

    ``game24``: rows of ``24.csv`` (``Rank``, ``Puzzles``, ``Solved rate``; category = the human
    solve rate band of the 4nums.com data, e.g. ``game24/solved 90-100%``); ``crosswords``: the
    (clues, letters) pairs of ``mini0505.json`` (five across clues, then five down)."""
    for n, row in enumerate(game24):
        numbers = str(row.get("Puzzles", "")).split()
        if n in TOT_24_TEST or len(numbers) != 4:
            continue
        rate = float(str(row.get("Solved rate", "0")).rstrip("%") or 0)
        band = min(int(rate // 10) * 10, 90)
        prompt = TOT_24_PHRASINGS[n % len(TOT_24_PHRASINGS)].format(numbers=", ".join(numbers))
        yield Candidate(f"game24/{row.get('Rank', n)}", prompt, "complex", f"game24/solved {band}-{band + 10}%")
    for n, (clues, _) in enumerate(crosswords):
        if n in TOT_CROSSWORD_TEST or len(clues) != 10:
            continue
        across = "\n".join(f"h{i + 1}. {c}" for i, c in enumerate(clues[:5]))
        down = "\n".join(f"v{i + 1}. {c}" for i, c in enumerate(clues[5:]))
        prompt = ("Solve this 5x5 mini crossword: every row (h1-h5) and every column (v1-v5) is a five-letter "
                  f"word. Give the filled grid.\n\nAcross:\n{across}\n\nDown:\n{down}")
        yield Candidate(f"crossword/{n}", prompt, "complex", "crossword")


# --- Banking77 (Casanueva et al., 2020, arXiv:2003.04807; PolyAI), training split ----------------

# Each request asks which of five of Banking77's intents one given customer message expresses: a
# label for a given item (bulk), asked as a question. The five are the message's own intent and
# four others picked by a hash of the message, in hash order; our wording, taken in turn.
BANKING77_PHRASINGS = (
    "Which of these topics is this bank customer's message about: {labels}?\n\n\"{text}\"",
    "A customer wrote to their bank: \"{text}\"\nIs it about {labels}? Answer with one of them.",
    "Customer message: {text}\n\nWhat does the customer need help with? Pick one: {labels}.",
)
BANKING77_CHOICES = 5


def _hash_order(key: str, items: Iterable[str]) -> list[str]:
    return sorted(items, key=lambda item: hashlib.sha256(f"{key}\0{item}".encode()).hexdigest())


def banking77_candidates(rows: Iterable[dict], intents: list[str]) -> Iterator[Candidate]:
    """``rows``: ``train.csv`` (``text``, ``category``); ``intents``: ``categories.json``. Every
    message -> **bulk**; category = its Banking77 intent. Rows whose intent is not one of
    ``intents`` are skipped."""
    known = set(intents)
    for n, row in enumerate(rows):
        text, intent = " ".join(str(row.get("text", "")).split()), str(row.get("category", ""))
        if not text or intent not in known:
            continue
        others = _hash_order(text, (i for i in intents if i != intent))[:BANKING77_CHOICES - 1]
        shown = [label.replace("_", " ") for label in _hash_order(text + "\0order", [intent, *others])]
        labels = ", ".join(shown[:-1]) + " or " + shown[-1]
        prompt = BANKING77_PHRASINGS[n % len(BANKING77_PHRASINGS)].format(text=text, labels=labels)
        yield Candidate(f"{n:05d}", prompt, "bulk", intent)
