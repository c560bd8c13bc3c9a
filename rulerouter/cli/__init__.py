"""The `rulerouter` command. Each group of subcommands lives in its own module."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .._version import __version__
from ..errors import RuleRouterError, UsageError
from . import batch, learn, policy, quality, reports, run, serve
from ._common import EXIT_FAILED, EXIT_USAGE, Exit

__all__ = ["main"]

EXIT_INTERNAL = 70


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rulerouter",
        description="Send each LLM request to the cheapest model that can handle it.",
        epilog="Exit codes: 0 ok; 1 policy errors, failed tests, calls or batch items, or a refusal of the system (disk full, "
               "permission); 2 a bad argument or unreadable input; 130 interrupted; 70 an internal error (a bug: please report it).",
    )
    parser.add_argument("--version", action="version", version=f"rulerouter {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    policy.register(commands)
    quality.register(commands)
    learn.register(commands)
    run.register(commands)
    batch.register(commands)
    reports.register(commands)
    serve.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # a bad argument (argparse printed the usage line and why: exit 2), or --help / --version
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    try:
        return int(args.handler(args))
    except Exit as stop:
        if stop.message:
            print(stop.message, file=sys.stderr)
        return stop.code
    except UsageError as exc:  # an argument the library refused (a value the request boundary cannot take)
        print(f"rulerouter: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuleRouterError as exc:
        print(f"rulerouter: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("rulerouter: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAILED
    except OSError as exc:  # what the system refused (a disk full, a permission): not a bug of ours
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rulerouter: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug of ours: say so plainly instead of dumping a traceback
        print(
            f"rulerouter: internal error ({type(exc).__name__}: {exc}); please report it with the command you ran",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
