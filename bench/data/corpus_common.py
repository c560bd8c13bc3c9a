"""What the corpus build and its checker share: paths, the record schema, duplicate keys,
the contamination test and the source × tier table of ``corpus/SOURCES.md``.

Standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path

try:  # imported as bench.data.corpus_common (tests) or from a script in this folder
    from .check_devset import TIERS, Contamination, normalize_prompt
except ImportError:
    from check_devset import TIERS, Contamination, normalize_prompt

__all__ = ["CORPUS_DIR", "DEVSET", "HERE", "ROOT", "SOURCES_MD", "TIERS", "Contamination",
           "normalize_prompt", "read_table", "record_problems", "render_table"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS_DIR = HERE / "corpus"
SOURCES_MD = CORPUS_DIR / "SOURCES.md"
DEVSET = HERE / "devset.jsonl"

REQUIRED = ("id", "prompt", "expected_tier", "source", "category")
OPTIONAL = ("system_prompt", "messages", "request", "metadata")
ROLES = {"system", "user", "assistant", "tool"}


def record_problems(rec: object, source: str | None = None) -> list[str]:
    """Schema problems of one corpus record (empty when it is valid)."""
    if not isinstance(rec, dict):
        return ["not a JSON object"]
    out = []
    for key in REQUIRED:
        if not isinstance(rec.get(key), str) or not rec[key].strip():
            out.append(f"field {key!r} missing or not a non-empty string")
    unknown = sorted(set(rec) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        out.append(f"unknown field(s) {', '.join(unknown)}")
    src = rec.get("source")
    if source is not None and src != source:
        out.append(f"source {src!r} in the file of source {source!r}")
    if isinstance(src, str) and isinstance(rec.get("id"), str) and not re.fullmatch(re.escape(src) + r"-\d+", rec["id"]):
        out.append(f"id {rec['id']!r} is not <source>-<n>")
    if rec.get("expected_tier") not in TIERS:
        out.append(f"expected_tier {rec.get('expected_tier')!r} is not one of {', '.join(TIERS)}")
    if "system_prompt" in rec and not (isinstance(rec["system_prompt"], str) and rec["system_prompt"].strip()):
        out.append("system_prompt must be a non-empty string")
    for key in ("request", "metadata"):
        if key in rec and not isinstance(rec[key], dict):
            out.append(f"{key} must be an object")
    if isinstance(rec.get("metadata"), dict) and "tier" in rec["metadata"]:
        out.append("metadata.tier would hand the router the label")
    if "messages" in rec:
        out.extend(_message_problems(rec["messages"], rec.get("prompt")))
    return out


def _message_problems(messages: object, prompt: object) -> list[str]:
    if not isinstance(messages, list) or not messages:
        return ["messages must be a non-empty list"]
    for i, msg in enumerate(messages):
        if not (isinstance(msg, dict) and msg.get("role") in ROLES and isinstance(msg.get("content"), str)):
            return [f"messages[{i}] is not {{role, content}} with a known role"]
    last = messages[-1]
    if last["role"] != "user" or last["content"] != prompt:
        return ["the last message must be the user's and equal 'prompt'"]
    return []


TABLE_HEAD = "| source | " + " | ".join(TIERS) + " | total |"


def render_table(counts: dict[str, dict[str, int]]) -> str:
    """The source × tier table as Markdown, with an `all` row."""
    lines = [TABLE_HEAD, "|---|" + "---:|" * (len(TIERS) + 1)]
    totals = dict.fromkeys(TIERS, 0)
    for src in sorted(counts):
        row = counts[src]
        for t in TIERS:
            totals[t] += row.get(t, 0)
        lines.append(f"| `{src}` | " + " | ".join(str(row.get(t, 0)) for t in TIERS) + f" | {sum(row.values())} |")
    lines.append("| **all** | " + " | ".join(f"**{totals[t]}**" for t in TIERS) + f" | **{sum(totals.values())}** |")
    return "\n".join(lines)


def read_table(markdown: str) -> dict[str, dict[str, int]]:
    """Parse the table :func:`render_table` writes back out of a Markdown document."""
    start = markdown.find(TABLE_HEAD)
    if start < 0:
        raise ValueError(f"no table starting with {TABLE_HEAD!r}")
    counts: dict[str, dict[str, int]] = {}
    for line in markdown[start:].splitlines()[2:]:
        m = re.match(r"^\|\s*`([^`]+)`\s*\|(.*)\|\s*$", line)
        if not m:
            break
        cells = [c.strip() for c in m.group(2).split("|")]
        counts[m.group(1)] = {t: int(c) for t, c in zip(TIERS, cells)}
    return counts
