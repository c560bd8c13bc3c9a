"""What a request asks, read from its form: an opening edit verb, premises, a closed question
about a given item, a bare calculation.

Pure functions of a string, like `rulerouter.decide.text_measures` (which measures the text's
parts: fences, numbers, equations, lists), behind the structural signals `edit_request`,
`premises`, `closed_question` and `arithmetic`. Each looks at a bounded part of the text or
stops after a bounded number of tries, so a long text costs no more than a short one, and
each is tested directly.
"""

from __future__ import annotations

import re

__all__ = [
    "ANSWER_WORDS",
    "ARITHMETIC_WORDS",
    "EDIT_VERBS",
    "GIVEN_ITEM_WORDS",
    "PREMISES_LIMIT",
    "arithmetic",
    "asks_for_named_layout",
    "closed_question",
    "count_premises",
    "offered_answers",
    "opens_with_edit",
]


# The imperative verbs that open a mechanical edit or a labelling of given items (the bulk tier's
# definition, docs/tiers.md): "Translate this method to C#: …", "Classify the sentiment of …".
EDIT_VERBS = frozenset((
    "translate", "convert", "transliterate", "reformat", "rename", "classify", "categorize",
    "categorise", "label", "tag", "sort", "alphabetize", "alphabetise", "capitalize", "capitalise",
    "lowercase", "uppercase", "proofread", "normalize", "normalise", "deduplicate",
))
# Openings that only soften the imperative: "Please translate…", "Can you convert…".
_SOFTENERS = ("please ", "kindly ", "can you ", "could you ", "would you ", "will you ", "now ")
_OPENING = re.compile(r"[a-z]+")


def opens_with_edit(prose: str) -> int:
    """1 when the request opens with an imperative mechanical-edit or labelling verb, else 0.

    Only the opening counts: "translate" in the middle of a problem statement is no request to
    translate. Headings and blank lines before the first words are skipped.
    """
    head = prose[:200].lstrip(" \t\r\n#*>-").lower()
    for softener in _SOFTENERS:
        if head.startswith(softener):
            head = head[len(softener):].lstrip()
            break
    word = _OPENING.match(head)
    return 1 if word is not None and word.group() in EDIT_VERBS else 0


# Premises of a deduction, as sentences state them: a conditional ("If it rains, then the
# match is off", "x if and only if y") or a universal statement at a sentence's start ("All
# cats have whiskers", "No student who… is…", "Every row is a word").
_CONDITIONAL = re.compile(r"\bif\b[^.?!;\n]{1,200}?\bthen\b|\bif and only if\b")
_UNIVERSAL = r"(?:all|every|each|no)[ \t]+[a-z]+(?:[ \t]+[a-z]+){0,3}?[ \t]+(?:are|is|have|has|can|cannot|will|must|do|does|who|that)\b"
# The same statement at the text's start, or after a sentence's end: two patterns, so that the
# second one opens with a character set the regex engine skips to (an alternation with "^" in
# front made it try every position, three times slower).
_UNIVERSAL_AT_START = re.compile(_UNIVERSAL)
_UNIVERSAL_AFTER_END = re.compile(r"[.!?:;\n][ \t]*" + _UNIVERSAL)
PREMISES_LIMIT = 20  # counting stops here


def count_premises(lowered: str) -> int:
    """Premise-shaped sentences in lower-cased text: conditionals and universal statements.

    Conditionals are tried only where "if" starts a word (found by `str.find`), in order and
    without overlap, which is what `_CONDITIONAL.finditer` would find, at a fraction of the cost.
    """
    found = 0
    at = lowered.find("if")
    while at != -1 and found < PREMISES_LIMIT:
        match = _CONDITIONAL.match(lowered, at)
        if match is not None:
            found += 1
            at = lowered.find("if", match.end())
        else:
            at = lowered.find("if", at + 1)
    start = _UNIVERSAL_AT_START.match(lowered)
    if start is not None:
        found += 1
    for _ in _UNIVERSAL_AFTER_END.finditer(lowered, start.end() if start is not None else 0):
        if found >= PREMISES_LIMIT:
            break
        found += 1
    return min(found, PREMISES_LIMIT)


