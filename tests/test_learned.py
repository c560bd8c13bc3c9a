"""Learned classifiers and example similarity: features, inference, training, explain, reload."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulerouter import Router
from rulerouter.cli import main
from rulerouter.decide.classifier import Classifier
from rulerouter.decide.similarity import ExampleSet
from rulerouter.decide.text_features import extract, extract_slow, key_of, name_of
from rulerouter.policy.load import check_file
from rulerouter.policy.model_file import ModelFile, ModelFileError, parse_model
from rulerouter.quality.labelled_data import read_records
from rulerouter.quality.train import TrainOptions, fit_model, train

pytest.importorskip("scipy", reason="training needs numpy and scipy (the train extra); make test installs it")

HARD = ["Prove that the sum of two odd numbers is even, step by step.",
        "Find the race condition in this worker pool and explain why it deadlocks.",
        "Derive the closed form of the recurrence and prove it by induction."]
EASY = ["What is the capital of Peru?", "Write a short poem about autumn rain.", "Tell me a joke about cats."]
EDITS = ["Fix the typos in these lines:\nteh cat\nadn dog", "Rename these variables to snake_case: fooBar, bazQux",
         "Convert each of these dates to ISO format: 3 May 2021, 7 June 2022"]

HEAD = """
schema_version = 1
default_tier = "standard"
[tiers]
standard = "small"
complex = "big"
bulk = "tiny"
[providers.local]
base_url = "http://127.0.0.1:9/v1"
[models.small]
price = { input_per_mtok = 1.0, output_per_mtok = 1.0 }
[models.big]
price = { input_per_mtok = 10.0, output_per_mtok = 10.0 }
[models.tiny]
price = { input_per_mtok = 0.1, output_per_mtok = 0.1 }
"""


def rows(sources: int = 3) -> list[dict]:
    out = []
    for s in range(sources):
        for i in range(12):
            kind = i % 3
            prompt = [HARD, EASY, EDITS][kind][(i // 3 + s) % 3] + f" (ticket {s}{i})"
            out.append({"id": f"s{s}-{i}", "prompt": prompt, "source": f"src{s}",
                        "expected_tier": ["complex", "standard", "bulk"][kind]})
    return out


def write(path: Path, data: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")
    return path


OPTIONS = TrainOptions(lambdas=(1e-3,), min_df=1, iterations=150)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ModelFile:
    records = read_records(write(tmp_path_factory.mktemp("train") / "d.jsonl", rows()))
    return fit_model(records, ["bulk", "complex", "standard"], 1e-3, OPTIONS)


# --- features --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
def test_the_ascii_path_gives_the_features_of_the_general_path(text: str) -> None:
    fast, slow = extract(text), extract_slow(text)
    assert fast.keys == slow.keys and fast.count == slow.count


def test_feature_kinds() -> None:
    features = extract("Debugging print(x) in 2024! Print it.")
    assert features.names() == [
        "p:debug",  # only words longer than five characters have a prefix
        "s:!", "s:()", "s:.", "w:0000", "w:debugging", "w:in", "w:it", "w:print", "w:x",
    ]  # each feature once, however often it occurs
    assert features.count == 10
    cjk = extract("请判断情感")
    assert cjk.names() == ["w:判断", "w:情感", "w:断情", "w:请判", "w:请判断情感"]


@given(st.text(max_size=200))
def test_feature_names_and_keys_convert_both_ways(text: str) -> None:
    for key in extract(text).keys:
        assert key_of(name_of(key)) == key


# --- inference -------------------------------------------------------------------------------


def naive_probabilities(model: ModelFile, text: str) -> list[float]:
    """The model's formula written plainly: a float sum per class, then the softmax."""
    features = extract(text)
    logits = list(model.bias)
    for name in features.names():
        for c, q in enumerate(model.weights.get(name, [0] * len(model.classes))):
            logits[c] += q * model.scale / math.sqrt(features.count)
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    return [e / sum(exps) for e in exps]


@pytest.mark.parametrize("text", HARD + EASY + EDITS + ["", "zzz unknown words only", "x " * 3000, "请判断这条评论"])
def test_packed_sums_give_the_formula(model: ModelFile, text: str) -> None:
    got = Classifier("task", model).probabilities_of(text)
    assert list(got.values()) == pytest.approx(naive_probabilities(model, text), abs=1e-9)
    assert sum(got.values()) == pytest.approx(1.0)


def naive_similarity(examples: list[str], text: str) -> float:
    """The cosine of feature sets, written plainly."""
    mine = extract(text).keys
    if not mine:
        return 0.0
    return max(len(mine & extract(e).keys) / math.sqrt(len(mine) * len(extract(e).keys)) for e in examples)


