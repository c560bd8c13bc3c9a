"""Fit the weights (and optionally the thresholds) of a policy's weighted scores to labelled data.

What is fitted. Every `[scores.NAME]` that a rule compares (`when.score`, directly or inside
`all`) with a fixed `tier` becomes a regularised logistic model of "this request belongs to
that tier" (or, when the rule fires *below* a threshold, "does not belong"): the score's
features are its signals capped and scaled as at routing time, its weights and bias are fitted,
and it becomes `logistic = true`, so its value is a probability and 0.5 a natural threshold.

Decision lists need care: a rule only sees the requests that earlier rules let through, so
scores are fitted in rule order, each on the requests that reach its rule under the policy
fitted so far and that pass the rule's other conditions. With `thresholds`, each rule's
threshold is then chosen from 0.05…0.95 to maximise the accuracy of the whole policy on the
training requests.

How it is validated. The penalty λ is chosen by k-fold cross-validation (folds stratified by
tier, chosen by a seeded hash): for each λ the whole procedure is run on k−1 folds and the
resulting policy routes the held-out fold; the λ with the best mean held-out accuracy wins
(ties go to the larger λ, the simpler model). With `by` (e.g. "source") each fold is one whole
group instead — fit on every source but one, route the one left out — and the λ with the best
mean macro recall over the held-out groups wins; the figures per held-out group are kept. Because λ is picked on those same folds, the CV
figures are slightly optimistic; `holdout` keeps a share of the data out of everything and
reports figures on it that are not. Deterministic given the seed: no other randomness.
"""

from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import tomli_w

from ..decide.compile import CompiledPolicy
from ..decide.inputs import Inputs
from ..decide.learned_conditions import learned_signal
from ..decide.scores import feature
from ..decide.signals import signals_of
from ..errors import UsageError
from ..policy.resources import Resources
from ..policy.schema import Condition, Policy, Rule, Score, ScoreCondition
from ..policy.vocabulary import SIGNALS
from . import logistic_regression as logistic
from .evaluate import LabelReport, Routed, label_report
from .groups import GroupFigures, GroupSummary, group_folds
from .labelled_data import Record, folds, split_holdout

__all__ = ["Target", "TuneOptions", "TuneResult", "find_targets", "render", "tune", "tuned_data"]

THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))
Path = tuple[Any, ...]  # steps from a rule's `when` to the condition holding the score: ("all", 2), …


@dataclass(frozen=True)
class Target:
    """One score fitted for one rule."""

    rule_index: int
    rule: str
    score: str
    tier: str
    below: bool  # the rule fires when the score is below its threshold
    path: Path


@dataclass(frozen=True)
class TuneOptions:
    folds: int = 5
    seed: int = 0
    lambdas: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
    penalty: Literal["l2", "l1"] = "l2"
    thresholds: bool = False
    holdout: float | None = None
    features: Literal["declared", "all"] = "declared"
    by: str | None = None  # hold out one group (e.g. source) per fold instead of k random folds


@dataclass
class TuneResult:
    policy: Policy
    targets: list[Target]
    lam: float
    cv_accuracy: dict[float, tuple[float, float]]  # λ → (mean, standard deviation) over folds
    cv_report: LabelReport  # pooled held-out predictions at the chosen λ
    training: int
    holdout_report: LabelReport | None
    train_sizes: dict[str, int] = field(default_factory=dict)  # score → requests it was fitted on
    notes: list[str] = field(default_factory=list)
    by_group: GroupSummary | None = None  # with `by`: each held-out group's figures at the chosen λ


def _score_paths(cond: Condition | None, path: Path = ()) -> list[tuple[Path, ScoreCondition]]:
    """Scores at positions where the rule needs them to hold (the table itself or inside `all`)."""
    if cond is None:
        return []
    found = [(path, cond.score)] if cond.score is not None else []
    for i, child in enumerate(cond.all or ()):
        found += _score_paths(child, path + ("all", i))
    return found


