"""What every command shares: finding the rule file, loading it, reporting and exit codes.

Exit codes: 0 ok, 1 policy or test failures (or a failed call), 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from ..errors import PolicyError
from ..policy.diagnostics import format_text
from ..router import Router

DEFAULT_RULES = Path("rules") / "default.toml"
RULES_ENV = "RULEROUTER_RULES"

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Exit(Exception):
    """Stop the command with this exit code after printing `message` (if any) to stderr."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or "")
        self.code = code
        self.message = message


def usage_error(message: str) -> NoReturn:
    raise Exit(EXIT_USAGE, f"rulerouter: {message}")


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help=f"rule file (default: ${RULES_ENV}, else {DEFAULT_RULES})",
    )


def config_path(args: argparse.Namespace) -> Path:
    if getattr(args, "config", None):
        return Path(args.config)
    from_env = os.environ.get(RULES_ENV)
    if from_env:
        return Path(from_env)
    if DEFAULT_RULES.exists():
        return DEFAULT_RULES
    usage_error(f"no rule file: pass -c FILE or set {RULES_ENV} (looked for {DEFAULT_RULES})")


def load_router(args: argparse.Namespace) -> Router:
    path = config_path(args)
    try:
        router = Router.from_file(path)
    except PolicyError as exc:
        raise Exit(EXIT_FAILED, format_text(exc.diagnostics)) from None
    return router


def parse_json_arg(value: str | None, option: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        usage_error(f"{option} is not valid JSON: {exc.msg} at column {exc.colno}")


def read_prompt(positional: str | None) -> str:
    """The prompt from the command line, or from standard input when none is given."""
    if positional is not None:
        return positional
    if sys.stdin is None or sys.stdin.isatty():
        usage_error("give a PROMPT argument or pipe the prompt on standard input")
    return sys.stdin.read()


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))
