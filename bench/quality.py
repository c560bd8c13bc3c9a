#!/usr/bin/env python3
"""Routing quality on public per-prompt scores of a strong and a weak model, by source.

For each source in ``bench/data/quality_sources.py`` (prompts nobody tuned for, each scored for
a strong and a weak model by the source's authors), this builds a labelled file of
``{"prompt", "quality": {"strong", "weak"}, "source", "category", "output_tokens"}`` records
into the git-ignored ``bench/data/quality/`` folder, routes every prompt with a policy
(``rules/recommended.toml`` unless ``-c`` names another), and reports per source and pooled:

* **to strong**: the share of prompts the policy sends to its strong tier. The policy is read as
  a two-model router: its strong tier (``--strong``, default: the tier whose model has the
  highest output price) stands for the strong model, every other tier for the weak model;
* **quality**: the mean of the strong model's score on the prompts sent to the strong tier and
  the weak model's score on the others, against all-strong S and all-weak W; **PGR** is
  (quality − W) / (S − W);
* **cost cut**: a random router that sends a share p of prompts to the strong model reaches
  W + p·(S − W) in expectation, so it equals the policy's quality at p* = PGR (0 when all-weak
  already does; undefined when the policy beats all-strong). The cost cut is
  1 − cost(policy) / cost(random router at p*), both costed with the prices of the policy's
  strong and weak tiers (``--weak``, default: the cheapest tier) and each prompt's tokens
  (input estimated at 4 characters a token; output from the strong model's recorded answer).
  Positive: the policy reaches that quality for less; negative: picking prompts at random would
  have been cheaper. This is exactly ``rulerouter eval``'s "saving against it";
* with ``--bootstrap N``, a 90 % interval of each cost cut: the 5th and 95th percentiles over N
  resamples of the source's prompts (drawn with replacement, seeded), for sources small enough
  that one figure says little.

These prompts are evaluation data only: nothing may be fitted or tuned on them. Prompts equal to
a held-out evaluation prompt (``../shared/check-contamination.py``'s test) or to a prompt of the
built training corpus are dropped and counted.

    .venv/bin/python bench/quality.py                 # build what is missing, then report
    .venv/bin/python bench/quality.py -c rules/default.toml --format json
    .venv/bin/python bench/quality.py --by-category   # and each source's categories
    .venv/bin/python bench/quality.py --bootstrap 1000  # and a 90 % interval of each cost cut
    .venv/bin/python bench/quality.py --fetch-list    # the fetch calls a build needs
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data.corpus_common import CORPUS_DIR, Contamination, normalize_prompt  # noqa: E402
from bench.data.corpus_mirror import DEFAULT_MIRRORS, Mirror, MirrorMissing  # noqa: E402
from bench.data.quality_sources import QUALITY_SOURCES, QualitySource  # noqa: E402
from rulerouter import Router  # noqa: E402
from rulerouter.errors import PolicyError  # noqa: E402
from rulerouter.quality.evaluate import default_strong_and_weak, quality_report, route_all  # noqa: E402
from rulerouter.quality.labelled_data import read_records  # noqa: E402

OUT = ROOT / "bench" / "data" / "quality"
# The rules that turn snapshots into records: a file built by other rules is rebuilt.
BUILDER = hashlib.sha256(b"".join((ROOT / "bench" / "data" / name).read_bytes()
                                  for name in ("quality_sources.py", "quality_exams.py", "quality_chat.py"))).hexdigest()[:16]
POLICY = ROOT / "rules" / "recommended.toml"


def corpus_prompts(corpus: Path = CORPUS_DIR) -> set[str] | None:
    """Normalised prompts of the built training corpus (None when it is not built)."""
    files = sorted(corpus.glob("*.jsonl"))
    if not files:
        return None
    return {normalize_prompt(json.loads(line)["prompt"]) for f in files for line in f.open(encoding="utf-8") if line.strip()}


def screen(records: Iterable[dict], contamination: Contamination, corpus: set[str] | None) -> tuple[list[dict], dict[str, int]]:
    kept, dropped = [], collections.Counter()
    seen: set[str] = set()
    for rec in records:
        norm = normalize_prompt(rec["prompt"])
        if norm in seen:
            dropped["duplicate prompt"] += 1
        elif contamination.hits(rec):
            dropped["held-out evaluation prompt (contamination checker)"] += 1
        elif corpus is not None and norm in corpus:
            dropped["prompt of the training corpus"] += 1
        else:
            kept.append(rec)
        seen.add(norm)
    return kept, dict(dropped)


def build(sources: Iterable[QualitySource], mirrors: Path, out: Path, rebuild: bool = False) -> dict[str, Any]:
    """Write ``out/<source>.jsonl`` for every source whose file is missing or stale; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    corpus = corpus_prompts()
    contamination = None
    for src in sources:
        entry = manifest.get(src.key, {})
        pins = {"repo": src.repo, "commit": src.commit, "extra_commits": dict(src.extra_commits), "builder": BUILDER}
        fresh = (out / f"{src.key}.jsonl").exists() and all(entry.get(k) == v for k, v in pins.items())
        stale_screen = corpus is not None and not entry.get("corpus_checked")  # the corpus was built since
        if fresh and not rebuild and not stale_screen:
            continue
        contamination = contamination or Contamination()
        print(f"building {src.key} from {src.repo} …", file=sys.stderr)
        with Mirror(src.repo, src.commit, mirrors) as m:
            kept, dropped = screen(src.load(m), contamination, corpus)
        with open(out / f"{src.key}.jsonl", "w", encoding="utf-8") as f:
            for rec in kept:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        manifest[src.key] = {**pins, "strong_model": src.strong_model, "weak_model": src.weak_model,
                             "kept": len(kept), "dropped": dropped, "corpus_checked": corpus is not None}
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def top_category(routed: Any) -> str:
    """A record's category up to its first "/" (TheoremQA's field, LLMEval-2's subject)."""
    return str(routed.record.data.get("category") or "(none)").split("/", 1)[0]


