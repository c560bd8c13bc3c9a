"""Instructions per decide() of the learned-signal benchmark, counted by callgrind.

Run on demand (`python bench/decide_instructions.py`; needs valgrind, not part of `make test`).
Times on a shared machine move by a third from hour to hour; instruction counts do not. For
each case this runs `valgrind --tool=callgrind` on this script three times — once to compile
the bytecode, then with 0 and with `--calls` calls — and prints (second - first) / calls.
Inside, the set-up is frozen out of the cyclic collector (`gc.freeze()`) so that a full
collection of the set-up's objects cannot land in one run and not the other.

Cases, on `bench/decide.py`'s 75-word prompt, rules and 20 examples:

  * `default`: decide() with rules/default.toml; `learned`: with the learned-signal and
    similarity rules first (what `bench/decide.py`'s "learned" rows time);
  * the parts of the difference: `extract` (the features), `measure` (the table lookup and
    unpacking), `classifier` (the softmax from the measurement), `similarity` (the nearest
    example from it).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.decide import LEARNED_RULES, prose  # noqa: E402

CASES = ("default", "learned", "extract", "measure", "classifier", "similarity")


def operation(case: str, words: int) -> Callable[[], object]:
    from rulerouter import Router
    from rulerouter.decide.classifier import Classifier
    from rulerouter.decide.feature_table import FeatureTable
    from rulerouter.decide.similarity import ExampleSet
    from rulerouter.decide.text_features import extract
    from rulerouter.policy.model_file import read_model, resolve_model_path

    prompt = prose(words, 9)
    examples = [prose(30, 100 + i) for i in range(20)]
    text = (ROOT / "rules" / "default.toml").read_text()
    if case in ("default", "learned"):
        if case == "learned":
            first_rule = text.index("[[rules]]")
            text = text[:first_rule] + LEARNED_RULES.replace("EXAMPLES", json.dumps(examples)) + text[first_rule:]
        router = Router.from_toml(text, env={"RULEROUTER_API_KEY": "x"})
        return lambda: router.decide(prompt)
    classifier = Classifier("task", read_model(resolve_model_path("builtin:task", ROOT)))
    example_set = ExampleSet(examples, "examples")
    table = FeatureTable([classifier], [example_set])  # as a policy with both rules builds it
    features = extract(prompt)
    measured = table.measure_features(features)
    return {
        "extract": lambda: extract(prompt),
        "measure": lambda: table.measure_features(features),
        "classifier": lambda: classifier._from(measured),
        "similarity": lambda: example_set._from(measured),
    }[case]


def inner(case: str, calls: int, words: int) -> None:
    op = operation(case, words)
    op(), op()  # warm: lazy imports, memos, the interpreter's specialisation
    gc.collect()
    gc.freeze()
    for _ in range(calls):
        op()


def counted(case: str, calls: int, words: int) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONHASHSEED": "0"}
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
               "--inner", case, "--calls", str(calls), "--words", str(words)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", default=list(CASES), metavar="CASE", help=", ".join(CASES))
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--words", type=int, default=75)
    parser.add_argument("--inner", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.inner, args.calls, args.words)
        return
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case {', '.join(unknown)} (cases: {', '.join(CASES)})")
    figures = {}
    for case in args.cases:
        counted(case, 0, args.words)  # compiles what changed, so that the baseline does not count it
        figures[case] = (counted(case, args.calls, args.words) - counted(case, 0, args.words)) / args.calls
        print(f"{case:<12} {figures[case]:>10,.0f} instructions per call")
    if "default" in figures and "learned" in figures:
        print(f"{'added':<12} {figures['learned'] - figures['default']:>10,.0f} by the learned signal and similarity rules")


if __name__ == "__main__":
    main()
