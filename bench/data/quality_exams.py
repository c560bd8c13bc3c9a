"""Per-prompt quality of a strong and a weak model on exam, legal and subject questions.

Three sources of ``bench/data/quality_sources.py`` whose prompts are not maths or code alone: the
objective questions of China's national college entrance exam in nine subjects (GAOKAO-Bench),
Chinese legal tasks of several kinds (LawBench), both scored by the authors' own rule applied to
the answers they recorded, a rule that reproduces their published per-task figures; and questions
and requests for advice in twelve university subjects (LLMEval-2), scored by the authors' human
graders. See ``docs/quality-data.md``. Evaluation only: nothing may be fitted or tuned on these
prompts.
"""

from __future__ import annotations

import json
import re
from typing import Iterator, Sequence

from rulerouter.decide.inputs import estimate_tokens

try:
    from .corpus_mirror import Mirror
except ImportError:
    from corpus_mirror import Mirror

__all__ = ["GAOKAO_COMMIT", "GAOKAO_GPT35_COMMIT", "LAWBENCH_COMMIT", "LLMEVAL2_COMMIT", "gaokao_records",
           "gaokao_score", "lawbench_records", "lawbench_score", "llmeval2_records", "load_gaokao", "load_lawbench",
           "load_llmeval2"]


# --- GAOKAO-Bench, objective questions ---------------------------------------------------------

GAOKAO_COMMIT = "6dbb24f8d8439041e5431c4c184a582182a6ce9c"  # gpt-4-0314's answers, Results/gpt_4_0314_obj/
# gpt-3.5-turbo's answers (committed at b82e164, April 2023) were removed by the 2024 "new version";
# this commit of September 2023, in the default branch's history, still holds them, and its
# question files are the same blobs as at GAOKAO_COMMIT.
GAOKAO_GPT35_COMMIT = "45c47857349b23c2eca459e6333c76602c81576c"
GAOKAO_STRONG = "Results/gpt_4_0314_obj/gpt-4-0314_{}.json"
GAOKAO_WEAK = "result/gpt-3.5-turbo_选择题/gpt-3.5-turbo_选择题_1/gpt-3.5-turbo_{}.json"
# The 2024 question file's keyword -> the name the same questions had in the 2023 results.
GAOKAO_TASKS = {
    "2010-2013_English_MCQs": "2010_2013英语全国卷单项选择",
    "2010-2022_Biology_MCQs": "2010_2022生物全国卷选择题",
    "2010-2022_Chemistry_MCQs": "2010_2022化学全国卷选择题",
    "2010-2022_Chinese_Lang_and_Usage_MCQs": "2010_2022语文全国卷语言文字运用选择题",
    "2010-2022_Chinese_Modern_Lit": "2010_2022语文全国卷现代文阅读",
    "2010-2022_English_Fill_in_Blanks": "2010_2022英语全国卷完形填空",
    "2010-2022_English_Reading_Comp": "2010_2022英语全国卷阅读理解",
    "2010-2022_Geography_MCQs": "2010_2022地理全国卷选择题",
    "2010-2022_History_MCQs": "2010_2022历史全国卷选择题",
    "2010-2022_Math_I_MCQs": "2010_2022理数全国卷选择题",
    "2010-2022_Math_II_MCQs": "2010_2022文数全国卷选择题",
    "2010-2022_Physics_MCQs": "2010_2022物理全国卷选择题",
    "2010-2022_Political_Science_MCQs": "2010_2022政治全国卷选择题",
    "2012-2022_English_Cloze_Test": "2012_2022英语全国卷七选五",
}


def gaokao_score(answer: Sequence[str], key: Sequence[str], partial: bool = False) -> float:
    """The share of a question's marks an answer earns, by the authors' rule
    (``Bench/OBJ_score_evaluation.py``): each sub-question's extracted letters equal to the key's earn
    its marks; an answer with another number of sub-answers than the key earns nothing; with
    ``partial`` (physics, where several options may be right) letters that are all in the key but
    not all of it earn half."""
    if not key or len(answer) != len(key):
        return 0.0
    marks = sum(1.0 if a == k else 0.5 if partial and a and all(z in k for z in a) else 0.0
                for a, k in zip(answer, key))
    return marks / len(key)