def cost_cut_interval(policy: Any, rows: list, strong: str, weak: str, draws: int, seed: int = 0) -> dict[str, Any]:
    """The 5th and 95th percentiles of the cost cut over ``draws`` resamples of ``rows`` (with
    replacement, seeded), and how many resamples left it undefined (the policy beating
    all-strong, or no gap)."""
    rng = random.Random(seed)
    cuts, undefined = [], 0
    for _ in range(draws):
        f = quality_report(policy, rng.choices(rows, k=len(rows)), strong, weak, 500)
        cut = f.saving_fraction if f is not None else None
        if cut is None:
            undefined += 1
        else:
            cuts.append(cut)
    cuts.sort()
    low, high = ((cuts[int(0.05 * (len(cuts) - 1))], cuts[-1 - int(0.05 * (len(cuts) - 1))]) if cuts else (None, None))
    return {"draws": draws, "low": low, "high": high, "undefined": undefined}


def report(policy: Path, out: Path, sources: Iterable[QualitySource], strong: str | None = None,
           weak: str | None = None, by_category: bool = False, bootstrap: int = 0) -> dict[str, Any]:
    try:
        router = Router.from_file(policy)
    except PolicyError as exc:
        raise SystemExit(f"cannot route with {policy}:\n{exc}") from None
    default_strong, default_weak = default_strong_and_weak(router.policy)
    strong, weak = strong or default_strong, weak or default_weak
    for option, tier in (("--strong", strong), ("--weak", weak)):
        if tier not in router.policy.tiers:
            raise SystemExit(f"{option} names unknown tier '{tier}' (tiers: {', '.join(router.policy.tiers)})")
    groups: dict[str, list] = {}
    for src in sources:
        groups[src.key] = route_all(router.compiled, read_records(out / f"{src.key}.jsonl"))
    groups["all sources"] = [r for rows in list(groups.values()) for r in rows]
    figures = {key: quality_report(router.policy, rows, strong, weak, 500) for key, rows in groups.items() if rows}
    tiers = {key: dict(collections.Counter(r.tier for r in rows)) for key, rows in groups.items()}
    result = {"policy": str(policy), "strong_tier": strong, "weak_tier": weak,
              "sources": {key: {**f.to_dict(), "tiers": tiers[key]} for key, f in figures.items() if f is not None}}
    if bootstrap > 0:
        for key, entry in result["sources"].items():
            entry["cost_cut_interval"] = cost_cut_interval(router.policy, groups[key], strong, weak, bootstrap)
    if by_category:
        parts: dict[str, list] = collections.defaultdict(list)
        for key, rows in groups.items():
            if key != "all sources":
                for r in rows:
                    parts[f"{key}/{top_category(r)}"].append(r)
        result["categories"] = {key: f.to_dict() for key, rows in sorted(parts.items())
                                if (f := quality_report(router.policy, rows, strong, weak, 500)) is not None}
    return result


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def render(result: dict[str, Any], manifest: dict[str, Any]) -> str:
    intervals = any("cost_cut_interval" in f for f in result["sources"].values())
    lines = [f"{result['policy']}: strong tier '{result['strong_tier']}' = the strong model, every other tier = "
             f"the weak one; costs at the prices of '{result['strong_tier']}' and '{result['weak_tier']}'", "",
             f"{'source':<13}{'prompts':>8}{'strong / weak model':>48}{'S':>7}{'W':>7}{'to strong':>11}"
             f"{'quality':>9}{'PGR':>8}{'random p*':>11}{'cost cut':>10}" + (f"{'90% interval':>20}" if intervals else "")]
    for key, f in result["sources"].items():
        models = (f"{manifest[key]['strong_model']} / {manifest[key]['weak_model']}" if key in manifest else "(pooled)")
        band = f.get("cost_cut_interval")
        lines.append(f"{key:<13}{f['requests']:>8}{models:>48}{f['all_strong']:>7.3f}{f['all_weak']:>7.3f}"
                     f"{_pct(f['strong_share']):>11}{f['quality']:>9.3f}{_pct(f['pgr']):>8}"
                     f"{_pct(f['random_share_for_equal_quality']):>11}{_pct(f['saving_fraction']):>10}"
                     + (f"{_pct(band['low']) + ' .. ' + _pct(band['high']):>20}" if band else ""))
    if "categories" in result:
        lines += ["", f"{'source/category':<48}{'prompts':>8}{'S':>7}{'W':>7}{'S - W':>7}{'to strong':>11}{'cost cut':>10}"]
        for key, f in result["categories"].items():
            lines.append(f"{key:<48}{f['requests']:>8}{f['all_strong']:>7.3f}{f['all_weak']:>7.3f}"
                         f"{f['all_strong'] - f['all_weak']:>7.3f}{_pct(f['strong_share']):>11}"
                         f"{_pct(f['saving_fraction']):>10}")
    lines.append("")
    for key, f in result["sources"].items():
        routed = ", ".join(f"{t} {n}" for t, n in sorted(f["tiers"].items(), key=lambda kv: -kv[1]))
        lines.append(f"{key}: routed {routed}" + (f"; note: {f['note']}" if f.get("note") else ""))
        band = f.get("cost_cut_interval")
        if band and band["undefined"]:
            lines.append(f"{key}: the cost cut is undefined in {band['undefined']} of {band['draws']} resamples "
                         "(the policy beats all-strong, or there is no gap); the interval is over the others")
    for key, entry in manifest.items():
        if entry.get("dropped"):
            lines.append(f"{key}: dropped " + ", ".join(f"{n} ({why})" for why, n in sorted(entry["dropped"].items())))
        if not entry.get("corpus_checked"):
            lines.append(f"{key}: the training corpus is not built here, so overlap with it was not checked")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-c", "--config", type=Path, default=POLICY, help="the policy to route with")
    ap.add_argument("--strong", help="the tier that stands for the strong model (default: highest output price)")
    ap.add_argument("--weak", help="the tier whose prices the weak model is costed at (default: the cheapest)")
    ap.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the quality files even when they are current")
    ap.add_argument("--by-category", action="store_true",
                    help="also report each source's categories (up to the first '/'): S, W, their gap, to strong")
    ap.add_argument("--bootstrap", type=int, default=0, metavar="N",
                    help="also give a 90%% interval of each cost cut over N resamples of its prompts")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ap.add_argument("--fetch-list", action="store_true", help="print the fetch calls a build needs and exit")
    args = ap.parse_args(argv)
    if args.bootstrap < 0:
        raise SystemExit("--bootstrap takes a number of resamples, 0 or more")
    if args.fetch_list:
        print("\n".join(f'fetch(source="github:{s.repo}")   # {s.key}, commit {s.commit}' for s in QUALITY_SOURCES))
        return 0
    try:
        manifest = build(QUALITY_SOURCES, args.mirrors, args.out, args.rebuild)
    except MirrorMissing as exc:
        raise SystemExit(f"cannot build the quality data: {exc}") from None
    result = report(args.config, args.out, QUALITY_SOURCES, args.strong, args.weak, args.by_category, args.bootstrap)
    print(json.dumps({**result, "data": manifest}, indent=2) if args.format == "json" else render(result, manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
