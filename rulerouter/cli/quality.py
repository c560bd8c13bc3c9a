"""Commands that measure and fit routing quality: eval and tune on labelled requests, and
signals, which shows what the signals of one prompt are.

The work happens in `rulerouter.quality.evaluate` and `rulerouter.quality.tune`; this module reads arguments
and files, prints text or JSON, and maps problems to exit codes (1: the policy or a
--fail-under check failed, 2: bad arguments or a bad labelled file).
"""

from __future__ import annotations

import argparse
import tomllib
from typing import Any

from ..decide.inputs import Inputs
from ..decide.signals import signals_of
from ..errors import UsageError
from ..policy.diagnostics import format_text
from ..policy.load import check_text
from ..quality.evaluate import (
    LabelReport,
    QualityReport,
    default_strong_and_weak,
    label_report,
    quality_report,
    route_all,
)
from ..quality.groups import by_group
from ..quality.labelled_data import read_records, split_holdout
from ..quality.tune import TuneOptions, render, tune
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    Exit,
    add_config_arg,
    config_path,
    load_router,
    OUTPUT_TOKENS,
    REQUEST,
    SEED,
    number,
    numbers,
    whole_number,
    print_json,
    read_prompt,
    usage_error,
)
from .files import output_target, write_atomically

__all__ = ["register"]


def _percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def _records(args: argparse.Namespace) -> tuple[list[Any], str]:
    try:
        records = read_records(args.labelled)
        if args.holdout is None:
            return records, f"all {len(records)} records"
        kept, held = split_holdout(records, args.holdout, args.seed)
    except UsageError as exc:
        usage_error(str(exc))
    if getattr(args, "part", "held-out") == "kept":
        return kept, f"the {len(kept)} records kept for fitting (--holdout {args.holdout:g} --seed {args.seed} --part kept)"
    return held, f"the {len(held)} held-out records (--holdout {args.holdout:g} --seed {args.seed})"


def format_labels(report: LabelReport, show_errors: bool) -> list[str]:
    tiers = report.tiers
    width = max(12, *(len(t) + 2 for t in tiers))
    lines = [
        f"accuracy {_percent(report.accuracy)} ({report.correct}/{report.total})   macro-F1 {report.macro_f1:.3f}",
        "",
        "confusion (rows: expected tier, columns: routed tier)",
        " " * width + "".join(f"{t:>{width}}" for t in tiers) + f"{'recall':>{width}}",
    ]
    for expected in tiers:
        figures = report.figures[expected]
        if not figures.expected and not figures.routed:
            continue
        row = "".join(f"{report.matrix[expected][t]:>{width}}" for t in tiers)
        lines.append(f"{expected:<{width}}{row}{_percent(figures.recall):>{width}}")
    lines.append(f"{'precision':<{width}}" + "".join(f"{_percent(report.figures[t].precision):>{width}}" for t in tiers))
    lines.append(f"{'routed share':<{width}}" + "".join(f"{_percent(report.share(t)):>{width}}" for t in tiers))
    if report.errors_by_rule:
        lines += ["", "errors by rule (the rule that decided each misrouted request)"]
        rule_width = max(len(e.rule) for e in report.errors_by_rule)
        for entry in report.errors_by_rule:
            cells = ", ".join(f"{a}→{b} {n}" for (a, b), n in sorted(entry.cells.items(), key=lambda c: (-c[1], c[0])))
            example = "" if show_errors else f"   e.g. {', '.join(entry.ids[:3])}"
            lines.append(f"  {entry.rule:<{rule_width}} {entry.count:>4}   {cells}{example}")
    if show_errors and report.errors:
        lines += ["", "misrouted requests"]
        for r in report.errors:
            lines.append(f"  {r.record.id}: expected {r.record.expected_tier}, routed {r.tier} by {r.rule or '(default)'}")
    return lines


def format_quality(report: QualityReport) -> list[str]:
    dollars = (lambda v: "—" if v is None else f"{'-' if v < 0 else ''}${abs(v):,.4f}")
    rows = [
        ("sent to the strong tier", _percent(report.strong_share)),
        ("mean quality", f"{report.quality:.4f} (all strong {report.all_strong:.4f}, all weak {report.all_weak:.4f})"),
        ("quality as a share of all-strong", _percent(report.quality_fraction)),
        ("performance gap recovered (PGR)", _percent(report.pgr)),
        ("random router of equal quality", f"sends {_percent(report.random_share_for_equal_quality)} to the strong tier"),
        ("cost", f"{dollars(report.cost)} (all strong {dollars(report.cost_all_strong)}, all weak {dollars(report.cost_all_weak)})"),
        ("cost of that random router", dollars(report.cost_random_equal_quality)),
        ("saving against it", f"{dollars(report.saving)} ({_percent(report.saving_fraction)})"),
    ]
    lines = [f"quality scores: {report.requests} requests; strong tier '{report.strong_tier}', weak tier '{report.weak_tier}'"]
    lines += [f"  {label:<34} {value}" for label, value in rows]
    if report.note:
        lines.append(f"  note: {report.note}")
    return lines


