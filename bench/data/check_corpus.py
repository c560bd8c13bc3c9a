#!/usr/bin/env python3
"""Validate the built training corpus (``bench/data/corpus/*.jsonl``) against its document.

Checks every record's schema (the agreed format: id, prompt, expected_tier, source, category,
optional system_prompt / messages / request / metadata), that ids are ``<source>-<n>`` and
unique, that no prompt appears twice in the whole corpus, that there are at least six sources
and 5,000 prompts, that the source × tier counts equal the table in ``corpus/SOURCES.md``, and
that the shared contamination checker finds nothing.

Standard library only. Exit status 0 when the corpus is valid, 1 otherwise.

    python3 bench/data/check_corpus.py            # check bench/data/corpus/
    python3 bench/data/check_corpus.py --json     # counts and problems as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    from .corpus_common import (CORPUS_DIR, SOURCES_MD, TIERS, Contamination, normalize_prompt, read_table,
                                record_problems, render_table)
except ImportError:
    from corpus_common import (CORPUS_DIR, SOURCES_MD, TIERS, Contamination, normalize_prompt, read_table,
                               record_problems, render_table)

MIN_SOURCES = 6
MIN_TOTAL = 5000


def check(corpus: Path, sources_md: Path, contamination: Contamination | None) -> tuple[list[str], dict]:
    """(problems, counts per source and tier) for the corpus folder."""
    problems: list[str] = []
    files = sorted(corpus.glob("*.jsonl"))
    if not files:
        return [f"no *.jsonl in {corpus}: build it with python3 bench/data/build_corpus.py"], {}
    counts: dict[str, dict[str, int]] = {}
    ids: set[str] = set()
    prompts: dict[str, str] = {}
    for path in files:
        source = path.stem
        row = counts.setdefault(source, dict.fromkeys(TIERS, 0))
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: invalid JSON ({exc.msg})")
                continue
            problems.extend(f"{where}: {p}" for p in record_problems(rec, source))
            if not isinstance(rec, dict):
                continue
            if rec.get("expected_tier") in TIERS:
                row[rec["expected_tier"]] += 1
            rid = rec.get("id")
            if rid in ids:
                problems.append(f"{where}: duplicate id {rid}")
            ids.add(rid)
            if isinstance(rec.get("prompt"), str):
                key = normalize_prompt(rec["prompt"])
                if key in prompts:
                    problems.append(f"{where}: prompt of {rid} repeats {prompts[key]}")
                prompts.setdefault(key, str(rid))
            if contamination is not None and contamination.hits(rec):
                problems.append(f"{where}: {rid} holds a held-out evaluation prompt")
    total = sum(sum(r.values()) for r in counts.values())
    if len(counts) < MIN_SOURCES:
        problems.append(f"{len(counts)} sources, need at least {MIN_SOURCES}")
    if total < MIN_TOTAL:
        problems.append(f"{total} prompts, need at least {MIN_TOTAL}")
    try:
        declared = read_table(sources_md.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"cannot read the source × tier table of {sources_md}: {exc}")
    else:
        if declared != counts:
            problems.append(f"{sources_md.name} does not match the corpus; the corpus has:\n{render_table(counts)}")
    return problems, counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="?", type=Path, default=CORPUS_DIR)
    ap.add_argument("--sources", type=Path, default=SOURCES_MD)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        contamination = Contamination()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems, counts = check(args.corpus, args.sources, contamination)
    if args.json:
        json.dump({"ok": not problems, "problems": problems, "counts": counts}, sys.stdout, indent=2)
        print()
    else:
        if counts:
            print(render_table(counts))
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print("OK" if not problems else f"FAILED: {len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