# A closed question: one a fixed answer set answers. It opens with an auxiliary verb ("Is this
# review positive?", "Did the reviewer enjoy it?") or offers its answers ("…: No, Maybe, or Yes?").
_AUXILIARIES = frozenset((
    "is", "are", "was", "were", "does", "do", "did", "would", "will", "can", "could", "should",
    "has", "have", "had", "isn't", "doesn't", "didn't", "wasn't", "aren't",
))
# "Can you tell me what it is?" is a request for an open answer, not a closed question.
_ASKING = frozenset(("tell", "give", "explain", "describe", "list", "write", "help", "show", "provide", "summarize",
                     "summarise", "suggest", "find", "name", "generate", "think", "come"))
_SENTENCE_END = re.compile(r"[.!?:\n]\s*(?=[^.!?:\n]*\Z)")
_OPTIONS = re.compile(r"\bor\b[^,]*\Z")
GIVEN_ITEM_WORDS = 12  # words before the question that make it a question about a given item


def closed_question(prose: str) -> int:
    """1 when the prose asks a closed question about an item it gives, else 0.

    Either the last sentence is a closed question (it ends with a question mark and opens with
    an auxiliary verb or offers its answers, "A, B or C?") with at least `GIVEN_ITEM_WORDS`
    words before it: a text followed by "Is this review positive?" is an item to label, a bare
    "Is Rome in Italy?" is a question. Or, anywhere in the text, a question offers a list of
    answers to pick from (`offered_answers`) and the rest of the text gives the item. Or the
    first line is a short closed question that points ahead at the item ("Is this product
    review positive?", "Does the following sentence contain a name?") and the item follows,
    quoted or after a label of its own ("Review: …").
    """
    return 1 if _ends_with_closed_question(prose) or _offers_answers_for_item(prose) or _opens_with_closed_question(prose) else 0


# The end of a sentence, for `offered_answers`; a colon ends one too ("Pick one: a, b or c.").
_CLAUSE_ENDS = ".?!:;\n"
_CLAUSE_END = re.compile(r"[.?!:;\n]")
ANSWER_WORDS = 6  # an offered answer has at most this many words
LEAD_IN_WORDS = 5  # "Pick one:", "Choose from the following:" before a list of answers
_OR_LOOKED_AT = 50  # " or " occurrences tried, so a long text costs no more than a short one


def offered_answers(text: str) -> tuple[int, int] | None:
    """(start, end) of a sentence that offers three or more short answers to pick from, else None.

    The answers are a list "a, b, c or d" (or "a, b, or c") of at most `ANSWER_WORDS` words
    each, and the list must be what the sentence asks: it ends the sentence with a question
    mark ("Is it about billing, shipping, returns or other?"), or it is the whole sentence after
    a short lead-in that offers a choice and a colon ("Pick one: billing, shipping, returns or
    other.", "Choose from the following list:" and a line "Description, Entity, Person,
    Location"). A list inside a statement ("each half is blue, red, white or yellow", "METHODS:
    a randomised, double-blind, multicentre trial") is no question.
    """
    return _list_ending_a_question(text) or _list_after_lead_in(text)


# A lead-in that offers a choice names it ("Pick one:", "Options:", "Choose from the following
# list:"); "METHODS:" or "Input:" before a comma-separated sentence offers none.
_CHOOSING = ("pick", "choose", "select", "answer", "options", "choices", "categories", "labels", "classes", "topics",
             "candidates")
_NOT_IN_ANSWERS = frozenset("=[]{}<>$\\|`")


def _answers(pieces: list[str], letters: bool) -> bool:
    for piece in pieces:
        words = piece.split()
        if not 1 <= len(words) <= ANSWER_WORDS or not _NOT_IN_ANSWERS.isdisjoint(piece):
            return False
        if letters and not any(c.isalpha() for c in piece):
            return False
    return True


# A choice the asker makes for themselves ("Should I learn Python, Go or Rust?", "Which city
# should we stay in: Florence, Siena or Lucca?") is a request for advice, not a label for an item.
# Subjects only: "my" and "our" are common inside the answers themselves ("verify my identity").
_FIRST_PERSON = frozenset(("i", "i'm", "i've", "i'd", "i'll", "we", "we're", "we've", "we'd", "we'll"))