def cmd_eval(args: argparse.Namespace) -> int:
    router = load_router(args)
    policy = router.policy
    records, which = _records(args)
    strong, weak = default_strong_and_weak(policy)
    strong, weak = args.strong or strong, args.weak or weak
    for option, tier in (("--strong", strong), ("--weak", weak)):
        if tier not in policy.tiers:
            usage_error(f"{option} names unknown tier '{tier}' (tiers: {', '.join(policy.tiers)})")
    routed = route_all(router.compiled, records)
    labels = label_report(policy, routed)
    quality = quality_report(policy, routed, strong, weak, args.output_tokens)
    if not labels.total and quality is None:
        usage_error("no record has an expected_tier or quality scores")
    grouped = None
    if args.by is not None:
        try:
            grouped = by_group(policy, routed, args.by, strong, weak, args.output_tokens)
        except UsageError as exc:
            usage_error(str(exc))
    if args.format == "json":
        out: dict[str, Any] = {"policy": str(config_path(args)), "labelled": args.labelled, "records": len(records)}
        if args.holdout is not None:
            out["holdout"] = {"fraction": args.holdout, "seed": args.seed}
        out["expected_tier"] = labels.to_dict() if labels.total else None
        out["quality"] = quality.to_dict() if quality is not None else None
        if grouped is not None:
            out["by"] = grouped.to_dict()
        print_json(out)
    else:
        print(f"rulerouter eval: {config_path(args)} on {which} of {args.labelled}")
        if labels.total:
            print(f"expected tiers: {labels.total} requests")
            print("\n".join(format_labels(labels, args.show_errors)))
        if quality is not None:
            if labels.total:
                print()
            print("\n".join(format_quality(quality)))
        if grouped is not None:
            print()
            heading = (f"by {args.by} (each group routed by this policy as it is; for figures on groups held out "
                       "of fitting, use tune --by or train --by)")
            print("\n".join([heading, *grouped.table(labels.tiers)]))
    if args.fail_under is not None and labels.total and labels.accuracy < args.fail_under:
        return EXIT_FAILED
    return EXIT_OK


def cmd_signals(args: argparse.Namespace) -> int:
    prompt = read_prompt(args.prompt)
    values = signals_of(Inputs(prompt, None, args.system, None, args.request), args.text).as_dict()
    if args.json:
        print_json(values)
        return EXIT_OK
    width = max(len(name) for name in values)
    for name, value in values.items():
        shown = value if isinstance(value, str) else (f"{value:.3f}" if isinstance(value, float) and not value.is_integer() else str(int(value)))
        print(f"{name:<{width}}  {shown}")
    return EXIT_OK


