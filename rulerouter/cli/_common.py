"""What every command shares: finding the rule file, loading it, reporting and exit codes.

Exit codes: 0 ok, 1 policy or test failures (or a failed call), 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import string
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


# ---- argument types: every value argparse takes is checked as it is parsed --------------------
# A bad value is a usage error (exit 2, with the command's usage line), never a crash later on.
# Each type carries what it accepts (`kind`, `bounds`) so that tests/test_fuzz_cli.py can check
# every argument of every command against it.


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def whole_number(minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer within bounds, or a usage error (exit 2) that says which."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            digits = text.strip().lstrip("+-")
            if digits.isdigit():  # more digits than Python reads: far out of any range
                raise argparse.ArgumentTypeError(f"{_shown(text)} is out of range: give a number {bound}") from None
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{_shown(text)} is out of range: give a number {bound}")
        return value
    bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
    parse.__name__ = "whole number"
    parse.kind, parse.bounds = "whole number", (minimum, maximum)  # type: ignore[attr-defined]
    return parse


def number(minimum: float, maximum: float | None = None, *, above: bool = False, below: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number within bounds (`above`/`below`: strictly beyond `minimum`/`maximum`)."""
    low = f"above {minimum:g}" if above else f"at least {minimum:g}"
    high = "" if maximum is None else (f" and below {maximum:g}" if below else f" and at most {maximum:g}")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not a number") from None
        low_ok = value > minimum if above else value >= minimum
        high_ok = maximum is None or (value < maximum if below else value <= maximum)
        if not math.isfinite(value) or not low_ok or not high_ok:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is out of range: give a number {low}{high}")
        return value
    parse.__name__ = "number"
    parse.kind, parse.bounds, parse.strict = "number", (minimum, maximum), (above, below)  # type: ignore[attr-defined]
    return parse


def numbers(minimum: float) -> Callable[[str], tuple[float, ...]]:
    """An argparse type: one or more comma-separated finite numbers, each at least `minimum`."""
    one = number(minimum)

    def parse(text: str) -> tuple[float, ...]:
        parts = [part for part in text.split(",") if part.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"give one or more numbers at least {minimum:g}, comma-separated, e.g. 0.01,0.1,1")
        return tuple(one(part) for part in parts)
    parse.__name__ = "numbers"
    parse.kind, parse.bounds = "numbers", (minimum, None)  # type: ignore[attr-defined]
    return parse


def json_value(option: str, *, must_be_object: str | None = None) -> Callable[[str], Any]:
    """An argparse type: JSON text the request boundary accepts (`must_be_object`: what the
    object is, for the message when it is not one). Text repairs are reported where the value is used."""
    def parse(text: str) -> Any:
        try:
            value = read_json(text, option)
            check(value, option)
        except InvalidInput as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if must_be_object is not None and not isinstance(value, dict):
            raise argparse.ArgumentTypeError(f"{option} must be a JSON object ({must_be_object})")
        return value
    parse.__name__ = "JSON"
    parse.kind, parse.object_only = "json", must_be_object is not None  # type: ignore[attr-defined]
    return parse


_HUGE_WIDTH = re.compile(r"\d{6}")


def template(text: str) -> str:
    """An argparse type: a `str.format` template (`{item}`, `{field}`) whose syntax is sound."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a template: {exc} (write a literal brace as {{{{ or }}}})") from None
    for _, name, spec, _ in fields:
        if spec and _HUGE_WIDTH.search(spec):  # `{item:>999999999}` would build a gigabyte per item
            raise argparse.ArgumentTypeError(f"{_shown(text)}: the format of {{{name}}} asks for a width of more than 99,999 characters")
    return text


template.kind = "template"  # type: ignore[attr-defined]


PORT = whole_number(0, 65535)
MAX_TOKENS = whole_number(1, 10_000_000)
OUTPUT_TOKENS = whole_number(0, 10_000_000)
SEED = whole_number(0, 2**63 - 1)
REQUEST = json_value("--request", must_be_object="a chat-completions request body")
PARAMS = json_value("--params", must_be_object='request parameters, e.g. {"temperature": 0.2}')


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
    """A JSON option's value, checked by the request boundary (errors name the option; exit 2)."""
    if value is None:
        return None
    try:
        return json_value(option)(value)
    except argparse.ArgumentTypeError as exc:
        usage_error(str(exc))


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
