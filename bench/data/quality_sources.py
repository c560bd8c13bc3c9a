"""Per-prompt quality of a strong and a weak model, read from public snapshots at pinned commits.

Each source gives, for every prompt, the quality of a strong model's answer and of a weak
model's answer to that same prompt, as the source's authors scored them (or, for CRUXEval, by
running their check on their models' recorded answers). These prompts are for *evaluation only*:
no policy, classifier or rule may be fitted or tuned on them, and none of them is in the
training corpus (``bench/quality.py`` drops any that is).

Standard library and rulerouter's token estimate; ``bench/quality.py`` turns the records into a
labelled file for ``rulerouter eval`` and reports the figures. The exam, legal and subject
sources (GAOKAO-Bench, LawBench, LLMEval-2) are read by ``quality_exams.py``, the chat requests
(QLoRA's OpenAssistant benchmark, H2O.ai's evaluation set) by ``quality_chat.py``. The sources, their
pins and why they were chosen are in ``docs/quality-data.md``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from rulerouter.decide.inputs import estimate_tokens

try:
    from .corpus_mirror import Mirror
    from .quality_chat import H2O_COMMIT, OASST_COMMIT, load_h2o, load_oasst
    from .quality_exams import (GAOKAO_COMMIT, GAOKAO_GPT35_COMMIT, LAWBENCH_COMMIT, LLMEVAL2_COMMIT, load_gaokao,
                                load_lawbench, load_llmeval2)
except ImportError:
    from corpus_mirror import Mirror
    from quality_chat import H2O_COMMIT, OASST_COMMIT, load_h2o, load_oasst
    from quality_exams import (GAOKAO_COMMIT, GAOKAO_GPT35_COMMIT, LAWBENCH_COMMIT, LLMEVAL2_COMMIT, load_gaokao,
                               load_lawbench, load_llmeval2)

__all__ = ["QUALITY_SOURCES", "QualitySource", "check_input_predictions", "cruxeval_prompt", "cruxeval_records",
           "leval_options", "leval_records", "leval_score", "theoremqa_records"]


@dataclass(frozen=True)
class QualitySource:
    key: str
    repo: str
    commit: str
    strong_model: str
    weak_model: str
    load: Callable[[Mirror], Iterable[dict]]
    # other commits of the same repository that `load` reads files at, by name
    extra_commits: tuple[tuple[str, str], ...] = ()


# --- TheoremQA ---------------------------------------------------------------------------------

THEOREMQA_COMMIT = "0f6bbb061d0cbea9eea0e7eec4a3b6246e40cd6a"  # the last commit that holds outputs/
THEOREMQA_STRONG = "outputs/GPT4_s0_e-1_06_15_22_38.jsonl.corrected"
THEOREMQA_WEAK = "outputs/ChatGPT_s0_e-1_05_13_10_25.jsonl.corrected"


def theoremqa_records(questions: Sequence[dict], strong: Sequence[dict], weak: Sequence[dict]) -> Iterator[dict]:
    """One record per question with no picture, scored 1/0 by the authors' `correct` verdicts.

    ``questions`` is ``theoremqa_test.json``; ``strong`` and ``weak`` are two models' corrected
    output files (``id``, ``correct``, ``rationale``). A question missing from either output
    file is left out.
    """
    by_id = {name: {r["id"]: r for r in rows} for name, rows in (("strong", strong), ("weak", weak))}
    for q in sorted(questions, key=lambda r: r["id"]):
        s, w = by_id["strong"].get(q["id"]), by_id["weak"].get(q["id"])
        if s is None or w is None or q.get("Picture") or not str(q.get("Question", "")).strip():
            continue
        yield {"id": f"theoremqa/{q['id']}", "prompt": q["Question"].strip(), "source": "theoremqa",
               "category": f"{q['field']}/{q['subfield']}",
               "quality": {"strong": float(bool(s["correct"])), "weak": float(bool(w["correct"]))},
               "output_tokens": estimate_tokens(str(s.get("rationale") or ""))}


def load_theoremqa(m: Mirror) -> Iterator[dict]:
    return theoremqa_records(json.loads(m.text("theoremqa_test.json")), json.loads(m.text(THEOREMQA_STRONG)),
                             json.loads(m.text(THEOREMQA_WEAK)))


# --- CRUXEval-I --------------------------------------------------------------------------------

CRUXEVAL_COMMIT = "190faf16d175b5847b0af05d937872b1fb395942"
# gpt-3.5-turbo-0613's generations were committed once, at this commit, and removed afterwards.
CRUXEVAL_GPT35_COMMIT = "58b1b557b7fe42f44607d7573e4b30a82bcc4812"
CRUXEVAL_STRONG = "model_generations/gpt-3.5-turbo-0613_temp0.2_input/generations.json"
CRUXEVAL_WEAK = "samples/model_generations/sample_codellama-7b_temp0.2_input/generations.json"
CRUXEVAL_WEAK_SCORED = "samples/evaluation_results/sample_scored_codellama-7b_temp0.2_input.json"


def cruxeval_prompt(code: str, output: str) -> str:
    """The input-prediction task, phrased as a request (our wording; the benchmark's few-shot
    prompt is not reproduced)."""
    return ("Find an input such that executing the Python function f on it leads to the given output. "
            "Several inputs may work; give one, as a passing assertion.\n\n"
            f"```python\n{code}\n\nassert f(??) == {output}\n```")


# Runs in a separate, isolated interpreter (-I -S) with memory and CPU limits and a per-answer
# alarm: each answer is checked the way the benchmark checks it, f(answer) == output, in a fresh
# namespace with the sample's function. One JSON line of verdicts per item, as it goes.
_CHILD = r"""
import json, signal, sys
def alarm(*_):
    raise TimeoutError
