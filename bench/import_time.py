"""How heavy is `import rulerouter`? Against `import httpx`, in the same run.

Run on demand (`python bench/import_time.py`); not part of `make test`.

Each statement runs in a fresh interpreter (`python -c`, site packages as installed, bytecode
already compiled), the statements taking turns run by run so drift on a shared machine hits all
alike. Each child reports the wall time of the statement itself (interpreter start-up, the same
for all, is left out) and the resident memory of the whole process after it (VmRSS, so the
interpreter's own ~10 MiB is in every figure). Medians of `--runs` runs. Targets:
`import rulerouter` <= 1.5x `import httpx` in both. Also shown, without a target: what a
program that routes pays — `from rulerouter import Router`, and loading `rules/default.toml`
and deciding once — and, for scale, a bare interpreter, pydantic alone, and the rule file's
schema (the pydantic models every policy is validated with).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import time
start = time.perf_counter()
{statement}
wall = time.perf_counter() - start
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(wall, rss)
"""

STATEMENTS = {
    "nothing": "pass",
    "import httpx": "import httpx",
    "import rulerouter": "import rulerouter",
    "import pydantic": "import pydantic",
    "the rule file's schema (pydantic)": "from rulerouter.policy.schema import Policy",
    "from rulerouter import Router": "from rulerouter import Router",
    "load a policy and decide": "from rulerouter import Router\n"
                                "Router.from_file('rules/default.toml').decide('Summarise the meeting notes in three bullets.')",
}


def measure(statement: str) -> tuple[float, float]:
    """(seconds, KiB resident) of one statement in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", CHILD.format(statement=statement)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per statement (median reported)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for statement in STATEMENTS.values():  # compile bytecode and warm the page cache first
        measure(statement)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in STATEMENTS}
    for _ in range(args.runs):
        for name, statement in STATEMENTS.items():
            samples[name].append(measure(statement))
    figures = {}
    for name, runs in samples.items():
        walls = sorted(wall for wall, _ in runs)
        figures[name] = {
            "wall_ms": statistics.median(walls) * 1000,
            "wall_ms_spread": [walls[0] * 1000, walls[-1] * 1000],
            "rss_mib": statistics.median(rss for _, rss in runs) / 1024,
        }
    httpx = figures["import httpx"]
    for name in figures:
        figures[name]["wall_vs_httpx"] = figures[name]["wall_ms"] / httpx["wall_ms"]
        figures[name]["rss_vs_httpx"] = figures[name]["rss_mib"] / httpx["rss_mib"]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'statement':<32} {'wall ms (min-max)':>24} {'RSS MiB':>8}   vs import httpx (wall, RSS)")
    for name, f in figures.items():
        spread = f"{f['wall_ms']:.1f} ({f['wall_ms_spread'][0]:.1f}-{f['wall_ms_spread'][1]:.1f})"
        target = "  target <= 1.5x both" if name == "import rulerouter" else ""
        print(f"{name:<32} {spread:>24} {f['rss_mib']:>8.1f}   {f['wall_vs_httpx']:.2f}x, {f['rss_vs_httpx']:.2f}x{target}")


if __name__ == "__main__":
    main()
