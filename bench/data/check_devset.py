#!/usr/bin/env python3
"""Validate bench/data/devset.jsonl and print its composition.

Checks every record's fields and labels, rejects duplicate ids and duplicate
prompts, makes sure every ``source`` is declared in SOURCES.md (and that the
per-source counts written there match the file), and enforces the minimum
sizes the development set promises, and that no record holds a prompt of a held-out
evaluation set (the test of ``../shared/check-contamination.py``). Near-duplicate prompts are
reported as warnings (errors with ``--strict``).

Standard library only. Exit status: 0 when the file is valid and meets the
thresholds, 1 otherwise, 2 on usage errors.

    python bench/data/check_devset.py              # check + print counts
    python bench/data/check_devset.py --json       # counts as JSON on stdout
"""

from __future__ import annotations

import argparse
import collections
import difflib
import importlib.util
import json
import re
import statistics
import sys
import unicodedata
from pathlib import Path
from types import ModuleType

__all__ = ["TIERS", "Contamination", "Report", "check", "main"]

HERE = Path(__file__).resolve().parent
CHECKER = HERE.parent.parent.parent / "shared" / "check-contamination.py"
TIERS = ("complex", "standard", "structured", "bulk")
REQUIRED = ("id", "prompt", "expected_tier", "source", "category")
OPTIONAL = ("system_prompt", "metadata", "request")
ID_RE = re.compile(r"^dev-\d{4}$")
CATEGORY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
# A row of the sources table in SOURCES.md: | `key` | ... | 123 | ...
SOURCE_ROW_RE = re.compile(r"^\|\s*`([a-z0-9][a-z0-9._-]*)`\s*\|(.*)$", re.MULTILINE)
NEAR_DUP_RATIO = 0.9

# Small stopword lists for a rough "is this English?" guess; only used to report
# how many prompts look non-English, never to fail the check.
STOPWORDS = {
    "en": {"the", "and", "is", "are", "what", "how", "this", "that", "with", "for", "you", "of", "to", "in", "it", "my", "can", "do"},
    "de": {"und", "der", "die", "das", "ist", "nicht", "ich", "wie", "mit", "für", "eine", "bitte", "sie", "den", "zu"},
    "es": {"el", "la", "los", "las", "que", "por", "para", "con", "una", "cuál", "estas", "como", "del", "este"},
    "fr": {"le", "les", "et", "est", "que", "des", "une", "pour", "dans", "ce", "un", "du", "nous", "vous"},
    "pt": {"que", "um", "uma", "para", "com", "não", "meu", "do", "da", "dos", "das", "você", "é"},
    "it": {"il", "gli", "che", "di", "è", "una", "per", "con", "non", "sono", "della"},
}
NON_LATIN_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "CYRILLIC", "ARABIC", "HEBREW", "DEVANAGARI", "THAI", "GREEK")


class Contamination:
    """The shared checker's test (``../shared/check-contamination.py``), applied to one record.

    Loaded from the file itself, so the build drops exactly what the checker would flag.
    """

    def __init__(self, path: Path = CHECKER) -> None:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: the corpus cannot be checked for held-out evaluation prompts "
                "without it (it lives in the team's shared/ folder beside the repository)")
        spec = importlib.util.spec_from_file_location("check_contamination", path)
        assert spec and spec.loader
        self._module: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self._module)

    def hits(self, record: object) -> list[str]:
        """The strings of ``record`` (nested ones too) that are held-out evaluation prompts."""
        m = self._module
        return [s for s in m.strings(record) if len(s.strip()) >= 20 and m.digest(s) in m.HASHES]


