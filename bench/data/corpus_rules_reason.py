"""Corpus rules of the second sources for the kinds that stood alone: first-order deductions
written by experts (FOLIO's training split, complex) and Sudoku puzzles graded by a solver
(the Sudoku Exchange puzzle bank, complex).

As in ``corpus_rules.py``, a tier comes only from the source's own split, label or rating; no
rule reads the prompt text. ``corpus/SOURCES.md`` states each rule in prose and
``tests/test_corpus_rules_reason.py`` pins them on small fixtures.

Standard library only.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator

try:
    from .corpus_rules import Candidate
except ImportError:
    from corpus_rules import Candidate

__all__ = ["FOLIO_PHRASINGS", "SUDOKU_PHRASINGS", "folio_candidates", "sudoku_candidates", "sudoku_grid"]


# --- FOLIO (Han et al., 2022, arXiv:2209.00840), training split ------------------------------------

# Every example asks whether a conclusion follows from premises in first-order logic: True, False
# or Unknown (neither it nor its negation follows). Our wording, taken in turn by example id; none of
# the three names a reasoning cue ("step by step", "prove"), so the template does not give the tier away.
FOLIO_PHRASINGS = (
    "Premises:\n{premises}\n\nConclusion: {conclusion}\n\nBased only on the premises, is the conclusion true, "
    "false, or unknown?",
    "{premises}\n\nGiven only the statements above, does this follow: {conclusion} Answer True, False or "
    "Unknown.",
    "Here are some facts and rules:\n{premises}\n\nCan we conclude the following? {conclusion}\nSay whether it is "
    "certainly true, certainly false, or cannot be determined from these premises.",
)


def folio_candidates(examples: Iterable[dict], held_out: Iterable[dict] = ()) -> Iterator[Candidate]:
    """``examples``: the rows of ``folio-train.jsonl`` (``example_id``, ``premises``, ``conclusion``,
    ``label``, ``source``). Every example is a deduction from premises -> **complex**; category =
    FOLIO's own ``source`` (``wiki``: WikiLogic, stories from Wikipedia topics; ``hyb``: HybLogic,
    built on syllogism templates). An example whose premises or conclusion also appear in
    ``held_out`` (the validation rows) is left out."""
    held = {" ".join(str(p).split()) for row in held_out for p in (*row.get("premises", []), row.get("conclusion", ""))}
    for row in examples:
        premises = [" ".join(str(p).split()) for p in row.get("premises") or [] if str(p).strip()]
        conclusion = " ".join(str(row.get("conclusion", "")).split())
        if not premises or not conclusion or row.get("label") not in ("True", "False", "Unknown"):
            continue
        if conclusion in held or any(p in held for p in premises):
            continue
        eid = int(row["example_id"])
        prompt = FOLIO_PHRASINGS[eid % len(FOLIO_PHRASINGS)].format(
            premises="\n".join(premises), conclusion=conclusion)
        yield Candidate(f"{eid:05d}", prompt, "complex", str(row.get("source") or "unknown"))


# --- Sudoku Exchange puzzle bank (QQWing puzzles graded by Sukaku Explainer) ------------------------

SUDOKU_LINE = re.compile(r"^([0-9a-f]{12}) ([0-9]{81}) +([0-9]+\.[0-9])$")
SUDOKU_PHRASINGS = (
    "Solve this Sudoku. Empty cells are dots; fill every row, column and 3x3 box with the digits 1-9.\n\n{grid}",
    "Here is a Sudoku puzzle (. = empty):\n\n{grid}\n\nGive the completed grid.",
    "{grid}\n\nCan you finish this Sudoku? Each digit 1 to 9 must appear once in every row, column and box; "
    "the dots are the blanks.",
)


def sudoku_grid(digits: str) -> str:
    """81 digits (0 = empty) as nine rows of three boxes, the way a person types a grid."""
    cells = digits.replace("0", ".")
    rows = [" ".join((cells[r * 9:r * 9 + 3], cells[r * 9 + 3:r * 9 + 6], cells[r * 9 + 6:r * 9 + 9]))
            for r in range(9)]
    return "\n".join(rows)


def sudoku_candidates(lines: Iterable[str]) -> Iterator[Candidate]:
    """``lines``: records of a bank file (``<sha1 prefix> <81 digits> <rating>``). Every puzzle is a
    search under constraints -> **complex** (puzzles); category = the Sukaku Explainer rating band
    (``rating 5``, ``rating 6``, ..., ``rating 9+``). The record's line number chooses the phrasing
    in turn. Malformed lines are skipped."""
    for n, line in enumerate(lines):
        m = SUDOKU_LINE.match(line.strip())
        if not m:
            continue
        key, digits, rating = m.group(1), m.group(2), float(m.group(3))
        band = f"rating {int(rating)}" if rating < 9 else "rating 9+"
        prompt = SUDOKU_PHRASINGS[n % len(SUDOKU_PHRASINGS)].format(grid=sudoku_grid(digits))
        yield Candidate(key, prompt, "complex", band)
