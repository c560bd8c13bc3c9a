"""The quality check: the judge's prompt, and reading a score out of whatever the judge says.

Judges do not always "just return the number". `parse_score` accepts a bare number ("0.7",
"0.85\\n"), a labelled one ("Score: 7/10", "Rating: 8"), a fraction ("7/10", "4 out of 5"), a
percentage ("85%") and a single number in prose; scores above 1 are read on a 10- or 100-point
scale. Anything ambiguous (several unlabelled numbers) is unparsable, and the policy's
`on_unparsable` decides what that means.
"""

from __future__ import annotations

import re

__all__ = ["judge_messages", "parse_score"]

_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_RANGES = re.compile(r"\b(?:scale|range|from|between)\b[^.\n]{0,20}?\d+(?:\.\d+)?\s*(?:-|–|to|and)\s*\d+(?:\.\d+)?", re.I)
_LABELLED = re.compile(r"\b(?:score|rating|rated|rate|grade|quality)\b[^0-9.\n]{0,20}" + _NUMBER + r"(?:\s*(?:/|out of)\s*" + _NUMBER + r")?", re.I)
_FRACTION = re.compile(_NUMBER + r"\s*(?:/|out of)\s*" + _NUMBER, re.I)
_PERCENT = re.compile(_NUMBER + r"\s*%")
_ANY_NUMBER = re.compile(r"(?<![\w.])" + _NUMBER + r"(?![\w])")


def _scaled(value: float, out_of: float | None = None) -> float | None:
    if out_of is not None:
        return value / out_of if 0 < out_of and 0 <= value <= out_of else None
    if 0 <= value <= 1:
        return value
    if value <= 10:
        return value / 10
    if value <= 100:
        return value / 100
    return None


def parse_score(text: str | None) -> float | None:
    """A score in 0..1 read from a judge's reply, or None when there is no unambiguous one."""
    if not text:
        return None
    stripped = text.strip().strip("*_`'\" ").rstrip(".")
    try:
        return _scaled(float(stripped))
    except ValueError:
        pass
    cleaned = _RANGES.sub(" ", text)
    labelled = _LABELLED.search(cleaned)
    if labelled:
        return _scaled(float(labelled.group(1)), float(labelled.group(2)) if labelled.group(2) else None)
    fraction = _FRACTION.search(cleaned)
    if fraction:
        return _scaled(float(fraction.group(1)), float(fraction.group(2)))
    percent = _PERCENT.search(cleaned)
    if percent:
        return _scaled(float(percent.group(1)), 100.0)
    numbers = _ANY_NUMBER.findall(cleaned)
    if len(numbers) == 1:
        return _scaled(float(numbers[0]))
    return None


def judge_messages(template: str, prompt: str, response: str) -> list[dict[str, str]]:
    """The judge's request: the policy's template with the prompt and the answer filled in."""
    return [{"role": "user", "content": template.format(prompt=prompt, response=response)}]
