"""Figures by group, and folds that hold out whole groups (leave-one-source-out).

A labelled record belongs to a group named by a key: a top-level field of its JSON object
(`source`, `category`, …) or a JSONPath into it (`$.metadata.client`). Records without a value
for the key form the group `(none)`.

Why groups: a policy fitted and tested on a random split of one collection learns that
collection's habits (its templates, its phrasing, its length) and is measured on them. Holding
out a whole source instead — fit on every source but one, test on the one left out, once per
source — measures what happens on traffic nobody tuned for, and the worst source says how
badly it can go. `group_folds` builds those folds; a fold never splits a group.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import UsageError
from ..policy.jsonpath import JsonPathError, compile_path
from ..policy.schema import Policy
from .evaluate import LabelReport, QualityReport, Routed, label_report, quality_report
from .labelled_data import Record

__all__ = ["NO_GROUP", "GroupFigures", "GroupSummary", "by_group", "group_folds", "group_of", "groups_of"]

NO_GROUP = "(none)"


def group_of(key: str) -> Callable[[Record], str]:
    """A function naming the group of a record under `key` (a field name or a JSONPath)."""
    if not key:
        raise UsageError("give a field name (e.g. source) or a JSONPath (e.g. $.metadata.client) to group by")
    if key.startswith("$"):
        try:
            find = compile_path(key)
        except JsonPathError as exc:
            raise UsageError(f"invalid JSONPath {key!r}: {exc}") from None

        def by_path(record: Record) -> str:
            return _name(find(dict(record.data)))

        return by_path

    def by_field(record: Record) -> str:
        value = record.data.get(key)
        return _name([] if value is None else [value])

    return by_field


def _name(values: list[Any]) -> str:
    if not values or values[0] is None:
        return NO_GROUP
    value = values[0]
    return value if isinstance(value, str) else repr(value)


def groups_of(records: Sequence[Record], key: str) -> dict[str, list[Record]]:
    """Records by group, groups sorted by name, file order kept inside each."""
    name = group_of(key)
    found: dict[str, list[Record]] = {}
    for record in records:
        found.setdefault(name(record), []).append(record)
    return dict(sorted(found.items()))


def group_folds(records: Sequence[Record], key: str) -> list[tuple[str, list[Record], list[Record]]]:
    """(group, training records, held-out records) for each group: every other group trains."""
    groups = groups_of(records, key)
    if len(groups) < 2:
        only = next(iter(groups), NO_GROUP)
        raise UsageError(f"leave-one-out by {key!r} needs at least 2 groups; every record is in {only!r}")
    return [
        (name, [r for other, rs in groups.items() if other != name for r in rs], held)
        for name, held in groups.items()
    ]


@dataclass(frozen=True)
class GroupFigures:
    group: str
    labels: LabelReport | None  # None: no record of the group has an expected tier
    quality: QualityReport | None

    @property
    def macro_recall(self) -> float | None:
        return self.labels.macro_recall if self.labels is not None and self.labels.total else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "macro_recall": self.macro_recall,
            "expected_tier": self.labels.to_dict() if self.labels is not None and self.labels.total else None,
            "quality": self.quality.to_dict() if self.quality is not None else None,
        }


@dataclass(frozen=True)
class GroupSummary:
    key: str
    groups: list[GroupFigures]

    def _scored(self) -> list[GroupFigures]:
        return [g for g in self.groups if g.macro_recall is not None]

    @property
    def mean_macro_recall(self) -> float | None:
        scored = self._scored()
        return statistics.fmean(g.macro_recall for g in scored) if scored else None  # type: ignore[misc]

    @property
    def worst(self) -> GroupFigures | None:
        scored = self._scored()
        return min(scored, key=lambda g: (g.macro_recall, g.group)) if scored else None

    def mean_recall(self, tier: str) -> float | None:
        """Mean over the groups that have requests labelled `tier` of its recall there."""
        values = [g.labels.figures[tier].recall for g in self.groups
                  if g.labels is not None and tier in g.labels.figures and g.labels.figures[tier].recall is not None]
        return statistics.fmean(values) if values else None  # type: ignore[arg-type]

    def table(self, tiers: Sequence[str]) -> list[str]:
        """One row per group: requests, recall of each tier present, macro recall, cost cut."""
        shown = [t for t in tiers if any(g.labels is not None and t in g.labels.figures and g.labels.figures[t].expected
                                         for g in self.groups)]
        width = max([len(g.group) for g in self.groups] + [len(self.key), len("mean over groups")]) + 2
        with_quality = any(g.quality is not None for g in self.groups)
        head = f"{self.key:<{width}}{'requests':>9}" + "".join(f"{t:>12}" for t in shown) + f"{'macro':>8}"
        lines = [head + (f"{'cost cut':>10}" if with_quality else "")]
        for g in self.groups:
            labels = g.labels
            requests = labels.total if labels is not None else (g.quality.requests if g.quality else 0)
            row = f"{g.group:<{width}}{requests:>9}"
            for t in shown:
                figures = labels.figures.get(t) if labels is not None else None
                row += f"{_percent(figures.recall if figures else None):>12}"
            row += f"{_ratio(g.macro_recall):>8}"
            if with_quality:
                row += f"{_percent(g.quality.saving_fraction if g.quality else None):>10}"
            lines.append(row)
        mean = f"{'mean over groups':<{width}}{'':>9}" + "".join(f"{_percent(self.mean_recall(t)):>12}" for t in shown)
        lines.append(mean + f"{_ratio(self.mean_macro_recall):>8}")
        worst = self.worst
        if worst is not None:
            lines.append(f"worst {self.key}: {worst.group} (macro recall {_ratio(worst.macro_recall)})")
        return lines

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "key": self.key,
            "groups": {g.group: g.to_dict() for g in self.groups},
            "mean_macro_recall": self.mean_macro_recall,
            "worst": {"group": worst.group, "macro_recall": worst.macro_recall} if worst is not None else None,
        }


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def by_group(policy: Policy, routed: Sequence[Routed], key: str, strong: str, weak: str,
             output_tokens: int) -> GroupSummary:
    """Each group's label and quality figures for requests already routed by one policy."""
    name = group_of(key)
    found: dict[str, list[Routed]] = {}
    for r in routed:
        found.setdefault(name(r.record), []).append(r)
    figures = []
    for group, members in sorted(found.items()):
        labels = label_report(policy, members)
        figures.append(GroupFigures(group, labels if labels.total else None,
                                    quality_report(policy, members, strong, weak, output_tokens)))
    return GroupSummary(key, figures)