class Report:
    """Errors, warnings and counts collected by :func:`check`."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.records: list[dict] = []

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict:
        recs = self.records
        by_tier = collections.Counter(r["expected_tier"] for r in recs if isinstance(r.get("expected_tier"), str))
        by_source = collections.Counter(r["source"] for r in recs if isinstance(r.get("source"), str))
        matrix: dict[str, dict[str, int]] = {}
        for r in recs:
            src, tier = r.get("source"), r.get("expected_tier")
            if isinstance(src, str) and isinstance(tier, str):
                matrix.setdefault(src, {t: 0 for t in TIERS})
                matrix[src][tier] = matrix[src].get(tier, 0) + 1
        words = [len(r["prompt"].split()) for r in recs if isinstance(r.get("prompt"), str)]
        non_english = [r["id"] for r in recs if isinstance(r.get("prompt"), str) and guess_language(r["prompt"]) != "en"]
        categories = collections.Counter(r["category"] for r in recs if isinstance(r.get("category"), str))
        return {
            "total": len(recs),
            "by_tier": {t: by_tier.get(t, 0) for t in TIERS},
            "by_source": dict(sorted(by_source.items())),
            "by_source_and_tier": dict(sorted(matrix.items())),
            "with_system_prompt": sum(1 for r in recs if "system_prompt" in r),
            "with_metadata": sum(1 for r in recs if "metadata" in r),
            "with_request": sum(1 for r in recs if "request" in r),
            "prompt_words": {
                "min": min(words, default=0),
                "median": statistics.median(words) if words else 0,
                "max": max(words, default=0),
                "over_1000": sum(1 for w in words if w > 1000),
            },
            "non_english_guess": len(non_english),
            "non_english_ids": non_english,
            "distinct_categories": len(categories),
            "top_categories": dict(categories.most_common(12)),
        }


def normalize_prompt(text: str) -> str:
    """Key used for duplicate detection: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def guess_language(text: str) -> str:
    """Very rough guess: 'en', another language code, or 'other-script'."""
    prose = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    letters = [ch for ch in prose if ch.isalpha()]
    if letters:
        foreign = sum(1 for ch in letters if any(s in unicodedata.name(ch, "") for s in NON_LATIN_SCRIPTS))
        if foreign / len(letters) > 0.3:
            return "other-script"
    tokens = re.findall(r"[a-zà-öø-ÿ]+", prose.casefold())
    hits = {lang: sum(1 for t in tokens if t in words) for lang, words in STOPWORDS.items()}
    best = max(hits, key=hits.get)
    if best != "en" and hits[best] >= 3 and hits[best] > 1.5 * hits["en"]:
        return best
    return "en"


def declared_sources(sources_md: Path) -> dict[str, int | None]:
    """Source keys from the table rows of SOURCES.md, with the declared prompt count if a cell is a bare integer."""
    text = sources_md.read_text(encoding="utf-8")
    out: dict[str, int | None] = {}
    for m in SOURCE_ROW_RE.finditer(text):
        cells = [c.strip() for c in m.group(2).split("|")]
        count = next((int(c) for c in cells if c.isdigit()), None)
        out[m.group(1)] = count
    return out