def _nested_scores(cond: Condition | None) -> bool:
    if cond is None:
        return False
    inner = list(cond.any or ()) + ([cond.not_] if cond.not_ is not None else [])
    return any(c.score is not None or _nested_scores(c) or _score_paths(c) for c in inner) or any(
        _nested_scores(c) for c in cond.all or ())


def find_targets(policy: Policy, only: Sequence[str] | None = None) -> list[Target]:
    """The scores to fit and the rule each one serves, in rule order."""
    targets: list[Target] = []
    seen: dict[str, str] = {}
    for index, rule in enumerate(policy.rules):
        if not rule.enabled or rule.when is None:
            continue
        if _nested_scores(rule.when):
            raise UsageError(f"rule '{rule.name}' compares a score inside `any` or `not`; tune fits scores only where the rule needs them to hold")
        for path, cond in _score_paths(rule.when):
            if only is not None and cond.name not in only:
                continue
            if rule.tier is None:
                raise UsageError(f"rule '{rule.name}' takes its tier from metadata; tune needs a fixed tier to fit score '{cond.name}' for")
            if cond.name in seen:
                raise UsageError(f"score '{cond.name}' is compared by rules '{seen[cond.name]}' and '{rule.name}'; tune fits each score for one rule")
            below = cond.gt is None and cond.gte is None
            seen[cond.name] = rule.name
            targets.append(Target(index, rule.name, cond.name, rule.tier, below, path))
    if only is not None:
        missing = sorted(set(only) - set(seen))
        if missing:
            raise UsageError(f"no rule compares score(s) {', '.join(missing)} where tune can fit them")
    if not targets:
        raise UsageError("the policy has no rule comparing a [scores] table; nothing to tune")
    return targets


def _replace(cond: Condition, path: Path, score: ScoreCondition | None) -> Condition | None:
    """`cond` with the score at `path` replaced (None: dropped); None if nothing is left."""
    if path:
        _, i = path[0], path[1]
        children = list(cond.all or ())
        child = _replace(children[i], path[2:], score)
        children[i:i + 1] = [] if child is None else [child]
        return cond.model_copy(update={"all": children})
    updated = cond.model_copy(update={"score": score})
    return updated if any(getattr(updated, name) is not None for name in Condition.model_fields) else None


def _with_rule_when(policy: Policy, index: int, when: Condition | None) -> Policy:
    rules = list(policy.rules)
    rules[index] = rules[index].model_copy(update={"when": when})
    return policy.model_copy(update={"rules": rules})


def _with_threshold(policy: Policy, target: Target, threshold: float) -> Policy:
    rule: Rule = policy.rules[target.rule_index]
    assert rule.when is not None
    bound = {"lt": threshold, "lte": None} if target.below else {"gte": threshold, "gt": None}
    old = _find(rule.when, target.path)
    return _with_rule_when(policy, target.rule_index, _replace(rule.when, target.path, old.model_copy(update=bound)))


def _find(cond: Condition, path: Path) -> ScoreCondition:
    while path:
        cond = (cond.all or [])[path[1]]
        path = path[2:]
    assert cond.score is not None
    return cond.score


def _with_score(policy: Policy, name: str, weights: dict[str, float], bias: float) -> Policy:
    scores = dict(policy.scores)
    scores[name] = scores[name].model_copy(update={"weights": weights, "bias": bias, "logistic": True})
    return policy.model_copy(update={"scores": scores})


