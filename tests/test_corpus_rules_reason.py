"""The corpus rules of the second reasoning sources (FOLIO), on small
in-test fixtures."""

from __future__ import annotations

from bench.data import corpus_rules_reason as reason


def folio_row(eid: int, premises: list[str], conclusion: str, label: str = "True", source: str = "wiki") -> dict:
    return {"example_id": eid, "story_id": 1, "premises": premises, "conclusion": conclusion, "label": label,
            "source": source}


def test_folio_every_example_is_complex_by_its_source_and_validation_overlaps_are_left_out() -> None:
    rows = [folio_row(3, ["All cats  purr.", "Tom is a cat."], "Tom purrs."),
            folio_row(4, ["All cats purr.", "Tom is a cat."], "Tom barks.", "False", "hyb"),
            folio_row(5, ["Shared premise.", "Other."], "Something.", "Unknown"),
            folio_row(6, ["A."], "B.", "Maybe"),           # not one of FOLIO's three labels
            folio_row(7, [" "], "Empty premises."),
            folio_row(8, ["Fine."], "Held conclusion.")]
    held = [{"premises": ["Shared   premise."], "conclusion": "Held conclusion."}]
    got = list(reason.folio_candidates(rows, held))
    assert [(c.key, c.tier, c.category) for c in got] == [("00003", "complex", "wiki"), ("00004", "complex", "hyb")]
    assert got[0].prompt == ("Premises:\nAll cats purr.\nTom is a cat.\n\nConclusion: Tom purrs.\n\nBased only on the "
                             "premises, is the conclusion true, false, or unknown? Explain the reasoning step by step.")
    assert got[1].prompt.startswith("All cats purr.\nTom is a cat.\n\nGiven only the statements above, does this "
                                    "follow: Tom barks.")
