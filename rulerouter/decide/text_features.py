"""The n-gram features of a text that learned classifiers and example similarity share.

A text (lower-cased, every digit folded to `0` so that numbers match numbers) gives the *set*
of its features, each counted once however often it occurs. Three kinds:

* words — runs of letters and digits (`debugging`, `json`, `0000`);
* prefixes — the first five characters of each word longer than that (`debug` for debugging,
  debugger, debugged…), so inflections the training data never showed still count;
* punctuation runs — what is left of each whitespace-separated chunk once letters and digits
  are taken out (`print(x)` gives `()`, `{"a": 1}` gives `{":}`), the shape of code and formats;
* and, counted as words, character bigrams of CJK runs, which have no spaces between words.

No word bigrams: held out by source, the shipped policy routes as well without them (its cue
phrases carry the phrases that matter), and they were about half the lookups of a request.

Keys. So that one dictionary lookup per feature serves every model and example set of a
policy (`rulerouter.decide.feature_table`), every key is a `str` told apart by its characters:
a word holds only letters and digits, a punctuation run none, and a prefix is its five
letters and digits followed by NUL, which no word holds and no punctuation run starts after a
letter. Model files name features by strings (`w:`, `p:`, `s:` kinds): `name_of` and `key_of`
convert.

A word's prefix key is worked out once per process and remembered (`_PREFIXES`, at most
`PREFIX_MEMO` distinct words; later new words are worked out each time, never forgotten or
evicted, so the memo is safe to share between threads): prompts repeat their vocabulary, and
slicing and building the key word by word was about two fifths of the extraction's work.

Long texts are sampled as the structural signals are (their first 12,000 and last 4,000
characters), so the cost is linear in the text up to that size and flat beyond. Plain ASCII
text — most prompts — takes a path of `bytes.translate` and `split`; other text a path of
regular expressions that gives the same features on ASCII (a property test holds the two
together). `FEATURES_VERSION` is written into every model file; a file made with other
features is refused.
"""

from __future__ import annotations

import re
import string

from ..policy.model_file import FEATURES_VERSION
from .inputs import Inputs
from .text_measures import SAMPLE_HEAD, SAMPLE_TAIL, sample

__all__ = ["FEATURES_VERSION", "MARK", "PREFIX", "Features", "Key", "extract", "extract_slow", "features_of", "key_of", "name_of"]

PREFIX = 5  # characters of a word kept as its prefix feature
SAMPLED = SAMPLE_HEAD + SAMPLE_TAIL  # a text up to this long is read whole

_ALNUM = bytes(c for c in range(128) if chr(c).isalnum())
_DIGITS = bytes(string.digits, "ascii")
# Words: letters (lower-cased) and digits stay (digits become 0), everything else becomes a space.
_WORD_TABLE = bytes(
    (ord("0") if c in _DIGITS else ord(chr(c).lower())) if c in _ALNUM else ord(" ") for c in range(256)
)
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W_]+")
_ALNUM_RUN = re.compile(r"[^\W_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{2,}")


Key = str  # a word, a punctuation run, or a prefix (its letters and digits, then MARK)
MARK = "\x00"  # ends a prefix key
PREFIX_MEMO = 50_000  # distinct words whose prefix key is remembered (a few MB at most)


class _PrefixMemo(dict[str, str]):
    """word → its prefix key, or "" for a word of PREFIX characters or fewer.

    A word not yet in the memo is worked out by `__missing__` (called by `dict.__getitem__`
    only on a miss, so a known word costs one C-level lookup) and kept while the memo holds
    fewer than PREFIX_MEMO words.
    """

    __slots__ = ()

    def __missing__(self, word: str) -> str:
        key = word[:PREFIX] + MARK if len(word) > PREFIX else ""
        if len(self) < PREFIX_MEMO:
            self[word] = key
        return key


_PREFIXES = _PrefixMemo()
_prefix_of = _PREFIXES.__getitem__


class Features:
    """The distinct features of one text, in three disjoint sets, and how many there are.

    `words` (CJK bigrams included), `prefixes` and `punctuation` share no key (see Keys above),
    so a table sums each without building their union; `keys` is that union.
    """

    __slots__ = ("words", "prefixes", "punctuation", "count")

    def __init__(self, words: set[str], punctuation: set[str]) -> None:
        # Prefixes of the distinct words only: a prompt repeats its words.
        prefixes = set(map(_prefix_of, words))
        prefixes.discard("")
        self.words = words
        self.prefixes = prefixes
        self.punctuation = punctuation
        self.count = len(words) + len(prefixes) + len(punctuation)

    @property
    def keys(self) -> frozenset[Key]:
        """Every feature key of the text."""
        return frozenset().union(self.words, self.prefixes, self.punctuation)

    def names(self) -> list[str]:
        """Every feature as the string a model file names it by, sorted."""
        return sorted(map(name_of, self.keys))


def name_of(key: Key) -> str:
    """The model-file name of a feature key: `w:word`, `p:prefi`, `s:()`."""
    if not key[0].isalnum():
        return f"s:{key}"
    return f"p:{key[:-1]}" if key[-1] == MARK else f"w:{key}"


def key_of(name: str) -> Key:
    """The feature key a model-file name stands for (the inverse of `name_of`)."""
    return name[2:] + MARK if name.startswith("p:") else name[2:]


def extract(text: str) -> Features:
    """The features of a text (any case, any length, any characters)."""
    sampled = text if len(text) <= SAMPLED else sample(text)
    if sampled.isascii():  # the table lower-cases; punctuation runs have no letters to lower
        raw = sampled.encode("ascii")
        # The table leaves letters, digits and spaces only, so split at the space (cheaper than
        # at any whitespace); a run of spaces leaves empty strings, dropped from the set.
        words = set(raw.translate(_WORD_TABLE).decode("ascii").split(" "))
        words.discard("")
        return Features(words, set(raw.translate(None, _ALNUM).decode("ascii").split()))
    return _from_unicode(sampled.lower())


def _from_unicode(lowered: str) -> Features:
    folded = _DIGIT.sub("0", lowered)
    words = set(_WORD.findall(folded))
    words.update(run[i:i + 2] for run in _CJK.findall(folded) for i in range(len(run) - 1))
    return Features(words, set(_ALNUM_RUN.sub("", folded).split()))


def extract_slow(text: str) -> Features:
    """`extract` by regular expressions only (what the ASCII path must agree with; for tests)."""
    return _from_unicode(sample(text).lower())


def features_of(inputs: Inputs, source: str) -> Features:
    """The (cached) features of one text source of a request."""
    cache = inputs._cache
    key = ("features", source)
    found = cache.get(key)
    if found is None:
        found = cache[key] = extract(inputs.text(source))
    return found
