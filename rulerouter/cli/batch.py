"""`rulerouter batch`: a JSONL file of requests, run with bounded concurrency; resumable, and
never damaging a file.

- The output is never the input (compared by inode: `files.output_target`), never a directory.
- Results are appended, one flushed line each, to a journal beside the output
  (`.OUT.jsonl.partial`) as they complete; when the run ends — finished, interrupted, or stopped
  by an error — the output's earlier results and the journal's are written to a new file that
  replaces the output in one rename (`files.write_atomically`). A run killed outright leaves the
  journal: the next run counts what it holds as done and folds it in.
- Every input line that cannot be run (not JSON, too deep, a duplicate id) gets an error record
  and is named on stderr with its line number; text that is not UTF-8 is repaired, as everywhere
  (`rulerouter.boundary`), and the lines are named.
- The exit code is 1 while any item of the input has no successful result: failed in this run,
  or failed in an earlier one and skipped now (without `--retry-errors`), which stderr says.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

from ..boundary import InvalidInput, check, read_json_lines
from ..errors import RuleRouterError
from ..execute.result import Result
from ._common import EXIT_FAILED, EXIT_OK, MAX_TOKENS, PARAMS, Exit, add_config_arg, load_router, template, usage_error, whole_number
from .files import output_target, same_file, write_atomically
from .run import _params

__all__ = ["Progress", "register"]

SHOWN = 20  # problem lines printed on stderr at most; the output holds every one


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


def _error_record(item_id: str, line: int, kind: str, message: str, attempts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": item_id, "ok": False, "line": line, "error": {"type": kind, "message": message, "attempts": attempts or []}}


def _record(item_id: str, line: int, outcome: Any) -> dict[str, Any]:
    if isinstance(outcome, Result):
        return {"id": item_id, "ok": True, "line": line, **outcome.to_dict()}
    attempts = [a.to_dict() for a in getattr(outcome, "attempts", [])]
    message = getattr(outcome, "summary", None) or str(outcome)
    return _error_record(item_id, line, type(outcome).__name__, message, attempts)


@dataclass
class Input:
    """The input file, read through the boundary: the items to run and the lines that cannot be."""

    path: Path
    items: list[tuple[str, int, Any]] = field(default_factory=list)  # (id, line, item)
    bad: list[dict[str, Any]] = field(default_factory=list)  # an error record for each unusable line
    not_utf8: list[int] = field(default_factory=list)  # lines whose non-UTF-8 bytes were repaired

    @classmethod
    def read(cls, path: Path) -> Input:
        out = cls(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            usage_error(f"cannot read {path}: {exc.strerror or exc}")
        seen: dict[str, int] = {}
        try:
            for line in read_json_lines(data, str(path)):
                fallback_id = f"line-{line.number}"
                if line.not_utf8:
                    out.not_utf8.append(line.number)
                if line.problem is not None:
                    out.bad.append(_error_record(fallback_id, line.number, "InputError", str(line.problem)))
                    continue
                item_id = _item_id(line.value, fallback_id)
                if item_id in seen:
                    out.bad.append(_error_record(f"{item_id}#{fallback_id}", line.number, "InputError",
                                                 f"{path}:{line.number}: duplicate id {item_id!r} (first on line {seen[item_id]})"))
                    continue
                seen[item_id] = line.number
                out.items.append((item_id, line.number, line.value))
        except InvalidInput as exc:  # the whole file is unreadable (UTF-16, UTF-32)
            usage_error(str(exc))
        return out

    @property
    def ids(self) -> set[str]:
        return {item_id for item_id, _, _ in self.items} | {record["id"] for record in self.bad}


def _item_id(item: Any, fallback: str) -> str:
    if not isinstance(item, dict) or "id" not in item:
        return fallback
    raw = item["id"]
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    return check(text, "id")[0]  # text that is not valid Unicode: repaired, like every field


def _results(path: Path) -> Iterator[tuple[int, bytes, dict[str, Any] | None]]:
    """(line number, the line's bytes, the result record or None) for each line of a results file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as exc:
        usage_error(f"cannot read {path}: {exc.strerror or exc}")
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            yield number, raw, None  # a line cut short by an interruption: that item runs again
            continue
        ok = isinstance(record, dict) and isinstance(record.get("id"), str) and isinstance(record.get("ok"), bool)
        yield number, raw, record if ok else None


class Results:
    """The output: earlier results, this run's journal, and the atomic replacement at the end."""

    def __init__(self, output: str, input_path: Path) -> None:
        self.shown = output
        self.target = output_target(output, "--output", {"--input": input_path})
        self.journal = self.target.with_name(f".{self.target.name}.partial")
        if same_file(self.journal, input_path):
            usage_error(f"--input {input_path} is the journal of --output {output}; rename the input")
        self.last_ok: dict[str, bool] = {}  # id -> whether its last record (output, then journal) succeeded
        for path in (self.target, self.journal):
            for _, _, record in _results(path):
                if record is not None:
                    self.last_ok[record["id"]] = record["ok"]
        self._out: TextIO | None = None

    def open(self) -> None:
        try:
            self._out = self.journal.open("a", encoding="utf-8")
            if self.journal.stat().st_size:
                self._out.write("\n")  # a run killed mid-line left half a line: keep it apart from ours
        except OSError as exc:
            usage_error(f"cannot write {self.journal}: {exc.strerror or exc}")

    def append(self, record: dict[str, Any]) -> None:
        assert self._out is not None
        record = check(record, "", sent=False)[0]  # an id or message holding invalid text: repaired, never a crash
        self._out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._out.flush()

    def commit(self) -> list[int]:
        """Replace the output with its earlier results and this run's; the line numbers of the
        output's lines that were not results (dropped)."""
        if self._out is not None:
            self._out.close()
            self._out = None
        dropped: list[int] = []

        def lines() -> Iterator[bytes]:
            for path in (self.target, self.journal):
                for number, raw, record in _results(path):
                    if record is not None:
                        yield raw.rstrip(b"\r") + b"\n"
                    elif path == self.target:
                        dropped.append(number)

        try:
            write_atomically(self.target, lines())
            self.journal.unlink(missing_ok=True)
        except OSError as exc:
            raise Exit(EXIT_FAILED, f"rulerouter: cannot write {self.shown}: {exc.strerror or exc}; "
                                    f"this run's results are kept in {self.journal} and a rerun folds them in") from None
        return dropped


def _show(lines: list[str], stream: TextIO) -> None:
    for line in lines[:SHOWN]:
        print(line, file=stream)
    if len(lines) > SHOWN:
        print(f"  … and {len(lines) - SHOWN} more (every one is in the output, with its line)", file=stream)


def cmd_batch(args: argparse.Namespace) -> int:
    source = Path(args.input)
    results = Results(args.output, source)  # before anything else: refuse a target that would damage a file
    given = Input.read(source)
    params = _params(args)
    router = load_router(args)
    retry = args.retry_errors
    done = {item_id for item_id, ok in results.last_ok.items() if ok or not retry}
    todo = [(item_id, line, item) for item_id, line, item in given.items if item_id not in done]
    bad_lines = [record for record in given.bad if record["id"] not in done]
    earlier_failures = sorted(i for i in given.ids & done if not results.last_ok[i])
    skipped = len(given.items) + len(given.bad) - len(todo) - len(bad_lines)
    if skipped:
        print(f"resuming: {skipped} item(s) already in {args.output} are skipped", file=sys.stderr)
    if given.not_utf8:
        lines = ", ".join(map(str, given.not_utf8[:SHOWN])) + (" …" if len(given.not_utf8) > SHOWN else "")
        print(f"rulerouter: note: {source} has bytes that are not UTF-8 on line(s) {lines}; they were repaired (U+FFFD) "
              "and each result lists its fields under 'repaired'", file=sys.stderr)
    if bad_lines:
        print(f"rulerouter: {len(bad_lines)} line(s) of {source} cannot be run:", file=sys.stderr)
        _show([f"  {record['error']['message']}" for record in bad_lines], sys.stderr)
    progress = Progress(len(todo) + len(bad_lines))
    failed: list[dict[str, Any]] = []

    def write(record: dict[str, Any]) -> None:
        results.append(record)
        if not record["ok"]:
            failed.append(record)
        progress.update(record["ok"])

    async def run() -> None:
        try:
            await router.abatch(
                (item for _, _, item in todo),
                template=args.template,
                concurrency=args.concurrency,
                on_outcome=lambda index, _item, outcome: write(_record(todo[index][0], todo[index][1], outcome)),
                **params,
            )
        finally:
            await router.aclose()

    results.open()
    try:
        for record in bad_lines:
            write(record)
        asyncio.run(run())
    except KeyboardInterrupt:
        progress.finish()
        results.commit()
        raise Exit(130, f"rulerouter: interrupted after {progress.done} of {progress.total}; run the same command again to resume") from None
    except RuleRouterError as exc:
        results.commit()
        raise Exit(EXIT_FAILED, f"rulerouter: {exc}") from None
    progress.finish()
    dropped = results.commit()
    if dropped:
        print(f"rulerouter: note: line(s) {', '.join(map(str, dropped[:SHOWN]))} of {args.output} were not results "
              "(cut short by an interruption) and were dropped; their items ran again", file=sys.stderr)
    run_failures = [r for r in failed if r["error"]["type"] != "InputError"]
    if run_failures:
        print(f"rulerouter: {len(run_failures)} item(s) failed:", file=sys.stderr)
        _show([f"  {source}:{r['line']}: {r['id']}: {r['error']['type']}: {r['error']['message'].splitlines()[0]}" for r in run_failures], sys.stderr)
    print(f"{progress.ok} succeeded, {len(failed)} failed, {skipped} skipped (already done); results in {args.output}", file=sys.stderr)
    if earlier_failures:
        shown = ", ".join(earlier_failures[:SHOWN]) + (" …" if len(earlier_failures) > SHOWN else "")
        print(f"rulerouter: {len(earlier_failures)} item(s) failed in an earlier run and were not run again ({shown}); "
              "add --retry-errors to run them again", file=sys.stderr)
    return EXIT_FAILED if failed or earlier_failures else EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    batch = commands.add_parser("batch", help="run a JSONL file of requests; resumable")
    add_config_arg(batch)
    batch.add_argument("--input", required=True, metavar="IN.jsonl",
                       help="one request per line: a JSON object with id and prompt (or messages), optional metadata, system_prompt, tier, model, params")
    batch.add_argument("--output", required=True, metavar="OUT.jsonl",
                       help="results, one line each; ids already here are skipped; replaced atomically when the run ends (never the input)")
    batch.add_argument("--concurrency", type=whole_number(1, 10_000), default=16, metavar="N", help="requests in flight at once (default 16)")
    batch.add_argument("--template", type=template, metavar="TEXT", help="format each item into this prompt, as {item} or {field}")
    batch.add_argument("--max-tokens", type=MAX_TOKENS, metavar="N")
    batch.add_argument("--params", type=PARAMS, metavar="JSON", help="request parameters for every item")
    batch.add_argument("--retry-errors", action="store_true", help="when resuming, run again the items that failed")
    batch.set_defaults(handler=cmd_batch)
