"""Per-source rules that turn a public collection's items into labelled corpus candidates.

Each ``*_candidates`` function takes the source's items as parsed from its files and yields
:class:`Candidate` objects. The tier comes only from the source's own category, task type,
difficulty or annotation field, through the tables and functions below; no rule reads the
prompt text. ``corpus/SOURCES.md`` states each rule in prose, and ``tests/test_corpus_rules.py``
pins them on small fixtures.

Standard library only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

__all__ = ["CLINC_BULK_INTENTS", "CODEXGLUE_TASKS", "clinc_candidates", "FLAN_COT_TASKS", "MULTI30K_LANGUAGES", "multi30k_candidates", "TEXT2SQL_DATASETS", "Candidate", "flan_cot_candidates", "text2sql_candidates", "P3_DATASETS", "codexglue_candidates", "glaive_candidates", "leetcode_candidates", "math_candidates",
           "math_tier", "p3_candidates", "p3_rule", "sgd_candidates"]


@dataclass(frozen=True)
class Candidate:
    """One labelled prompt before selection; ``key`` is the source's own stable item id."""

    key: str
    prompt: str
    tier: str
    category: str
    extra: dict = field(default_factory=dict)   # messages / request / system_prompt


# --- MATH (Hendrycks et al.), training split -----------------------------------------------

def math_tier(subject: str, level: str) -> str:
    """Competition maths is *complex*; only the arithmetic end (Prealgebra levels 1-2) is not."""
    if subject == "Prealgebra" and level in ("Level 1", "Level 2"):
        return "standard"
    return "complex"


def math_candidates(items: Iterable[tuple[str, dict]]) -> Iterator[Candidate]:
    """``items``: (file path, parsed problem JSON) from ``train/<subject>/<n>.json``."""
    for path, item in items:
        problem = item.get("problem", "").strip()
        if problem:
            subject, level = item.get("type", ""), item.get("level", "")
            yield Candidate(path, problem, math_tier(subject, level), f"{subject}/{level}")


# --- LeetCode problem statements ----------------------------------------------------------

# Problems from about April 2023 on are left out: that is the window that contamination-free
# code benchmarks (LiveCodeBench and its successors) collect LeetCode problems from.
LEETCODE_LAST_ID = 2650
LEETCODE_DIFFICULTIES = {"Easy", "Medium", "Hard"}


def leetcode_candidates(items: Iterable[tuple[str, dict]]) -> Iterator[Candidate]:
    """Every difficulty is *complex*: writing a correct algorithmic program from a statement."""
    for path, item in items:
        try:
            number = int(item.get("frontend_id", ""))
        except ValueError:
            continue
        difficulty = item.get("difficulty")
        if number > LEETCODE_LAST_ID or difficulty not in LEETCODE_DIFFICULTIES:
            continue
        prompt = leetcode_prompt(item)
        if prompt:
            yield Candidate(path, prompt, "complex", difficulty)


def leetcode_prompt(item: dict) -> str:
    """The statement as a user would paste it: text, examples, constraints, Python starter code."""
    body = "\n".join(line for line in item.get("description", "").splitlines()
                     if not re.fullmatch(r"\s*(Example \d+:|Constraints:|Follow-up:.*)\s*", line)).strip()
    if not body:
        return ""
    parts = [f"{item.get('title', '').strip()}\n\n{body}"]
    for ex in item.get("examples") or []:
        if ex.get("example_text", "").strip():
            parts.append(f"Example {ex.get('example_num', '')}:\n{ex['example_text'].strip()}")
    if item.get("constraints"):
        parts.append("Constraints:\n" + "\n".join(f"- {c}" for c in item["constraints"]))
    code = (item.get("code_snippets") or {}).get("python3")
    if code:
        parts.append(f"```python\n{code.strip()}\n```")
    return "\n\n".join(parts)


# --- P3 / T0 training mixture (per-template sample redistributed with Self-Instruct) ---------