def gaokao_records(task: str, strong: dict, weak: Sequence[dict]) -> Iterator[dict]:
    """One record per question of ``task`` that both models answered: the prompt is the authors'
    instruction to gpt-4-0314 followed by the question, as it was asked; quality =
    :func:`gaokao_score` of each model's answer as the authors extracted it (``model_answer``). A
    question whose text or key differs between the two files is left out."""
    partial = "Physics" in task
    weak_by_index = {w.get("index"): w for w in weak}
    for q in strong.get("example") or []:
        w = weak_by_index.get(q.get("index"))
        question, key = str(q.get("question") or "").strip(), list(q.get("standard_answer") or [])
        if w is None or not question or str(w.get("question") or "").strip() != question or w.get("standard_answer") != key:
            continue
        yield {"id": f"gaokao/{task}/{q['index']}", "prompt": f"{str(strong.get('prompt') or '').strip()}\n{question}",
               "source": "gaokao", "category": task,
               "quality": {"strong": gaokao_score(q.get("model_answer") or [], key, partial),
                           "weak": gaokao_score(w.get("model_answer") or [], key, partial)},
               "output_tokens": estimate_tokens(str(q.get("model_output") or ""))}


def load_gaokao(m: Mirror) -> list[dict]:
    records: list[dict] = []
    with Mirror(m.repo, GAOKAO_GPT35_COMMIT, m.git_dir.parent.parent) as old:
        for task, old_name in GAOKAO_TASKS.items():
            records += gaokao_records(task, json.loads(m.text(GAOKAO_STRONG.format(task))),
                                      json.loads(old.text(GAOKAO_WEAK.format(old_name))))
    return records


# --- LawBench, zero-shot tasks with a per-prompt verdict ---------------------------------------

LAWBENCH_COMMIT = "e30981bb3ff54c41571f222e0b23e92d27375388"
LAWBENCH_STRONG, LAWBENCH_WEAK = "GPT4", "GPT-3.5-turbo-0613"
# task -> how the authors score one prediction (evaluation/evaluation_functions/): option letters
# ("ABCD"), the key's letter and no other of them written; "label", the key's category and no other
# of the categories the request lists; "labels", the F1 of the listed categories named against the
# key's; "amount", the key's amount among the numbers written. The other tasks are scored by
# ROUGE-L, GLEU or F1 over segmented or converted text (jieba, cn2an), not reproduced here.
LAWBENCH_TASKS = {"1-2": "ABCD", "2-2": "label", "2-3": "labels", "2-4": "label", "2-8": "ABCDE",
                  "3-6": "ABCD", "3-7": "amount"}
_KEY_LETTER = re.compile("[A-E]")
_LISTED = re.compile(r"(?:类别包括|标签包括)[:：](.*?)。")
_NUMBER = re.compile(r"\d+\.?\d*")


def _only(prediction: str, options: Sequence[str], key: str) -> float:
    named = [o for o in options if o in prediction]
    return float(named == [key])


def lawbench_score(kind: str, request: str, prediction: str, key: str) -> float | None:
    """One prediction's score by the authors' rule for ``kind`` (see ``LAWBENCH_TASKS``); None
    when the authors leave the item out (a key outside the listed categories) or the request or key
    is not in the task's form."""
    if kind.isupper():  # option letters
        letter = _KEY_LETTER.search(key)
        return _only(prediction, kind, letter.group(0)) if letter and letter.group(0) in kind else None
    if kind == "amount":
        amount = key.removeprefix("上文涉及到的犯罪金额:").removesuffix("元。")
        try:
            return float(float(amount) in {float(n) for n in _NUMBER.findall(prediction)})
        except ValueError:
            return None
    listed = _LISTED.search(request)
    if not listed:
        return None
    options = listed.group(1).split("、")
    if kind == "label":
        key = key.removeprefix("争议焦点类别：").removesuffix("。")
        return _only(prediction, options, key) if key in options else None
    truth = set(key.removeprefix("类别:").removesuffix("。").split("、"))
    named = {o for o in options if o in prediction}
    hit = len(truth & named)
    return 2 * hit / (len(truth) + len(named)) if hit else 0.0


