#!/usr/bin/env python3
"""Build the multi-source training corpus from fetched public snapshots at pinned commits.

Each source below names a GitHub repository, the full commit its files are read at, and the
rule (in ``corpus_rules.py``) that maps the source's own category, task type, difficulty or
annotation field to a tier. The build then

1. selects a bounded, deterministic sample per source (sha256 order inside each category),
   numbering it ``<source>-<n>`` before anything is dropped, so ids are stable across rebuilds;
2. drops duplicate prompts inside a source, prompts already taken from an earlier source,
   prompts of the hand-labelled development set, and every record that the shared
   contamination checker flags as a held-out evaluation prompt;
3. writes ``corpus/<source>.jsonl`` and ``corpus/manifest.json`` (both git-ignored) and prints
   the source × tier table that ``corpus/SOURCES.md`` must carry.

Standard library only. A missing snapshot stops the build with the ``fetch`` calls to make.

    python3 bench/data/build_corpus.py               # build into bench/data/corpus/
    python3 bench/data/build_corpus.py --fetch-list  # the fetch calls a rebuild needs
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import gzip
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

try:
    from . import corpus_rules as rules
    from . import corpus_rules_code as code_rules
    from . import corpus_rules_reason as reason_rules
    from . import corpus_rules_text as text_rules
    from .corpus_common import CORPUS_DIR, DEVSET, SOURCES_MD, TIERS, Contamination, normalize_prompt, render_table
    from .corpus_mirror import DEFAULT_MIRRORS, Mirror, MirrorMissing
except ImportError:
    import corpus_rules as rules
    import corpus_rules_code as code_rules
    import corpus_rules_reason as reason_rules
    import corpus_rules_text as text_rules
    from corpus_common import CORPUS_DIR, DEVSET, SOURCES_MD, TIERS, Contamination, normalize_prompt, render_table
    from corpus_mirror import DEFAULT_MIRRORS, Mirror, MirrorMissing

Candidate = rules.Candidate


@dataclass(frozen=True)
class Source:
    key: str
    repo: str
    commit: str
    load: Callable[[Mirror], Iterable[Candidate]]
    cap: int | None = None            # at most this many, spread evenly over categories
    per_category: int | None = None   # at most this many from each category
    stratum: Callable[[Candidate], str] | None = None  # what "category" means for the two caps


def _json_files(mirror: Mirror, folder: str, suffix: str = ".json") -> Iterator[tuple[str, dict]]:
    for path, size in mirror.ls(folder):
        if path.endswith(suffix) and size >= 0:
            yield path, json.loads(mirror.text(path))


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_math(m: Mirror) -> Iterable[Candidate]:
    return rules.math_candidates(_json_files(m, "src/agents/datasets/data/math/train/"))


def load_leetcode(m: Mirror) -> Iterable[Candidate]:
    return rules.leetcode_candidates(_json_files(m, "problems/"))


def load_p3(m: Mirror) -> Iterator[Candidate]:
    for path, size in m.ls("data/finetuning/t0_train_50k/data_per_template/"):
        if size >= 0:
            yield from rules.p3_candidates(Path(path).stem, _jsonl(m.text(path)))


def load_sgd(m: Mirror) -> Iterator[Candidate]:
    schemas = {s["service_name"]: s for s in json.loads(m.text("train/schema.json"))}
    for path, dialogues in _json_files(m, "train/"):
        if Path(path).name.startswith("dialogues_"):
            yield from rules.sgd_candidates(dialogues, schemas)


def load_glaive(m: Mirror) -> Iterator[Candidate]:
    for lang in ("en", "zh"):
        yield from rules.glaive_candidates(lang, json.loads(m.text(f"data/glaive_toolcall_{lang}_demo.json")))


def load_codexglue(m: Mirror) -> Iterator[Candidate]:
    files = {"code-to-code-trans": ("Code-Code/code-to-code-trans/data/train.java-cs.txt.java",
                                    "Code-Code/code-to-code-trans/data/train.java-cs.txt.cs"),
             "text-to-text": ("Text-Text/text-to-text/data/train/lv-en.train.en",
                              "Text-Text/text-to-text/data/train/lv-en.train.lv")}
    for task, (first, second) in files.items():
        yield from rules.codexglue_candidates(task, zip(m.text(first).splitlines(), m.text(second).splitlines(), strict=True))


def load_flan_cot(m: Mirror) -> Iterator[Candidate]:
    for task in rules.FLAN_COT_TASKS:
        yield from rules.flan_cot_candidates(task, m.text(f"flan/v2/cot_data/{task}_train.tsv"))


def load_text2sql(m: Mirror) -> Iterator[Candidate]:
    for dataset in rules.TEXT2SQL_DATASETS:
        schema = rules.sql_schema(m.text(f"data/{dataset}-schema.csv"))
        yield from rules.text2sql_candidates(dataset, json.loads(m.text(f"data/{dataset}.json")), schema)


def load_multi30k(m: Mirror) -> Iterator[Candidate]:
    langs = ("en", *rules.MULTI30K_LANGUAGES)
    columns = [gzip.decompress(m.read(f"data/task1/raw/train.{lang}.gz")).decode("utf-8").splitlines() for lang in langs]
    rows = ((n, dict(zip(langs, line))) for n, line in enumerate(zip(*columns, strict=True)))
    return rules.multi30k_candidates(rows)


def load_clinc(m: Mirror) -> Iterable[Candidate]:
    data = json.loads(m.text("data/data_full.json"))
    return rules.clinc_candidates([*data["train"], *data["oos_train"]], json.loads(m.text("data/domains.json")))


def load_nlbse(m: Mirror) -> Iterable[Candidate]:
    csv.field_size_limit(1 << 24)  # a few issue bodies are longer than csv's default field limit
    return code_rules.nlbse_candidates(csv.DictReader(io.StringIO(m.text("data/issues_train.csv"))))


def load_rosetta(m: Mirror) -> Iterable[Candidate]:
    pages = ((path, m.text(path)) for path, size in m.ls("content/tasks/")
             if size >= 0 and (path.count("/") == 2 and path.endswith(".md") or path.endswith("/index.md")))
    return code_rules.rosetta_candidates(pages)


def load_codeforces(m: Mirror) -> Iterable[Candidate]:
    paths = {path for path, size in m.ls() if size >= 0}
    folders = sorted(p.rpartition("/")[0] for p in paths if p.endswith("/problem.yaml"))
    return code_rules.codeforces_candidates((f, m.text(f"{f}/problem.yaml"), m.text(f"{f}/problem.md"))
                                            for f in folders if f"{f}/problem.md" in paths)


def load_exercism(m: Mirror) -> Iterable[Candidate]:
    exercises = json.loads(m.text("config.json"))["exercises"]["practice"]
    files = {path for path, size in m.ls("exercises/practice/") if size >= 0}
    docs: dict[str, dict] = {}
    for ex in exercises:
        base = f"exercises/practice/{ex['slug']}"
        doc = {kind: m.text(f"{base}/.docs/{kind}.md") for kind in ("introduction", "instructions")
               if f"{base}/.docs/{kind}.md" in files}
        stub = f"{ex['slug'].replace('-', '_')}.py"
        if f"{base}/{stub}" in files:
            doc["stub"] = (stub, m.text(f"{base}/{stub}"))
        docs[ex["slug"]] = doc
    return code_rules.exercism_candidates(exercises, docs)


def load_tweeteval(m: Mirror) -> Iterator[Candidate]:
    for task in text_rules.TWEETEVAL_TASKS:
        mapping = m.text(f"datasets/{task.split('/')[0]}/mapping.txt")
        yield from text_rules.tweeteval_candidates(task, m.text(f"datasets/{task}/train_text.txt").splitlines(),
                                                   text_rules.tweeteval_labels(mapping))


def load_gpteacher(m: Mirror) -> Iterator[Candidate]:
    for module, path in (("roleplay", "Roleplay/roleplay-simple-deduped-roleplay-instruct.json"),
                         ("toolformer", "Toolformer/toolformer-dedupe-only-dataset.json")):
        yield from text_rules.gpteacher_candidates(module, json.loads(m.text(path)))


def load_tal(m: Mirror) -> Iterable[Candidate]:
    return text_rules.tal_candidates(_jsonl(m.text("en_single_choice_constructed_5K/en_single_choice_train_3K.jsonl")))


def load_bc5cdr(m: Mirror) -> Iterable[Candidate]:
    folder = "CDR_Data/CDR.Corpus.v010516"
    # This copy's training file also holds the 500 development articles: keep the training ones.
    held = {pmid for part in ("DevelopmentSet", "TestSet")
            for pmid, _, _ in text_rules.pubtator_documents(m.text(f"{folder}/CDR_{part}.PubTator.txt"))}
    training = text_rules.pubtator_documents(m.text(f"{folder}/CDR_TrainingSet.PubTator.txt"))
    return text_rules.bc5cdr_candidates(doc for doc in training if doc[0] not in held)


def load_logicbench(m: Mirror) -> Iterable[Candidate]:
    def files(folder: str) -> list[dict]:
        return [json.loads(m.text(path)) for path, size in m.ls(folder)
                if size >= 0 and path.endswith("/data_instances.json")]
    evaluation = [str(s.get("context", "")) for f in files("data/LogicBench(Eval)/") for s in f.get("samples", [])]
    return text_rules.logicbench_candidates(files("data/LogicBench(Aug)/"), evaluation)


def load_tot(m: Mirror) -> Iterable[Candidate]:
    game24 = list(csv.DictReader(io.StringIO(m.text("src/tot/data/24/24.csv"))))
    return text_rules.tot_candidates(game24, json.loads(m.text("src/tot/data/crosswords/mini0505.json")))


def load_banking77(m: Mirror) -> Iterable[Candidate]:
    return text_rules.banking77_candidates(csv.DictReader(io.StringIO(m.text("banking_data/train.csv"))),
                                           json.loads(m.text("banking_data/categories.json")))


def load_folio(m: Mirror) -> Iterable[Candidate]:
    return reason_rules.folio_candidates(_jsonl(m.text("data/v0.0/folio-train.jsonl")),
                                         _jsonl(m.text("data/v0.0/folio-validation.jsonl")))


def load_sudoku(m: Mirror) -> Iterable[Candidate]:
    return reason_rules.sudoku_candidates(m.text("diabolical.txt").splitlines())


# Order matters only for cross-source duplicates: a prompt is kept in the first source that has it.
SOURCES: tuple[Source, ...] = (
    Source("math-train", "aiwaves-cn/agents", "e8c4e3c2d19739d3dff59e577d1c97090cc15f59", load_math, cap=2000),
    Source("leetcode", "neenza/leetcode-problems", "16c26d1bcfdc17a0290f7083e86c4e9387b2e248", load_leetcode, cap=1500),
    Source("p3-t0", "yizhongw/self-instruct", "0b26ccaa415992100fa32df62d41b994cf928e23", load_p3, per_category=15),
    Source("sgd", "google-research-datasets/dstc8-schema-guided-dialogue",
           "e852981ae34990f4358979625854259302feaa78", load_sgd, cap=2000),
    Source("glaive-toolcall", "hiyouga/LLaMA-Factory", "ff6d4d12eeb035d6ce06805a5733dd7b29f2ac30", load_glaive),
    Source("flan-cot", "google-research/FLAN", "e9e4ec6e2701182c7a91af176f705310da541277", load_flan_cot, per_category=1200),
    Source("text2sql", "jkkummerfeld/text2sql-data", "5050bad2309a93636ea4788d3660c9202bf11e0e", load_text2sql, cap=1200),
    Source("multi30k", "multi30k/dataset", "a3d2e0d26b56f3846f66a952536ffed4e401d05a", load_multi30k, cap=900),
    Source("clinc150", "clinc/oos-eval", "828f8093932c8fe6ca7936c3d2e52903b1c523de", load_clinc, cap=1500,
           stratum=lambda c: c.category.rsplit("/", 1)[0] if c.category.startswith("query/") else c.category),
    Source("codexglue-translation", "microsoft/CodeXGLUE", "ac74a62802a0dd159b3258c78a2df8ad36cdf2b9", load_codexglue,
           cap=1200),
    Source("nlbse-issues", "nlbse2024/issue-report-classification", "2927bc67eb42db8affd16eaf3e5a6d74f3063961",
           load_nlbse),
    Source("rosetta-code", "ad-si/RosettaGit", "d640eb3ecb38e92bf55068942b84d446d90d073c", load_rosetta, cap=1200),
    Source("codeforces", "zjx-kimi/CodeForces-Problems", "f896fd44f81dd88ff5a85904fb13620ad4dfcf39", load_codeforces,
           cap=1500),
    Source("exercism-python", "exercism/python", "9eb657d4507d91efef99f484e7f2a1f4074911b5", load_exercism),
    Source("tweeteval", "cardiffnlp/tweeteval", "4fbd22cd78421f05b1ecdb4fc5725bc7a7bd8f66", load_tweeteval, cap=1500),
    Source("gpteacher", "teknium1/GPTeacher", "481075123c29854bddb82655badeef6a438f2436", load_gpteacher,
           per_category=1200),
    Source("tal-scq5k", "math-eval/TAL-SCQ5K", "8a66d6e14c65ba002beda39747e6b7c43bd2d472", load_tal),
    Source("bc5cdr", "cryptoradon/biomedRelExt", "3f113ff1aefd03b7ecf053a6bc33cc6a75532f20", load_bc5cdr),
    Source("logicbench-aug", "Mihir3009/LogicBench", "c014153303c98de4d5f09d41c3a235cd869be5c8", load_logicbench,
           cap=1500),
    Source("tot-puzzles", "princeton-nlp/tree-of-thought-llm", "ab400345c5ea39d28ea6d7d3be0e417b11113c87", load_tot,
           cap=800),
    Source("folio", "Yale-LILY/FOLIO", "5d7bb84c7edab3fb358e057d2807f19cf5cf5e2d", load_folio),
    # the last commit whose diabolical.txt is under 4 MiB (later ones grew every file past it)
    Source("sudoku-bank", "grantm/sudoku-exchange-puzzle-bank", "63957e92bb9f02432c20583443742337f22b49c2",
           load_sudoku, cap=600),
    Source("banking77", "PolyAI-LDN/task-specific-datasets", "57ec275d8078af65b7731c2a98be812d844a6d6b", load_banking77,
           cap=1500),
)


CONTAMINATED = "held-out evaluation prompt (contamination checker)"


def _rank(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def select(candidates: Iterable[Candidate], cap: int | None = None, per_category: int | None = None,
           stratum: Callable[[Candidate], str] | None = None) -> list[Candidate]:
    """A deterministic sample: sha256 order inside each category (or ``stratum``), categories
    taken in turn."""
    by_category: dict[str, list[Candidate]] = collections.defaultdict(list)
    for cand in candidates:
        by_category[stratum(cand) if stratum else cand.category].append(cand)
    queues = [sorted(items, key=lambda c: _rank(c.key))[:per_category] for _, items in sorted(by_category.items())]
    chosen: list[Candidate] = []
    while any(queues) and (cap is None or len(chosen) < cap):
        for queue in queues:
            if queue and (cap is None or len(chosen) < cap):
                chosen.append(queue.pop(0))
    return sorted(chosen, key=lambda c: c.key)


def to_record(source: str, n: int, cand: Candidate) -> dict:
    return {"id": f"{source}-{n}", "prompt": cand.prompt, "expected_tier": cand.tier, "source": source,
            "category": cand.category, **cand.extra}


@dataclass
class Built:
    records: dict[str, list[dict]]
    dropped: dict[str, collections.Counter]


def build(sources: Iterable[Source], mirrors: Path, contamination: Contamination, devset: Path = DEVSET) -> Built:
    missing = []
    opened: list[tuple[Source, Mirror]] = []
    for src in sources:
        try:
            opened.append((src, Mirror(src.repo, src.commit, mirrors)))
        except MirrorMissing as exc:
            missing.append(str(exc))
    if missing:
        raise SystemExit("cannot build the corpus: snapshots are missing\n" + "\n".join(missing))
    held = {normalize_prompt(json.loads(line)["prompt"]) for line in devset.read_text().splitlines() if line.strip()}
    seen: set[str] = set()
    built = Built({}, {})
    for src, mirror in opened:
        with mirror:
            chosen = select(src.load(mirror), src.cap, src.per_category, src.stratum)
        built.records[src.key], built.dropped[src.key] = screen(src.key, chosen, seen, held, contamination)
    return built


def screen(source: str, chosen: list[Candidate], seen: set[str], held: set[str],
           contamination: Contamination) -> tuple[list[dict], collections.Counter]:
    """Number the selected candidates, then keep those that pass every filter, counting the rest.

    ``seen`` (normalised prompts of earlier sources) is extended with this source's prompts.
    """
    kept, dropped = [], collections.Counter()
    local: set[str] = set()
    for n, cand in enumerate(chosen, 1):
        rec = to_record(source, n, cand)
        norm = normalize_prompt(rec["prompt"])
        if norm in local:
            dropped["duplicate prompt in this source"] += 1
        elif norm in seen:
            dropped["prompt already taken from an earlier source"] += 1
        elif norm in held:
            dropped["prompt of the development set"] += 1
        elif contamination.hits(rec):
            dropped[CONTAMINATED] += 1
        else:
            kept.append(rec)
        local.add(norm)
    seen |= local
    return kept, dropped


def counts(records: dict[str, list[dict]]) -> dict[str, dict[str, int]]:
    return {src: {t: sum(r["expected_tier"] == t for r in recs) for t in TIERS} for src, recs in records.items()}


def write(built: Built, out: Path, sources: Iterable[Source]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for src, recs in built.records.items():
        with open(out / f"{src}.jsonl", "w", encoding="utf-8") as f:
            for rec in recs:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    manifest = {
        "sources": {s.key: {"repo": s.repo, "commit": s.commit, "cap": s.cap, "per_category": s.per_category,
                            "kept": counts(built.records)[s.key], "dropped": dict(built.dropped[s.key])}
                    for s in sources if s.key in built.records},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


BEGIN, END = "<!-- built:begin -->", "<!-- built:end -->"


def update_doc(doc: Path, built: Built) -> None:
    """Rewrite the generated block of SOURCES.md: the source × tier table and the drops."""
    text = doc.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    drops = ["| source | reason | dropped |", "|---|---|---:|"]
    drops += [f"| `{src}` | {why} | {n} |" for src, d in sorted(built.dropped.items()) for why, n in sorted(d.items())]
    flagged = {src: d[CONTAMINATED] for src, d in sorted(built.dropped.items()) if d[CONTAMINATED]}
    verdict = ("The contamination checker flagged " + ", ".join(f"{n} in `{src}`" for src, n in flagged.items())
               if flagged else "The contamination checker flagged no selected record, in any source.")
    block = (f"{BEGIN}\n{render_table(counts(built.records))}\n\nDropped after selection:\n\n" + "\n".join(drops)
             + f"\n\n{verdict}\n")
    doc.write_text(head + block + END + rest.split(END, 1)[1], encoding="utf-8")


def fetch_list(sources: Iterable[Source]) -> str:
    return "\n".join(f'fetch(source="github:{s.repo}")   # {s.key}, commit {s.commit}' for s in sources)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS, help="folder of <owner>+<name>/repo snapshots")
    ap.add_argument("--out", type=Path, default=CORPUS_DIR)
    ap.add_argument("--fetch-list", action="store_true", help="print the fetch calls a rebuild needs and exit")
    ap.add_argument("--update-doc", action="store_true", help="rewrite the counts in corpus/SOURCES.md")
    args = ap.parse_args(argv)
    if args.fetch_list:
        print(fetch_list(SOURCES))
        return 0
    try:
        built = build(SOURCES, args.mirrors, Contamination())
    except (MirrorMissing, FileNotFoundError) as exc:
        raise SystemExit(f"cannot build the corpus: {exc}") from None
    write(built, args.out, SOURCES)
    if args.update_doc:
        update_doc(SOURCES_MD, built)
    print(render_table(counts(built.records)))
    for src, dropped in built.dropped.items():
        for why, n in sorted(dropped.items()):
            print(f"dropped from {src}: {n} ({why})")
    print(f"wrote {sum(map(len, built.records.values()))} records to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