def _has_word(text: str, words: frozenset[str]) -> bool:
    return any(word.strip("\"'()*,.:;?!").lower().replace("’", "'") in words for word in text.split())


def _sentence_start(text: str, before: int, ends: str) -> int:
    return max(text.rfind(end, 0, before) for end in ends) + 1


def _sentence_before(text: str, at: int) -> str:
    """The sentence that runs up to `at` (a question, or a lead-in such as "Pick one:")."""
    head = text[max(0, at - 200) : at].rstrip()
    return head[_sentence_start(head, len(head), ".?!\n") :]


def _list_ending_a_question(text: str) -> tuple[int, int] | None:
    at = text.find(" or ")
    looked = 0
    while at != -1 and looked < _OR_LOOKED_AT:
        looked += 1
        start = _sentence_start(text, at, _CLAUSE_ENDS)
        found = _CLAUSE_END.search(text, at + 4)
        end = found.start() if found is not None else len(text)
        if end < len(text) and text[end] == "?":
            items = text[start:at].rstrip().rstrip(",").split(",")
            # After a colon the list starts the sentence; else its first piece holds the question too.
            listed = items if start and text[start - 1] == ":" else items[1:]
            if len(items) >= 3 and _answers([text[at + 4 : end], *listed], letters=False) and "," not in text[at + 4 : end] \
                    and not _has_word(text[_sentence_start(text, at, ".?!\n") : end], _FIRST_PERSON):
                return start, end
        at = text.find(" or ", at + 4)
    return None


def _list_after_lead_in(text: str) -> tuple[int, int] | None:
    if ":" not in text:
        return None
    lowered = text.lower()
    if len(lowered) != len(text):  # a character whose lower case is longer: positions would shift
        lowered = text
    colons = set()
    for word in _CHOOSING:
        if word not in lowered:
            continue
        at = lowered.find(word)
        while at != -1 and len(colons) < _OR_LOOKED_AT:
            after = at + len(word)
            if (at == 0 or not lowered[at - 1].isalnum()) and (after == len(text) or not lowered[after].isalnum()):
                found = _CLAUSE_END.search(text, after)
                if found is not None and text[found.start()] == ":" and found.start() - after <= 60:
                    colons.add(found.start())
            at = lowered.find(word, after)
    for at in sorted(colons):
        lead_in = text[_sentence_start(text, at, ".?!;:\n") : at]
        if len(lead_in.split()) > LEAD_IN_WORDS or _has_word(lead_in, _FIRST_PERSON):
            continue
        start = at + 1
        while start < len(text) and text[start] in " \t":
            start += 1
        if start < len(text) and text[start] == "\n":  # the list may stand on the next line
            start += 1
        found = _CLAUSE_END.search(text, start)
        end = found.start() if found is not None else len(text)
        if end == len(text) or text[end] in ".?\n":
            items = text[start:end].split(",")
            items[-1:] = items[-1].rsplit(" or ", 1)
            if len(items) >= 3 and _answers(items, letters=True):
                return start, end
    return None


# An item given to be labelled stands apart from the question about it: quoted ('"I ordered my
# card but it is not here"'), after a label of its own at a line's start ("Message: …", "Tweet:
# …"), or in a paragraph of its own. A question that runs on from the asker's own story ("We are
# four adults flying in from Chicago. Which is the better base: Florence, Siena or Lucca?") is
# advice, whatever answers it offers.
_QUOTED = re.compile(r"[\"“][^\"“”\n]*?\s[^\"“”\n]*?\s[^\"“”\n]*?[\"”]")
_LABELLED_LINE = re.compile(r"(?m)^[ \t]*[A-Z][A-Za-z ]{0,24}:[ \t]*\S")


# Or the question points at it: "Which describes it best: …?", "Is this review…", "the following".
_POINTING = frozenset(("it", "its", "this", "these", "that", "above", "below", "following"))


def _stands_apart(rest: str) -> bool:
    return "\n\n" in rest.strip() or _QUOTED.search(rest) is not None or _LABELLED_LINE.search(rest) is not None