def lawbench_records(task: str, strong: dict, weak: dict) -> Iterator[dict]:
    """One record per item of ``task`` that both models were asked in the same words: the prompt is
    the request as the authors sent it, quality = :func:`lawbench_score` of each model's prediction."""
    kind = LAWBENCH_TASKS[task]
    for n in sorted(strong, key=int):
        s, w = strong[n], weak.get(n)
        turns = s.get("origin_prompt") or []
        if w is None or not turns or w.get("origin_prompt") != turns or s.get("refr") != w.get("refr"):
            continue
        request, key = str(turns[-1].get("prompt") or ""), str(s.get("refr") or "")
        got = [lawbench_score(kind, request, str(r.get("prediction") or ""), key) for r in (s, w)]
        if None in got or not request.strip():
            continue
        yield {"id": f"lawbench/{task}/{n}", "prompt": request.strip(), "source": "lawbench", "category": task,
               "quality": {"strong": got[0], "weak": got[1]},
               "output_tokens": estimate_tokens(str(s.get("prediction") or ""))}


def load_lawbench(m: Mirror) -> Iterator[dict]:
    for task in LAWBENCH_TASKS:
        preds = [json.loads(m.text(f"predictions/zero_shot/{model}/{task}.json")) for model in (LAWBENCH_STRONG, LAWBENCH_WEAK)]
        yield from lawbench_records(task, *preds)


# --- LLMEval-2, questions in twelve university subjects, graded by people --------------------------

LLMEVAL2_COMMIT = "5add6d8d3834f212bb2e6d76f29d65eb1cf1f8d8"
LLMEVAL2_STRONG, LLMEVAL2_WEAK = "GPT4", "GPT3.5"
# The points each criterion is graded out of (README): objective questions on correctness and the
# explanation's correctness, subjective ones on accuracy, informativeness, fluency and logic.
LLMEVAL2_FULL = {"Correctness": 3, "Explanation Correctness": 2, "Accuracy": 5, "Informativeness": 3, "Fluency": 3,
                 "Logicality": 3}


def llmeval2_share(stars: dict) -> float | None:
    """The authors' score of one graded answer: the points it was given over the points possible
    (``score_a / score_f``); None when a criterion is not one the README grades on."""
    if not stars or any(k not in LLMEVAL2_FULL or not isinstance(v, (int, float)) for k, v in stars.items()):
        return None
    return sum(stars.values()) / sum(LLMEVAL2_FULL[k] for k in stars)


def llmeval2_records(subject: str, graded: Sequence[dict]) -> Iterator[dict]:
    """One record per question of ``subject`` that the graders scored for both models, asked the same
    question: the prompt is the question, quality = :func:`llmeval2_share` of each model's grades."""
    by_question: dict[str, dict[str, dict]] = {}
    for row in graded:
        by_question.setdefault(str(row.get("question_uuid")), {})[str(row.get("llm_name"))] = row
    for question, answers in by_question.items():
        s, w = answers.get(LLMEVAL2_STRONG), answers.get(LLMEVAL2_WEAK)
        if s is None or w is None or not s.get("dialog") or not w.get("dialog"):
            continue
        asked = s["dialog"][0]
        if asked != w["dialog"][0] or asked.get("role") != "user" or not str(asked.get("content") or "").strip():
            continue
        got = [llmeval2_share(r.get("stars") or {}) for r in (s, w)]
        if None in got:
            continue
        kind = "objective" if s.get("type") == "A" else "subjective"
        answer = s["dialog"][1].get("content") if len(s["dialog"]) > 1 else ""
        yield {"id": f"llmeval2/{question}", "prompt": str(asked["content"]).strip(), "source": "llmeval2",
               "category": f"{subject}/{kind}", "quality": {"strong": got[0], "weak": got[1]},
               "output_tokens": estimate_tokens(str(answer or ""))}


def load_llmeval2(m: Mirror) -> Iterator[dict]:
    for path, _ in m.ls("results/human-score/"):
        if path.endswith("_data.json"):
            subject = path.rsplit("/", 1)[1].removesuffix("_data.json")
            yield from llmeval2_records(subject, json.loads(m.text(path)))
