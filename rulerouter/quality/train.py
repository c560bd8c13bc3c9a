"""Fit a compact text classifier on labelled requests: what `rulerouter train` does.

The model is the multinomial logistic regression that `rulerouter.decide.classifier` runs, on
the n-gram features of `rulerouter.decide.text_features`. Fitting:

* vocabulary — a feature is kept when at least `min_df` training requests hold it and, with
  `by` (e.g. source), when requests of at least `min_groups` different groups hold it: a phrase
  only one source uses (its template, its boilerplate) cannot be learned, so the model leans on
  what transfers between sources. At most `max_features`, the most frequent first;
* loss — mean cross-entropy with every class weighted equally (each request weighs
  1 / (classes × requests of its class)), plus λ/2·‖W‖² (the biases are not penalised);
* solver — full-batch Adam for `iterations` steps from zero: no randomness anywhere, so the
  same data and settings give the same file, byte for byte;
* size — features whose largest weight is below `prune` are dropped, the rest quantised to
  integers (weight = integer × scale, 16 bits of precision) so the file stays small.

With `by`, λ is chosen by holding out one group at a time (fit on every other group, predict the
held-out one) and taking the λ with the best mean macro recall over held-out groups; those
held-out figures are kept in the file's `trained` record. Needs numpy (the `train` extra);
deciding with the file does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..decide.compile import CompiledPolicy
from ..decide.text_features import extract
from ..errors import UsageError
from ..policy.model_file import ModelFile
from ..policy.resources import Resources
from ..policy.schema import Policy
from .evaluate import Routed, label_report_for, route_all
from .groups import GroupFigures, GroupSummary, group_folds, group_of
from .labelled_data import Record

__all__ = ["TrainOptions", "TrainResult", "fit_model", "policy_folds", "train"]


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise UsageError("rulerouter train needs numpy: pip install 'rulerouter[train]'") from None
    return numpy


@dataclass(frozen=True)
class TrainOptions:
    lambdas: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    by: str | None = None
    min_df: int = 3
    min_groups: int = 2
    max_features: int = 20_000
    iterations: int = 300
    learning_rate: float = 0.1
    prune: float = 0.02
    text: str = "last_user"
    seed: int = 0  # recorded; the fit itself has no randomness


@dataclass
class TrainResult:
    model: ModelFile
    lam: float
    by_group: GroupSummary | None = None  # with `by`: each held-out group at the chosen λ
    mean_macro_recall: dict[float, float] = field(default_factory=dict)  # λ → mean over held-out groups


def _texts(records: Sequence[Record], source: str) -> list[list[str]]:
    return [extract(r.inputs().text(source)).strings() for r in records]


def _vocabulary(docs: Sequence[list[str]], groups: Sequence[str] | None, options: TrainOptions) -> list[str]:
    df: dict[str, int] = {}
    seen_in: dict[str, set[str]] = {}
    for i, doc in enumerate(docs):
        for feature in set(doc):
            df[feature] = df.get(feature, 0) + 1
            if groups is not None:
                seen_in.setdefault(feature, set()).add(groups[i])
    kept = [f for f, n in df.items() if n >= options.min_df
            and (groups is None or len(seen_in[f]) >= options.min_groups)]
    kept.sort(key=lambda f: (-df[f], f))
    return sorted(kept[: options.max_features])


def _matrix(np: Any, docs: Sequence[list[str]], vocabulary: Sequence[str]) -> tuple[Any, Any, Any, int]:
    """(rows, columns, values) of the sparse feature matrix, as deciding scales it: counts / √n."""
    index = {f: j for j, f in enumerate(vocabulary)}
    rows, cols, vals = [], [], []
    for i, doc in enumerate(docs):
        counts: dict[int, int] = {}
        for feature in doc:
            j = index.get(feature)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        scale = 1.0 / len(doc) ** 0.5 if doc else 0.0
        for j, c in sorted(counts.items()):
            rows.append(i)
            cols.append(j)
            vals.append(c * scale)
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(vals), len(vocabulary)


def _fit(np: Any, matrix: tuple[Any, Any, Any, int], n: int, labels: Any, k: int, lam: float,
         options: TrainOptions) -> tuple[Any, Any]:
    rows, cols, vals, d = matrix
    counts = np.bincount(labels, minlength=k).astype(float)
    sample_weight = 1.0 / (k * counts[labels])
    onehot = np.zeros((n, k))
    onehot[np.arange(n), labels] = 1.0
    w, b = np.zeros((d, k)), np.zeros(k)
    m_w, v_w, m_b, v_b = np.zeros((d, k)), np.zeros((d, k)), np.zeros(k), np.zeros(k)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, options.iterations + 1):
        logits = np.zeros((n, k)) + b
        for c in range(k):
            logits[:, c] += np.bincount(rows, weights=vals * w[cols, c], minlength=n)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * sample_weight[:, None]
        grad_w = np.stack([np.bincount(cols, weights=vals * g[rows, c], minlength=d) for c in range(k)], axis=1)
        grad_w += lam * w
        grad_b = g.sum(axis=0)
        for param, grad, m, v in ((w, grad_w, m_w, v_w), (b, grad_b, m_b, v_b)):
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad * grad
            param -= options.learning_rate * (m / (1 - beta1 ** step)) / (np.sqrt(v / (1 - beta2 ** step)) + eps)
    return w, b


def fit_model(records: Sequence[Record], classes: Sequence[str], lam: float, options: TrainOptions,
              trained: dict[str, Any] | None = None) -> ModelFile:
    """One model fitted on `records` (each with an expected tier among `classes`)."""
    np = _numpy()
    docs = _texts(records, options.text)
    groups = [group_of(options.by)(r) for r in records] if options.by is not None else None
    vocabulary = _vocabulary(docs, groups, options)
    labels = np.array([classes.index(r.expected_tier) for r in records], dtype=np.int64)  # type: ignore[arg-type]
    w, b = _fit(np, _matrix(np, docs, vocabulary), len(records), labels, len(classes), lam, options)
    largest = float(np.abs(w).max()) if w.size else 0.0
    scale = largest / 32767 if largest > 0 else 1.0
    weights = {}
    for j, feature in enumerate(vocabulary):
        row = w[j]
        if float(np.abs(row).max()) >= options.prune:
            weights[feature] = tuple(int(q) for q in np.rint(row / scale))
    bias = tuple(round(float(x), 6) for x in b - b.mean())
    return ModelFile(tuple(classes), bias, float(f"{scale:.6g}"), weights, trained or {})


def _predict(model: ModelFile, records: Sequence[Record], options: TrainOptions) -> list[str]:
    from ..decide.classifier import Classifier

    classifier = Classifier("fold", model)
    out = []
    for record in records:
        probabilities = classifier.probabilities(record.inputs(), options.text)
        out.append(model.classes[max(range(len(probabilities)), key=probabilities.__getitem__)])
    return out


def policy_folds(policy: Policy, resources: Resources, classifier: str) -> Callable[[ModelFile, Sequence[Record]], list[Routed]]:
    """Route held-out records with `policy`, its classifier `classifier` replaced by a fold's model."""
    if classifier not in policy.classifiers:
        known = ", ".join(sorted(policy.classifiers)) or "none"
        raise UsageError(f"the policy declares no classifier '{classifier}' (classifiers: {known})")
    reference = policy.classifiers[classifier].model

    def route(model: ModelFile, records: Sequence[Record]) -> list[Routed]:
        compiled = CompiledPolicy(policy, resources.with_model(reference, model))
        return route_all(compiled, records)

    return route