def _offers_answers_for_item(prose: str) -> bool:
    sampled = prose if len(prose) <= 4_000 else prose[:2_000] + "\n" + prose[-2_000:]
    found = offered_answers(sampled)
    if found is None:
        return False
    rest = sampled[: found[0]] + " " + sampled[found[1] :]
    if len(rest.split(None, GIVEN_ITEM_WORDS)) <= GIVEN_ITEM_WORDS:
        return False
    return _stands_apart(rest) or _has_word(_sentence_before(sampled, found[0]), _POINTING)


def _ends_with_closed_question(prose: str) -> bool:
    offset = max(0, len(prose) - 600)
    tail = prose[offset:].rstrip()
    if not tail.endswith("?"):
        return False
    body = tail[:-1]
    end = _SENTENCE_END.search(body)
    if end is not None and body[end.start()] == "?":
        return False  # a question after a question: what comes before it is no given item
    start = end.end() if end is not None else 0
    question = body[start:].lower()
    words = question.split()
    asked = _sentence_before(body, len(body))  # the whole question, a lead-in before a colon included
    if not words or _has_word(asked, _FIRST_PERSON) or _has_word(question, _JUDGED_AGAINST_THE_WORLD):
        return False
    opens_closed = words[0].strip("\"'(*") in _AUXILIARIES and not (len(words) > 2 and words[1] == "you" and words[2] in _ASKING)
    if not opens_closed and not ("," in question and _OPTIONS.search(question)):
        return False
    before = prose[max(0, offset - 400) : offset + start]
    if len(before.split(None, GIVEN_ITEM_WORDS)) <= GIVEN_ITEM_WORDS:
        return False
    # Offered answers: only about an item the question points at or that stands apart.
    return opens_closed or _has_word(asked, _POINTING) or _stands_apart(before)


# A layout named for the answer: a verb that produces it, then "in/using/following … format"
# ("Prepare the discharge summary in the hospital's SOAP format", "return it using the APA
# template", "structured as per the following layout"). "Express the answer in interval notation"
# and a program's "output in text format" are the maths or the program's, not a layout to follow.
_NAMED_LAYOUT = re.compile(
    r"\b(?:write|respond|reply|answer|present|provide|give|produce|deliver|draft|prepare|create|generate"
    r"|formatted|structured|put|compose|organi[sz]ed?)\b[^.?!\n]{0,60}?\b(?:in|using|following|per|into|with)"
    r"[ \t]+(?:the[ \t]+|a[ \t]+|an[ \t]+|our[ \t]+|my[ \t]+)?(?:[\w\-./+']+[ \t]+){0,3}?(?:format|template|layout)\b"
)
_LAYOUT_WORDS = ("format", "template", "layout")


def asks_for_named_layout(lowered: str) -> bool:
    """Does the lower-cased text ask for its answer in a layout it names? (Looked for in its first 4,000 characters.)"""
    head = lowered[:4_000]
    if not any(word in head for word in _LAYOUT_WORDS):
        return False
    return _NAMED_LAYOUT.search(head) is not None


# The words with which a question before its item points ahead at it; "it" and "that" point back.
_POINTING_AHEAD = frozenset(("this", "these", "following", "below"))
_OPENING_QUESTION_WORDS = 20  # a closed question before its item has at most this many words
# The asker, or what is theirs: "Does this clause limit our liability?" asks for advice on the
# asker's own stake, not for a label. (Only the question line is read, never the item after it.)
_ASKER_OR_STAKE = _FIRST_PERSON | frozenset(("me", "my", "mine", "us", "our", "ours"))
# Whether a given sentence is true or makes sense is judged against the world, from knowledge: a
# question, not a label read off the item ("Is the following sentence factually correct?").
_JUDGED_AGAINST_THE_WORLD = frozenset((
    "true", "false", "truth", "correct", "incorrect", "fact", "factual", "factually", "verifiable", "accurate", "plausible", "sense",
    "possible", "right", "wrong",
))


