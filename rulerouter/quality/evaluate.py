"""How well does a policy route? Figures for `rulerouter eval` (and for `tune`'s held-out folds).

Two kinds of labels, each with its own report:

* expected tier — a confusion matrix, accuracy, per-tier precision and recall, the share routed
  to each tier, and which rules made each mistake;
* quality scores — the policy seen as a two-model router (its strong tier against everything
  else), counted the way RouteLLM counts: the share sent to the strong model, the quality
  reached as a fraction of sending everything there, the performance gap recovered (PGR), and
  the saving against a random router that reaches the same quality.

Pure computation over decisions; reading files is `labelled`'s job and printing is the CLI's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from ..decide.compile import CompiledPolicy
from ..decide.inputs import estimate_tokens
from ..policy.schema import Policy
from .labelled_data import Record

__all__ = ["LabelReport", "QualityReport", "Routed", "label_report", "quality_report", "route_all"]

DEFAULT_RULE = "(default)"


@dataclass(frozen=True)
class Routed:
    record: Record
    tier: str
    rule: str | None


def route_all(compiled: CompiledPolicy, records: Iterable[Record]) -> list[Routed]:
    out = []
    for record in records:
        decision = compiled.decide(record.inputs())
        out.append(Routed(record, decision.tier, decision.rule))
    return out


@dataclass
class TierFigures:
    tier: str
    expected: int  # requests labelled with this tier
    routed: int  # requests sent to it
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.routed if self.routed else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.expected if self.expected else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)


@dataclass
class RuleErrors:
    rule: str
    count: int = 0
    cells: dict[tuple[str, str], int] = field(default_factory=dict)  # (expected, routed) → count
    ids: list[str] = field(default_factory=list)


@dataclass
class LabelReport:
    tiers: list[str]
    total: int
    correct: int
    matrix: dict[str, dict[str, int]]  # expected → routed → count
    figures: dict[str, TierFigures]
    errors_by_rule: list[RuleErrors]
    errors: list[Routed]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def macro_recall(self) -> float | None:
        """Mean recall over the tiers that have labelled requests (None without any)."""
        recalls = [f.recall for f in self.figures.values() if f.recall is not None]
        return sum(recalls) / len(recalls) if recalls else None

    @property
    def macro_f1(self) -> float:
        scores = [f.f1 for f in self.figures.values() if f.expected and f.f1 is not None]
        return sum(scores) / len(scores) if scores else 0.0

    def share(self, tier: str) -> float:
        return self.figures[tier].routed / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.total,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "macro_recall": self.macro_recall,
            "tiers": {
                t: {"expected": f.expected, "routed": f.routed, "correct": f.correct, "precision": f.precision,
                    "recall": f.recall, "f1": f.f1, "routed_share": self.share(t)}
                for t, f in self.figures.items()
            },
            "confusion": self.matrix,
            "errors_by_rule": [
                {"rule": e.rule, "errors": e.count, "ids": e.ids,
                 "cells": [{"expected": a, "routed": b, "count": n} for (a, b), n in sorted(e.cells.items(), key=lambda c: -c[1])]}
                for e in self.errors_by_rule
            ],
            "errors": [{"id": r.record.id, "expected": r.record.expected_tier, "routed": r.tier, "rule": r.rule} for r in self.errors],
        }


def label_report(policy: Policy, routed: Sequence[Routed]) -> LabelReport:
    """Confusion matrix and per-tier figures over the records that have an expected tier."""
    return label_report_for(list(policy.tiers), routed)


def label_report_for(tiers: Sequence[str], routed: Sequence[Routed]) -> LabelReport:
    """`label_report` for any list of tiers (or classes)."""
    labelled = [r for r in routed if r.record.expected_tier is not None]
    tiers = list(tiers)
    for r in labelled:  # a label naming no tier of the policy still shows up in the matrix
        if r.record.expected_tier not in tiers:
            tiers.append(r.record.expected_tier)  # type: ignore[arg-type]
    matrix = {a: {b: 0 for b in tiers} for a in tiers}
    by_rule: dict[str, RuleErrors] = {}
    errors = []
    for r in labelled:
        expected = r.record.expected_tier
        assert expected is not None
        matrix[expected][r.tier] += 1
        if r.tier != expected:
            errors.append(r)
            entry = by_rule.setdefault(r.rule or DEFAULT_RULE, RuleErrors(r.rule or DEFAULT_RULE))
            entry.count += 1
            entry.cells[(expected, r.tier)] = entry.cells.get((expected, r.tier), 0) + 1
            entry.ids.append(r.record.id)
    figures = {
        t: TierFigures(t, sum(matrix[t].values()), sum(matrix[a][t] for a in tiers), matrix[t][t]) for t in tiers
    }
    ranked = sorted(by_rule.values(), key=lambda e: (-e.count, e.rule))
    correct = sum(matrix[t][t] for t in tiers)
    return LabelReport(tiers, len(labelled), correct, matrix, figures, ranked, errors)


@dataclass
class QualityReport:
    requests: int
    strong_tier: str
    weak_tier: str
    strong_share: float  # share of requests routed to the strong tier
    quality: float  # mean quality of the router's choices
    all_strong: float  # mean quality if every request went to the strong model
    all_weak: float
    pgr: float | None  # (quality - all_weak) / (all_strong - all_weak); None when there is no gap
    random_share_for_equal_quality: float | None  # share a random router needs for `quality`
    cost: float | None  # US dollars for the router's choices (None: a model has no price)
    cost_all_strong: float | None
    cost_all_weak: float | None
    cost_random_equal_quality: float | None
    note: str | None = None

    @property
    def quality_fraction(self) -> float | None:
        return self.quality / self.all_strong if self.all_strong else None

    @property
    def saving(self) -> float | None:
        """Dollars saved against the random router of equal quality (negative: it costs more)."""
        if self.cost is None or self.cost_random_equal_quality is None:
            return None
        return self.cost_random_equal_quality - self.cost

    @property
    def saving_fraction(self) -> float | None:
        saving = self.saving
        if saving is None or not self.cost_random_equal_quality:
            return None
        return saving / self.cost_random_equal_quality

    def to_dict(self) -> dict[str, Any]:
        keys = ("requests", "strong_tier", "weak_tier", "strong_share", "quality", "all_strong", "all_weak", "pgr",
                "random_share_for_equal_quality", "cost", "cost_all_strong", "cost_all_weak",
                "cost_random_equal_quality", "note")
        out = {key: getattr(self, key) for key in keys}
        out.update(quality_fraction=self.quality_fraction, saving=self.saving, saving_fraction=self.saving_fraction)
        return out


def _price(policy: Policy, tier: str) -> tuple[float, float] | None:
    model = policy.models.get(policy.tiers[tier].model)
    if model is None or model.price is None:
        return None
    return model.price.input_per_mtok, model.price.output_per_mtok


def request_tokens(record: Record) -> int:
    """Input tokens of a request: the estimate of every message's text, system prompt included."""
    return estimate_tokens(record.inputs().text("all"))


