"""docs/budgets.md and docs/deployment.md: their Python runs, their TOML parses, their links lead somewhere."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, timezone

import pytest

from rulerouter import Policy
from rulerouter.policy.limits import Budget, RateLimit, State

from .conftest import ROOT

PAGES = [ROOT / "docs" / "budgets.md", ROOT / "docs" / "deployment.md"]


def blocks(kind: str) -> list[str]:
    return [b for page in PAGES for b in re.findall(rf"```{kind}\n(.*?)```", page.read_text(), re.S)]


def test_the_python_example_prints_what_the_page_says(capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = blocks("python")
    exec(code, {})
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert capsys.readouterr().out == f"team-daily search $0.004 of $0.005 {day}\n"


@pytest.mark.parametrize("text", blocks("toml"))
def test_every_toml_example_is_valid(text: str) -> None:
    data = tomllib.loads(text)
    for budget in data.get("budgets", []):
        Budget.model_validate(budget)
    for limit in data.get("rate_limits", []):
        RateLimit.model_validate(limit)
    if "state" in data:
        State.model_validate(data["state"])
    assert set(data) <= set(Policy.model_fields), set(data)


def test_links_between_pages_resolve() -> None:
    for page in PAGES + [ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