# dataset prefix of the template file -> (T0 task cluster, tier, or None and why it is left out).
# Clusters are those of the T0 paper (Sanh et al., 2022, fig. 2).
P3_DATASETS: dict[str, tuple[str, str | None]] = {
    "adversarial_qa": ("extractive_qa", "standard"),
    "ag_news": ("topic_classification", None),        # an evaluation set of FrugalGPT, a router
    "amazon_polarity": ("sentiment", "bulk"),
    "app_reviews": ("sentiment", "bulk"),
    "cnn_dailymail_3_0_0": ("summarization", None),   # a HELM scenario
    "common_gen": ("structure_to_text", "standard"),
    "commonsense_qa": ("multiple_choice_qa", None),   # an LLM evaluation benchmark
    "cosmos_qa": ("multiple_choice_qa", None),        # an LLM evaluation benchmark
    "dbpedia_14": ("topic_classification", "bulk"),
    "dream": ("multiple_choice_qa", "standard"),
    "duorc_ParaphraseRC": ("extractive_qa", "standard"),
    "duorc_SelfRC": ("extractive_qa", "standard"),
    "gigaword": ("summarization", "standard"),
    "glue_mrpc": ("paraphrase_identification", None),  # GLUE, an evaluation benchmark
    "glue_qqp": ("paraphrase_identification", None),   # GLUE, an evaluation benchmark
    "imdb": ("sentiment", None),                       # a HELM scenario
    "kilt_tasks_hotpotqa": ("closed_book_qa", None),   # KILT / HotpotQA, evaluation benchmarks
    "multi_news": ("summarization", "standard"),
    "paws_labeled_final": ("paraphrase_identification", "bulk"),
    "qasc": ("multiple_choice_qa", "standard"),
    "quarel": ("multiple_choice_qa", "standard"),
    "quartz": ("multiple_choice_qa", "standard"),
    "quoref": ("extractive_qa", "standard"),
    "ropes": ("extractive_qa", "standard"),
    "rotten_tomatoes": ("sentiment", "bulk"),
    "samsum": ("summarization", "standard"),
    "sciq": ("multiple_choice_qa", None),              # an LLM evaluation benchmark
    "social_i_qa": ("multiple_choice_qa", None),       # an LLM evaluation benchmark
    "trec": ("topic_classification", "bulk"),
    "wiki_bio": ("structure_to_text", "standard"),
    "wiki_hop_original": ("multiple_choice_qa", "standard"),
    "wiki_qa": ("closed_book_qa", "standard"),
    "wiqa": ("multiple_choice_qa", "standard"),
    "xsum": ("summarization", None),                   # a HELM scenario
    "yelp_review_full": ("sentiment", "bulk"),
}


def p3_rule(template: str) -> tuple[str, str, str | None] | None:
    """(dataset, cluster, tier) for a template file name; tier None = left out; None = unknown.

    Labelling clusters (sentiment, topic, paraphrase identification) are *bulk*: a label for a
    given item. A template of such a dataset that asks to generate text instead (its P3 name
    says ``generate``) is *standard*, like the generative clusters.
    """
    for prefix in sorted(P3_DATASETS, key=len, reverse=True):
        if template.startswith(prefix + "_"):
            cluster, tier = P3_DATASETS[prefix]
            if tier == "bulk" and "generate" in template[len(prefix):]:
                tier = "standard"
            return prefix, cluster, tier
    return None


def p3_candidates(template: str, rows: Iterable[dict]) -> Iterator[Candidate]:
    """``rows``: the ``{"prompt", "completion"}`` lines of ``data_per_template/<template>.jsonl``."""
    rule = p3_rule(template)
    if rule is None or rule[2] is None:
        return
    dataset, cluster, tier = rule
    for i, row in enumerate(rows):
        prompt = row.get("prompt", "").strip()
        if prompt:
            yield Candidate(f"{template}/{i}", prompt, tier, f"{cluster}/{dataset}/{template[len(dataset) + 1:]}")


# --- Schema-Guided Dialogue (Rastogi et al., 2020), training split --------------------------