class _Data:
    """Records with their `Inputs` kept, so signals are computed once for every fit."""

    def __init__(self, records: Sequence[Record], policy: Policy, resources: Resources | None) -> None:
        self.records = list(records)
        self.inputs: dict[str, Inputs] = {r.id: r.inputs() for r in self.records}
        self.resources = resources
        self.classifiers = CompiledPolicy(policy, resources).classifiers

    def signal(self, record: Record, source: str, name: str) -> float:
        """A signal of a record, learned (`task.complex`) or measured."""
        inputs = self.inputs[record.id]
        if "." in name:
            classifier, index = learned_signal(name, self.classifiers)
            return classifier.probabilities(inputs, source)[index]
        return signals_of(inputs, source)[name]

    def route(self, policy: Policy, records: Sequence[Record]) -> list[Routed]:
        compiled = CompiledPolicy(policy, self.resources)
        out = []
        for record in records:
            decision = compiled.decide(self.inputs[record.id])
            out.append(Routed(record, decision.tier, decision.rule))
        return out

    def accuracy(self, policy: Policy, records: Sequence[Record]) -> float:
        routed = self.route(policy, records)
        return sum(1 for r in routed if r.tier == r.record.expected_tier) / len(routed) if routed else 0.0


def _features(policy: Policy, target: Target, options: TuneOptions) -> list[str]:
    declared = list(policy.scores[target.score].weights)
    if options.features == "declared":
        return declared
    return declared + [name for name in SIGNALS if name not in declared]


def _fit_target(policy: Policy, target: Target, data: _Data, records: Sequence[Record], lam: float,
                options: TuneOptions) -> tuple[Policy, int]:
    rule = policy.rules[target.rule_index]
    assert rule.when is not None
    without = _with_rule_when(policy, target.rule_index, _replace(rule.when, target.path, None))
    reaching = [r.record for r in data.route(without, records) if r.rule == rule.name]
    names = _features(policy, target, options)
    spec: Score = policy.scores[target.score]
    caps = [spec.caps.get(name, SIGNALS[name].cap if name in SIGNALS else 1.0) for name in names]
    rows = []
    for record in reaching:
        row = [(j, f) for j, (name, cap) in enumerate(zip(names, caps))
               if (f := feature(data.signal(record, rule.text, name), cap))]
        rows.append(row)
    labels = [int((r.expected_tier == target.tier) != target.below) for r in reaching]
    positives = sum(labels)
    if 0 < positives < len(labels):
        weights, bias = logistic.fit(rows, labels, len(names), lam, options.penalty)
    else:  # nothing to tell apart: a constant score at the smoothed base rate
        weights, bias = [0.0] * len(names), math.log((positives + 0.5) / (len(labels) - positives + 0.5))
    fitted = _with_score(policy, target.score, dict(zip(names, weights)), bias)
    if options.thresholds:
        best = max(THRESHOLD_GRID, key=lambda t: (data.accuracy(_with_threshold(fitted, target, t), records), -abs(t - 0.5)))
        fitted = _with_threshold(fitted, target, best)
    return fitted, len(reaching)


def _fit(policy: Policy, targets: Sequence[Target], data: _Data, records: Sequence[Record], lam: float,
         options: TuneOptions) -> tuple[Policy, dict[str, int]]:
    sizes = {}
    for target in targets:
        policy, sizes[target.score] = _fit_target(policy, target, data, records, lam, options)
    return policy, sizes


def rounded(policy: Policy, targets: Sequence[Target]) -> Policy:
    """Weights and bias to 4 significant digits: a file people can read (thresholds are on a grid)."""
    for target in targets:
        spec = policy.scores[target.score]
        weights = {k: float(f"{v:.4g}") + 0.0 for k, v in spec.weights.items()}
        policy = _with_score(policy, target.score, weights, float(f"{spec.bias:.4g}") + 0.0)
    return policy


def _probability_thresholds(policy: Policy, targets: Sequence[Target]) -> tuple[Policy, list[str]]:
    """A score that was a plain sum becomes a probability: its thresholds must lie in (0, 1)."""
    notes = []
    for target in targets:
        if policy.scores[target.score].logistic:
            continue
        cond = _find(policy.rules[target.rule_index].when, target.path)  # type: ignore[arg-type]
        bounds = [b for b in (cond.gt, cond.gte, cond.lt, cond.lte) if b is not None]
        if any(not 0 < b < 1 for b in bounds) or len(bounds) > 1:
            policy = _with_threshold(policy, target, 0.5)
            notes.append(f"score '{target.score}' is now a probability; rule '{target.rule}' compares it with 0.5")
    return policy, notes


