"""Lint checks for signals, scores and languages (RR307–RR310), mixed into the linter.

Kept out of `lint.py` so each file stays readable in one sitting; `_Linter` inherits these
methods and provides `parts`, `report` and `raw`.
"""

from __future__ import annotations

import math
from typing import Any

from .implication import intersect, is_empty, real_interval
from .parse import did_you_mean
from .schema import Condition, Score, SignalBounds
from .vocabulary import LANGUAGES, SIGNALS, logistic

__all__ = ["Loc", "SignalChecks", "score_range"]

Loc = tuple[str | int, ...]


class SignalChecks:
    parts: Any

    def report(self, code: str, message: str, loc: Loc, *, prefer: str = "value", warning: bool = False,
               hint: str | None = None) -> None:
        raise NotImplementedError

    def raw(self, loc: Loc) -> Any:
        raise NotImplementedError

    def learned_signal(self, name: str, loc: Loc) -> bool:
        raise NotImplementedError

    def signal_conditions(self, cond: Condition, loc: Loc) -> None:
        for name, bounds in (cond.signals or {}).items():
            at = loc + ("signals", name)
            if "." in name:
                if self.learned_signal(name, at):
                    self.out_of_range(f"probability '{name}'", bounds, 0.0, 1.0, at)
                continue
            if name not in SIGNALS:
                self.unknown_signal(name, at)
                continue
            highest = SIGNALS[name].highest
            self.out_of_range(f"signal '{name}'", bounds, 0.0, math.inf if highest is None else highest, at)
        if cond.language is not None:
            shorthand = not isinstance(self.raw(loc + ("language",)), dict)
            for key, codes in (("in", cond.language.in_), ("not_in", cond.language.not_in)):
                for i, code in enumerate(codes or ()):
                    if code not in LANGUAGES:
                        at = loc + ("language",) if shorthand else loc + ("language", key, i)
                        if shorthand and isinstance(self.raw(at), list):
                            at = at + (i,)
                        self.report("RR310", f"language '{code}' is never detected", at,
                                    hint=did_you_mean(code, LANGUAGES) or "languages: " + ", ".join(sorted(LANGUAGES)))
        if cond.score is not None:
            self.score_condition(cond, loc + ("score",))

    def check_scores(self) -> None:
        used = self.used_scores()
        for name, score in self.parts.scores.items():
            loc: Loc = ("scores", name)
            if name not in used and self.parts.rules:
                self.report("RR308", f"score '{name}' is declared but no rule compares it", loc, prefer="key",
                            warning=True, hint='use it in a rule: when.score = { name = "' + name + '", gte = ... }')
            for key in ("weights", "caps"):
                for signal, value in (getattr(score, key, None) or {}).items():
                    at = loc + (key, signal)
                    if "." in signal:
                        if not self.learned_signal(signal, at):
                            continue
                    elif signal not in SIGNALS:
                        self.unknown_signal(signal, at)
                        continue
                    if key == "caps" and value <= 0:
                        self.report("RR309", f"score '{name}': caps.{signal} must be above 0, got {value:g}", at,
                                    hint="a cap is the value from which the signal counts in full")
                    elif key == "caps" and signal not in (getattr(score, "weights", None) or {}):
                        self.report("RR309", f"score '{name}': caps.{signal} has no effect: the score does not weigh '{signal}'",
                                    at, prefer="key", warning=True)
            weights = getattr(score, "weights", None)
            if weights and not any(weights.values()):
                self.report("RR309", f"score '{name}' weighs every signal 0, so it is a constant", loc + ("weights",),
                            prefer="key", warning=True, hint="run `rulerouter tune` to fit the weights, or give some")

    def used_scores(self) -> set[str]:
        found: set[str] = set()

        def walk(cond: Condition | None) -> None:
            if cond is None:
                return
            if cond.score is not None:
                found.add(cond.score.name)
            for child in (cond.all or []) + (cond.any or []) + ([cond.not_] if cond.not_ else []):
                walk(child)

        for _, rule in self.parts.rules:
            walk(getattr(rule, "when", None))
        return found

    def unknown_signal(self, name: str, loc: Loc) -> None:
        self.report("RR307", f"unknown signal '{name}'", loc, prefer="key",
                    hint=did_you_mean(name, SIGNALS) or "signals: " + ", ".join(sorted(SIGNALS)))

    def out_of_range(self, what: str, bounds: SignalBounds, low: float, high: float, loc: Loc) -> None:
        """RR306 when the bounds contradict each other, RR310 when they miss [low, high]."""
        own = real_interval(bounds)
        tests = " and ".join(f"{op} {value:g}" for op, value in
                             ((">", bounds.gt), (">=", bounds.gte), ("<", bounds.lt), ("<=", bounds.lte)) if value is not None)
        if is_empty(own):
            self.report("RR306", f"{what} {tests} can never hold: the bounds contradict each other", loc, prefer="key")
        elif is_empty(intersect(own, ((low, True), (high, True)))):
            shown = f"between {low:.3g} and {high:.3g}" if math.isfinite(high) else f"{low:g} or more"
            self.report("RR310", f"{what} {tests} can never hold: it is always {shown}", loc, prefer="key")

    def score_condition(self, cond: Condition, loc: Loc) -> None:
        assert cond.score is not None
        name = cond.score.name
        declared = self.parts.score_names
        if name not in declared:
            hint = did_you_mean(name, declared) or (f"scores: {', '.join(sorted(declared))}" if declared
                                                    else f"declare it as [scores.{name}]")
            self.report("RR308", f"unknown score '{name}'", loc + ("name",), hint=hint)
            return
        score = self.parts.scores.get(name)
        if not isinstance(score, Score) or "weights" not in score.model_fields_set:
            return  # a score with errors of its own: its range is unknown
        if not any(score.weights.values()):
            return  # a constant score waiting to be tuned: RR309 says so once
        low, high = score_range(score)
        self.out_of_range(f"score '{name}'", cond.score, low, high, loc)


def score_range(spec: Score) -> tuple[float, float]:
    """The lowest and highest value a score can take: every feature is between 0 and 1."""
    low = high = spec.bias
    for weight in spec.weights.values():
        if weight < 0:
            low += weight
        else:
            high += weight
    if spec.logistic:
        return logistic(low), logistic(high)
    return low, high