def sgd_tools(schemas: dict[str, dict], services: list[str]) -> list[dict]:
    """OpenAI-style tools: one function per intent of the dialogue's services."""
    tools = []
    for name in services:
        service = schemas[name]
        slots = {s["name"]: s for s in service["slots"]}
        for intent in service["intents"]:
            props = {}
            for slot in [*intent["required_slots"], *intent["optional_slots"]]:
                spec = {"type": "string", "description": slots[slot]["description"]}
                if slots[slot]["is_categorical"] and slots[slot]["possible_values"]:
                    spec["enum"] = slots[slot]["possible_values"]
                props[slot] = spec
            tools.append({"type": "function", "function": {
                "name": intent["name"], "description": intent["description"],
                "parameters": {"type": "object", "properties": props, "required": list(intent["required_slots"])}}})
    return tools


SGD_JSON_PHRASINGS = (
    "Extract what the user wants from this conversation as a JSON object with the keys \"intent\" (one of: "
    "{intents}) and \"slots\" (an object whose keys are among: {slots}). Output only the JSON.",
    "Read the conversation and return a JSON object {{\"intent\": ..., \"slots\": {{...}}}} describing the user's "
    "request. intent must be one of {intents}; slot names must come from {slots}. No other text.",
)


def sgd_candidates(dialogues: Iterable[dict], schemas: dict[str, dict]) -> Iterator[Candidate]:
    """One prompt per dialogue, taken at the user turn right before the first system turn
    annotated with a ``service_call``; both kinds are *structured*:

    - dialogues with an even number: that user turn as it is, with the services as ``tools``
      (the recorded answer is a call with arguments taken from the conversation);
    - odd numbers: the conversation so far, and a request to return the user's intent and slots
      as JSON with the schema's names (the recorded dialogue state is that answer).
    """
    for dialogue in dialogues:
        turns = dialogue["turns"]
        for i, turn in enumerate(turns):
            call = next((f for f in turn["frames"] if turn["speaker"] == "SYSTEM" and "service_call" in f), None)
            if call is None or i == 0:
                continue
            messages = [{"role": "user" if t["speaker"] == "USER" else "assistant", "content": t["utterance"]}
                        for t in turns[:i]]
            number = int(dialogue["dialogue_id"].rsplit("_", 1)[-1])
            if number % 2 == 0:
                yield Candidate(dialogue["dialogue_id"], messages[-1]["content"], "structured",
                                f"service_call/{call['service']}",
                                {"messages": messages, "request": {"tools": sgd_tools(schemas, dialogue["services"])}})
            else:
                service = schemas[call["service"]]
                conversation = "\n".join(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in messages)
                ask = SGD_JSON_PHRASINGS[(number // 2) % 2].format(
                    intents=", ".join(x["name"] for x in service["intents"]), slots=", ".join(x["name"] for x in service["slots"]))
                yield Candidate(dialogue["dialogue_id"], f"{conversation}\n\n{ask}", "structured",
                                f"state_json/{call['service']}")
            break


# --- glaive-function-calling-v2 sample (LLaMA-Factory's demo files) -------------------------

def glaive_candidates(name: str, conversations: Iterable[dict]) -> Iterator[Candidate]:
    """Each user turn up to the first call: *structured* when the recorded next turn is a
    ``function_call``, *standard* when the assistant answered in text."""
    for n, conv in enumerate(conversations):
        tools = json.loads(conv["tools"]) if isinstance(conv.get("tools"), str) else conv.get("tools") or []
        request = {"tools": [{"type": "function", "function": t} for t in tools]} if tools else {}
        history: list[dict] = []
        turns = conv["conversations"]
        for i, turn in enumerate(turns):
            if turn["from"] == "function_call":
                break
            history.append({"role": "user" if turn["from"] == "human" else "assistant", "content": turn["value"].strip()})
            if turn["from"] != "human" or i + 1 >= len(turns):
                continue
            answer = turns[i + 1]["from"]
            tier = "structured" if answer == "function_call" else "standard"
            extra = {"messages": list(history), **({"request": request} if request else {})}
            yield Candidate(f"{name}/{n}/{i}", history[-1]["content"], tier,
                            "function_call" if tier == "structured" else "text_reply", extra)


# --- CodeXGLUE translation tasks (Lu et al., 2021), training splits --------------------------

# CodeXGLUE task -> (source language, target language, how the request is put). Both tasks are
# translations of a given item, which is *bulk*; each pair is asked in both directions.
CODEXGLUE_TASKS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "code-to-code-trans": (("Java", "C#", "Translate this Java method to C#:\n\n```java\n{text}\n```"),
                           ("C#", "Java", "Translate this C# method to Java:\n\n```csharp\n{text}\n```")),
    "text-to-text": (("English", "Latvian", "Translate into Latvian:\n\n{text}"),
                     ("Latvian", "English", "Translate into English:\n\n{text}")),
}


