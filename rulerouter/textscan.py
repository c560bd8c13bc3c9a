"""The text of a request, and one pass over it for every keyword of every rule.

`Inputs` holds what a caller passed to `decide()` and computes, lazily and at most once per
text source, the text a condition looks at, its lower-cased form, its keyword hits and its
word count. Conditions read these instead of re-scanning the prompt.

`KeywordScanner` compiles every keyword that rules look for in one text source into a single
Aho-Corasick automaton (a DFA, so the scan costs the same for 31 keywords or 10,000). One scan
reports every occurrence; whole-word keywords are then checked for word boundaries on the spot.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

import ahocorasick_rs

_SURROGATE = re.compile("[\ud800-\udfff]")

__all__ = ["Inputs", "KeywordScanner", "count_words_upto", "estimate_tokens"]

_USER_ROLES = frozenset({"user"})
_SYSTEM_ROLES = frozenset({"system", "developer"})


def _content_text(content: Any) -> str:
    """Text of an OpenAI message `content`: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def _messages_of_roles(messages: Any, roles: frozenset[str] | None) -> list[str]:
    if not isinstance(messages, (list, tuple)):
        return []
    texts = []
    for message in messages:
        if isinstance(message, Mapping) and (roles is None or message.get("role") in roles):
            texts.append(_content_text(message.get("content")))
    return texts


def count_words_upto(text: str, limit: int) -> int:
    """Whitespace-separated words in `text` as `str.split()` counts them, but at most `limit`.

    A text of n characters holds at most (n + 1) // 2 words, so short texts are answered without
    looking at them, and long ones are split no further than the limit needs.
    """
    if limit <= 0:
        return 0
    if (len(text) + 1) // 2 < limit:
        return len(text.split())
    return min(len(text.split(None, limit)), limit)


def without_surrogates(text: str) -> str:
    """`text` with lone surrogates (which UTF-8 cannot encode) replaced, length unchanged."""
    return _SURROGATE.sub("\ufffd", text) if _has_surrogates(text) else text


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def estimate_tokens(text: str) -> int:
    """Estimated tokens: about four characters per token (OpenAI's rule of thumb for English)."""
    return (len(text) + 3) // 4


class Inputs:
    """One request as `decide()` sees it, with per-source caches filled on first use.

    The cache is one dict created on first use: keyed by a source name for lower-cased text,
    by a scanner for keyword hits, and by tuples for the rarer message texts and word counts.
    Signals (`rulerouter.signals`) have their own slot, filled only when a rule asks for one.
    """

    __slots__ = ("prompt", "messages", "system_prompt", "metadata", "_request", "_params", "_cache", "_signals")

    def __init__(
        self,
        prompt: str | None,
        messages: Any,
        system_prompt: str | None,
        metadata: Any,
        request: Any,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        if messages is None and isinstance(request, Mapping):
            messages = request.get("messages")
        self.prompt = prompt if isinstance(prompt, str) else None
        self.messages = messages
        self.system_prompt = system_prompt if isinstance(system_prompt, str) else None
        self.metadata = metadata
        self._request = request
        self._params = params
        self._cache: dict[Any, Any] | None = None
        self._signals: dict[str, Any] | None = None

    @property
    def request(self) -> Any:
        """The chat request; built from the parameters and messages when the caller gave none."""
        if self._request is None:
            request = dict(self._params) if self._params else {}
            request["messages"] = self.effective_messages()
            self._request = request
        return self._request

    def request_field(self, name: str) -> Any:
        """A top-level field of the caller's chat request (None without one; never builds it)."""
        request = self._request
        if request is None:
            params = self._params
            return params.get(name) if params else None
        return request.get(name) if type(request) is dict or isinstance(request, Mapping) else None

    def user_turns(self) -> int:
        """User messages in the conversation, the prompt included."""
        if self.messages is None:
            return 1 if self.prompt is not None else 0
        return len(_messages_of_roles(self.effective_messages(), _USER_ROLES))

    def signals(self, source: str, factory: Callable[[Inputs, str], Any]) -> Any:
        """The signals of one text source, made by `factory` on first use and then cached."""
        cache = self._signals
        if cache is None:
            cache = self._signals = {}
        found = cache.get(source)
        if found is None:
            found = cache[source] = factory(self, source)
        return found

    def effective_messages(self) -> list[Any]:
        """The conversation: system prompt first, then `messages`, then `prompt` as a user turn."""
        built: list[Any] = []
        if self.system_prompt is not None:
            built.append({"role": "system", "content": self.system_prompt})
        if isinstance(self.messages, (list, tuple)):
            built.extend(self.messages)
        if self.prompt is not None:
            built.append({"role": "user", "content": self.prompt})
        return built

    def _store(self) -> dict[Any, Any]:
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        return cache

    def text(self, source: str) -> str:
        if self.messages is None:  # the common case: a prompt (and maybe a system prompt)
            if source == "system":
                return self.system_prompt or ""
            if source != "all" or self.system_prompt is None:
                return self.prompt or ""
        cache = self._store()
        key = ("text", source)
        text = cache.get(key)
        if text is None:
            text = cache[key] = self._extract(source)
        return text

    def _extract(self, source: str) -> str:
        if self.messages is None:
            return "\n".join(t for t in (self.system_prompt, self.prompt) if t)
        roles = {"last_user": _USER_ROLES, "all_user": _USER_ROLES, "system": _SYSTEM_ROLES}
        texts = _messages_of_roles(self.effective_messages(), roles.get(source))
        if source == "last_user":
            return texts[-1] if texts else ""
        return "\n".join(texts)

    def lowered(self, source: str) -> str:
        cache = self._store()
        text = cache.get(source)
        if text is None:
            text = cache[source] = self.text(source).lower()
        return text

    def hits(self, scanner: KeywordScanner) -> set[int]:
        cache = self._store()
        found = cache.get(scanner)
        if found is None:
            source = scanner.source
            text = self.text(source) if scanner.case_sensitive else self.lowered(source)
            found = cache[scanner] = scanner.scan(text)
        return found

    def words_upto(self, source: str, limit: int) -> int:
        """Word count of `source`, exact below `limit`; cached so thresholds share one count."""
        cache = self._store()
        key = ("words", source)
        cached = cache.get(key)
        if cached is not None:
            count, counted_to = cached
            if count < counted_to or counted_to >= limit:
                return min(count, limit)
        count = count_words_upto(self.text(source), limit)
        cache[key] = (count, limit)
        return count


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
        try:
            matches = self._automaton.find_matches_as_indexes(text, overlapping=True)
        except UnicodeEncodeError:  # lone surrogates, e.g. from JSON "\\ud800"
            text = without_surrogates(text)
            matches = self._automaton.find_matches_as_indexes(text, overlapping=True)
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