signal.signal(signal.SIGALRM, alarm)
for line in sys.stdin:
    item = json.loads(line)
    verdicts = []
    for answer in item["answers"]:
        ns = {}
        try:
            signal.alarm(3)
            exec(item["code"], ns)
            verdicts.append(bool(eval(item["output"], ns) == eval(answer, ns)))
        except BaseException:
            verdicts.append(False)
        finally:
            signal.alarm(0)
    print(json.dumps(verdicts), flush=True)
"""


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    resource.setrlimit(resource.RLIMIT_CPU, (900, 900))
    resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))


Item = tuple[str, str, Sequence[str]]  # (code, output, answers)


def check_input_predictions(items: Sequence[Item], timeout: float = 600) -> list[list[bool] | None]:
    """For each item, whether each answer ``f(...)`` makes ``f`` return ``output``.

    The items are checked in one child process; if it dies or hangs on an item, that item's
    result is None (the checking failed, which is not a wrong answer) and a new child takes the
    items after it.
    """
    results: list[list[bool] | None] = []
    with tempfile.TemporaryDirectory() as cwd:
        while len(results) < len(items):
            todo = items[len(results):]
            feed = "".join(json.dumps({"code": c, "output": o, "answers": list(a)}) + "\n" for c, o, a in todo)
            try:
                done = subprocess.run([sys.executable, "-I", "-S", "-c", _CHILD], cwd=cwd, capture_output=True,
                                      text=True, input=feed, timeout=timeout, preexec_fn=_limits,
                                      env={"PATH": os.defpath})
                out, finished = done.stdout, done.returncode == 0
            except subprocess.TimeoutExpired as exc:
                raw = exc.stdout or b""
                out, finished = raw.decode() if isinstance(raw, bytes) else raw, False
            lines = out.splitlines()
            if not out.endswith("\n") and lines:
                lines.pop()  # a line cut off by the end of the child
            for line, (_, _, answers) in zip(lines, todo):
                verdicts = json.loads(line)
                results.append(verdicts if len(verdicts) == len(answers) else None)
            if len(results) < len(items) and not (finished and len(lines) == len(todo)):
                results.append(None)  # the item the child died or hung on
    return results


def cruxeval_records(samples: Sequence[dict], strong: dict[str, list[str]], weak: dict[str, list[str]],
                     check: Callable[[Sequence[Item]], list[list[bool] | None]] = check_input_predictions,
                     failures: list[str] | None = None) -> Iterator[dict]:
    """One record per sample that both models answered: quality = the share of a model's recorded
    answers (10 samples at temperature 0.2) that pass the check, i.e. its pass@1 on that prompt.

    Both models' answers go through the same ``check``; a sample whose check failed for either
    model is left out and its id appended to ``failures``.
    """
    answered = [s for s in sorted(samples, key=lambda r: int(r["id"].rsplit("_", 1)[1]))
                if strong.get(s["id"]) and weak.get(s["id"])]
    verdicts = check([(s["code"], s["output"], answers[s["id"]]) for s in answered for answers in (strong, weak)])
    for n, s in enumerate(answered):
        got_a, got_b = verdicts[2 * n], verdicts[2 * n + 1]
        if got_a is None or got_b is None:
            if failures is not None:
                failures.append(s["id"])
            continue
        yield {"id": f"cruxeval/{s['id']}", "prompt": cruxeval_prompt(s["code"], s["output"]), "source": "cruxeval",
               "category": "input-prediction",
               "quality": {"strong": sum(got_a) / len(got_a), "weak": sum(got_b) / len(got_b)},
               "output_tokens": estimate_tokens(strong[s["id"]][0])}


def load_cruxeval(m: Mirror) -> list[dict]:
    samples = [json.loads(line) for line in m.text("data/cruxeval.jsonl").splitlines() if line.strip()]
    with Mirror(m.repo, CRUXEVAL_GPT35_COMMIT, m.git_dir.parent.parent) as old:
        strong = json.loads(old.text(CRUXEVAL_STRONG))
    failures: list[str] = []
    records = list(cruxeval_records(samples, strong, json.loads(m.text(CRUXEVAL_WEAK)), failures=failures))
    if failures:  # said, not silently dropped: the checking process died or hung on these
        print(f"cruxeval: {len(failures)} samples left out because their check failed: {', '.join(failures)}",
              file=sys.stderr)
    return records


def cruxeval_agreement(m: Mirror, records: Iterable[dict]) -> tuple[int, int]:
    """How many weak-model qualities our check reproduces from the authors' scored file: (equal, compared)."""
    published = json.loads(m.text(CRUXEVAL_WEAK_SCORED))["raw_scored_generations"]
    equal = compared = 0
    for rec in records:
        verdicts = published.get(rec["id"].split("/", 1)[1])
        if verdicts:
            compared += 1
            equal += abs(sum(verdicts) / len(verdicts) - rec["quality"]["weak"]) < 1e-9
    return equal, compared


