"""Corpus rules of the second sources for the kinds that stood alone: first-order deductions
written by experts (FOLIO's training split, complex).

As in ``corpus_rules.py``, a tier comes only from the source's own split or label; no
rule reads the prompt text. ``corpus/SOURCES.md`` states each rule in prose and
``tests/test_corpus_rules_reason.py`` pins them on small fixtures.

Standard library only.
"""

from __future__ import annotations

from typing import Iterable, Iterator

try:
    from .corpus_rules import Candidate
except ImportError:
    from corpus_rules import Candidate

__all__ = ["FOLIO_PHRASINGS", "folio_candidates"]


# --- FOLIO (Han et al., 2022, arXiv:2209.00840), training split ------------------------------------

# Every example asks whether a conclusion follows from premises in first-order logic: True, False
# or Unknown (neither it nor its negation follows). Our wording, taken in turn by example id.
FOLIO_PHRASINGS = (
    "Premises:\n{premises}\n\nConclusion: {conclusion}\n\nBased only on the premises, is the conclusion true, "
    "false, or unknown? Explain the reasoning step by step.",
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