def codexglue_candidates(task: str, pairs: Iterable[tuple[str, str]]) -> Iterator[Candidate]:
    """``pairs``: aligned lines (first language, second language) of one training file pair.

    Line n is asked in the first direction when n is even, in the other when it is odd, so
    each item appears once.
    """
    forward, backward = CODEXGLUE_TASKS[task]
    for n, (first, second) in enumerate(pairs):
        src, dst, template = forward if n % 2 == 0 else backward
        text = (first if n % 2 == 0 else second).strip()
        if text:
            yield Candidate(f"{task}/{n}", template.format(text=text), "bulk", f"{task}/{src}->{dst}")


# --- FLAN 2022 chain-of-thought training data (Longpre et al., 2023) -------------------------

# FLAN's own task (flan/v2/flan_collection_info.csv, "Generic Task Category") -> tier. The CoT
# files of GSM8K (an excluded evaluation set), StrategyQA (a BIG-bench task), ECQA
# (CommonsenseQA), QASC (already in p3-t0) and the files the snapshot lacks are not read.
FLAN_COT_TASKS: dict[str, tuple[str, str]] = {
    "aqua": ("Algebraic Question Answering", "complex"),
    "creak": ("Common Sense Reasoning over Entity Knowledge", "standard"),
    "sensemaking": ("Sense Making and Explanation", "standard"),
}


def flan_cot_candidates(task: str, tsv: str) -> Iterator[Candidate]:
    """``tsv``: FLAN's ``<task>_train.tsv`` (question, answer, rationale; ``\\n`` for newlines)."""
    category, tier = FLAN_COT_TASKS[task]
    for n, line in enumerate(tsv.splitlines()):
        question = line.split("\t", 1)[0].replace("\\n", "\n").strip()
        if question:
            yield Candidate(f"{task}/{n}", question, tier, f"{task}/{category}")


# --- text2sql-data (Finegan-Dollak et al., 2018): questions and SQL over given databases -------

# The datasets read, and which question splits count as training data: the large ones have an
# official train/dev/test split (only "train" is read); the small ones are split into ten
# cross-validation folds with no test split, so every fold is read.
TEXT2SQL_DATASETS: dict[str, frozenset[str] | None] = {
    "advising": frozenset({"train"}), "atis": frozenset({"train"}), "geography": frozenset({"train"}),
    "scholar": frozenset({"train"}), "academic": None, "imdb": None, "restaurants": None, "yelp": None,
}


def sql_schema(csv_text: str) -> str:
    """``CREATE TABLE`` statements from a ``*-schema.csv`` (table, field, primary key, foreign key, type)."""
    tables: dict[str, list[str]] = {}
    for line in csv_text.splitlines()[1:]:
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 5 or cells[0] in ("", "-"):
            continue
        table, name, primary, _, kind = cells[:5]
        tables.setdefault(table, []).append(f"  {name} {kind}" + (" PRIMARY KEY" if primary == "y" else ""))
    return "\n".join(f"CREATE TABLE {t} (\n" + ",\n".join(cols) + "\n);" for t, cols in tables.items())


def text2sql_candidates(dataset: str, entries: Iterable[dict], schema: str) -> Iterator[Candidate]:
    """Each training question becomes "write the SQL query" against the dataset's schema:
    *structured*, an answer that must be a valid query over the given tables."""
    splits = TEXT2SQL_DATASETS[dataset]
    for i, entry in enumerate(entries):
        for j, sentence in enumerate(entry.get("sentences", [])):
            if splits is not None and sentence.get("question-split") not in splits:
                continue
            text = sentence.get("text", "")
            for name, value in sorted(sentence.get("variables", {}).items(), key=lambda kv: -len(kv[0])):
                text = text.replace(name, value)
            if text.strip():
                prompt = ("Write one SQL query for the database below that answers the question.\n\n"
                          f"{schema}\n\nQuestion: {text.strip()}")
                yield Candidate(f"{dataset}/{i}/{j}", prompt, "structured", f"text-to-sql/{dataset}")


