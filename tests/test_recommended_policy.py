"""rules/recommended.toml: its header's held-out figures are the shipped model's, and it beats the
article on requests it was not fitted to.

The figures themselves come from the training corpus, which is built from fetched snapshots
and not committed (bench/data/corpus/SOURCES.md), so the suite cannot recompute them; it checks
that the header, the shipped model's `trained` record and the docs say the same thing.
"""

from __future__ import annotations

import re
from pathlib import Path

from rulerouter import Router
from rulerouter.decide.compile import CompiledPolicy
from rulerouter.policy.model_file import read_model, resolve_model_path
from rulerouter.quality.evaluate import label_report, route_all
from rulerouter.quality.groups import groups_of
from rulerouter.quality.labelled_data import read_records

from .conftest import ROOT

SOURCE = ROOT / "rules" / "recommended.toml"
DEVSET = ROOT / "bench" / "data" / "devset.jsonl"
TIERS = ("complex", "standard", "structured", "bulk")


def header_rows() -> dict[str, dict[str, float | None]]:
    """Each held-out source's row of the header's table: recall per tier in % (None: —) and macro."""
    rows = {}
    for line in SOURCE.read_text().splitlines():
        match = re.fullmatch(r"#   ([a-z0-9-]+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+([01]\.\d{3})", line)
        if match:
            cells = [None if c == "—" else float(c.rstrip("%")) for c in match.groups()[2:6]]  # percent
            rows[match.group(1)] = {**dict(zip(TIERS, cells)), "macro": float(match.group(7)), "requests": int(match.group(2))}
    return rows


def test_the_header_shows_the_held_out_figures_recorded_in_the_shipped_model() -> None:
    trained = read_model(resolve_model_path("builtin:task", Path("."))).trained
    assert trained["by"] == "source" and trained["prune"] == 0.1 and trained["lambda"] == 0.001 and trained["min_groups"] == 3
    rows = header_rows()
    assert set(rows) == set(trained["held_out"]) and len(rows) >= 6
    for source, held in trained["held_out"].items():
        row = rows[source]
        assert row["requests"] == held["requests"], source
        assert row["macro"] == round(held["macro_recall"], 3), source
        for tier in TIERS:
            expected = held["recall"].get(tier)
            assert row[tier] == (None if expected is None else round(100 * expected, 1)), (source, tier)
    mean = round(trained["mean_macro_recall"], 3)
    assert f"mean over sources" in SOURCE.read_text() and f"{mean:.3f}" in SOURCE.read_text()
    for page, phrase in (("quality.md", "mean macro recall"), ("held-out.md", "mean macro recall"),
                         ("learned-signals.md", "mean macro recall of"), ("../README.md", "mean macro recall")):
        assert f"{phrase} {mean:.3f}" in (ROOT / "docs" / page).read_text(), page  # the docs carry the same figure
    assert "--min-groups 3 --lambda 0.001 --prune 0.1" in SOURCE.read_text() and "-c rules/recommended.toml --classifier task" in SOURCE.read_text()


def test_recommended_beats_the_article_on_every_source_of_the_development_set() -> None:
    """The development set was never trained on (its prompts are dropped from the corpus)."""
    records = read_records(DEVSET)
    for name, members in groups_of(records, "source").items():
        figures = {}
        for policy_name in ("default", "recommended"):
            policy = Router.from_file(ROOT / "rules" / f"{policy_name}.toml", env={"RULEROUTER_API_KEY": "x"}).policy
            figures[policy_name] = label_report(policy, route_all(CompiledPolicy(policy), members)).macro_recall
        assert figures["recommended"] >= figures["default"], (name, figures)
    policy = Router.from_file(SOURCE, env={"RULEROUTER_API_KEY": "x"}).policy
    report = label_report(policy, route_all(CompiledPolicy(policy), records))
    assert report.figures["complex"].recall > 0.75  # the article's keywords reach 0.064 on these
