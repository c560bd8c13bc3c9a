"""What every command shares: finding the rule file, loading it, reporting and exit codes.

Exit codes: 0 ok, 1 policy or test failures (or a failed call), 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

from ..boundary import InvalidInput, check, decode_text, read_json, repair_note
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


def whole_number(minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer within bounds, or a usage error (exit 2) that says which."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a number {bound}")
        return value
    parse.__name__ = "whole number"
    return parse


def number(minimum: float, maximum: float | None = None, *, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number within bounds (`above`: strictly greater than `minimum`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        low_ok = value > minimum if above else value >= minimum
        if not math.isfinite(value) or not low_ok or (maximum is not None and value > maximum):
            low = f"above {minimum:g}" if above else f"at least {minimum:g}"
            bound = f"{low} and at most {maximum:g}" if maximum is not None else low
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a number {bound}")
        return value
    parse.__name__ = "number"
    return parse


PORT = whole_number(0, 65535)


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
    """A JSON option's value, checked by the request boundary (errors name the option)."""
    if value is None:
        return None
    try:
        parsed = read_json(value, option)
        check(parsed, option)  # refusals name the option; text repairs are reported where the value is used
    except InvalidInput as exc:
        usage_error(str(exc))
    return parsed


def read_prompt(positional: str | None) -> str:
    """The prompt from the command line, or from standard input when none is given.

    Bytes that are not UTF-8 (in the argument or on standard input) are kept as lone surrogates
    for the request boundary to repair, and `note_repairs` says so.
    """
    if positional is not None:
        return positional
    if sys.stdin is None or sys.stdin.isatty():
        usage_error("give a PROMPT argument or pipe the prompt on standard input")
    return decode_text(sys.stdin.buffer.read()) if hasattr(sys.stdin, "buffer") else sys.stdin.read()


def note_repairs(repaired: tuple[str, ...]) -> None:
    """Say on stderr which fields had text that was not valid Unicode (repaired to U+FFFD)."""
    if repaired:
        print(f"rulerouter: note: {repair_note(repaired)}", file=sys.stderr)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))
