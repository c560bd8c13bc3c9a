"""README.md and docs/ say what the code does: every example runs, every link and name resolves.

How each kind of block is run, and the two markers a page may use, are described in
`tests/docs_examples.py`.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from .conftest import ROOT
from .docs_examples import Page, blocks, is_usage, pages, prose, subcommands, usage_entries

PAGES = pages()
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
PATH_NAME = re.compile(r"`((?:rulerouter|tests|bench|rules|schemas|docs)/[\w./-]*)`")
DOTTED_NAME = re.compile(r"`(rulerouter(?:\.\w+)+)(?:\(\))?`")


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_example_runs(page: Path, tmp_path: Path) -> None:
    runner = Page(page, tmp_path)
    try:
        for block in blocks(page):
            runner.run(block)
    finally:
        left = runner.close()
    assert not left, "\n".join(left)


def test_pages_exist_and_carry_examples() -> None:
    assert INDEX.exists()
    runnable = {page_id(p): sum(1 for b in blocks(p) if not b.marker or b.marker[0] != "not-run") for p in PAGES}
    assert runnable["README.md"] >= 8
    assert len(PAGES) >= 12


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(prose(page)):
        base = slug(heading)
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def links(page: Path) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", prose(page))  # code spans are not links
    return LINK.findall(text)


def test_every_link_and_anchor_resolves() -> None:
    broken: list[str] = []
    for page in PAGES:
        for target in links(page):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: — not checked offline
                continue
            path, _, anchor = target.partition("#")
            destination = (page.parent / path).resolve() if path else page
            if not destination.exists():
                broken.append(f"{page_id(page)}: {target}: no such file")
            elif anchor and (destination.suffix != ".md" or anchor not in anchors(destination)):
                broken.append(f"{page_id(page)}: {target}: no heading with that anchor")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_reachable_from_the_index() -> None:
    linked = {(INDEX.parent / target.partition("#")[0]).resolve() for target in links(INDEX)}
    unlisted = [page_id(p) for p in sorted(DOCS.glob("*.md")) if p != INDEX and p.resolve() not in linked]
    assert not unlisted, f"add these pages to docs/README.md: {unlisted}"
    readme = {(ROOT / target.partition("#")[0]).resolve() for target in links(ROOT / "README.md")}
    assert INDEX.resolve() in readme, "README.md must link the docs index"


def test_readme_is_a_front_door_and_pages_read_in_one_sitting() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250, "README.md is the front door: move reference material to docs/"
    long = [f"{page_id(p)}: {n} lines" for p in DOCS.glob("*.md") if (n := len(p.read_text().splitlines())) > 300]
    assert not long, f"split these pages by topic: {long}"


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                value = getattr(value, name)
        except AttributeError:
            return False
        return True
    return False


def test_every_path_and_name_the_pages_give_exists() -> None:
    missing: list[str] = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        missing += [f"{page_id(page)}: {path}" for path in PATH_NAME.findall(text) if not (ROOT / path).exists()]
        missing += [f"{page_id(page)}: {name}" for name in DOTTED_NAME.findall(text) if not resolves(name)]
    assert not missing, "\n".join(missing)


def test_the_cli_page_shows_every_command() -> None:
    shown = {entry.split()[1] for block in blocks(DOCS / "cli.md") if is_usage(block) for entry in usage_entries(block)}
    assert shown == set(subcommands()), f"docs/cli.md's usage block misses {sorted(set(subcommands()) - shown)}"


def test_the_stages_of_the_architecture_page_are_the_layering_tests() -> None:
    from .test_layers import STAGES

    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    packages = [name for name in STAGES if not name.startswith("_")]
    absent = [name for name in packages if f"`{name}" not in text]
    assert not absent, f"docs/architecture.md does not name {absent}"



def first_cells(page: Path, header: str) -> set[str]:
    """The first cell of every row of the table on `page` whose header row starts with `header`."""
    cells: set[str] = set()
    inside = False
    for line in prose(page).splitlines():
        if line.startswith(f"| {header} |"):
            inside = True
        elif inside and line.startswith("|"):
            cell = line.split("|")[1].strip().strip("`")
            if cell and not set(cell) <= {"-", " "}:
                cells.add(cell)
        else:
            inside = False
    return cells


def test_reference_tables_list_every_lint_code_and_signal() -> None:
    from rulerouter.policy.diagnostics import CODES
    from rulerouter.policy.vocabulary import SIGNALS

    assert first_cells(DOCS / "rule-file.md", "code") == set(CODES), "docs/rule-file.md's lint table and CODES differ"
    assert first_cells(DOCS / "conditions-and-signals.md", "signal") == set(SIGNALS), "the signal table and SIGNALS differ"


def test_the_reference_table_names_every_key_of_every_table() -> None:
    from rulerouter.policy import schema
    from rulerouter.policy.limits import Budget, RateLimit, State

    sections = {"providers": schema.Provider, "models": schema.Model, "rules": schema.Rule, "scores": schema.Score,
                "retry": schema.Retry, "circuit_breaker": schema.CircuitBreaker, "verification": schema.Verification,
                "log": schema.Log, "budgets": Budget, "rate_limits": RateLimit, "state": State, "classifiers": schema.Classifier}
    rows = {re.sub(r"[\[\]`]|\.NAME", "", line.split("|")[1].strip()): line
            for line in (DOCS / "rule-file.md").read_text(encoding="utf-8").splitlines() if line.startswith("| `[")}
    missing = [f"[{section}] {name}" for section, model in sections.items()
               for name, info in model.model_fields.items()
               if not re.search(rf"[`\s,(]{re.escape(info.alias or name)}(?!\w)", rows.get(section, ""))]
    missing += [f"[{name}]" for name in schema.Policy.model_fields if name not in rows and name not in ("schema_version", "default_tier")]
    assert not missing, f"docs/rule-file.md's reference table leaves out {missing}"


def test_the_failure_table_gives_every_error_kind() -> None:
    from rulerouter.execute.result import ERROR_KINDS

    text = (DOCS / "calling-models.md").read_text(encoding="utf-8")
    assert not [kind for kind in ERROR_KINDS if f"`{kind}`" not in text], "docs/calling-models.md leaves out an error kind"