# --- Multi30k (Elliott et al., 2016), task 1 training captions --------------------------------

MULTI30K_LANGUAGES = {"de": "German", "fr": "French", "cs": "Czech"}
# Three phrasings a user might type, so that no single wording stands for the task.
MULTI30K_PHRASINGS = ("Translate to {lang}: {text}", "How would you say this in {lang}?\n\n{text}",
                      "{text}\n\nGive me the {lang} translation.")


def multi30k_candidates(rows: Iterable[tuple[str, dict[str, str]]]) -> Iterator[Candidate]:
    """``rows``: (line number, {"en": caption, "de": …, "fr": …, "cs": …}) of the training files.

    A caption translation is the translation of a given item: *bulk*. Line n pairs English with
    one of the three other languages in turn, in one direction or the other, in one of three
    phrasings, so each caption appears once.
    """
    others = list(MULTI30K_LANGUAGES)
    for n, captions in rows:
        other = others[n % 3]
        src, dst = ("en", other) if (n // 3) % 2 == 0 else (other, "en")
        text = captions.get(src, "").strip()
        if text and captions.get(dst, "").strip():
            lang = MULTI30K_LANGUAGES.get(dst, "English")
            prompt = MULTI30K_PHRASINGS[(n // 6) % 3].format(lang=lang, text=text)
            yield Candidate(f"task1/{n}", prompt, "bulk", f"translation/{src}->{dst}")


# --- CLINC150 (Larson et al., 2019), training split ---------------------------------------

# Raw queries take their tier from CLINC's own intent: translating, converting a measurement and
# spelling a word are mechanical transformations of a given item (*bulk*); every other intent,
# and out-of-scope, is *standard*. A query wrapped in a request to label its domain from CLINC's
# own domain list is *bulk* (a label for a given item from a given set); wrapped in a request for
# a JSON object with given keys it is *structured* (the answer is bound to that contract).
CLINC_BULK_INTENTS = frozenset({"translate", "measurement_conversion", "spelling"})
CLINC_LABEL_PHRASINGS = ("Which of these domains does the request below belong to? {labels}\n\nRequest: {text}",
                         "Label this assistant request with one domain from: {labels}. Answer with the domain only.\n\n{text}")
CLINC_JSON_PHRASING = ("Classify the request below. Reply with a JSON object with exactly two keys: \"domain\" (one of: "
                       "{labels}) and \"intent\" (a snake_case intent name).\n\nRequest: {text}")


def clinc_candidates(rows: Iterable[tuple[str, str]], domains: dict[str, list[str]]) -> Iterator[Candidate]:
    """``rows``: (utterance, intent) of ``train`` and ``oos_train``; ``domains``: domain -> intents.

    Rows are taken in turn as they are, wrapped in the domain-labelling request, and wrapped in
    the JSON request.
    """
    domain_of = {intent: domain for domain, intents in domains.items() for intent in intents}
    labels = ", ".join(d.replace("_", " ") for d in domains) + ", out of scope"
    for n, (text, intent) in enumerate(rows):
        text = text.strip()
        if not text:
            continue
        domain = domain_of.get(intent, "out_of_scope")
        if n % 3 == 0:
            tier = "bulk" if intent in CLINC_BULK_INTENTS else "standard"
            yield Candidate(f"{n}", text, tier, f"query/{domain}/{intent}")
        elif n % 3 == 1:
            prompt = CLINC_LABEL_PHRASINGS[(n // 3) % 2].format(labels=labels, text=text)
            yield Candidate(f"{n}", prompt, "bulk", f"domain-labelling/{domain}")
        else:
            yield Candidate(f"{n}", CLINC_JSON_PHRASING.format(labels=labels, text=text), "structured", f"json-labelling/{domain}")
