"""Do two checkouts give the same learned figures, to the last bit? (`--against ../other`)

Run on demand after changing how features are extracted or measured (not part of `make test`):
`python bench/learned_identity.py --against ../main`. Both `rulerouter` packages are loaded
in this process (the other under another name, as `bench/compare.py` does) and each computes,
for every prompt of `bench/data/devset.jsonl` and of the corpus (`bench/data/corpus/*.jsonl`,
built by `python3 bench/data/build_corpus.py`; `--sample N` prompts a source, 0 for all):

* the class probabilities of `builtin:task`, through a table of its own and through one
  shared with two example sets (the decide path: `Inputs`, cached per request);
* the similarity to each example set and the nearest example's index;
* the number of distinct features.

Floats are compared by `float.hex`, so "the same" means bit for bit. It prints how many
prompts differ and the first differences, and exits 1 if any do.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.compare import load_checkout  # noqa: E402
from bench.decide import prose  # noqa: E402

DATA = ROOT / "bench" / "data"


def prompts(sample: int) -> list[str]:
    rows = [json.loads(line) for line in (DATA / "devset.jsonl").read_text().splitlines() if line.strip()]
    out = [r["prompt"] for r in rows]
    corpus = sorted((DATA / "corpus").glob("*.jsonl"))
    if not corpus:
        raise SystemExit("no corpus: run python3 bench/data/build_corpus.py first")
    for path in corpus:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        step = max(1, len(lines) // sample) if sample else 1
        out += [json.loads(line)["prompt"] for line in lines[::step]]
    # Long, repetitive and odd texts: sampling, digits, punctuation runs, CJK, NUL, empty.
    out += [prose(7_500, 5), "x " * 9_000, "Ünïcödé 12 (a)[b]{c} 请判断这条评论 \x00\x00 _ __ a_b", "", "   "]
    return out


def figures(package: ModuleType, texts: list[str], hard: list[str], easy: list[str]) -> list[tuple[Any, ...]]:
    name = package.__name__
    classifier_mod, similarity, table_mod, inputs_mod, features, model_file = (
        importlib.import_module(f"{name}.{module}") for module in (
            "decide.classifier", "decide.similarity", "decide.feature_table", "decide.inputs", "decide.text_features",
            "policy.model_file"))
    model = model_file.read_model(model_file.resolve_model_path("builtin:task", ROOT))
    alone = classifier_mod.Classifier("task", model)
    shared = classifier_mod.Classifier("task", model)
    sets = [similarity.ExampleSet(hard, "hard"), similarity.ExampleSet(easy, "easy")]
    table_mod.FeatureTable([shared], sets)
    out = []
    for text in texts:
        inputs = inputs_mod.Inputs(text, None, None, None, None)
        row: tuple[Any, ...] = (features.extract(text).count,
                                tuple(p.hex() for p in alone.probabilities_of(text).values()),
                                tuple(p.hex() for p in shared.probabilities(inputs, "last_user")))
        for example_set in sets:
            value, index = example_set.nearest(inputs, "last_user")
            row += (value.hex(), index, example_set.nearest_to(text)[0].hex())
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, required=True, help="the other checkout")
    parser.add_argument("--sample", type=int, default=0, help="prompts per corpus source (0: all)")
    args = parser.parse_args()
    texts = prompts(args.sample)
    rows = [json.loads(line) for line in (DATA / "devset.jsonl").read_text().splitlines() if line.strip()]
    hard = [r["prompt"] for r in rows if r["expected_tier"] == "complex"][:40] + [prose(30, 100 + i) for i in range(20)]
    easy = [r["prompt"] for r in rows if r["expected_tier"] == "bulk"][:300]
    import rulerouter

    ours = figures(rulerouter, texts, hard, easy)
    theirs = figures(load_checkout(args.against.resolve()), texts, hard, easy)
    differ = [(i, a, b) for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    print(f"{len(texts)} prompts, {len(differ)} differ (probabilities, similarities, nearest examples, feature counts)")
    for i, a, b in differ[:5]:
        print(f"  {texts[i][:60]!r}\n    here:  {a}\n    there: {b}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
