"""The n-gram features of a text that learned classifiers and example similarity share.

A text (lower-cased, every digit folded to `0` so that numbers match numbers) gives four
kinds of features, one per occurrence:

* words — runs of letters and digits (`debugging`, `json`, `0000`), and word bigrams, each pair
  of neighbouring words;
* prefixes — the first five characters of each word longer than that (`debug` for debugging,
  debugger, debugged…), so inflections the training data never showed still count;
* punctuation runs — what is left of each whitespace-separated chunk once letters and digits
  are taken out (`print(x)` gives `()`, `{"a": 1}` gives `{":}`), the shape of code and formats;
* character bigrams of CJK runs, which have no spaces between words.

`Features` keeps them apart because a model weighs each kind in its own table. Long texts are
sampled as the structural signals are (their first 12,000 and last 4,000 characters), so the
cost is linear in the text up to that size and flat beyond. Plain ASCII text — most prompts —
takes a path of `bytes.translate` and `split`; other text a path of regular expressions that
gives the same features on ASCII (a property test holds the two together). `FEATURES_VERSION`
is written into every model file; a file made with other features is refused.
"""

from __future__ import annotations

import re
import string

from .inputs import Inputs
from .text_measures import sample

__all__ = ["FEATURES_VERSION", "PREFIX", "Features", "extract", "extract_slow", "features_of"]

FEATURES_VERSION = 1
PREFIX = 5  # characters of a word kept as its prefix feature

_ALNUM = bytes(c for c in range(128) if chr(c).isalnum())
_SPACE = bytes(c for c in range(128) if chr(c).isspace())
_DIGITS = bytes(string.digits, "ascii")
# Words: letters and digits stay (digits become 0), everything else becomes a space.
_WORD_TABLE = bytes(
    (ord("0") if c in _DIGITS else c) if c in _ALNUM else ord(" ") for c in range(256)
)
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W_]+")
_ALNUM_RUN = re.compile(r"[^\W_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{2,}")


class Features:
    """The features of one text: each kind in its own list, in text order."""

    __slots__ = ("words", "bigrams", "prefixes", "punctuation", "count")

    def __init__(self, words: list[str], punctuation: list[str], cjk: list[str]) -> None:
        self.words = words + cjk
        self.bigrams = list(zip(words, words[1:]))
        self.prefixes = [w[:PREFIX] for w in words if len(w) > PREFIX]
        self.punctuation = punctuation
        self.count = len(self.words) + len(self.bigrams) + len(self.prefixes) + len(punctuation)

    def strings(self) -> list[str]:
        """Every feature as the string a model file names it by (`w:`, `b:`, `p:`, `s:` kinds)."""
        return ([f"w:{w}" for w in self.words] + [f"b:{a} {b}" for a, b in self.bigrams]
                + [f"p:{p}" for p in self.prefixes] + [f"s:{s}" for s in self.punctuation])


def extract(text: str) -> Features:
    """The features of a text (any case, any length, any characters)."""
    lowered = sample(text).lower()
    if lowered.isascii():
        raw = lowered.encode("ascii")
        words = raw.translate(_WORD_TABLE).decode("ascii").split()
        punctuation = raw.translate(None, _ALNUM).decode("ascii").split()
        return Features(words, punctuation, [])
    return _from_unicode(lowered)


def _from_unicode(lowered: str) -> Features:
    folded = _DIGIT.sub("0", lowered)
    words = _WORD.findall(folded)
    punctuation = _ALNUM_RUN.sub("", folded).split()
    cjk = [run[i:i + 2] for run in _CJK.findall(folded) for i in range(len(run) - 1)]
    return Features(words, punctuation, cjk)


def extract_slow(text: str) -> Features:
    """`extract` by regular expressions only (what the ASCII path must agree with; for tests)."""
    return _from_unicode(sample(text).lower())


def features_of(inputs: Inputs, source: str) -> Features:
    """The (cached) features of one text source of a request."""
    cache = inputs._store()
    key = ("features", source)
    found = cache.get(key)
    if found is None:
        found = cache[key] = extract(inputs.text(source))
    return found