def _check_record(lineno: int, rec: object, report: Report) -> None:
    where = f"line {lineno}"
    if not isinstance(rec, dict):
        report.errors.append(f"{where}: not a JSON object")
        return
    where = f"line {lineno} ({rec.get('id', '?')})"
    for key in REQUIRED:
        value = rec.get(key)
        if not isinstance(value, str) or not value.strip():
            report.errors.append(f"{where}: field {key!r} missing or not a non-empty string")
    unknown = sorted(set(rec) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        report.errors.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    if isinstance(rec.get("id"), str) and not ID_RE.match(rec["id"]):
        report.errors.append(f"{where}: id {rec['id']!r} does not look like dev-0001")
    tier = rec.get("expected_tier")
    if isinstance(tier, str) and tier not in TIERS:
        report.errors.append(f"{where}: expected_tier {tier!r} is not one of {', '.join(TIERS)}")
    cat = rec.get("category")
    if isinstance(cat, str) and not CATEGORY_RE.match(cat):
        report.errors.append(f"{where}: category {cat!r} should be a short lowercase-hyphenated label")
    if "system_prompt" in rec and (not isinstance(rec["system_prompt"], str) or not rec["system_prompt"].strip()):
        report.errors.append(f"{where}: system_prompt must be a non-empty string")
    for key in ("metadata", "request"):
        if key in rec and not isinstance(rec[key], dict):
            report.errors.append(f"{where}: {key} must be an object")
    md = rec.get("metadata")
    if isinstance(md, dict) and "tier" in md:
        report.errors.append(f"{where}: metadata.tier would hand the router the label; drop it")
    rq = rec.get("request")
    if isinstance(rq, dict):
        if "tools" in rq and not (isinstance(rq["tools"], list) and rq["tools"]):
            report.errors.append(f"{where}: request.tools must be a non-empty list")
        if "response_format" in rq and not isinstance(rq["response_format"], dict):
            report.errors.append(f"{where}: request.response_format must be an object")
        if "messages" in rq:
            report.errors.append(f"{where}: put the user text in 'prompt' and context in 'system_prompt', not request.messages")


def check(devset: Path, sources_md: Path | None, *, min_total: int = 320, min_per_tier: int = 70,
          min_non_english: int = 10, strict: bool = False, contamination: Contamination | None = None) -> Report:
    """Validate the development set and return a :class:`Report`.

    With ``contamination``, a record holding a prompt of a held-out evaluation set is an error.
    """
    report = Report()
    try:
        lines = devset.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        report.errors.append(f"cannot read {devset}: {exc}")
        return report

    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            report.errors.append(f"line {lineno}: blank line")
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            report.errors.append(f"line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        _check_record(lineno, rec, report)
        if isinstance(rec, dict):
            report.records.append(rec)
            if contamination is not None and contamination.hits(rec):
                report.errors.append(f"line {lineno} ({rec.get('id', '?')}): a prompt of a held-out evaluation set "
                                     "(../shared/check-contamination.py); remove the record")

    seen_ids: dict[str, int] = {}
    seen_prompts: dict[str, str] = {}
    for rec in report.records:
        rid = rec.get("id")
        if isinstance(rid, str):
            if rid in seen_ids:
                report.errors.append(f"duplicate id {rid}")
            seen_ids[rid] = seen_ids.get(rid, 0) + 1
        prompt = rec.get("prompt")
        if isinstance(prompt, str):
            key = normalize_prompt(prompt)
            if key in seen_prompts:
                report.errors.append(f"duplicate prompt: {rid} repeats {seen_prompts[key]}")
            else:
                seen_prompts[key] = str(rid)

    _near_duplicates(report, strict)

    if sources_md is not None:
        try:
            declared = declared_sources(sources_md)
        except OSError as exc:
            report.errors.append(f"cannot read {sources_md}: {exc}")
            declared = {}
        if declared:
            used = collections.Counter(r.get("source") for r in report.records)
            for src, n in sorted(used.items(), key=lambda kv: str(kv[0])):
                if isinstance(src, str) and src not in declared:
                    report.errors.append(f"source {src!r} ({n} prompts) is not declared in {sources_md.name}")
            for src, stated in sorted(declared.items()):
                actual = used.get(src, 0)
                if stated is not None and stated != actual:
                    report.errors.append(f"{sources_md.name} says {stated} prompts from {src!r}, the file has {actual}")
                if actual == 0 and stated:
                    report.warnings.append(f"source {src!r} is declared but unused")
        elif sources_md.exists():
            report.errors.append(f"no source table rows (| `key` | ...) found in {sources_md}")

    counts = report.counts()
    if counts["total"] < min_total:
        report.errors.append(f"only {counts['total']} prompts, need at least {min_total}")
    for tier, n in counts["by_tier"].items():
        if n < min_per_tier:
            report.errors.append(f"tier {tier!r} has {n} prompts, need at least {min_per_tier}")
    if counts["non_english_guess"] < min_non_english:
        report.warnings.append(f"only {counts['non_english_guess']} prompts look non-English (want >= {min_non_english})")
    return report


def _shingles(text: str) -> frozenset:
    words = text.split()
    if len(words) < 3:
        return frozenset([tuple(words)])
    return frozenset(zip(words, words[1:], words[2:]))


def _near_duplicates(report: Report, strict: bool) -> None:
    """Flag prompt pairs that are almost the same text (template-stamped items)."""
    items = [(str(r.get("id")), normalize_prompt(r["prompt"])) for r in report.records if isinstance(r.get("prompt"), str)]
    shingles = [_shingles(text) for _, text in items]
    for i, (id_a, a) in enumerate(items):
        for j in range(i + 1, len(items)):
            id_b, b = items[j]
            if a == b or min(len(a), len(b)) < 0.8 * max(len(a), len(b)):
                continue
            # Cheap word-trigram overlap first; only plausible pairs get the character-level ratio.
            sa, sb = shingles[i], shingles[j]
            if len(sa & sb) < 0.5 * len(sa | sb):
                continue
            ratio = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
            if ratio >= NEAR_DUP_RATIO:
                msg = f"near-duplicate prompts {id_a} and {id_b} (similarity {ratio:.2f})"
                (report.errors if strict else report.warnings).append(msg)


def _print_counts(counts: dict) -> None:
    print(f"total prompts: {counts['total']}")
    print("by tier:   " + "  ".join(f"{t}={n}" for t, n in counts["by_tier"].items()))
    print("by source: " + "  ".join(f"{s}={n}" for s, n in counts["by_source"].items()))
    width = max((len(s) for s in counts["by_source_and_tier"]), default=6)
    print()
    print(f"{'source':<{width}}  " + "  ".join(f"{t:>10}" for t in TIERS) + f"  {'total':>6}")
    for src, row in counts["by_source_and_tier"].items():
        print(f"{src:<{width}}  " + "  ".join(f"{row.get(t, 0):>10}" for t in TIERS) + f"  {sum(row.values()):>6}")
    print(f"{'all':<{width}}  " + "  ".join(f"{counts['by_tier'][t]:>10}" for t in TIERS) + f"  {counts['total']:>6}")
    print()
    w = counts["prompt_words"]
    print(f"prompt words: min={w['min']} median={w['median']} max={w['max']} over-1000={w['over_1000']}")
    print(f"with system_prompt={counts['with_system_prompt']} metadata={counts['with_metadata']} request={counts['with_request']}")
    print(f"non-English (heuristic guess): {counts['non_english_guess']}")
    print(f"categories: {counts['distinct_categories']} distinct; most common: "
          + ", ".join(f"{c}={n}" for c, n in counts["top_categories"].items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("devset", nargs="?", type=Path, default=HERE / "devset.jsonl")
    ap.add_argument("--sources", type=Path, default=HERE / "SOURCES.md", help="SOURCES.md to cross-check source keys and counts")
    ap.add_argument("--no-sources", action="store_true", help="skip the SOURCES.md cross-check")
    ap.add_argument("--min-total", type=int, default=320)
    ap.add_argument("--min-per-tier", type=int, default=70)
    ap.add_argument("--min-non-english", type=int, default=10)
    ap.add_argument("--strict", action="store_true", help="treat near-duplicate prompts as errors")
    ap.add_argument("--json", action="store_true", help="print counts and problems as JSON")
    ap.add_argument("--no-contamination-check", action="store_true",
                    help="skip the held-out evaluation prompt test (it needs ../shared/check-contamination.py)")
    args = ap.parse_args(argv)
    try:
        contamination = None if args.no_contamination_check else Contamination()
    except FileNotFoundError as exc:
        print(f"error: {exc}; pass --no-contamination-check to skip this test", file=sys.stderr)
        return 2

    report = check(args.devset, None if args.no_sources else args.sources, min_total=args.min_total,
                   min_per_tier=args.min_per_tier, min_non_english=args.min_non_english, strict=args.strict,
                   contamination=contamination)
    counts = report.counts()
    if args.json:
        json.dump({"ok": report.ok, "errors": report.errors, "warnings": report.warnings, "counts": counts},
                  sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        _print_counts(counts)
        for w in report.warnings:
            print(f"warning: {w}", file=sys.stderr)
        for e in report.errors:
            print(f"error: {e}", file=sys.stderr)
        print("OK" if report.ok else f"FAILED: {len(report.errors)} error(s)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