# --- L-Eval, closed-ended long-document tasks -----------------------------------------------------

LEVAL_COMMIT = "cd34b050269148aed75acbbe4a599873ad0f37e9"
LEVAL_STRONG, LEVAL_WEAK = "gpt4-32k", "turbo-16k-0613"
# task -> the multiple-choice tasks are scored by their option letters, topic retrieval by the topic.
# Left out: gsm100 (GSM8K's problems), codeU (its answers are free text that no rule here checks
# reliably), sci_fi and the open-ended tasks (no gpt4-32k predictions, or scores that need a judge).
LEVAL_TASKS = {"coursera": "options", "quality": "options", "tpo": "options", "topic_retrieval_longchat": "topic"}
_LEADING_OPTIONS = re.compile(r"^\W*([A-D](?:\s*(?:,|and|&)?\s*[A-D])*)(?![A-Za-z])")
_LISTED_OPTION = re.compile(r"^\(?([A-D])[.):]\s")


def leval_options(answer: str) -> frozenset[str]:
    """The option letters an answer chooses: the letters it opens with ("AB", "A, B and D", "(B) …",
    "C. to study …"), or, when every line lists one option ("A. …" / "B. …"), those options."""
    text = answer.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    listed = [_LISTED_OPTION.match(line) for line in lines]
    if len(lines) > 1 and all(listed):
        return frozenset(m.group(1) for m in listed if m)
    m = _LEADING_OPTIONS.match(text)
    return frozenset(re.findall("[A-D]", m.group(1))) if m else frozenset()


def _squash(text: str) -> str:
    return " ".join(re.sub(r"[\"'.,!?]", " ", text).lower().split())


