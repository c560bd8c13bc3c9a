"""`rulerouter train`: fit a classifier on labelled requests and write its model file.

The work happens in `rulerouter.quality.train`; this module reads arguments and files, prints
the held-out figures, and writes the model (exit 2 on bad arguments or a bad labelled file).
"""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ..quality.labelled_data import read_records
from ..quality.train import TrainOptions, policy_folds, train
from ._common import EXIT_OK, SEED, load_router, number, numbers, print_json, usage_error, whole_number
from .files import output_target, write_atomically

__all__ = ["register"]


def cmd_train(args: argparse.Namespace) -> int:
    output = output_target(args.output, "--output", {"LABELLED.jsonl": args.labelled, "-c": args.config}, parents=True)
    options = TrainOptions(lambdas=args.lambdas, by=args.by, min_df=args.min_df, min_groups=args.min_groups,
                           max_features=args.max_features, iterations=args.iterations, prune=args.prune, text=args.text,
                           seed=args.seed)
    route_fold, tiers, which = None, None, "the classifier's top class"
    if args.classifier is not None:
        router = load_router(args)
        tiers = list(router.policy.tiers)
        which = f"{router.path} with classifier '{args.classifier}' refitted per fold"
    try:
        records = read_records(args.labelled)
        if args.classifier is not None:
            route_fold = policy_folds(router.policy, router.compiled.resources, args.classifier)
        result = train(records, options, route_fold, tiers)
    except UsageError as exc:
        usage_error(str(exc))
    try:
        write_atomically(output, [result.model.to_json()], parents=True)
    except OSError as exc:
        usage_error(f"cannot write {args.output}: {exc.strerror or exc}")
    size = output.stat().st_size
    if args.format == "json":
        print_json({"output": args.output, "bytes": size, "features": len(result.model.weights),
                    "classes": list(result.model.classes), "lambda": result.lam,
                    "mean_macro_recall": {f"{k:g}": v for k, v in result.mean_macro_recall.items()},
                    "by": result.by_group.to_dict() if result.by_group else None})
        return EXIT_OK
    print(f"rulerouter train: {len(result.model.weights):,} features, classes {', '.join(result.model.classes)}, "
          f"λ = {result.lam:g}")
    if result.by_group is not None:
        means = ", ".join(f"λ {lam:g}: {value:.3f}" for lam, value in result.mean_macro_recall.items())
        print(f"leave-one-{args.by}-out, routed by {which} (mean macro recall {means}):")
        print("\n".join(result.by_group.table(tiers or list(result.model.classes))))
    print(f"wrote {args.output} ({size:,} bytes), fitted on all {result.model.trained.get('records')} labelled records")
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    fit = commands.add_parser("train", help="fit a text classifier on labelled requests and write its model file")
    fit.add_argument("labelled", metavar="LABELLED.jsonl", help="labelled requests, one JSON object a line")
    fit.add_argument("-o", "--output", required=True, metavar="MODEL.json", help="where to write the model file")
    fit.add_argument("--by", metavar="FIELD",
                     help="hold out one group at a time (a record field such as source, or a JSONPath) to choose λ "
                          "and report figures; features must occur in --min-groups groups")
    fit.add_argument("-c", "--config", metavar="FILE",
                     help="with --classifier: report the held-out figures of this policy routing with each fold's model")
    fit.add_argument("--classifier", metavar="NAME", help="the [classifiers.NAME] of the policy the model is for")
    fit.add_argument("--lambda", dest="lambdas", type=numbers(0), default=(1e-4, 1e-3, 1e-2), metavar="L,L,…",
                     help="L2 penalties to choose from with --by (default 0.0001,0.001,0.01; without --by the last)")
    fit.add_argument("--min-df", type=whole_number(1), default=3, help="requests a feature must occur in (default 3)")
    fit.add_argument("--min-groups", type=whole_number(1), default=2, help="with --by: groups a feature must occur in (default 2)")
    fit.add_argument("--max-features", type=whole_number(1, 10_000_000), default=20_000, help="features kept at most (default 20,000)")
    fit.add_argument("--iterations", type=whole_number(1, 1_000_000), default=300, help="optimiser steps at most (default 300)")
    fit.add_argument("--prune", type=number(0), default=0.02, metavar="W",
                     help="drop features whose largest weight is below W (default 0.02): a smaller, faster file")
    fit.add_argument("--text", choices=("last_user", "all_user", "system", "all"), default="last_user",
                     help="which text of each request to learn from (default last_user)")
    fit.add_argument("--seed", type=SEED, default=0, help="recorded in the file (the fit has no randomness)")
    fit.add_argument("--format", choices=("text", "json"), default="text")
    fit.set_defaults(handler=cmd_train)