def tune(policy: Policy, records: Sequence[Record], options: TuneOptions, only: Sequence[str] | None = None,
         resources: Resources | None = None) -> TuneResult:
    """Fit the policy's scores. `resources`: the files it refers to, as its load read them."""
    targets = find_targets(policy, only)
    labelled = [r for r in records if r.expected_tier is not None]
    unknown = sorted({r.expected_tier for r in labelled} - set(policy.tiers))  # type: ignore[arg-type]
    if unknown:
        raise UsageError(f"records expect tier(s) the policy does not have: {', '.join(unknown)}")
    held: list[Record] = []
    if options.holdout is not None:
        labelled, held = split_holdout(labelled, options.holdout, options.seed)
    if not options.lambdas or any(lam < 0 for lam in options.lambdas):
        raise UsageError("give one or more penalties λ ≥ 0")
    policy, notes = _probability_thresholds(policy, targets)
    data = _Data(labelled + held, policy, resources)
    splits = validation_splits(labelled, options)
    cv: dict[float, tuple[float, float]] = {}
    pooled: dict[float, list[Routed]] = {}
    per_group: dict[float, GroupSummary] = {}
    for lam in options.lambdas:
        scores, routed, groups = [], [], []
        for name, train, test in splits:
            fitted, _ = _fit(policy, targets, data, train, lam, options)
            fold_routed = data.route(rounded(fitted, targets), test)
            routed += fold_routed
            report = label_report(policy, fold_routed)
            if options.by is not None:
                groups.append(GroupFigures(name, report, None))
                scores.append(report.macro_recall or 0.0)
            else:
                scores.append(report.accuracy)
        cv[lam] = (statistics.fmean(scores), statistics.stdev(scores) if len(scores) > 1 else 0.0)
        pooled[lam] = routed
        per_group[lam] = GroupSummary(options.by or "fold", groups)
    best = max(options.lambdas, key=lambda lam: (round(cv[lam][0], 10), lam))
    final, sizes = _fit(policy, targets, data, labelled, best, options)
    final = rounded(final, targets)
    holdout_report = label_report(final, data.route(final, held)) if held else None
    return TuneResult(final, targets, best, cv, label_report(policy, pooled[best]), len(labelled), holdout_report,
                      sizes, notes, per_group[best] if options.by is not None else None)


def validation_splits(records: Sequence[Record], options: TuneOptions) -> list[tuple[str, list[Record], list[Record]]]:
    """(name, training, held-out) for each fold: one per group with `by`, else k stratified folds."""
    if options.by is not None:
        return group_folds(records, options.by)
    parts = folds(records, options.folds, options.seed)
    return [(f"fold {i + 1}", [r for j, part in enumerate(parts) if j != i for r in part], test)
            for i, test in enumerate(parts)]


def _raw_condition(raw_rule: dict[str, Any], path: Path) -> dict[str, Any]:
    node = raw_rule["when"]
    while path:
        node = node["all"][path[1]]
        path = path[2:]
    return node["score"]  # type: ignore[no-any-return]


def tuned_data(raw: dict[str, Any], result: TuneResult) -> dict[str, Any]:
    """The input file's data (as tomllib read it) with the fitted scores and thresholds."""
    out = copy.deepcopy(raw)
    for target in result.targets:
        spec = result.policy.scores[target.score]
        table = out["scores"][target.score]
        table["weights"] = dict(spec.weights)
        table["bias"] = spec.bias
        table["logistic"] = True
        fitted = _find(result.policy.rules[target.rule_index].when, target.path)  # type: ignore[arg-type]
        cond = _raw_condition(out["rules"][target.rule_index], target.path)
        for key in ("gt", "gte", "lt", "lte"):
            value = getattr(fitted, key)
            if value is None:
                cond.pop(key, None)
            else:
                cond[key] = value
    return out