@pytest.mark.parametrize("long_example", [False, True])  # 8-bit example fields, and 16-bit ones
def test_one_shared_table_gives_each_classifier_and_example_set_its_own_figures(model: ModelFile, long_example: bool) -> None:
    from rulerouter.decide.feature_table import FeatureTable

    other = ModelFile(("a", "b"), (0.1, -0.1), 0.001, {"w:prove": (3000, -3000), "p:induc": (-500, 500)})
    first, second = Classifier("task", model), Classifier("other", other)
    hard = ExampleSet(HARD + ([" ".join(f"word{i} w{i}x" for i in range(400))] if long_example else []), "hard")
    easy = ExampleSet(EASY, "easy")
    FeatureTable([first, second], [hard, easy])  # as a compiled policy does: one lookup pass for all four
    for text in HARD + EASY + EDITS + ["", "word3 w3x word7 prove"]:
        alone = Classifier("task", model).probabilities_of(text)
        assert first.probabilities_of(text) == pytest.approx(alone, abs=1e-12)
        assert list(second.probabilities_of(text).values()) == pytest.approx(naive_probabilities(other, text), abs=1e-9)
        for examples in (hard, easy):
            assert examples.nearest_to(text)[0] == pytest.approx(naive_similarity(list(examples.examples), text), abs=1e-12)


def test_the_classifier_learns_the_tiers(model: ModelFile) -> None:
    classifier = Classifier("task", model)
    for text, tier in (("Prove the recurrence by induction, step by step.", "complex"),
                       ("What is the capital of Chile?", "standard"), ("Fix the typos in these lines: teh, adn", "bulk")):
        probabilities = classifier.probabilities_of(text)
        assert max(probabilities, key=probabilities.__getitem__) == tier, (text, probabilities)


# --- training --------------------------------------------------------------------------------


def test_training_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    records = read_records(write(tmp_path / "d.jsonl", rows()))
    first = fit_model(records, ["bulk", "complex", "standard"], 1e-3, OPTIONS).to_json()
    second = fit_model(list(reversed(records)), ["bulk", "complex", "standard"], 1e-3, OPTIONS).to_json()
    assert first == second  # byte for byte, whatever the record order
    again = parse_model(json.loads(first))
    assert again.to_json() == first


def test_leave_one_source_out_holds_out_each_source(tmp_path: Path) -> None:
    records = read_records(write(tmp_path / "d.jsonl", rows()))
    result = train(records, TrainOptions(by="source", lambdas=(1e-3, 1e-2), min_df=1, iterations=100))
    assert [g.group for g in result.by_group.groups] == ["src0", "src1", "src2"]
    assert all(g.labels.total == 12 for g in result.by_group.groups)
    assert set(result.mean_macro_recall) == {1e-3, 1e-2}
    held = result.model.trained["held_out"]
    assert set(held) == {"src0", "src1", "src2"} and result.model.trained["by"] == "source"


def test_features_of_one_source_only_are_not_learned(tmp_path: Path) -> None:
    data = rows()
    for r in data:
        if r["source"] == "src0":
            r["prompt"] += " ZZTEMPLATE"
    records = read_records(write(tmp_path / "d.jsonl", data))
    with_groups = fit_model(records, ["bulk", "complex", "standard"], 1e-3, TrainOptions(by="source", min_df=1, iterations=50))
    without = fit_model(records, ["bulk", "complex", "standard"], 1e-3, TrainOptions(min_df=1, iterations=50))
    assert "w:zztemplate" not in with_groups.weights and "w:zztemplate" in without.weights


def test_model_file_problems_are_reported() -> None:
    with pytest.raises(ModelFileError) as caught:
        parse_model({"format": "rulerouter-classifier", "version": 1, "features_version": 1})
    assert caught.value.code == "RR603"
    for row in ([1.5, 0], [2**15, 0], [0]):
        with pytest.raises(ModelFileError) as caught:
            parse_model({"format": "rulerouter-classifier", "version": 2, "features_version": 3, "classes": ["a", "b"],
                         "bias": [0, 0], "scale": 1, "weights": {"w:x": row}})
        assert caught.value.code == "RR602" and "one integer per class" in str(caught.value)


# --- in a policy: conditions, scores, explain, train command ---------------------------------


POLICY = HEAD + """
[classifiers.task]
model = "task.model.json"

[scores.hard]
weights = { "task.complex" = 4.0 }
bias = -2.0
logistic = true

[[rules]]
name = "like-hard"
when.similar = { examples = "hard.txt", gte = 0.5 }
tier = "complex"

[[rules]]
name = "learned-hard"
when.score = { name = "hard", gte = 0.5 }
tier = "complex"

[[rules]]
name = "learned-bulk"
when.signals."task.bulk" = { gte = 0.5 }
tier = "bulk"
"""


