"""How long do big policies take to load? `lint`, `route` and `serve` on 1,000 to 100,000 rules.

Run on demand (`python bench/load.py`); it is not part of `make test`.

Each policy is generated (`generate`): rules per tenant (metadata), per topic (keyword lists),
per team with a word-count floor, ticket regexes, keyword-and-signal rules, language rules and
word-count ladders — a mix that lints clean, so that every rule is checked against the rules
before it and none is cut short by an early finding. For each size, in a fresh process each:

  * `rulerouter lint FILE`, `rulerouter route -c FILE PROMPT` (parse, validate, lint, compile,
    decide once) and `rulerouter serve -c FILE` until it prints its listening line: wall
    seconds, CPU seconds (what load from other processes stretches least) and the process's
    peak resident memory; `rulerouter --version` first, for the start-up that every command pays;
  * in this process, `check_file` (parse, validate, lint) with the shadowing check as it is, and
    with the pairwise check it replaced (every rule against every earlier one), where that
    finishes within --baseline-max rules: CPU seconds and their ratio.

Targets (issue 12): 10,000 rules loaded and linted in ≤ 2 s, 100,000 in ≤ 20 s, memory linear.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rulerouter.policy import lint as lint_module  # noqa: E402
from rulerouter.policy.load import check_file  # noqa: E402
from rulerouter.policy.shadowing import first_shadows_pairwise  # noqa: E402

HEAD = """schema_version = 1
default_tier = "standard"

[tiers]
complex = "big"
standard = "mid"
bulk = "small"

[providers.up]
base_url = "http://127.0.0.1:9/v1"

[models.big]
price = { input_per_mtok = 5.0, output_per_mtok = 25.0 }
[models.mid]
price = { input_per_mtok = 3.0, output_per_mtok = 15.0 }
[models.small]
price = { input_per_mtok = 0.27, output_per_mtok = 1.10 }
"""

_KINDS = 7


def generate(count: int, seed: int = 0) -> str:
    """A policy of `count` rules that lints clean."""
    rnd = random.Random(seed)
    tiers = ("complex", "standard", "bulk")
    lines = [HEAD]
    for i in range(count):
        kind = i % _KINDS
        if kind == 0:
            when = f'when.metadata = {{ path = "$.tenant", eq = "tenant-{i}" }}'
        elif kind == 1:
            when = f'when.keywords.any = ["topic{i}", "subject{i}", "area {i}"]'
        elif kind == 2:
            when = f'when.all = [{{ metadata = {{ path = "$.team", eq = "team-{i}" }} }}, {{ words = {{ gt = {rnd.randrange(50, 2000)} }} }}]'
        elif kind == 3:
            when = f'when.regex = "\\\\bticket-{i}\\\\b"'
        elif kind == 4:
            when = f'when = {{ keywords.all = ["urgent{i}", "review"], signals.code_blocks = {{ gte = 1 }} }}'
        elif kind == 5:
            when = f'when = {{ keywords.any = ["locale{i}"], language = ["de", "fr"] }}'
        else:  # a ladder: each floor lower than the last, so no rung is shadowed
            when = f'when.tokens = {{ gt = {10_000_000 - i} }}'
        lines += ["[[rules]]", f'name = "r{i}"', when, f'tier = "{tiers[rnd.randrange(3)]}"', ""]
    return "\n".join(lines)


def _check_cpu(path: Path, pairwise: bool) -> float:
    saved = lint_module.first_shadows
    if pairwise:
        lint_module.first_shadows = first_shadows_pairwise  # type: ignore[assignment]
    try:
        start = time.process_time()
        checked = check_file(path, env={})
        elapsed = time.process_time() - start
    finally:
        lint_module.first_shadows = saved  # type: ignore[assignment]
    assert checked.ok, [d.format() for d in checked.diagnostics[:3]]
    return elapsed


def _run(cmd: list[str], until: str | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of a command; with `until`, stop it at that
    output line (its CPU time then includes stopping)."""
    exe = [sys.executable, "-c", "import sys; from rulerouter.cli import main; sys.exit(main())", *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(exe, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    if until is None:
        output = proc.stdout.read()  # type: ignore[union-attr]
    else:
        output = ""
        for line in proc.stdout:  # type: ignore[union-attr]
            output += line
            if until in line:
                break
    elapsed = time.perf_counter() - start
    if until is not None:
        proc.terminate()
        proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if until is None and proc.returncode != 0 or until is not None and until not in output:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {output[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1000,10000,100000", help="rule counts (default: %(default)s)")
    parser.add_argument("--baseline-max", type=int, default=10000,
                        help="run the pairwise check up to this many rules (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = []
    start = _run(["--version"])
    print(f"rulerouter --version (start-up alone): {start[0]:.2f} s, {start[1]:.2f} s CPU, {start[2]:.0f} MB", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        for count in (int(c) for c in args.counts.split(",")):
            path = Path(tmp) / f"rules-{count}.toml"
            path.write_text(generate(count), encoding="utf-8")
            row: dict[str, Any] = {"rules": count, "bytes": path.stat().st_size}
            for name, cmd, until in (("lint", ["lint", str(path)], None),
                                     ("route", ["route", "-c", str(path), "Summarise this meeting"], None),
                                     ("serve", ["serve", "-c", str(path), "--port", "0", "--no-client-keys"], "listening on")):
                row[f"{name}_s"], row[f"{name}_cpu_s"], row[f"{name}_mb"] = _run(cmd, until)
            row["check_cpu_s"] = _check_cpu(path, pairwise=False)
            if count <= args.baseline_max:
                row["pairwise_check_cpu_s"] = _check_cpu(path, pairwise=True)
                row["ratio"] = row["check_cpu_s"] / row["pairwise_check_cpu_s"]
            results.append(row)
            print(_line(row), file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


def _line(row: dict[str, Any]) -> str:
    text = f"{row['rules']:>7} rules ({row['bytes'] / 1e6:.1f} MB):"
    for name in ("lint", "route", "serve"):
        text += f" {name} {row[name + '_s']:.2f} s ({row[name + '_cpu_s']:.2f} s CPU) {row[name + '_mb']:.0f} MB;"
    text += f" check_file {row['check_cpu_s']:.2f} s CPU"
    if "ratio" in row:
        text += f", pairwise {row['pairwise_check_cpu_s']:.2f} s: {row['ratio']:.3f}x"
    return text


if __name__ == "__main__":
    main()
