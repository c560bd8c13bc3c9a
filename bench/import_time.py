"""How heavy is `import rulerouter`? Against `import httpx`, in the same run.

Run on demand (`python bench/import_time.py`); not part of `make test`.

Each statement runs in a fresh interpreter (`python -c`, site packages as installed), the
statements taking turns run by run so drift on a shared machine hits all alike. Bytecode is
compiled and cached first, as in any installed program: the children run without
`PYTHONDONTWRITEBYTECODE`, which would otherwise make every child compile rulerouter's sources
again (httpx's bytecode is compiled when pip installs it). Each child reports the wall time and
the CPU time of the statement itself (interpreter start-up, the same for all, is left out) and
the resident memory of the whole process after it (VmRSS, so the interpreter's own ~10 MiB is
in every figure). Medians of `--runs` runs; CPU time is the steadier figure on a loaded
machine. Targets: `import rulerouter` <= 1.5x `import httpx` in both. Also shown: what a
program that routes pays — `from rulerouter import Router`, and loading `rules/default.toml`
and deciding once — and, for scale, a bare interpreter, pydantic alone, pydantic with one
model built (its model machinery and the scan of installed packages for pydantic plugins that
the first model triggers: the floor of validating with pydantic models), and the rule file's
schema (the pydantic models every policy is validated with).

`--against DIR` runs the rulerouter statements in another checkout too (a git worktree at the
commit to compare with; the child runs in that folder, so its package is the one imported),
interleaved with this one's, and prints this checkout's figures as ratios of that one's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import time
start, cpu = time.perf_counter(), time.process_time()
{statement}
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(wall, cpu, rss)
"""

STATEMENTS = {
    "nothing": "pass",
    "import httpx": "import httpx",
    "import rulerouter": "import rulerouter",
    "import pydantic": "import pydantic",
    "pydantic, one model built": "from pydantic import BaseModel\nclass One(BaseModel):\n    x: int = 0",
    "the rule file's schema (pydantic)": "from rulerouter.policy.schema import Policy",
    "from rulerouter import Router": "from rulerouter import Router",
    "load a policy and decide": "from rulerouter import Router\n"
                                "Router.from_file('rules/default.toml').decide('Summarise the meeting notes in three bullets.')",
}
OURS = {name for name, statement in STATEMENTS.items() if "rulerouter" in statement}


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(statement: str, checkout: Path) -> tuple[float, float, float]:
    """(seconds of wall time, seconds of CPU time, KiB resident) of one statement in a fresh
    interpreter started in `checkout` (`python -c` puts that folder first on the path)."""
    out = subprocess.run([sys.executable, "-c", CHILD.format(statement=statement)], cwd=checkout, check=True,
                         capture_output=True, text=True, env=ENV).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def summary(runs: list[tuple[float, float, float]]) -> dict[str, float | list[float]]:
    walls = sorted(wall for wall, _, _ in runs)
    return {
        "wall_ms": statistics.median(walls) * 1000,
        "wall_ms_spread": [walls[0] * 1000, walls[-1] * 1000],
        "cpu_ms": statistics.median(cpu for _, cpu, _ in runs) * 1000,
        "rss_mib": statistics.median(rss for _, _, rss in runs) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per statement (median reported)")
    parser.add_argument("--against", type=Path, help="another checkout, measured interleaved with this one")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.against is not None and not (args.against / "rulerouter" / "__init__.py").exists():
        raise SystemExit(f"{args.against} has no rulerouter/ package")
    sides = {"": ROOT}
    if args.against is not None:
        sides["other: "] = args.against.resolve()
    cases = [(side + name, statement, checkout) for name, statement in STATEMENTS.items()
             for side, checkout in sides.items() if not side or name in OURS]
    for _, statement, checkout in cases:  # compile and cache bytecode, warm the page cache
        measure(statement, checkout)
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _, _ in cases}
    for _ in range(args.runs):
        for name, statement, checkout in cases:
            samples[name].append(measure(statement, checkout))
    figures = {name: summary(runs) for name, runs in samples.items()}
    httpx = figures["import httpx"]
    for name, f in figures.items():
        f["wall_vs_httpx"] = f["wall_ms"] / httpx["wall_ms"]
        f["cpu_vs_httpx"] = f["cpu_ms"] / httpx["cpu_ms"]
        f["rss_vs_httpx"] = f["rss_mib"] / httpx["rss_mib"]
        other = figures.get("other: " + name)
        if other is not None:
            f["cpu_vs_other"] = f["cpu_ms"] / other["cpu_ms"]
            f["rss_vs_other"] = f["rss_mib"] / other["rss_mib"]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'statement':<40} {'wall ms (min-max)':>24} {'CPU ms':>7} {'RSS MiB':>8}   vs import httpx (wall, CPU, RSS)")
    for name, f in figures.items():
        spread = f"{f['wall_ms']:.1f} ({f['wall_ms_spread'][0]:.1f}-{f['wall_ms_spread'][1]:.1f})"
        line = (f"{name:<40} {spread:>24} {f['cpu_ms']:>7.1f} {f['rss_mib']:>8.1f}   "
                f"{f['wall_vs_httpx']:.2f}x, {f['cpu_vs_httpx']:.2f}x, {f['rss_vs_httpx']:.2f}x")
        if "cpu_vs_other" in f:
            line += f"   vs other: CPU {f['cpu_vs_other']:.2f}x, RSS {f['rss_vs_other']:.2f}x"
        if name == "import rulerouter":
            line += "   target <= 1.5x"
        print(line)


if __name__ == "__main__":
    main()
