"""`rulerouter chat`: one request, routed and called (`batch` runs a file of them: cli/batch.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..execute.result import ExecutionError, Result
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    add_config_arg,
    load_router,
    note_repairs,
    MAX_TOKENS,
    PARAMS,
    json_value,
    print_json,
    read_prompt,
)


def _verify_flag(args: argparse.Namespace) -> bool | None:
    return {"on": True, "off": False}.get(args.verify)


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params = dict(args.params or {})
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    return params


def _routing_lines(result: Result) -> list[str]:
    cost = "unknown (a model has no price or reported no usage)" if result.cost is None else f"${result.cost:.6f}"
    lines = [
        f"tier: {result.tier}   model: {result.model_used}   rule: {result.rule or '(default)'}   attempt: {result.attempt}",
        f"tokens: {result.usage.prompt_tokens} in / {result.usage.completion_tokens} out   cost: {cost}   latency: {result.latency_s * 1000:.0f} ms",
    ]
    if result.judge_score is not None or result.escalation_reason:
        lines.append(f"verification: score {result.judge_score}; {result.escalation_reason or 'kept'}")
    if len(result.attempts) > 1:
        lines.append("attempts:")
        lines += [f"  {i}. {a.describe()}" for i, a in enumerate(result.attempts, 1)]
    return lines


def cmd_chat(args: argparse.Namespace) -> int:
    router = load_router(args)
    prompt = read_prompt(args.prompt)
    kwargs = dict(system_prompt=args.system, metadata=args.metadata, tier=args.tier, model=args.model, **_params(args))
    try:
        if args.stream:
            stream = router.stream(prompt, **kwargs)
            for chunk in stream:
                sys.stdout.write(chunk.text)
                sys.stdout.flush()
            print()
            result = stream.result
        else:
            result = router.complete(prompt, verify=_verify_flag(args), **kwargs)
    except ExecutionError as exc:
        print(f"rulerouter: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        router.close()
    assert result is not None
    note_repairs(result.repaired)
    if args.json:
        print_json(result.to_dict())
        return EXIT_OK
    if not args.stream:
        print(result.content if result.content is not None else "(no text: the model answered with tool calls)")
    print("---", file=sys.stderr)
    for line in _routing_lines(result):
        print(line, file=sys.stderr)
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    chat = commands.add_parser("chat", help="route one prompt, call the model, print the answer and how it was routed")
    chat.add_argument("prompt", nargs="?", metavar="PROMPT", help="the prompt (default: read standard input)")
    add_config_arg(chat)
    chat.add_argument("--system", metavar="TEXT", help="a system prompt")
    chat.add_argument("--metadata", type=json_value("--metadata"), metavar="JSON", help="routing metadata, a JSON object")
    chat.add_argument("--tier", help="skip the rules: use this tier")
    chat.add_argument("--model", help="skip the rules: use this model (with its fallbacks)")
    chat.add_argument("--verify", choices=("policy", "on", "off"), default="policy", help="quality verification (default: as the policy says)")
    chat.add_argument("--max-tokens", type=MAX_TOKENS, metavar="N")
    chat.add_argument("--params", type=PARAMS, metavar="JSON", help="more request parameters, e.g. '{\"temperature\": 0.2}'")
    chat.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    chat.add_argument("--json", action="store_true", help="print the whole result as JSON")
    chat.set_defaults(handler=cmd_chat)
