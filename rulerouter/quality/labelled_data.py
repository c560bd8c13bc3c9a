"""Labelled requests for `rulerouter eval` and `rulerouter tune`: reading them, splitting them.

A labelled file is JSON Lines, one request per line:

    {"id": "q-17", "prompt": "…", "expected_tier": "complex"}
    {"id": "q-18", "messages": [...], "request": {...}, "quality": {"strong": 0.9, "weak": 0.4}}

`prompt` or `messages` is required; `system_prompt`, `metadata` and `request` are passed to
`decide()` as they are; `expected_tier` names the tier the request should go to; `quality`
gives the quality (any scale, higher is better) of the strong and the weak model's answers;
`output_tokens` is the length of the answer, for costs. Other fields (`source`, `category`…)
are kept on the record (`Record.data`) for grouping (`eval --by source`, leave-one-source-out
folds; see `groups`). A record needs `expected_tier`, `quality` or both.

Splits are stratified by expected tier and decided by a hash of (seed, id), not by file order,
so the same seed gives the same split after records are added, removed or reordered, and
`eval --holdout` sees exactly the records `tune --holdout` held out.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..boundary import InvalidInput, check, read_json_lines
from ..decide.inputs import Inputs
from ..errors import UsageError

__all__ = ["Record", "folds", "read_records", "split_holdout"]


@dataclass(frozen=True)
class Record:
    id: str
    line: int
    prompt: str | None
    messages: Any
    system_prompt: str | None
    metadata: Any
    request: Any
    expected_tier: str | None
    quality: tuple[float, float] | None  # (strong, weak)
    output_tokens: int | None
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the whole JSON object

    def inputs(self) -> Inputs:
        return Inputs(self.prompt, self.messages, self.system_prompt, self.metadata, self.request)


def _problem(path: str, line: int, message: str) -> UsageError:
    return UsageError(f"{path}:{line}: {message}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _record(data: Any, path: str, line: int) -> Record:
    if not isinstance(data, dict):
        raise _problem(path, line, "each line must be a JSON object")
    prompt, messages = data.get("prompt"), data.get("messages")
    if prompt is None and messages is None:
        raise _problem(path, line, "give `prompt` or `messages`")
    if prompt is not None and not isinstance(prompt, str):
        raise _problem(path, line, "`prompt` must be a string")
    if messages is not None and not isinstance(messages, list):
        raise _problem(path, line, "`messages` must be a list of messages")
    system = data.get("system_prompt")
    if system is not None and not isinstance(system, str):
        raise _problem(path, line, "`system_prompt` must be a string")
    tier = data.get("expected_tier")
    if tier is not None and (not isinstance(tier, str) or not tier):
        raise _problem(path, line, "`expected_tier` must be a tier name")
    quality = data.get("quality")
    pair = None
    if quality is not None:
        if not isinstance(quality, dict) or not _number(quality.get("strong")) or not _number(quality.get("weak")):
            raise _problem(path, line, '`quality` must be {"strong": number, "weak": number}')
        pair = (float(quality["strong"]), float(quality["weak"]))
    if tier is None and pair is None:
        raise _problem(path, line, "give `expected_tier`, `quality` or both")
    output_tokens = data.get("output_tokens")
    if output_tokens is not None and (not isinstance(output_tokens, int) or isinstance(output_tokens, bool) or output_tokens < 0):
        raise _problem(path, line, "`output_tokens` must be a whole number ≥ 0")
    raw_id = data.get("id")
    if raw_id is not None and not isinstance(raw_id, (str, int)):
        raise _problem(path, line, "`id` must be a string or a number")
    return Record(
        id=str(raw_id) if raw_id is not None else f"line-{line}",
        line=line,
        prompt=prompt,
        messages=messages,
        system_prompt=system,
        metadata=data.get("metadata"),
        request=data.get("request"),
        expected_tier=tier,
        quality=pair,
        output_tokens=output_tokens,
        data=data,
    )


def read_records(path: str | Path) -> list[Record]:
    """Every record of a JSONL file; raises `UsageError` naming the line of the first problem."""
    shown = str(path)
    try:
        data_bytes = Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{shown}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    records: list[Record] = []
    seen: dict[str, int] = {}
    for line in read_json_lines(data_bytes, shown):  # raises InvalidInput (a UsageError) for a UTF-16 file
        number = line.number
        if line.problem is not None:
            raise line.problem
        try:
            data = check(line.value, "", sent=False)[0]  # text repaired; NaN, 1e999, too deep refused
        except InvalidInput as exc:
            raise _problem(shown, number, str(exc)) from None
        record = _record(data, shown, number)
        if record.id in seen:
            raise _problem(shown, number, f"id {record.id!r} is already used on line {seen[record.id]}")
        seen[record.id] = number
        records.append(record)
    if not records:
        raise UsageError(f"{shown}: no records")
    return records


def _rank(seed: int, record: Record) -> bytes:
    return hashlib.sha256(f"{seed}:{record.id}".encode()).digest()


def _strata(records: Sequence[Record], seed: int) -> list[list[Record]]:
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(record.expected_tier or "", []).append(record)
    return [sorted(group, key=lambda r: _rank(seed, r)) for _, group in sorted(groups.items())]


def split_holdout(records: Sequence[Record], fraction: float, seed: int) -> tuple[list[Record], list[Record]]:
    """(kept, held out): about `fraction` of each expected tier is held out, chosen by seed."""
    if not 0 < fraction < 1:
        raise UsageError(f"the held-out fraction must be between 0 and 1, got {fraction}")
    held: set[str] = set()
    for group in _strata(records, seed):
        held.update(r.id for r in group[: round(len(group) * fraction)])
    return [r for r in records if r.id not in held], [r for r in records if r.id in held]


def folds(records: Sequence[Record], k: int, seed: int) -> list[list[Record]]:
    """`k` folds of about equal size and tier mix, chosen by seed (file order kept inside each)."""
    if k < 2:
        raise UsageError(f"cross-validation needs at least 2 folds, got {k}")
    if k > len(records):
        raise UsageError(f"{k} folds need at least {k} records, got {len(records)}")
    fold_of: dict[str, int] = {}
    offset = 0
    for group in _strata(records, seed):
        for rank, record in enumerate(group):
            fold_of[record.id] = (rank + offset) % k
        offset += len(group)
    return [[r for r in records if fold_of[r.id] == i] for i in range(k)]