def quality_report(policy: Policy, routed: Sequence[Routed], strong_tier: str, weak_tier: str,
                   output_tokens: int) -> QualityReport | None:
    """RouteLLM-style figures over the records that carry strong and weak quality scores.

    The router's quality is the strong score for requests it sends to `strong_tier` and the
    weak score for every other request. A random router sending a share q of requests to the
    strong model reaches all_weak + q × (all_strong − all_weak) on average; the share it needs
    to reach this router's quality is the smallest such q (0 when all-weak already does, PGR
    otherwise, none when even all-strong falls short); its expected cost at that share is
    Σ q*·c_strong + (1 − q*)·c_weak.
    """
    scored = [r for r in routed if r.record.quality is not None]
    if not scored:
        return None
    n = len(scored)
    strong = [r.record.quality[0] for r in scored]  # type: ignore[index]
    weak = [r.record.quality[1] for r in scored]  # type: ignore[index]
    picked = [s if r.tier == strong_tier else w for r, s, w in zip(scored, strong, weak)]
    all_strong, all_weak, quality = sum(strong) / n, sum(weak) / n, sum(picked) / n
    share = sum(1 for r in scored if r.tier == strong_tier) / n
    gap = all_strong - all_weak
    pgr = (quality - all_weak) / gap if gap else None
    # The smallest share q at which a random router's expected quality W + q·(S − W) reaches R.
    needed: float | None
    if all_weak >= quality:
        needed = 0.0
    elif all_strong >= quality:
        needed = (quality - all_weak) / gap
    else:
        needed = None
    notes = []
    if gap < 0:
        notes.append("the weak model scores higher than the strong one on average here")
    elif gap == 0:
        notes.append("the strong and weak models have the same mean quality here, so there is no gap to recover")
    if needed is None:
        notes.append("the router beats sending everything to either model; no random router reaches its quality")
    prices = _price(policy, strong_tier), _price(policy, weak_tier)
    cost = cost_strong = cost_weak = cost_random = None
    if prices[0] is not None and prices[1] is not None:
        (s_in, s_out), (w_in, w_out) = prices
        per_strong, per_weak = [], []
        for r in scored:
            tokens_in = request_tokens(r.record)
            tokens_out = r.record.output_tokens if r.record.output_tokens is not None else output_tokens
            per_strong.append((tokens_in * s_in + tokens_out * s_out) / 1e6)
            per_weak.append((tokens_in * w_in + tokens_out * w_out) / 1e6)
        cost_strong, cost_weak = sum(per_strong), sum(per_weak)
        cost = sum(cs if r.tier == strong_tier else cw for r, cs, cw in zip(scored, per_strong, per_weak))
        if needed is not None:
            cost_random = needed * cost_strong + (1 - needed) * cost_weak
    else:
        notes.append(f"no price for the model of tier '{strong_tier if prices[0] is None else weak_tier}': costs are not computed")
    return QualityReport(n, strong_tier, weak_tier, share, quality, all_strong, all_weak, pgr, needed, cost,
                         cost_strong, cost_weak, cost_random, "; ".join(notes) or None)


def default_strong_and_weak(policy: Policy) -> tuple[str, str]:
    """The tiers whose models cost the most and the least (output price, then input price)."""
    priced = [(p[1], p[0], tier) for tier in policy.tiers if (p := _price(policy, tier)) is not None]
    if len(priced) < 2:
        tiers = list(policy.tiers)
        return tiers[0], tiers[-1]
    priced.sort()
    return priced[-1][2], priced[0][2]
