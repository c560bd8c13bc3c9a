"""Commands that work on rule files without calling any model: lint, route, test, schema, init."""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

from ..policy.diagnostics import format_json, format_text, has_errors
from ..policy.json_schema import policy_schema
from ..policy.load import check_file
from ..quality.policy_tests import check_test_file, is_test_file, policy_tests_for, run_test_file
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    Exit,
    add_config_arg,
    config_path,
    load_router,
    note_repairs,
    REQUEST,
    json_value,
    number,
    print_json,
    read_prompt,
    usage_error,
)


def cmd_lint(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.files] or [config_path(args)]
    diagnostics = []
    for path in paths:
        diagnostics.extend(check_test_file(path) if is_test_file(path) else check_file(path).diagnostics)
    if args.format == "json":
        print(format_json(diagnostics))
    elif diagnostics:
        print(format_text(diagnostics))
    failed = has_errors(diagnostics) or (args.strict and bool(diagnostics))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_route(args: argparse.Namespace) -> int:
    router = load_router(args)
    prompt = read_prompt(args.prompt)
    spend = _spend_arg(args.spend, router)
    kwargs = {"system_prompt": args.system, "metadata": args.metadata, "request": args.request, "spend": spend}
    decision = router.decide(prompt, **kwargs)
    note_repairs(decision.repaired)
    trace = router.trace(prompt, **kwargs) if args.explain else []
    if args.json:
        out = decision.to_dict()
        if spend:
            out["spend"] = spend
        if args.explain:
            out["trace"] = [
                {"rule": t.rule, "matched": t.matched, "tier": t.tier, "detail": t.detail} for t in trace
            ]
        print_json(out)
        return EXIT_OK
    print(f"tier:  {decision.tier}")
    print(f"model: {decision.model}")
    print(f"rule:  {decision.rule or '(none: default tier)'}")
    print(f"why:   {decision.explanation}")
    if args.explain:
        if router.compiled.spend_budgets or spend:
            seen = ", ".join(f"{name} {spend.get(name, 0.0):.1%}" for name in sorted(router.compiled.spend_budgets | set(spend)))
            print(f"spend: {seen} (of each budget's limit; --spend NAME=FRACTION, default 0)")
        print("rules tried, in order:")
        width = max((len(t.rule) for t in trace), default=0)
        for position, step in enumerate(trace, 1):
            verdict = f"MATCH -> {step.tier}" if step.matched else "no"
            print(f"  {position:>2}. {step.rule:<{width}}  {verdict:<18} {step.detail}")
        if not trace or not trace[-1].matched:
            print(f"  no rule matched -> default tier '{decision.tier}'")
    return EXIT_OK


_FRACTION_USED = number(0)


def spend_item(text: str) -> tuple[str, float]:
    """An argparse type: `NAME=FRACTION`, the fraction a finite number, 0 or more."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=FRACTION, such as team-daily=0.85")
    try:
        return name, _FRACTION_USED(value)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=FRACTION, the fraction used a finite number, 0 or more ({exc})") from None


spend_item.kind = "spend"  # type: ignore[attr-defined]


def _spend_arg(items: list[tuple[str, float]] | None, router: object) -> dict[str, float]:
    """`--spend team-daily=0.85` (repeatable) → {"team-daily": 0.85}, each name a budget of the file."""
    budgets = {b.name for b in router.policy.budgets}  # type: ignore[attr-defined]
    for name, fraction in items or ():
        if name not in budgets:
            usage_error(f"--spend {name}={fraction:g}: no budget named {name!r} (budgets: {', '.join(sorted(budgets)) or 'none'})")
    return dict(items or ())


def _test_files(args: argparse.Namespace) -> list[Path]:
    if not args.files:
        return [policy_tests_for(config_path(args))]
    files = []
    for name in args.files:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(path.glob("*.test.toml")))
        elif is_test_file(path):
            files.append(path)
        else:
            files.append(policy_tests_for(path))
    return files


def cmd_test(args: argparse.Namespace) -> int:
    passed = failed = 0
    for path in _test_files(args):
        result = run_test_file(path)
        if result.diagnostics:
            print(format_text(result.diagnostics))
        for case in result.cases:
            if case.passed and args.verbose:
                print(f"{result.path}:{case.line}: PASS {case.name}")
            elif not case.passed:
                print(f"{result.path}:{case.line}: FAIL {case.name}")
                for problem in case.problems:
                    print(f"    {problem}")
        passed += result.passed
        failed += result.failed
    print(f"{passed} passed, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(policy_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.path)
    if target.exists():
        raise Exit(2, f"rulerouter: {target} already exists; not overwriting it (remove it or pick another path)")
    starter = resources.files("rulerouter").joinpath("templates/starter.toml").read_text(encoding="utf-8")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as handle:
            handle.write(starter)
    except OSError as exc:
        raise Exit(2, f"rulerouter: cannot write {target}: {exc.strerror or exc}") from None
    print(f"wrote {target}; check it with: rulerouter lint {target}")
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    lint = commands.add_parser("lint", help="check rule files and report every problem")
    lint.add_argument("files", nargs="*", metavar="FILE", help="rule files (default: the -c file)")
    add_config_arg(lint)
    lint.add_argument("--format", choices=("text", "json"), default="text")
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    lint.set_defaults(handler=cmd_lint)

    route = commands.add_parser("route", help="decide where a prompt goes, without calling any model")
    route.add_argument("prompt", nargs="?", metavar="PROMPT", help="the prompt (default: read standard input)")
    add_config_arg(route)
    route.add_argument("--metadata", type=json_value("--metadata"), metavar="JSON", help="routing metadata, a JSON object")
    route.add_argument("--request", type=REQUEST, metavar="JSON", help="a chat-completions request body, for request conditions")
    route.add_argument("--system", metavar="TEXT", help="a system prompt")
    route.add_argument("--spend", action="append", type=spend_item, metavar="NAME=FRACTION",
                       help="the fraction of a budget used, for when.spend conditions (repeatable; default 0)")
    route.add_argument("--explain", action="store_true", help="show every rule tried and why it did or did not match")
    route.add_argument("--json", action="store_true", help="print the decision as JSON")
    route.set_defaults(handler=cmd_route)

    test = commands.add_parser("test", help="run policy tests (*.test.toml)")
    test.add_argument("files", nargs="*", metavar="FILE", help="test files, policies (their .test.toml) or directories")
    add_config_arg(test)
    test.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    test.set_defaults(handler=cmd_test)

    schema = commands.add_parser("schema", help="print the JSON Schema of rule files (for editors)")
    schema.set_defaults(handler=cmd_schema)

    init = commands.add_parser("init", help="write a commented starter policy")
    init.add_argument("path", nargs="?", default="rulerouter.toml", metavar="PATH")
    init.set_defaults(handler=cmd_init)
