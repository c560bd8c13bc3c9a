"""Lint checks for the files a policy refers to and the signals they give (RR601–RR606).

Mixed into the linter on top of `lint_signals` (whose signal checks call `learned_signal`): classifier model files (missing or unreadable,
corrupt, another format version), learned signals naming a classifier or class that does not
exist, classifiers nothing uses, and `when.similar` example files and thresholds.
"""

from __future__ import annotations

from typing import Any

from .lint_signals import Loc, SignalChecks
from .model_file import ModelFile
from .parse import did_you_mean
from .resources import ResourceError, Resources
from .schema import Condition

__all__ = ["ResourceChecks"]


class ResourceChecks(SignalChecks):
    resources: Resources

    def model_of(self, classifier: str) -> ModelFile | None:
        spec = self.parts.classifiers.get(classifier)
        if spec is None or getattr(spec, "model", None) is None:
            return None
        try:
            return self.resources.model(spec.model)
        except ResourceError:
            return None

    def check_classifiers(self) -> None:
        used = self.used_classifiers()
        for name, spec in self.parts.classifiers.items():
            loc: Loc = ("classifiers", name)
            if getattr(spec, "model", None) is None:
                continue
            try:
                self.resources.model(spec.model)
            except ResourceError as exc:
                self.report(exc.code, str(exc), loc + ("model",), hint=exc.hint)
            if name not in used and self.parts.rules:
                self.report("RR605", f"classifier '{name}' is declared but no rule or score uses its signals", loc,
                            prefer="key", warning=True,
                            hint=f'compare its probabilities: when.signals."{name}.CLASS" = {{ gte = ... }}')

    def learned_signal(self, name: str, loc: Loc) -> bool:
        """Whether `CLASSIFIER.CLASS` names a class of a declared classifier (RR604 if not)."""
        owner, _, label = name.partition(".")
        declared = self.parts.classifier_names
        if owner not in declared:
            hint = did_you_mean(owner, declared) or (f"classifiers: {', '.join(sorted(declared))}" if declared
                                                     else f'declare it: [classifiers.{owner}] model = "…"')
            self.report("RR604", f"signal '{name}' names unknown classifier '{owner}'", loc, prefer="key", hint=hint)
            return False
        model = self.model_of(owner)
        if model is None:
            return False  # the file itself is reported at its key
        if label not in model.classes:
            self.report("RR604", f"classifier '{owner}' has no class '{label}'", loc, prefer="key",
                        hint=did_you_mean(label, model.classes) or "classes: " + ", ".join(model.classes))
            return False
        return True

    def similar_condition(self, cond: Condition, loc: Loc) -> None:
        similar = cond.similar
        assert similar is not None
        at = loc + ("similar",)
        if isinstance(similar.examples, str):
            try:
                self.resources.examples(similar.examples)
            except ResourceError as exc:
                self.report(exc.code, str(exc), at + ("examples",), hint=exc.hint)
        self.out_of_range("similarity", similar, 0.0, 1.0, at)

    def used_classifiers(self) -> set[str]:
        found: set[str] = set()

        def walk(cond: Condition | None) -> None:
            if cond is None:
                return
            found.update(name.partition(".")[0] for name in (cond.signals or {}) if "." in name)
            for child in (cond.all or []) + (cond.any or []) + ([cond.not_] if cond.not_ else []):
                walk(child)

        for _, rule in self.parts.rules:
            walk(getattr(rule, "when", None))
        for score in self.parts.scores.values():
            found.update(name.partition(".")[0] for name in (getattr(score, "weights", None) or {}) if "." in name)
        return found