def train(records: Sequence[Record], options: TrainOptions,
          route_fold: Callable[[ModelFile, Sequence[Record]], list[Routed]] | None = None,
          tiers: Sequence[str] | None = None) -> TrainResult:
    """Choose λ (by leave-one-group-out with `by`), then fit on everything.

    `route_fold`, when given, routes a held-out group with a policy using that fold's model,
    so the held-out figures are the policy's, not only the classifier's."""
    labelled = [r for r in records if r.expected_tier is not None]
    if not labelled:
        raise UsageError("no record has an expected_tier to learn from")
    classes = sorted({r.expected_tier for r in labelled})  # type: ignore[type-var]
    if len(classes) < 2:
        raise UsageError(f"every record expects tier {classes[0]!r}; a classifier needs two or more")
    if not options.lambdas or any(lam < 0 for lam in options.lambdas):
        raise UsageError("give one or more penalties λ ≥ 0")
    shown_tiers = list(tiers) if tiers is not None else classes
    best, summaries, means = options.lambdas[-1], {}, {}
    if options.by is not None:
        folds = group_folds(labelled, options.by)
        for lam in options.lambdas:
            figures = []
            for name, train_part, held in folds:
                fold_classes = sorted({r.expected_tier for r in train_part})  # type: ignore[type-var]
                model = fit_model(train_part, fold_classes, lam, options)
                if route_fold is not None:
                    routed = route_fold(model, held)
                else:
                    routed = [Routed(r, tier, None) for r, tier in zip(held, _predict(model, held, options))]
                figures.append(GroupFigures(name, label_report_for(shown_tiers, routed), None))
            summaries[lam] = GroupSummary(options.by, figures)
            means[lam] = summaries[lam].mean_macro_recall or 0.0
        best = max(options.lambdas, key=lambda lam: (round(means[lam], 10), lam))
    trained: dict[str, Any] = {
        "records": len(labelled), "lambda": best, "lambdas": list(options.lambdas), "min_df": options.min_df,
        "max_features": options.max_features, "iterations": options.iterations, "prune": options.prune,
        "text": options.text, "seed": options.seed,
    }
    if options.by is not None:
        summary = summaries[best]
        trained.update(by=options.by, min_groups=options.min_groups,
                       held_out={g.group: {"requests": g.labels.total if g.labels else 0, "macro_recall": g.macro_recall,
                                           "recall": {t: f.recall for t, f in (g.labels.figures.items() if g.labels else ())
                                                      if f.recall is not None}}
                                 for g in summary.groups},
                       mean_macro_recall=summary.mean_macro_recall)
    model = fit_model(labelled, classes, best, options, trained)
    return TrainResult(model, best, summaries.get(best), means)

