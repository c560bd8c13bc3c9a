"""Fit a compact text classifier on labelled requests: what `rulerouter train` does.

The model is the multinomial logistic regression that `rulerouter.decide.classifier` runs, on
the distinct n-gram features of `rulerouter.decide.text_features` (each present feature worth
1/√n in a text of n features, as deciding scores it). Fitting:

* features — every record's features are extracted once, however many folds and penalties
  are tried: the corpus becomes one sparse matrix, and a fold is a choice of its rows and
  columns;
* vocabulary — a feature is kept when at least `min_df` training requests hold it and, with
  `by` (e.g. source), when requests of at least `min_groups` different groups hold it: a phrase
  only one source uses (its template, its boilerplate) cannot be learned, so the model leans on
  what transfers between sources. At most `max_features`, the most frequent first;
* weights of requests — every class weighs the same in the loss and, with `by`, every group
  weighs the same inside each class it has (a source of 2,000 maths problems does not drown
  one of 100), so what is learned for a tier is what its sources share;
* loss and solver — weighted cross-entropy plus λ/2·‖W‖² (biases not penalised), minimised by
  L-BFGS from zero (scipy): no randomness anywhere, so the same data and settings give the same
  file, byte for byte;
* size — features whose largest weight is below `prune` are dropped, the rest quantised to
  16-bit integers (weight = integer × scale) so the file stays small.

With `by`, λ is chosen by holding out one group at a time (fit on every other group, predict the
held-out one) and taking the λ with the best mean macro recall over held-out groups; those
held-out figures are kept in the file's `trained` record. Needs numpy and scipy (the `train`
extra); deciding with the file does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..decide.classifier import Classifier
from ..decide.compile import CompiledPolicy
from ..decide.text_features import Features, extract
from ..errors import UsageError
from ..policy.model_file import LIMIT, ModelFile
from ..policy.resources import Resources
from ..policy.schema import Policy
from .evaluate import Routed, label_report_for, route_all
from .groups import GroupFigures, GroupSummary, group_folds, group_of
from .labelled_data import Record

__all__ = ["Corpus", "TrainOptions", "TrainResult", "fit_model", "policy_folds", "train"]


def _libraries() -> tuple[Any, Any, Any]:
    try:
        import numpy
        from scipy import optimize, sparse
    except ImportError:
        raise UsageError("rulerouter train needs numpy and scipy: pip install 'rulerouter[train]'") from None
    return numpy, sparse, optimize


@dataclass(frozen=True)
class TrainOptions:
    lambdas: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    by: str | None = None
    min_df: int = 3
    min_groups: int = 2
    max_features: int = 20_000
    iterations: int = 300
    prune: float = 0.02
    text: str = "last_user"
    seed: int = 0  # recorded; the fit itself has no randomness


@dataclass
class TrainResult:
    model: ModelFile
    lam: float
    by_group: GroupSummary | None = None  # with `by`: each held-out group at the chosen λ
    mean_macro_recall: dict[float, float] = field(default_factory=dict)  # λ → mean over held-out groups


class Corpus:
    """Labelled records with their features extracted once: a sparse matrix over every feature
    name any record holds (columns in name order), labels, and the group of each record."""

    def __init__(self, records: Sequence[Record], classes: Sequence[str], options: TrainOptions) -> None:
        np, sparse, _ = _libraries()
        # In a canonical order, so that the same records in any order give the same sums, bit for bit.
        self.records = sorted(records, key=lambda r: (r.id, r.prompt or "", r.line))
        self.classes = list(classes)
        self.features: list[Features] = [extract(r.inputs().text(options.text)) for r in self.records]
        docs = [f.names() for f in self.features]
        self.names = sorted({name for doc in docs for name in doc})
        index = {name: j for j, name in enumerate(self.names)}
        lengths = np.array([len(doc) for doc in docs], dtype=np.int64)
        cols = np.fromiter((index[name] for doc in docs for name in doc), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(docs)), lengths)
        vals = np.repeat(1.0 / np.sqrt(np.maximum(lengths, 1)), lengths)
        self.matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(self.names)))
        self.presence = sparse.csr_matrix((np.ones_like(vals), (rows, cols)), shape=self.matrix.shape)
        self.labels = np.array([self.classes.index(r.expected_tier) for r in self.records], dtype=np.int64)  # type: ignore[arg-type]
        group = group_of(options.by) if options.by is not None else None
        self.groups = [group(r) for r in self.records] if group is not None else None


def _vocabulary(np: Any, corpus: Corpus, rows: Any, options: TrainOptions) -> Any:
    """Column indices of the features a fit on `rows` may use, in name order."""
    presence = corpus.presence[rows]
    df = np.asarray(presence.sum(axis=0)).ravel()
    keep = df >= options.min_df
    if corpus.groups is not None:
        groups = np.array(corpus.groups)[rows]
        seen = np.zeros(len(corpus.names), dtype=np.int64)
        for name in sorted(set(groups)):
            seen += np.asarray(presence[groups == name].sum(axis=0)).ravel() > 0
        keep &= seen >= options.min_groups
    kept = np.flatnonzero(keep)
    order = np.lexsort((kept, -df[kept]))  # most frequent first, then by name
    return np.sort(kept[order[: options.max_features]])


def _request_weights(np: Any, corpus: Corpus, rows: Any, k: int) -> Any:
    """Each class weighs 1/k in all; with groups, each group weighs the same inside a class."""
    labels = corpus.labels[rows]
    weights = np.zeros(len(rows))
    groups = np.array(corpus.groups)[rows] if corpus.groups is not None else np.zeros(len(rows), dtype=str)
    for c in range(k):
        in_class = labels == c
        members = sorted(set(groups[in_class]))
        for name in members:
            cell = in_class & (groups == name)
            weights[cell] = 1.0 / (k * len(members) * cell.sum())
    return weights


def _fit(np: Any, optimize: Any, x: Any, labels: Any, weights: Any, k: int, lam: float,
         iterations: int) -> tuple[Any, Any]:
    n, d = x.shape
    onehot = np.zeros((n, k))
    onehot[np.arange(n), labels] = 1.0
    xt = x.T.tocsr()

    def loss(theta: Any) -> tuple[float, Any]:
        w, b = theta[: d * k].reshape(d, k), theta[d * k:]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1, keepdims=True))
        log_p = z - log_norm
        value = -float((weights * log_p[np.arange(n), labels]).sum()) + lam / 2 * float((w * w).sum())
        g = (np.exp(log_p) - onehot) * weights[:, None]
        grad_w = xt @ g + lam * w
        return value, np.concatenate([grad_w.ravel(), g.sum(axis=0)])

    found = optimize.minimize(loss, np.zeros(d * k + k), jac=True, method="L-BFGS-B",
                              options={"maxiter": iterations, "gtol": 1e-7})
    return found.x[: d * k].reshape(d, k), found.x[d * k:]


def _fit_rows(corpus: Corpus, rows: Any, lam: float, options: TrainOptions,
              trained: dict[str, Any] | None = None) -> ModelFile:
    """A model fitted on some rows of the corpus, for the classes those rows hold."""
    np, _, optimize = _libraries()
    vocabulary = _vocabulary(np, corpus, rows, options)
    present = sorted({int(c) for c in corpus.labels[rows]})
    fold_classes = [corpus.classes[c] for c in present]
    remap = np.full(len(corpus.classes), -1)
    remap[present] = np.arange(len(present))
    labels = remap[corpus.labels[rows]]
    weights = _request_weights(np, corpus, rows, len(present))
    x = corpus.matrix[rows][:, vocabulary]
    w, b = _fit(np, optimize, x, labels, weights / weights.sum(), len(present), lam, options.iterations)
    largest = float(np.abs(w).max()) if w.size else 0.0
    scale = largest / (LIMIT - 1) if largest > 0 else 1.0
    scale = float(f"{scale:.6g}")
    kept: dict[str, tuple[int, ...]] = {}
    for j, column in enumerate(vocabulary):
        row = w[j]
        if float(np.abs(row).max()) >= options.prune:
            kept[corpus.names[column]] = tuple(int(q) for q in np.clip(np.rint(row / scale), 1 - LIMIT, LIMIT - 1))
    bias = tuple(round(float(v), 6) for v in b - b.mean())
    return ModelFile(tuple(fold_classes), bias, scale, kept, trained or {})


def fit_model(records: Sequence[Record], classes: Sequence[str], lam: float, options: TrainOptions,
              trained: dict[str, Any] | None = None) -> ModelFile:
    """One model fitted on `records` (each with an expected tier among `classes`)."""
    np, _, _ = _libraries()
    corpus = Corpus(records, sorted(classes), options)
    return _fit_rows(corpus, np.arange(len(corpus.records)), lam, options, trained)


def _predict(model: ModelFile, features: Sequence[Features]) -> list[str]:
    classifier = Classifier("fold", model)
    out = []
    for f in features:
        probabilities = classifier.probabilities_of_features(f)
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
    if not options.prune >= 0:
        raise UsageError(f"--prune must be a weight ≥ 0, not {options.prune:g}")
    np, _, _ = _libraries()
    corpus = Corpus(labelled, classes, options)
    shown_tiers = list(tiers) if tiers is not None else classes
    best, summaries, means = options.lambdas[-1], {}, {}
    if options.by is not None:
        folds = group_folds(labelled, options.by)
        position = {id(r): i for i, r in enumerate(corpus.records)}
        for lam in options.lambdas:
            figures = []
            for name, train_part, held in folds:
                rows = np.array(sorted(position[id(r)] for r in train_part), dtype=np.int64)
                model = _fit_rows(corpus, rows, lam, options)
                if route_fold is not None:
                    routed = route_fold(model, held)
                else:
                    predicted = _predict(model, [corpus.features[position[id(r)]] for r in held])
                    routed = [Routed(r, tier, None) for r, tier in zip(held, predicted)]
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
    model = _fit_rows(corpus, np.arange(len(corpus.records)), best, options, trained)
    return TrainResult(model, best, summaries.get(best), means)
