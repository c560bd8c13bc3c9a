"""Per-prompt quality of a strong and a weak model on chat requests of every kind.

Two sources of ``bench/data/quality_sources.py`` whose prompts are a mix of kinds (writing,
advice, knowledge, code, maths, summaries…), each scored by GPT-4 comparing a strong and a weak
model's answers:

* the OpenAssistant benchmark that the QLoRA authors (Dettmers et al., 2023) built from every
  user turn of OpenAssistant's validation conversations, each with the turns before it; GPT-4
  compared gpt-4's and gpt-3.5-turbo's answers once in each order. Only the requests in other
  languages than English are kept (Spanish, Russian, French, Chinese, German… 14 in all):
  AlpacaEval, an excluded evaluation set, drew its ``oasst`` prompts from the same English
  conversations, and the shared contamination checker flags 411 of the 416 English requests
  (their first turn or the one they continue);
* H2O.ai's LLM evaluation set (h2oai/h2o-LLM-eval): 60 English requests written for business
  use — summaries, code, knowledge, writing, recommendations, maths, reasoning, questions on a
  table, troubleshooting, harmful asks — each with the authors' categories and difficulty, and
  GPT-4's 1–10 scores of gpt-4-0613's and gpt-3.5-turbo-0613's answers.

See ``docs/quality-data.md``. Evaluation only: nothing may be fitted or tuned on these prompts.
"""

from __future__ import annotations

import gzip
import json
import re
from typing import Iterator, Sequence

from rulerouter.decide.inputs import estimate_tokens

try:
    from .corpus_mirror import Mirror
except ImportError:
    from corpus_mirror import Mirror

__all__ = ["H2O_COMMIT", "OASST_COMMIT", "h2o_records", "load_h2o", "load_oasst", "oasst_records", "oasst_turns",
           "pairwise_share", "pg_copy_rows"]

OASST_COMMIT = "7f4e95a68dc076bea9b3a413d2b512eca6d004e5"  # artidoro/qlora; eval/ last changed at 05daee4
OASST_QUESTIONS = "eval/prompts/oa_questions.jsonl"
OASST_STRONG, OASST_WEAK = "gpt-4-oa-generations", "gpt-3.5-oa-generations"
# gpt-4's answers (generations/oa/gpt-4-oa-generations.jsonl) are a file of 4 MiB+ that snapshots
# omit; gpt-3.5-turbo's are read for their answer ids (which tie each verdict to this pair) and,
# failing gpt-4's, for the length of an answer.
OASST_WEAK_ANSWERS = f"eval/generations/oa/{OASST_WEAK}.jsonl"
OASST_RATINGS = "eval/ratings-gpt4/oa/{}-vs-{}-gpt-4-reviewer-threeclass.jsonl"
_TURN = re.compile(r"### (Human|Assistant):")


def oasst_turns(text: str) -> list[dict] | None:
    """The conversation a benchmark request writes out ("### Human: … ### Assistant: … ### Human: …
    ### Assistant:") as messages, ending with the user's turn; None when it is not in that form."""
    parts = _TURN.split(text)
    if parts[0].strip() or len(parts) < 5 or parts[-2] != "Assistant" or parts[-1].strip():
        return None
    roles = parts[1:-2:2]
    if len(roles) % 2 == 0 or any(role != ("Human" if n % 2 == 0 else "Assistant") for n, role in enumerate(roles)):
        return None
    turns = [{"role": "user" if role == "Human" else "assistant", "content": content.strip()}
             for role, content in zip(roles, parts[2:-2:2])]
    return turns if all(t["content"] for t in turns) else None


def pairwise_share(verdicts: Sequence[float | None]) -> float | None:
    """The strong model's share of the verdicts given (1 preferred, 0.5 a tie, 0 the other
    preferred); None when no verdict was given."""
    given = [v for v in verdicts if v is not None]
    return sum(given) / len(given) if given else None


def _verdicts(rows: Sequence[dict], strong_first: bool) -> dict[str, tuple[float | None, str, str]]:
    """message id -> (the strong model's verdict, its answer id, the weak model's answer id) of one
    ordering's file. The reviewer's last line names the better answer, 1 or 2, or 3 for a tie; the
    authors' script writes -1 where that line is not a number (a verdict "to fix by hand"), which
    counts as no verdict."""
    won, lost = (1, 2) if strong_first else (2, 1)
    out = {}
    for r in rows:
        score = r.get("score")
        verdict = 1.0 if score == won else 0.0 if score == lost else 0.5 if score == 3 else None
        first, second = str(r.get("answer1_id")), str(r.get("answer2_id"))
        out[str(r.get("message_id"))] = (verdict, *((first, second) if strong_first else (second, first)))
    return out


def oasst_records(questions: Sequence[dict], strong_first: Sequence[dict], weak_first: Sequence[dict],
                  weak_answers: Sequence[dict]) -> Iterator[dict]:
    """One record per request in another language than English that GPT-4 compared in at least one
    order: the prompt is the user's last turn and ``messages`` the turns before it; quality =
    :func:`pairwise_share` of the two orders' verdicts for the strong model, and 1 minus it for
    the weak one. The category is the request's language and whether it opens the conversation.

    ``strong_first`` and ``weak_first`` are the two ratings files; ``weak_answers`` the weak
    model's generations. A request is left out when the two files do not compare the same two
    answers, or the weak model's answer in them is not the one it recorded."""
    first, second = _verdicts(strong_first, True), _verdicts(weak_first, False)
    weak_by_message = {str(a.get("message_id")): a for a in weak_answers}
    for q in questions:
        language = str(q.get("lang") or "")
        if not language or language == "en":  # the English ones: see the module's docstring
            continue
        message = str(q.get("message_id"))
        a, b, w = first.get(message), second.get(message), weak_by_message.get(message)
        turns = oasst_turns(str(q.get("text") or ""))
        if a is None or b is None or w is None or turns is None or a[1:] != b[1:] or a[2] != w.get("answer_id"):
            continue
        share = pairwise_share([a[0], b[0]])
        if share is None:
            continue
        record = {"id": f"oasst/{message}", "prompt": turns[-1]["content"], "source": "oasst",
                  "category": f"{language}/{'first turn' if len(turns) == 1 else 'later turn'}",
                  "quality": {"strong": share, "weak": 1.0 - share},
                  "output_tokens": estimate_tokens(str(w.get("generation") or ""))}
        if len(turns) > 1:
            record["messages"] = turns[:-1]
        yield record


