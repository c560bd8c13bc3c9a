"""`when.spend`: a rule that tests how much of a budget is used, decided from spend given as input."""

from __future__ import annotations

from pathlib import Path

import pytest

from rulerouter import Router
from rulerouter.cli import main
from rulerouter.quality.policy_tests import run_test_file

POLICY = """
schema_version = 1
default_tier = "standard"

[tiers]
standard = "mid"
bulk = "cheap"

[providers.p]
base_url = "http://127.0.0.1:9/v1"

[models.mid]
price = { input_per_mtok = 1.0, output_per_mtok = 4.0 }

[models.cheap]
price = { input_per_mtok = 0.1, output_per_mtok = 0.4 }

[[budgets]]
name = "team-daily"
limit_usd = 50.0
window = "day"
per = "$.team"

[[rules]]
name = "team-nearly-spent"
when.all = [{ spend = { budget = "team-daily", gte = 0.8 } }, { keywords.none = ["urgent"] }]
tier = "bulk"
"""


@pytest.fixture
def router() -> Router:
    return Router.from_toml(POLICY)


def test_past_the_fraction_standard_goes_to_bulk(router: Router) -> None:
    assert router.decide("summarise this", spend={"team-daily": 0.85}).tier == "bulk"
    assert router.decide("summarise this", spend={"team-daily": 0.8}).tier == "bulk"
    assert router.decide("summarise this", spend={"team-daily": 0.79}).tier == "standard"
    assert router.decide("urgent: summarise this", spend={"team-daily": 0.95}).tier == "standard"


def test_no_spend_given_counts_as_nothing_spent(router: Router) -> None:
    decision = router.decide("summarise this")
    assert decision.tier == "standard" and decision.is_default
    assert router.compiled.spend_budgets == {"team-daily"}


def test_the_explanation_shows_the_spend_seen(router: Router) -> None:
    decision = router.decide("summarise this", spend={"team-daily": 0.85})
    assert "spend of budget 'team-daily' = 85.0% used; >= 0.8 holds" in decision.explanation
    trace = router.trace("summarise this")
    assert "spend of budget 'team-daily' = 0% (no spend given); >= 0.8 does not hold" in trace[0].detail


def test_route_takes_the_spend_as_an_argument(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.toml"
    path.write_text(POLICY)
    assert main(["route", "-c", str(path), "--explain", "--spend", "team-daily=0.9", "summarise this"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "tier:  bulk"
    assert "spend: team-daily 90.0% (of each budget's limit; --spend NAME=FRACTION, default 0)" in out
    assert main(["route", "-c", str(path), "summarise this"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "tier:  standard"


@pytest.mark.parametrize(("arg", "fragment"), [
    ("nope=0.5", "no budget named 'nope' (budgets: team-daily)"),
    ("team-daily=lots", "give NAME=FRACTION"),
    ("team-daily=-1", "0 or more"),
    ("team-daily=nan", "0 or more"),
])
def test_bad_spend_arguments_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], arg: str, fragment: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(POLICY)
    assert main(["route", "-c", str(path), "--spend", arg, "x"]) == 2
    assert fragment in capsys.readouterr().err


def test_policy_tests_can_set_the_spend(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(POLICY)
    (tmp_path / "p.test.toml").write_text(
        '[[cases]]\nprompt = "summarise this"\nspend = { team-daily = 0.9 }\nexpect = { tier = "bulk", rule = "team-nearly-spent" }\n'
        '[[cases]]\nprompt = "summarise this"\nspend = { team-daily = 0 }\nexpect = { tier = "standard", default = true }\n'
        '[[cases]]\nprompt = "summarise this"\nexpect = { tier = "bulk" }\n'
    )
    result = run_test_file(tmp_path / "p.test.toml")
    assert [c.passed for c in result.cases] == [True, True, False]
    assert result.cases[2].problems[0] == "expected tier 'bulk', got tier 'standard' by default"


def test_a_policy_test_naming_an_unknown_budget_fails(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(POLICY)
    (tmp_path / "p.test.toml").write_text('[[cases]]\nprompt = "x"\nspend = { team-dialy = 0.9 }\nexpect = { tier = "standard" }\n')
    case = run_test_file(tmp_path / "p.test.toml").cases[0]
    assert not case.passed and case.problems[0] == "spend names unknown budget 'team-dialy' (budgets: team-daily)"


def test_a_narrower_spend_rule_after_a_broader_one_is_shadowed() -> None:
    text = POLICY + '\n[[rules]]\nname = "later"\nwhen.all = [{ spend = { budget = "team-daily", gte = 0.9 } }, { keywords.none = ["urgent"] }]\ntier = "bulk"\n'
    from rulerouter import check_text

    codes = [d.code for d in check_text(text).diagnostics]
    assert codes == ["RR302"]


def test_a_downgrade_budget_with_errors_of_its_own_is_still_linted() -> None:
    from rulerouter import check_text

    text = POLICY + '\n[[budgets]]\nname = 5\nlimit_usd = 1.0\nwindow = "day"\non_exceeded = "downgrade"\ndowngrade_to = "standard"\n'
    codes = sorted(d.code for d in check_text(text).diagnostics)
    assert codes == ["RR102", "RR504"]  # found by the fuzzer: the unnamed budget once crashed lint
