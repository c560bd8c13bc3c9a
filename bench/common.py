"""What the call and gateway benchmarks share: their policy, prompt and process helpers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPUS = os.cpu_count() or 1

POLICY = """
schema_version = 1
default_tier = "cheap"
[tiers]
cheap = "cheap-model"
flaky = "primary"
[providers.up]
base_url = "{base_url}"
api_key_env = "BENCH_KEY"
timeout_s = 10
[models.cheap-model]
price = {{ input_per_mtok = 0.27, output_per_mtok = 1.10 }}
[models.primary]
price = {{ input_per_mtok = 3.0, output_per_mtok = 15.0 }}
fallback = ["cheap-model"]
[retry]
retries_per_model = 0
[circuit_breaker]
enabled = false   # measure the fallback path itself: the failing primary is called every time
[[rules]]
name = "bulk"
when.keywords.any = ["add docstrings", "boilerplate"]
tier = "cheap"
"""

PROMPT = "Summarise the following meeting notes in three bullet points for the weekly update."


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    """`cmd` run on one CPU (with taskset, where there is more than one CPU)."""
    return ["taskset", "-c", str(cpu), *cmd] if CPUS > 1 and sys.platform.startswith("linux") else cmd


def start(cmd: list[str], pattern: str = r"(http://\S+/v1)", cwd: Path = ROOT) -> tuple[subprocess.Popen[str], str]:
    """Start a server process (in `cwd`: `python -m` imports that checkout's package) and read its URL from its first line."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    match = re.search(pattern, line)
    if not match:
        proc.kill()
        raise SystemExit(f"did not start: {' '.join(cmd)}: {line!r}")
    return proc, match.group(1)


def start_upstream() -> tuple[subprocess.Popen[str], str]:
    """The instant loopback upstream on CPU 1, with model "primary" always answering 500."""
    return start(pinned(1, [sys.executable, "-m", "rulerouter.testing", "serve", "--port", "0", "--status", "primary=500"]))
