"""One pass over a request's text for every keyword of every rule.

`KeywordScanner` compiles every keyword that rules look for in one text source into a single
Aho-Corasick automaton (a DFA, so the scan costs the same for 31 keywords or 10,000). One scan
reports every occurrence; whole-word keywords are then checked for word boundaries on the spot.
"""

from __future__ import annotations

from typing import Any, Iterable

import ahocorasick_rs


__all__ = ["KeywordScanner"]


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


class KeywordScanner:
    """Every keyword used on one text source with one case rule, as one automaton.

    Each distinct keyword gets up to two hit ids: one for substring use and one for whole-word
    use. `scan()` returns the set of ids found in a text.
    """

    __slots__ = ("key", "source", "case_sensitive", "_patterns", "_ids", "_automaton", "_plan")

    def __init__(self, source: str, case_sensitive: bool) -> None:
        self.key = (source, case_sensitive)
        self.source = source
        self.case_sensitive = case_sensitive
        self._patterns: list[str] = []
        self._ids: dict[tuple[str, bool], int] = {}
        self._automaton: Any = None
        self._plan: tuple[tuple[int | None, int | None, bool, bool], ...] = ()

    def normalise(self, keyword: str) -> str:
        return keyword if self.case_sensitive else keyword.lower()

    def add(self, keyword: str, whole_word: bool) -> int:
        """Register a keyword; returns its hit id (the same id for the same keyword and mode)."""
        key = (self.normalise(keyword), whole_word)
        hit_id = self._ids.get(key)
        if hit_id is None:
            hit_id = self._ids[key] = len(self._ids)
        return hit_id

    def keyword_of(self, hit_id: int) -> str:
        for (keyword, _), known in self._ids.items():
            if known == hit_id:
                return keyword
        raise KeyError(hit_id)

    def build(self) -> None:
        index: dict[str, int] = {}
        substring_ids: list[int | None] = []
        word_ids: list[int | None] = []
        for (keyword, whole_word), hit_id in self._ids.items():
            slot = index.get(keyword)
            if slot is None:
                slot = index[keyword] = len(self._patterns)
                self._patterns.append(keyword)
                substring_ids.append(None)
                word_ids.append(None)
            (word_ids if whole_word else substring_ids)[slot] = hit_id
        plan = []
        for slot, keyword in enumerate(self._patterns):
            plan.append(
                (
                    substring_ids[slot],
                    word_ids[slot],
                    _is_word_char(keyword[0]),
                    _is_word_char(keyword[-1]),
                )
            )
        self._plan = tuple(plan)
        if self._patterns:
            self._automaton = ahocorasick_rs.AhoCorasick(
                self._patterns, implementation=ahocorasick_rs.Implementation.DFA
            )

    def scan(self, text: str) -> set[int]:
        found: set[int] = set()
        if self._automaton is None or not text:
            return found
        plan = self._plan
        end_of_text = len(text)
        matches = self._automaton.find_matches_as_indexes(text, overlapping=True)  # Inputs repaired any lone surrogate
        for slot, start, end in matches:
            substring_id, word_id, check_left, check_right = plan[slot]
            if substring_id is not None:
                found.add(substring_id)
            if word_id is not None and word_id not in found:
                if check_left and start > 0 and _is_word_char(text[start - 1]):
                    continue
                if check_right and end < end_of_text and _is_word_char(text[end]):
                    continue
                found.add(word_id)
        return found

    def first_occurrence(self, text: str, hit_id: int) -> int:
        """Offset of the first occurrence a hit id stands for (for explanations, not the hot path)."""
        keyword = self.keyword_of(hit_id)
        whole_word = (keyword, True) in self._ids and self._ids[(keyword, True)] == hit_id
        start = text.find(keyword)
        while start >= 0 and whole_word:
            end = start + len(keyword)
            left_ok = start == 0 or not _is_word_char(text[start - 1]) or not _is_word_char(keyword[0])
            right_ok = end == len(text) or not _is_word_char(text[end]) or not _is_word_char(keyword[-1])
            if left_ok and right_ok:
                break
            start = text.find(keyword, start + 1)
        return start

    def ids_for(self, keywords: Iterable[str], whole_word: bool) -> frozenset[int]:
        return frozenset(self.add(keyword, whole_word) for keyword in keywords)