@pytest.fixture()
def policy_dir(tmp_path: Path, model: ModelFile) -> Path:
    (tmp_path / "task.model.json").write_text(model.to_json())
    (tmp_path / "hard.txt").write_text("# hard examples\nProve that every tree with n nodes has n - 1 edges.\n"
                                       "Why does this lock-free queue lose items under contention?\n")
    (tmp_path / "p.toml").write_text(POLICY)
    return tmp_path


def test_learned_signals_in_conditions_and_scores(policy_dir: Path) -> None:
    router = Router.from_file(policy_dir / "p.toml")
    assert router.decide("Derive the recurrence and prove it by induction, step by step.").rule == "learned-hard"
    assert router.decide("Fix the typos in these lines: teh, adn").tier == "bulk"
    assert router.decide("What is the capital of Chile?").tier == "standard"
    decision = router.decide("Prove that every tree with n nodes has exactly n - 1 edges.")
    assert decision.rule == "like-hard"
    assert "nearest example 1 of 2 'Prove that every tree with n nodes has n - 1 edges.'" in decision.explanation


def test_route_explain_names_the_ngrams_and_the_nearest_example(policy_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", "-c", str(policy_dir / "p.toml"), "--explain", "Fix the typos in these lines: teh, adn"]) == 0
    out = capsys.readouterr().out
    assert "task.bulk = 0." in out and "most weight for bulk: " in out
    assert "similar to examples in 'hard.txt' (in last_user) = " in out
    assert "score 'hard'" in out and "task.complex 0." in out


def test_similarity_of_inline_examples() -> None:
    examples = ExampleSet(["Prove the theorem by induction.", "Summarise this article."], "examples")
    value, nearest = examples.nearest_to("prove this theorem by induction")
    assert nearest == "Prove the theorem by induction." and 0.5 < value < 1
    assert examples.nearest_to("Prove the theorem by induction.") == (pytest.approx(1.0), "Prove the theorem by induction.")
    assert examples.nearest_to("") == (0.0, "Prove the theorem by induction.")


def test_editing_a_referenced_file_reloads_the_gateway_policy(policy_dir: Path) -> None:
    from rulerouter.gateway.hot_reload import PolicyHolder

    async def scenario() -> None:
        holder = PolicyHolder(policy_dir / "p.toml", check_file(policy_dir / "p.toml"), env={}, log=None)
        prompt = "Summarise the minutes of the budget meeting for the board."
        assert holder.router.decide(prompt).rule != "like-hard"
        assert not holder.changed()
        (policy_dir / "hard.txt").write_text("Summarise the minutes of the budget meeting for the board.\n")
        assert holder.changed()
        assert await holder.reload("file changed")
        assert holder.router.decide(prompt).rule == "like-hard"
        (policy_dir / "task.model.json").write_text("{not json")
        assert holder.changed()
        assert not await holder.reload("file changed")  # a corrupt model: the last good policy keeps serving
        assert holder.router.decide(prompt).rule == "like-hard"
        await holder.close()

    asyncio.run(scenario())


def test_train_command_reports_each_held_out_source_and_writes_the_model(tmp_path: Path, policy_dir: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = write(tmp_path / "d.jsonl", rows())
    out = tmp_path / "new.model.json"
    assert main(["train", str(data), "-o", str(out), "--by", "source", "--lambda", "0.001", "--min-df", "1",
                 "--iterations", "60", "-c", str(policy_dir / "p.toml"), "--classifier", "task"]) == 0
    text = capsys.readouterr().out
    assert "leave-one-source-out, routed by " in text and "with classifier 'task' refitted per fold" in text
    assert "worst source: src" in text
    parse_model(json.loads(out.read_text()))
    assert main(["train", str(data), "-o", str(out), "-c", str(policy_dir / "p.toml"), "--classifier", "nope"]) == 2
    assert "declares no classifier 'nope'" in capsys.readouterr().err


def test_the_shipped_classifier_loads_and_is_small() -> None:
    from rulerouter.policy.model_file import read_model, resolve_model_path

    path = resolve_model_path("builtin:task", Path("."))
    assert path.stat().st_size < 3_000_000
    shipped = read_model(path)
    assert set(shipped.classes) == {"bulk", "complex", "standard", "structured"}
    assert shipped.trained["by"] == "source" and len(shipped.trained["held_out"]) >= 6
    router = Router.from_toml(HEAD + '[classifiers.task]\nmodel = "builtin:task"\n[[rules]]\nname = "c"\n'
                              'when.signals."task.complex" = { gte = 0.5 }\ntier = "complex"\n')
    step = router.trace("Prove that there are infinitely many primes.")[0]
    assert "classifier 'task': " in step.detail and "most weight for " in step.detail
