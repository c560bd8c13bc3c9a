"""Policy tests: requests and the decisions expected for them, kept beside the policy.

A test file (`default.test.toml` beside `default.toml`) names its policy and lists cases:

    policy = "default.toml"              # relative to this file; default: drop ".test"
    [[cases]]
    name = "article example"
    prompt = "Generate unit tests…"      # or messages = [...]; also system_prompt, metadata, request
    spend = { team-daily = 0.85 }        # optional: fractions of budgets used, for when.spend
    repeat = 1000                        # optional: the prompt repeated, space-separated
    expect = { tier = "bulk", rule = "bulk-signals" }   # also model, or default = true

`rulerouter test` runs them; so does the project's own test suite. `rulerouter lint` checks
them as test files (`check_test_file`): their shape, and that the tiers, models, rules and
budgets they expect exist in their policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from ..decide.compile import CompiledPolicy
from ..decide.inputs import Inputs
from ..errors import PolicyError
from ..policy.diagnostics import Diagnostic
from ..policy.load import check_file, load_file
from ..policy.parse import Parsed, did_you_mean, parse_document, read_source
from ..policy.schema import _Section

__all__ = ["CaseResult", "FileResult", "check_test_file", "is_test_file", "run_test_file", "policy_tests_for"]


class Expect(_Section):
    tier: str | None = None
    rule: str | None = None
    model: str | None = None
    default: bool | None = None

    @model_validator(mode="after")
    def _needs_something(self) -> Expect:
        if not self.model_fields_set:
            raise ValueError("expect at least one of tier, rule, model or default")
        return self


class Case(_Section):
    name: str | None = None
    prompt: str | None = None
    repeat: int | None = Field(default=None, ge=1, le=1_000_000)
    messages: list[dict[str, Any]] | None = None
    system_prompt: str | None = None
    metadata: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    spend: dict[str, float] | None = None  # budget name → fraction used, for when.spend
    expect: Expect


class PolicyTests(_Section):
    policy: str | None = None
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    line: int
    problems: tuple[str, ...]


@dataclass
class FileResult:
    path: str
    cases: list[CaseResult]
    diagnostics: list[Diagnostic]

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.passed)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if not c.passed) + (1 if self.diagnostics else 0)


def policy_tests_for(policy_path: Path) -> Path:
    """`rules/x.toml` → `rules/x.test.toml`."""
    return policy_path.with_name(policy_path.stem + ".test.toml")


def _policy_path(test_path: Path, declared: str | None) -> Path:
    if declared is not None:
        return test_path.parent / declared
    name = test_path.name
    if name.endswith(".test.toml"):
        return test_path.with_name(name[: -len(".test.toml")] + ".toml")
    return test_path.with_suffix(".toml")


def _check(case: Case, compiled: CompiledPolicy) -> tuple[str, ...]:
    prompt = case.prompt
    if prompt is not None and case.repeat is not None:
        prompt = " ".join([prompt] * case.repeat)
    decision = compiled.decide(Inputs(prompt, case.messages, case.system_prompt, case.metadata, case.request, spend=case.spend))
    expect = case.expect
    budgets = {b.name for b in compiled.policy.budgets}
    unknown = sorted(set(case.spend or ()) - budgets)
    if unknown:
        return (f"spend names unknown budget {', '.join(repr(u) for u in unknown)} (budgets: {', '.join(sorted(budgets)) or 'none'})",)
    got = f"got tier '{decision.tier}' by {('rule ' + repr(decision.rule)) if decision.rule else 'default'}"
    problems = []
    if expect.tier is not None and decision.tier != expect.tier:
        problems.append(f"expected tier '{expect.tier}', {got}")
    if expect.rule is not None and decision.rule != expect.rule:
        problems.append(f"expected rule '{expect.rule}', {got}")
    if expect.model is not None and decision.model != expect.model:
        problems.append(f"expected model '{expect.model}', got '{decision.model}'")
    if expect.default is not None and decision.is_default != expect.default:
        wanted = "the default tier" if expect.default else "a rule to match"
        problems.append(f"expected {wanted}, {got}")
    if problems:
        problems.append(f"why: {decision.explanation}")
    return tuple(problems)


def run_test_file(path: str | Path) -> FileResult:
    test_path = Path(path)
    text, problem = read_source(test_path)
    if text is None:
        return FileResult(str(test_path), [], [problem] if problem else [])
    parsed = parse_document(text, str(test_path), PolicyTests)
    if parsed.diagnostics or not isinstance(parsed.model, PolicyTests):
        return FileResult(str(test_path), [], parsed.diagnostics)
    tests = parsed.model
    try:
        checked = load_file(_policy_path(test_path, tests.policy))
        compiled = CompiledPolicy(checked.policy, checked.resources)
    except PolicyError as exc:
        return FileResult(str(test_path), [], exc.diagnostics)
    results = []
    for index, case in enumerate(tests.cases):
        line = parsed.at(("cases", index), prefer="key")[0]
        problems = _check(case, compiled)
        results.append(CaseResult(case.name or f"case {index + 1}", not problems, line, problems))
    return FileResult(str(test_path), results, [])


def is_test_file(path: str | Path) -> bool:
    """Policy test files are named NAME.test.toml (beside the NAME.toml they test)."""
    return Path(path).name.endswith(".test.toml")


def check_test_file(path: str | Path) -> list[Diagnostic]:
    """What lint says about a policy test file: its shape, its policy file, and every tier,
    model, rule and budget its cases name that the policy does not have. Cases are not run
    (that is `rulerouter test`); a policy with errors of its own is left to its own lint."""
    test_path = Path(path)
    text, problem = read_source(test_path)
    if text is None:
        return [problem] if problem else []
    parsed = parse_document(text, str(test_path), PolicyTests)
    if not isinstance(parsed.model, PolicyTests):
        return parsed.diagnostics
    tests = parsed.model
    policy_path = _policy_path(test_path, tests.policy)
    if not policy_path.is_file():
        where = ("policy",) if tests.policy is not None else ()
        return parsed.diagnostics + [parsed.diagnostic("RR601", f"the policy these tests are for, {policy_path}, is missing", where,
                                                        hint="name it with policy = \"FILE.toml\" (relative to this file)")]
    policy = check_file(policy_path).policy
    if policy is None:
        return parsed.diagnostics
    return parsed.diagnostics + _unknown_names(parsed, tests, policy)


def _unknown_names(parsed: Parsed, tests: PolicyTests, policy: Any) -> list[Diagnostic]:
    known = {"tier": set(policy.tiers), "model": set(policy.models) | {t.model for t in policy.tiers.values()},
             "rule": {r.name for r in policy.rules}}
    codes = {"tier": "RR201", "model": "RR202", "rule": "RR207"}
    budgets = {b.name for b in policy.budgets}
    out = []
    for index, case in enumerate(tests.cases):
        for what, names in known.items():
            name = getattr(case.expect, what)
            if name is not None and name not in names:
                out.append(parsed.diagnostic(codes[what], f"expect.{what} names unknown {what} '{name}'",
                                             ("cases", index, "expect", what), hint=did_you_mean(name, names)))
        for budget in sorted(set(case.spend or ()) - budgets):
            out.append(parsed.diagnostic("RR501", f"spend names unknown budget '{budget}'", ("cases", index, "spend", budget),
                                         prefer="key", hint=did_you_mean(budget, budgets)))
    return out
