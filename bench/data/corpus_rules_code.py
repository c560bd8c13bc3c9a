"""Corpus rules for the sources of code work beyond LeetCode: programs written from a task
description (Rosetta Code, Codeforces, Exercism) and bugs reported with their evidence (issue
reports).

Like ``corpus_rules.py``: each ``*_candidates`` function takes the source's items as parsed from
its files and yields :class:`Candidate` objects whose tier comes only from the source's own
category, difficulty or label field. ``corpus/SOURCES.md`` states each rule in prose, and
``tests/test_corpus_rules.py`` pins them on small fixtures.

Standard library only.
"""

from __future__ import annotations

import html
import re
import tomllib
from html.parser import HTMLParser
from typing import Iterable, Iterator

try:
    from .corpus_rules import Candidate
except ImportError:
    from corpus_rules import Candidate

__all__ = ["CODEFORCES_LAST_CONTEST", "EXERCISM_STANDARD_DIFFICULTY", "NLBSE_TIERS", "ROSETTA_STANDARD_CATEGORIES",
           "codeforces_candidates", "exercism_candidates", "html_text", "nlbse_candidates", "rosetta_candidates"]


class _TextOf(HTMLParser):
    """The text of an HTML fragment: block elements end a paragraph, ``<br>`` a line."""

    BLOCKS = frozenset({"p", "div", "ul", "ol", "pre", "table", "tr", "h1", "h2", "h3", "h4", "center"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("sup", "sub"):
            self.parts.append("^" if tag == "sup" else "_")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(fragment: str) -> str:
    """Plain text of an HTML fragment, paragraphs kept, runs of blank lines and spaces folded."""
    parser = _TextOf()
    parser.feed(fragment)
    parser.close()
    text = html.unescape("".join(parser.parts)).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- NLBSE'24 issue report classification, training split -----------------------------------

# The competition's own label -> tier. A bug report (steps, versions, error messages and stack
# traces) asks for debugging from evidence: *complex*. A question ("how do I …") is *standard*.
# Feature requests are left out: what they need depends on the code base, not on the request.
NLBSE_TIERS = {"bug": "complex", "question": "standard"}


# HTML comments in an issue body are the project's issue template speaking ("If you have a
# question rather than reporting a bug please go to the forum…"): invisible on GitHub, not what
# the reporter wrote, and the same for every label of a project. They go.
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)


def nlbse_candidates(rows: Iterable[dict]) -> Iterator[Candidate]:
    """``rows``: the ``repo, created_at, label, title, body`` rows of ``data/issues_train.csv``."""
    for n, row in enumerate(rows):
        tier = NLBSE_TIERS.get(row.get("label", ""))
        body = re.sub(r"\n{3,}", "\n\n", _HTML_COMMENT.sub("", row.get("body", "").replace("\r\n", "\n")))
        title, body = row.get("title", "").strip(), body.strip()
        if tier and title:
            prompt = f"{title}\n\n{body}" if body else title
            yield Candidate(f"train/{n}", prompt, tier, f"{row['label']}/{row.get('repo', '')}")


# --- Rosetta Code task pages (RosettaGit's conversion to Markdown) ----------------------------

# Rosetta Code's own categories for the basics of a language (hello world, loops, literals,
# comparisons): a task in one of them is a textbook snippet, *standard*. Every other task asks
# for a program that does something stated: *complex*.
ROSETTA_STANDARD_CATEGORIES = frozenset({"Basic language learning", "Simple", "Basic Data Operations",
                                         "Iteration", "Control Structures"})
_FRONT_MATTER = re.compile(r"\A\+\+\+\n(.*?)\n\+\+\+\n", re.S)


def _heading_key(title: str) -> str:
    title = title.strip().lower().replace("++", "pp").replace("#", "sharp")
    return re.sub(r"[^0-9a-z]+", "_", title).strip("_")


# The wiki's own markup left in some converted pages. Templates ({{task|Basic language
# learning}}, {{draft task}}, {{omit from|…}}) and category links ([[Category:Simple]]) name the
# very categories the tier is read from: a label leak, so they go. A template that only formats
# text keeps its text; a link keeps the words it shows.
_TEMPLATE = re.compile(r"\{\{([^{}]*)\}\}")
_TEXT_TEMPLATES = frozenset({"math", "overline", "sub", "sup", "tt", "nowrap", "mvar"})
_WIKI_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")
_DROPPED_LINKS = ("category:", "file:", "image:", "user:", "user talk:", "talk:", "special:", "template:")
_WIKI_SOLUTION = re.compile(r"^=+\s*\{\{\s*header\s*\|", re.I)


def _template_text(m: re.Match[str]) -> str:
    name, _, rest = m.group(1).partition("|")
    return rest.rsplit("|", 1)[-1] if name.strip().lower() in _TEXT_TEMPLATES and rest else ""


def _link_text(m: re.Match[str]) -> str:
    target, _, shown = m.group(1).partition("|")
    if target.strip().lower().startswith(_DROPPED_LINKS):
        return ""
    return shown or re.sub(r"^(?:wp|wikt|oeis|wikipedia):", "", target.strip(), flags=re.I)


def wiki_text(text: str) -> str:
    """``text`` without the wiki's templates and category, file and user links."""
    previous = None
    while previous != text:  # innermost templates first, so nested ones go too
        previous, text = text, _TEMPLATE.sub(_template_text, text)
    return _WIKI_LINK.sub(_link_text, text)


def rosetta_description(body: str, languages: Iterable[str]) -> str:
    """The task text of a page: everything before the first heading that names a language of
    the page's solutions (``## Ada``, or the wiki's ``=={{header|Ada}}==``), with ``@/`` site
    links reduced to their text and the wiki's markup taken out (`wiki_text`)."""
    keys = {_heading_key(lang) for lang in languages}
    keep = []
    for line in body.splitlines():
        m = re.match(r"^#{1,3}\s+(.+?)\s*$", line)
        if (m and _heading_key(m.group(1)) in keys) or _WIKI_SOLUTION.match(line):
            break
        keep.append(line)
    text = wiki_text(re.sub(r"\[([^\]]+)\]\(@/[^)]*\)", r"\1", "\n".join(keep)))
    text = re.sub(r"[ \t]+$", "", text, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def rosetta_candidates(pages: Iterable[tuple[str, str]]) -> Iterator[Candidate]:
    """``pages``: (path, text) of ``content/tasks/*.md`` and ``content/tasks/*/index.md``.

    Only pages that Rosetta Code marks as a task (category ``task``) are read; the task's title
    and description are the prompt.
    """
    for path, text in pages:
        m = _FRONT_MATTER.match(text)
        if not m:
            continue
        meta = tomllib.loads(m.group(1))
        categories = meta.get("taxonomies", {}).get("categories", [])
        if "task" not in categories:
            continue
        description = rosetta_description(text[m.end():], meta.get("taxonomies", {}).get("languages", []))
        description = re.sub(r"^## Description\s*", "", description)
        if len(description) < 40:
            continue
        basic = sorted(set(categories) & ROSETTA_STANDARD_CATEGORIES)
        tier = "standard" if basic else "complex"
        label = basic[0] if basic else next((c for c in categories if c != "task"), "uncategorised")
        yield Candidate(path, f"{meta.get('title', '').strip()}\n\n{description}", tier, label)


# --- Codeforces problem statements (a Hydro-format scrape) ------------------------------------

# Only contests numbered below 1548 are read (before July 2021): later Codeforces problems are
# where CodeContests' validation and test splits (AlphaCode) and LiveCodeBench draw from.
CODEFORCES_LAST_CONTEST = 1547


def _codeforces_meta(yaml_text: str) -> tuple[int, str, str, str | None]:
    """(contest, problem index, title, rating) from a ``problem.yaml`` (flat keys, a tag list)."""
    pid = re.search(r"^pid:\s*P(\d+)(\w+)\s*$", yaml_text, re.M)
    title = re.search(r"^title:\s*(.+?)\s*$", yaml_text, re.M)
    rating = re.search(r"^\s*-\s*'\*(\d+)'\s*$", yaml_text, re.M)
    if not (pid and title):
        return 0, "", "", None
    name = title.group(1)
    if name[:1] in "'\"" and name[-1:] == name[:1]:
        name = name[1:-1]
    return int(pid.group(1)), pid.group(2), name, rating.group(1) if rating else None


def codeforces_prompt(title: str, markdown: str) -> str:
    """Title, statement, the first sample and the note, as a contestant reads them."""
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", markdown, re.S | re.M))
    statement = html_text(sections.get("Description", ""))
    if not statement:
        return ""
    parts = [f"{title}\n\n{statement}"]
    samples = re.findall(r"^```(input|output)\d*[^\n]*\n(.*?)^```", markdown, re.S | re.M)
    inputs = [s for kind, s in samples if kind == "input"]
    outputs = [s for kind, s in samples if kind == "output"]
    if inputs and outputs:
        parts.append(f"Example input:\n{inputs[0].rstrip()}\n\nExample output:\n{outputs[0].rstrip()}")
    note = html_text(sections.get("Note", ""))
    if note:
        parts.append(f"Note:\n{note}")
    return "\n\n".join(parts)


def codeforces_candidates(problems: Iterable[tuple[str, str, str]]) -> Iterator[Candidate]:
    """``problems``: (folder, ``problem.yaml`` text, ``problem.md`` text).

    Every rated problem is *complex*: a correct algorithmic program from a statement, with
    Codeforces' own rating as the category. Unrated (gym, April Fools) problems are left out.
    """
    for folder, yaml_text, markdown in problems:
        contest, index, title, rating = _codeforces_meta(yaml_text)
        if rating is None or not 0 < contest <= CODEFORCES_LAST_CONTEST:
            continue
        prompt = codeforces_prompt(title, markdown)
        if prompt:
            yield Candidate(f"{contest}{index}", prompt, "complex", f"rating/{rating}")


# --- Exercism's Python track, practice exercises ------------------------------------------------

# The track's own difficulty (1-10, config.json). Every practice exercise, difficulty 1 included
# (leap years, ISBN checks, Armstrong numbers, a rotational cipher), asks for a program written
# from a description: *complex*, as LeetCode's Easy problems are, and as the public evidence puts
# it (docs/tiers.md: small-function benchmarks at this level show some of the largest gaps
# between model sizes). Difficulty 1 used to be *standard* ("a textbook snippet"); that was
# inconsistent with the LeetCode rule, and was changed after seeing held-out figures (said in
# rules/recommended.toml's header). Difficulties at or below this one are standard: none.
EXERCISM_STANDARD_DIFFICULTY = 0


def exercism_candidates(exercises: Iterable[dict], docs: dict[str, dict[str, str]]) -> Iterator[Candidate]:
    """``exercises``: ``config.json``'s ``exercises.practice`` entries; ``docs``: slug ->
    {"introduction": …, "instructions": …, "stub": (file name, text)} read from the exercise's
    folder. Deprecated exercises are left out.

    Prompt = the language-neutral introduction and instructions, and the starter file.
    """
    for ex in exercises:
        slug = ex.get("slug", "")
        doc = docs.get(slug)
        if ex.get("status") == "deprecated" or not doc or not doc.get("instructions", "").strip():
            continue
        difficulty = int(ex.get("difficulty", 0))
        tier = "standard" if difficulty <= EXERCISM_STANDARD_DIFFICULTY else "complex"
        text = "\n\n".join(doc[k].strip() for k in ("introduction", "instructions") if doc.get(k, "").strip())
        name, stub = doc.get("stub", ("", ""))
        if stub.strip():
            text += f"\n\n{name}:\n```python\n{stub.strip()}\n```"
        yield Candidate(slug, text, tier, f"difficulty/{difficulty}")
