"""Commands that call models: chat (one request) and batch (a JSONL file of them)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ..errors import RuleRouterError
from ..execute.result import ExecutionError, Result
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    Exit,
    add_config_arg,
    load_router,
    note_repairs,
    parse_json_arg,
    print_json,
    read_prompt,
    usage_error,
)


def _verify_flag(args: argparse.Namespace) -> bool | None:
    return {"on": True, "off": False}.get(args.verify)


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params = parse_json_arg(args.params, "--params") or {}
    if not isinstance(params, dict):
        usage_error("--params must be a JSON object, e.g. '{\"temperature\": 0.2}'")
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
    metadata = parse_json_arg(args.metadata, "--metadata")
    kwargs = dict(system_prompt=args.system, metadata=metadata, tier=args.tier, model=args.model, **_params(args))
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


# ---- batch --------------------------------------------------------------------------------------


class Progress:
    """How far a batch has got, on stderr: tqdm's bar on a terminal, a line every 10 % elsewhere.

    On a terminal, tqdm redraws at most ten times a second, fits the terminal's width, clears
    what a shorter line leaves behind, and shows the rate and the time left. Logs and pipes get
    one plain line per tenth of the items instead of a stream of carriage returns.
    """

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr  # looked up now, not at import: stderr may be redirected
        self.done = self.ok = self.failed = 0
        self.started = time.monotonic()
        self._last_decile = -1
        self._bar: Any = None
        if self.stream.isatty():
            from tqdm import tqdm  # only a batch on a terminal needs it

            self._bar = tqdm(total=total, file=self.stream, unit="item", dynamic_ncols=True)
            self._bar.set_postfix_str(self._counts(), refresh=False)

    def _counts(self) -> str:
        return f"ok {self.ok}, failed {self.failed}"

    def update(self, ok: bool) -> None:
        self.done += 1
        self.ok += ok
        self.failed += not ok
        if self._bar is not None:
            self._bar.set_postfix_str(self._counts(), refresh=False)
            self._bar.update()
            return
        decile = self.done * 10 // max(self.total, 1)
        if decile != self._last_decile or self.done == self.total:
            self._last_decile = decile
            print(self.line(), file=self.stream)

    def line(self) -> str:
        width = 30
        filled = width * self.done // max(self.total, 1)
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}  ok {self.ok}  failed {self.failed}  {rate:.1f}/s"

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _read_done(path: Path, retry_errors: bool) -> set[str]:
    """Ids already in the output (successful ones only, with --retry-errors)."""
    done: set[str] = set()
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by an interruption: that item runs again
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                if record.get("ok") or not retry_errors:
                    done.add(record["id"])
    return done


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"


def _read_items(path: Path) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    """(id, item) for every usable input line, and an error record for every unusable one."""
    items: list[tuple[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise Exit(2, f"rulerouter: cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            fallback_id = f"line-{number}"
            try:
                item = json.loads(line)
            except ValueError as exc:
                errors.append(_error_record(fallback_id, "InputError", f"{path}:{number}: not JSON: {exc}"))
                continue
            if isinstance(item, dict):
                raw_id = item.get("id", fallback_id)
                item_id = raw_id if isinstance(raw_id, str) else json.dumps(raw_id)
            else:
                item_id = fallback_id
            if item_id in seen:
                errors.append(_error_record(f"{item_id}#line-{number}", "InputError", f"{path}:{number}: duplicate id {item_id!r}"))
                continue
            seen.add(item_id)
            items.append((item_id, item))
    return items, errors


def _error_record(item_id: str, kind: str, message: str, attempts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": item_id, "ok": False, "error": {"type": kind, "message": message, "attempts": attempts or []}}


def _record(item_id: str, outcome: Any) -> dict[str, Any]:
    if isinstance(outcome, Result):
        return {"id": item_id, "ok": True, **outcome.to_dict()}
    attempts = [a.to_dict() for a in getattr(outcome, "attempts", [])]
    message = getattr(outcome, "summary", None) or str(outcome)
    return _error_record(item_id, type(outcome).__name__, message, attempts)


def cmd_batch(args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        usage_error("--concurrency must be at least 1")
    router = load_router(args)
    output = Path(args.output)
    done = _read_done(output, args.retry_errors)
    items, bad_lines = _read_items(Path(args.input))
    todo = [(item_id, item) for item_id, item in items if item_id not in done]
    bad_lines = [record for record in bad_lines if record["id"] not in done]
    skipped = len(items) - len(todo)
    if skipped:
        print(f"resuming: {skipped} item(s) already in {output} are skipped", file=sys.stderr)
    progress = Progress(len(todo) + len(bad_lines))
    failures = 0
    try:
        out = output.open("a", encoding="utf-8")
        if output.stat().st_size and not _ends_with_newline(output):
            out.write("\n")  # an interrupted run left half a line: keep it apart from ours
    except OSError as exc:
        raise Exit(2, f"rulerouter: cannot write {output}: {exc.strerror or exc}") from None

    def write(record: dict[str, Any]) -> None:
        nonlocal failures
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
        failures += not record["ok"]
        progress.update(record["ok"])

    params = _params(args)

    async def run() -> None:
        try:
            await router.abatch(
                (item for _, item in todo),
                template=args.template,
                concurrency=args.concurrency,
                on_outcome=lambda index, _item, outcome: write(_record(todo[index][0], outcome)),
                **params,
            )
        finally:
            await router.aclose()

    with out:
        for record in bad_lines:
            write(record)
        try:
            asyncio.run(run())
        except KeyboardInterrupt:
            progress.finish()
            raise Exit(130, f"rulerouter: interrupted after {progress.done} of {progress.total}; run the same command again to resume") from None
        except RuleRouterError as exc:
            raise Exit(EXIT_FAILED, f"rulerouter: {exc}") from None
    progress.finish()
    print(f"{progress.ok} succeeded, {failures} failed, {skipped} skipped (already done); results in {output}", file=sys.stderr)
    return EXIT_FAILED if failures else EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    chat = commands.add_parser("chat", help="route one prompt, call the model, print the answer and how it was routed")
    chat.add_argument("prompt", nargs="?", metavar="PROMPT", help="the prompt (default: read standard input)")
    add_config_arg(chat)
    chat.add_argument("--system", metavar="TEXT", help="a system prompt")
    chat.add_argument("--metadata", metavar="JSON", help="routing metadata, a JSON object")
    chat.add_argument("--tier", help="skip the rules: use this tier")
    chat.add_argument("--model", help="skip the rules: use this model (with its fallbacks)")
    chat.add_argument("--verify", choices=("policy", "on", "off"), default="policy", help="quality verification (default: as the policy says)")
    chat.add_argument("--max-tokens", type=int, metavar="N")
    chat.add_argument("--params", metavar="JSON", help="more request parameters, e.g. '{\"temperature\": 0.2}'")
    chat.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    chat.add_argument("--json", action="store_true", help="print the whole result as JSON")
    chat.set_defaults(handler=cmd_chat)

    batch = commands.add_parser("batch", help="run a JSONL file of requests; resumable")
    add_config_arg(batch)
    batch.add_argument("--input", required=True, metavar="IN.jsonl",
                       help="one request per line: a JSON object with id and prompt (or messages), optional metadata, system_prompt, tier, model, params")
    batch.add_argument("--output", required=True, metavar="OUT.jsonl", help="results are appended as they complete; ids already here are skipped")
    batch.add_argument("--concurrency", type=int, default=16, metavar="N")
    batch.add_argument("--template", metavar="TEXT", help="format each item into this prompt, as {item} or {field}")
    batch.add_argument("--max-tokens", type=int, metavar="N")
    batch.add_argument("--params", metavar="JSON", help="request parameters for every item")
    batch.add_argument("--retry-errors", action="store_true", help="when resuming, run again the items that failed")
    batch.set_defaults(handler=cmd_batch)