def leval_score(kind: str, answer: str, truth: str) -> float:
    """1.0 when the answer is right: the same set of options as the truth's first word, or, for topic
    retrieval, the topic named in the answer (case, quotes and punctuation aside); else 0.0."""
    if kind == "options":
        chosen = leval_options(answer)
        return float(bool(chosen) and chosen == frozenset(re.findall("[A-D]", truth.split()[0] if truth.split() else "")))
    return float(_squash(truth) in _squash(answer))


def leval_records(task: str, documents: Sequence[dict], strong: Sequence[dict], weak: Sequence[dict]) -> Iterator[dict]:
    """One record per question of ``task``: the prompt is L-Eval's own request template filled with
    the document and the question, as both models were asked; quality = :func:`leval_score` of each
    model's recorded answer. ``documents`` are the task's data file (``input``, ``instructions``);
    the prediction files list the questions in the same order. A question whose two predictions
    do not both match it is left out."""
    kind = LEVAL_TASKS[task]
    questions = [(d, q) for d in documents for q in d.get("instructions") or []]
    for n, ((doc, question), s, w) in enumerate(zip(questions, strong, weak)):
        if not (s.get("query") == w.get("query") == question and s.get("gt") == w.get("gt")):
            continue
        answer_s, answer_w = str(s.get(f"{LEVAL_STRONG}_pred", s.get("gpt4-x_pred", ""))), str(w.get(f"{LEVAL_WEAK}_pred", ""))
        template = str(s.get("prompt") or "")
        if template.count("{}") != 2:
            continue
        yield {"id": f"leval/{task}/{n}", "prompt": template.format(str(doc.get("input", "")).strip(), question),
               "source": "leval", "category": task,
               "quality": {"strong": leval_score(kind, answer_s, str(s["gt"])),
                           "weak": leval_score(kind, answer_w, str(w["gt"]))},
               "output_tokens": estimate_tokens(answer_s)}


def load_leval(m: Mirror) -> Iterator[dict]:
    for task in LEVAL_TASKS:
        documents = [json.loads(line) for line in m.text(f"LEval-data/Closed-ended-tasks/{task}.jsonl").splitlines()
                     if line.strip()]
        preds = [[json.loads(line) for line in m.text(f"Predictions/exam_eval/{model}/{task}.pred.jsonl").splitlines()
                  if line.strip()] for model in (LEVAL_STRONG, LEVAL_WEAK)]
        yield from leval_records(task, documents, *preds)


QUALITY_SOURCES: tuple[QualitySource, ...] = (
    QualitySource("theoremqa", "wenhuchen/TheoremQA", THEOREMQA_COMMIT, "gpt-4 (June 2023)", "gpt-3.5-turbo (May 2023)",
                  load_theoremqa),
    QualitySource("cruxeval", "facebookresearch/cruxeval", CRUXEVAL_COMMIT, "gpt-3.5-turbo-0613", "codellama-7b",
                  load_cruxeval, (("gpt-3.5-turbo-0613 generations", CRUXEVAL_GPT35_COMMIT),)),
    QualitySource("leval", "OpenLMLab/LEval", LEVAL_COMMIT, "gpt-4-32k (2023)", "gpt-3.5-turbo-16k-0613", load_leval),
    QualitySource("gaokao", "OpenLMLab/GAOKAO-Bench", GAOKAO_COMMIT, "gpt-4-0314", "gpt-3.5-turbo (April 2023)",
                  load_gaokao, (("gpt-3.5-turbo answers", GAOKAO_GPT35_COMMIT),)),
    QualitySource("lawbench", "open-compass/LawBench", LAWBENCH_COMMIT, "gpt-4 (2023)", "gpt-3.5-turbo-0613",
                  load_lawbench),
    QualitySource("llmeval2", "llmeval/llmeval-2", LLMEVAL2_COMMIT, "gpt-4 (mid 2023)", "gpt-3.5 (mid 2023)",
                  load_llmeval2),
    QualitySource("oasst", "artidoro/qlora", OASST_COMMIT, "gpt-4 (May 2023)", "gpt-3.5-turbo (May 2023)", load_oasst),
    QualitySource("h2oeval", "h2oai/h2o-LLM-eval", H2O_COMMIT, "gpt-4-0613", "gpt-3.5-turbo-0613", load_h2o),
)