def _figures(report: LabelReport, complex_tier: str | None) -> list[str]:
    per_tier = ", ".join(
        f"{t} P {_pct(f.precision)} R {_pct(f.recall)}" for t, f in report.figures.items() if f.expected or f.routed
    )
    lines = [f"accuracy {_pct(report.accuracy)} ({report.correct}/{report.total}), macro-F1 {report.macro_f1:.3f}",
             f"per tier (precision, recall): {per_tier}"]
    shares = ", ".join(f"{t} {_pct(report.share(t))}" for t in report.tiers if report.figures[t].routed)
    lines.append(f"routed: {shares}")
    return lines


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _tier_lines(policy: Policy) -> list[str]:
    """What each tier is for (its `description`), so the figures below read against the definitions."""
    described = [(name, tier.description) for name, tier in policy.tiers.items() if tier.description]
    if not described:
        return []
    width = max(len(name) for name, _ in described)
    return ["Tiers:", *(f"  {name:<{width}}  {text}" for name, text in described)]


def render(raw: dict[str, Any], result: TuneResult, options: TuneOptions, source: str, labelled: str) -> str:
    """The tuned rule file: a comment header with the held-out figures, then the TOML."""
    lams = ", ".join(f"{lam:g}" for lam in options.lambdas)
    mean, sd = result.cv_accuracy[result.lam]
    validation = (f"leave-one-{options.by}-out validation" if options.by is not None
                  else f"{options.folds}-fold cross-validation")
    head = [
        f"Tuned by `rulerouter tune` from {source} on {labelled}.",
        f"Seed {options.seed}, {validation}, {options.penalty.upper()} penalty, "
        f"λ = {result.lam:g} (chosen from {lams}), thresholds {'fitted' if options.thresholds else 'kept'}, "
        f"features {options.features}.",
        *_tier_lines(result.policy),
        "Scores fitted (rule → tier: requests reaching the rule in training):",
        *(f"  {t.score}: rule '{t.rule}' → {'not ' if t.below else ''}{t.tier}: {result.train_sizes.get(t.score, 0)} requests"
          for t in result.targets),
        "",
    ]
    if result.by_group is not None:
        head += [
            f"Leave-one-{options.by}-out ({len(result.by_group.groups)} folds over {result.training} requests: each "
            f"{options.by} routed by scores fitted on the others; λ was chosen on these folds):",
            f"  mean macro recall {mean:.3f} ± {sd:.3f} over {options.by} values; recall per held-out {options.by}:",
            *(f"  {line}" for line in result.by_group.table(list(result.policy.tiers))),
            "Pooled over the held-out folds:",
            *(f"  {line}" for line in _figures(result.cv_report, None)),
        ]
    else:
        head += [
            f"Cross-validated (held-out folds of {result.training} requests; λ was chosen on these folds,",
            "so these are slightly optimistic):",
            f"  mean accuracy {_pct(mean)} ± {100 * sd:.1f} points over folds; pooled:",
            *(f"  {line}" for line in _figures(result.cv_report, None)),
        ]
    if result.holdout_report is not None:
        head += [
            "",
            f"Hold-out set ({result.holdout_report.total} requests, --holdout {options.holdout:g} --seed {options.seed}, never used for fitting):",
            *(f"  {line}" for line in _figures(result.holdout_report, None)),
        ]
    head += ["", *result.notes, "Comments of the input file are not kept; rulerouter lint checks this file."]
    header = "\n".join(f"# {line}".rstrip() for line in head if line is not None)
    return header + "\n\n" + tomli_w.dumps(tuned_data(raw, result))