def load_oasst(m: Mirror) -> Iterator[dict]:
    def rows(path: str) -> list[dict]:
        return [json.loads(line) for line in m.text(path).splitlines() if line.strip()]

    return oasst_records(rows(OASST_QUESTIONS), rows(OASST_RATINGS.format(OASST_STRONG, OASST_WEAK)),
                         rows(OASST_RATINGS.format(OASST_WEAK, OASST_STRONG)), rows(OASST_WEAK_ANSWERS))


# --- H2O.ai's LLM evaluation set ----------------------------------------------------------------

# The last commit holding the database dump (removed on 29 July 2023 for an init script of 4 MiB+).
H2O_COMMIT = "0845205eca8bb6184f4ab2d499db51800b968b5e"
H2O_DUMP = "data/llm_eval_db_dump_2023-07-26_18-54-50.sql.gz"
H2O_STRONG, H2O_WEAK, H2O_JUDGE = "gpt-4-0613", "gpt-3.5-turbo-0613", "gpt-4-0613"
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")


def _copy_field(raw: str) -> str | None:
    """One field of COPY's text format: ``\\N`` is null; ``\\n``, ``\\t`` and the like are
    characters, ``\\ooo`` and ``\\xhh`` bytes (of the UTF-8 text), any other escaped
    character itself."""
    if raw == "\\N":
        return None
    out = bytearray()
    for n, part in enumerate(_COPY_ESCAPE.split(raw)):
        if n % 2 == 0:
            out += part.encode("utf-8")
        elif part[0] == "x" and len(part) > 1:
            out.append(int(part[1:], 16))
        elif part[0] in "01234567":
            out.append(int(part, 8) & 0xFF)
        else:
            out += _COPY_ESCAPES.get(part, part).encode("utf-8")
    return out.decode("utf-8", errors="replace")


def pg_copy_rows(dump: str, table: str) -> list[dict]:
    """The rows of ``table`` in a PostgreSQL dump's ``COPY public.<table> (columns) FROM stdin;``
    block (tab-separated text format, ``\\N`` for null, backslash escapes); [] without one."""
    lines = dump.split("\n")
    head = f"COPY public.{table} ("
    for n, line in enumerate(lines):
        if line.startswith(head) and line.endswith(") FROM stdin;"):
            columns = line[len(head):-len(") FROM stdin;")].split(", ")
            rows = []
            for row in lines[n + 1:]:
                if row == "\\.":
                    return rows
                fields = row.split("\t")
                if len(fields) == len(columns):
                    rows.append(dict(zip(columns, map(_copy_field, fields))))
            return rows
    return []


def h2o_records(models: Sequence[dict], prompts: Sequence[dict], verdicts: Sequence[dict],
                responses: Sequence[dict]) -> Iterator[dict]:
    """One record per prompt whose answers by the strong and the weak model the judge scored (in
    either order): quality = the judge's 1–10 score over 10 (the mean when it scored the pair more
    than once); the category is the authors' first category for the prompt and its difficulty."""
    ids = {m.get("model_name"): m.get("model_id") for m in models}
    strong, weak, judge = ids.get(H2O_STRONG), ids.get(H2O_WEAK), ids.get(H2O_JUDGE)
    scores: dict[str, list[tuple[float, float]]] = {}
    for v in verdicts:
        if v.get("submitted_by") != judge or {v.get("model_a"), v.get("model_b")} != {strong, weak}:
            continue
        try:
            a, b = float(v.get("model_a_score") or ""), float(v.get("model_b_score") or "")
        except ValueError:
            continue
        scores.setdefault(str(v.get("prompt_id")), []).append((a, b) if v.get("model_a") == strong else (b, a))
    answers = {r.get("prompt_id"): r.get("response_text") for r in responses if r.get("created_by_model") == strong}
    for p in prompts:
        got, text = scores.get(str(p.get("prompt_id"))), str(p.get("prompt_text") or "").strip()
        if not got or not text:
            continue
        try:
            categories = json.loads(p.get("categories") or "[]")
        except ValueError:
            categories = []
        first = categories[0] if categories and isinstance(categories[0], str) else "(none)"
        yield {"id": f"h2oeval/{p['prompt_id']}", "prompt": text, "source": "h2oeval",
               "category": f"{first}/{p.get('difficulty') or '(none)'}",
               "quality": {"strong": sum(s for s, _ in got) / len(got) / 10, "weak": sum(w for _, w in got) / len(got) / 10},
               "output_tokens": estimate_tokens(str(answers.get(p.get("prompt_id")) or ""))}


def load_h2o(m: Mirror) -> Iterator[dict]:
    dump = gzip.decompress(m.read(H2O_DUMP)).decode("utf-8")
    return h2o_records(*(pg_copy_rows(dump, t) for t in ("model", "prompt", "eval_by_model", "response")))