def cmd_tune(args: argparse.Namespace) -> int:
    source = config_path(args)
    router = load_router(args)
    output = output_target(args.output, "--output", {"-c": source, "LABELLED.jsonl": args.labelled}, parents=True)
    options = TuneOptions(folds=args.folds, seed=args.seed, lambdas=args.lambdas, penalty=args.penalty,
                          thresholds=args.thresholds, holdout=args.holdout, features=args.features, by=args.by)
    try:
        records = read_records(args.labelled)
        result = tune(router.policy, records, options, args.score or None, router.compiled.resources)
    except UsageError as exc:
        usage_error(str(exc))
    raw = tomllib.loads(source.read_text(encoding="utf-8"))
    text = render(raw, result, options, str(source), args.labelled)
    checked = check_text(text, args.output)
    if not checked.ok:  # a bug of ours: never write a file that does not load
        raise Exit(EXIT_FAILED, "rulerouter: the tuned policy does not lint clean:\n" + format_text(checked.diagnostics))
    try:
        write_atomically(output, [text], parents=True)
    except OSError as exc:
        usage_error(f"cannot write {args.output}: {exc.strerror or exc}")
    if args.format == "json":
        print_json({
            "policy": str(source), "labelled": args.labelled, "output": args.output, "lambda": result.lam,
            "cv_accuracy": {f"{lam:g}": {"mean": m, "sd": sd} for lam, (m, sd) in result.cv_accuracy.items()},
            "cross_validated": result.cv_report.to_dict(),
            "holdout": result.holdout_report.to_dict() if result.holdout_report else None,
            "by": result.by_group.to_dict() if result.by_group else None,
            "scores": {t.score: {"rule": t.rule, "tier": t.tier, "below": t.below, "requests": result.train_sizes.get(t.score),
                                 "weights": result.policy.scores[t.score].weights, "bias": result.policy.scores[t.score].bias}
                       for t in result.targets},
            "notes": result.notes,
        })
    else:
        print("\n".join(line[2:] for line in text.split("\n\n", 1)[0].splitlines()))
        print(f"\nwrote {args.output}; review it, then check it with: rulerouter eval -c {args.output} {args.labelled}")
    return EXIT_OK


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labelled", metavar="LABELLED.jsonl", help="labelled requests, one JSON object a line")
    add_config_arg(parser)
    parser.add_argument("--holdout", type=number(0, 1, above=True, below=True), metavar="FRACTION",
                        help="split off this share of each tier (by a hash of seed and id)")
    parser.add_argument("--seed", type=SEED, default=0, help="seed of the hold-out split and of tune's folds (default 0)")


def register(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval", help="measure routing quality on labelled requests")
    _add_data_args(evaluate)
    evaluate.add_argument("--part", choices=("held-out", "kept"), default="held-out",
                          help="with --holdout: evaluate the held-out share (default) or the rest")
    evaluate.add_argument("--format", choices=("text", "json"), default="text")
    evaluate.add_argument("--strong", metavar="TIER", help="quality mode: the strong tier (default: the priciest)")
    evaluate.add_argument("--weak", metavar="TIER", help="quality mode: the weak tier (default: the cheapest)")
    evaluate.add_argument("--output-tokens", type=OUTPUT_TOKENS, default=500, metavar="N",
                          help="answer length for costs when a record gives no output_tokens (default 500)")
    evaluate.add_argument("--by", metavar="FIELD",
                          help="also print the figures per group: a record field (source, category) or a JSONPath ($.metadata.client)")
    evaluate.add_argument("--show-errors", action="store_true", help="list every misrouted request")
    evaluate.add_argument("--fail-under", type=number(0, 1), metavar="ACCURACY",
                          help="exit 1 when accuracy is below this (0-1), for CI")
    evaluate.set_defaults(handler=cmd_eval)

    show = commands.add_parser("signals", help="print every signal measured on a prompt (to write rules and scores)")
    show.add_argument("prompt", nargs="?", metavar="PROMPT", help="the prompt (default: read standard input)")
    show.add_argument("--system", metavar="TEXT", help="a system prompt")
    show.add_argument("--request", type=REQUEST, metavar="JSON", help="a chat-completions request body (response_format, tools)")
    show.add_argument("--text", choices=("last_user", "all_user", "system", "all"), default="last_user",
                      help="which text to measure (default last_user)")
    show.add_argument("--json", action="store_true", help="print the signals as JSON")
    show.set_defaults(handler=cmd_signals)

    fit = commands.add_parser("tune", help="fit the weights of the policy's [scores] to labelled requests")
    _add_data_args(fit)
    fit.add_argument("-o", "--output", required=True, metavar="TUNED.toml", help="where to write the tuned policy")
    fit.add_argument("--folds", type=whole_number(2, 1000), default=5, help="cross-validation folds (default 5)")
    fit.add_argument("--by", metavar="FIELD",
                     help="validate leave-one-out by this record field or JSONPath (e.g. source) instead of random folds")
    fit.add_argument("--lambda", dest="lambdas", type=numbers(0), default=(0.001, 0.01, 0.1, 1.0), metavar="L,L,…",
                     help="penalties to choose from by cross-validation (default 0.001,0.01,0.1,1)")
    fit.add_argument("--penalty", choices=("l2", "l1"), default="l2", help="l1 zeroes weak signals (default l2)")
    fit.add_argument("--thresholds", action="store_true", help="also fit each rule's threshold (default: keep them)")
    fit.add_argument("--features", choices=("declared", "all"), default="declared",
                     help="fit the signals each score declares, or every signal (default declared)")
    fit.add_argument("--score", action="append", metavar="NAME", help="fit only this score (repeatable)")
    fit.add_argument("--format", choices=("text", "json"), default="text")
    fit.set_defaults(handler=cmd_tune)
