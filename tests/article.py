"""The article's `classify_request`, restated: the oracle for rules/default.toml (tests, bench)."""

from __future__ import annotations

from typing import Callable

STRUCTURED = ["json", "csv", "xml", "schema", "extract", "parse", "format as", "return as", "structured"]
COMPLEX = [
    "refactor", "architect", "design system", "debug", "race condition", "security audit",
    "performance optimize", "explain the trade-offs", "compare approaches", "root cause",
    "memory leak", "deadlock",
]
BULK = [
    "generate tests", "add docstrings", "translate all", "add comments", "rename variable",
    "format code", "boilerplate", "template", "placeholder", "stub",
]


def make_classifier(structured: list[str], complex_: list[str], bulk: list[str]) -> Callable[[str, dict | None], str]:
    """The article's classifier, by hand (lower-case, split, `in` tests), for these signal lists."""

    def classify(prompt: str, metadata: dict | None = None) -> str:
        prompt_lower = prompt.lower()
        word_count = len(prompt.split())
        if metadata:
            if metadata.get("tier"):
                return metadata["tier"]
            if metadata.get("json_output"):
                return "structured"
        if any(s in prompt_lower for s in structured):
            return "structured"
        if any(s in prompt_lower for s in complex_):
            return "complex"
        if word_count > 1000:
            return "complex"
        if any(s in prompt_lower for s in bulk):
            return "bulk"
        return "standard"

    return classify


article_classifier = make_classifier(STRUCTURED, COMPLEX, BULK)