def _opens_with_closed_question(prose: str) -> bool:
    prose = prose[:2_400]  # the question's line (400 characters at most) and the item's start
    start = len(prose) - len(prose.lstrip())
    line_end = prose.find("\n", start, start + 400)
    if line_end < 0:
        return False
    first = prose[start:line_end].rstrip()
    if not first.endswith("?"):
        return False
    words = first.lower().split()
    if not words or len(words) > _OPENING_QUESTION_WORDS or words[0].strip("\"'(*") not in _AUXILIARIES:
        return False
    if (len(words) > 2 and words[1] == "you" and words[2] in _ASKING) or _has_word(first, _ASKER_OR_STAKE):
        return False
    if not _has_word(first, _POINTING_AHEAD) or _has_word(first, _JUDGED_AGAINST_THE_WORLD):
        return False
    rest = prose[line_end : line_end + 2_000]
    if len(rest.split(None, GIVEN_ITEM_WORDS)) <= GIVEN_ITEM_WORDS:
        return False
    return _QUOTED.search(rest) is not None or _LABELLED_LINE.search(rest) is not None


# A calculation on given numbers (the standard tier's arithmetic, docs/tiers.md): the maths in
# the text has digits and no variable, and the words around it are few ("Calculate: $$\\frac{1}{2}
# \\times \\frac{22}{7}$$", "What is 17 × 23 + 5?"). A variable ("x", "$n^2$"), a word problem's
# story or a proof to write makes it maths beyond arithmetic.
ARITHMETIC_WORDS = 8  # words (two or more letters) outside the maths, at most
ARITHMETIC_TOKENS = 30  # whitespace-separated pieces outside the maths, at most
ARITHMETIC_CHARS = 1_500  # a longer text is no bare calculation
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\[(.+?)\\\]|\\\((.+?)\\\)", re.S)
# LaTeX commands and their text arguments: \frac and \times are operators, \text{cm} a unit.
_LATEX_WORDS = re.compile(r"\\(?:text|rm|mathrm|textbf|textit|mathbf|mbox|operatorname)\s*\{[^}]*\}|\\[A-Za-z]+")
_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")
# The options of a multiple-choice question ("A. 12", "(b) 3/4"): answers to pick, not the maths asked.
_OPTION_LINE = re.compile(r"(?m)^[ \t]*\(?[A-Ea-e][.)][ \t].*$")
_BARE_OPERATION = re.compile(r"\d[ \t]*[-+*/×÷^][ \t]*\(?[ \t]*\d")
_NOT_VARIABLES = frozenset(("a", "i"))


def arithmetic(text: str) -> int:
    """1 when the text asks for a calculation on given numbers and nothing more, else 0.

    Its maths (``$…$``, ``$$…$$``, ``\\[…\\]``, ``\\(…\\)``, or a bare ``17 × 23``) holds digits
    and, LaTeX commands aside, no letter; no single-letter word stands for a variable outside it;
    and at most `ARITHMETIC_WORDS` words (`ARITHMETIC_TOKENS` pieces) surround it.
    Multiple-choice option lines are left out. Most texts are ruled out by their length or their
    number of pieces before any pattern runs.
    """
    if len(text) > ARITHMETIC_CHARS:
        return 0
    latex = "$" in text or "\\" in text
    if not latex and len(text.split(None, ARITHMETIC_TOKENS)) > ARITHMETIC_TOKENS or not _DIGIT.search(text):
        return 0
    if "\n" in text:
        text = _OPTION_LINE.sub(" ", text)
    digits = False
    prose = text
    if latex:
        for span in _MATH_SPAN.finditer(text):
            maths = _LATEX_WORDS.sub(" ", next(part for part in span.groups() if part is not None))
            if _LETTER.search(maths):
                return 0
            digits = digits or _DIGIT.search(maths) is not None
        prose = _MATH_SPAN.sub(" ", text)
    if not digits and not _BARE_OPERATION.search(prose):
        return 0
    tokens = prose.split(None, ARITHMETIC_TOKENS)
    if len(tokens) > ARITHMETIC_TOKENS:
        return 0
    words = 0
    for token in tokens:
        letters = sum(1 for c in token if c.isalpha())
        if letters == 1:
            bare = token.strip(".,:;?!()")
            if len(bare) <= 2 and bare.lower() not in _NOT_VARIABLES:
                return 0  # "x", "2x", "n": a variable
        elif letters > 1:
            words += 1
            if words > ARITHMETIC_WORDS:
                return 0
    return 1
