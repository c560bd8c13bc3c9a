"""The corpus rules of the second reasoning sources (FOLIO, the Sudoku Exchange bank), on small
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
                             "premises, is the conclusion true, false, or unknown?")
    assert got[1].prompt.startswith("All cats purr.\nTom is a cat.\n\nGiven only the statements above, does this "
                                    "follow: Tom barks.")


def test_sudoku_grid_is_nine_rows_of_three_boxes_with_dots_for_blanks() -> None:
    digits = "1" + "0" * 79 + "9"
    grid = reason.sudoku_grid(digits)
    assert grid.splitlines()[0] == "1.. ... ..." and grid.splitlines()[-1] == "... ... ..9"
    assert len(grid.splitlines()) == 9


def test_sudoku_every_puzzle_is_complex_by_rating_band_and_malformed_lines_are_skipped() -> None:
    puzzle = "0" * 80 + "5"
    lines = [f"00015097c6c3 {puzzle}  7.2", "not a record", f"0001d2888928 {puzzle}  5.0",
             f"000274921f39 {puzzle[:-1]}  6.1", f"00ab74921f39 {puzzle}  9.4"]
    got = list(reason.sudoku_candidates(lines))
    assert [(c.key, c.tier, c.category) for c in got] == [
        ("00015097c6c3", "complex", "rating 7"), ("0001d2888928", "complex", "rating 5"),
        ("00ab74921f39", "complex", "rating 9+")]
    assert got[0].prompt.startswith("Solve this Sudoku.")
    assert got[1].prompt.startswith("... ... ...\n") and got[1].prompt.endswith("the dots are the blanks.")
    assert got[2].prompt.startswith("Here is a Sudoku puzzle")  # line 5: the phrasings come round again
