"""Lint checks for budgets, rate limits, spend conditions and `[state]` (RR501–RR505).

Mixed into the linter like `lint_signals`; `_Linter` provides `parts`, `report`, `raw`,
`tier_ref` and `jsonpath`.
"""

from __future__ import annotations

from typing import Any, Mapping

from .jsonpath import JsonPathError, compile_path, selects_one_value
from .lint_signals import Loc
from .parse import did_you_mean
from .schema import Condition

__all__ = ["LimitChecks"]


class LimitChecks:
    parts: Any
    env: Mapping[str, str]

    def report(self, code: str, message: str, loc: Loc, *, prefer: str = "value", warning: bool = False,
               hint: str | None = None) -> None:
        raise NotImplementedError

    def tier_ref(self, name: str, loc: Loc, what: str) -> None:
        raise NotImplementedError

    def out_of_range(self, what: str, bounds: Any, low: float, high: float, loc: Loc) -> None:
        raise NotImplementedError  # SignalChecks.out_of_range, earlier in the linter's MRO

    def check_limits(self) -> None:
        seen: dict[str, str] = {}
        for section in ("budgets", "rate_limits"):
            for index, item in getattr(self.parts, section):
                loc: Loc = (section, index)
                name = getattr(item, "name", None)
                if name is not None:
                    if name in seen:
                        self.report("RR502", f"{section[:-1].replace('_', ' ')} name '{name}' is already used by a {seen[name]}",
                                    loc + ("name",), hint="budget and rate-limit names appear in errors, events and metrics and must be unique")
                    else:
                        seen[name] = section[:-1].replace("_", " ")
                per = getattr(item, "per", None)
                if isinstance(per, str) and per.startswith("$"):
                    self.scope_path(per, loc + ("per",))
        for index, budget in self.parts.budgets:
            target = getattr(budget, "downgrade_to", None)
            if target is not None:
                label = f"budget '{budget.name}'" if isinstance(budget.name, str) else f"budgets[{index}]"
                self.tier_ref(target, ("budgets", index, "downgrade_to"), label)
                self.downgrade_saves(budget, label, ("budgets", index, "downgrade_to"))
            fractions = getattr(budget, "warn_at", None) or []
            if len(set(fractions)) != len(fractions):
                self.report("RR104", "warn_at lists a fraction twice", ("budgets", index, "warn_at"))
        state = self.parts.state
        variable = getattr(state, "redis_url_env", None)
        if variable is not None and not self.env.get(variable):
            self.report("RR505", f"[state]: environment variable {variable} is not set; counters and breakers will be kept in this process only",
                        ("state", "redis_url_env"), warning=True, hint=f"set {variable} to a URL such as redis://127.0.0.1:6379/0")

    def scope_path(self, path: str, loc: Loc) -> None:
        try:
            compile_path(path)
        except JsonPathError as exc:
            self.report("RR304", f"invalid JSONPath {path!r}: {exc}", loc, hint="a scope looks like $.team or $.user.id")
            return
        if not selects_one_value(path):
            self.report("RR503", f"scope {path!r} does not name one metadata value, so it cannot say whom a request counts for",
                        loc, hint="name one field, such as $.team or $.user.id (no wildcards, slices, filters or `$` alone)")

    def downgrade_saves(self, budget: Any, label: str, loc: Loc) -> None:
        """RR504 when the downgrade tier's model is unpriced or no cheaper than any other tier's."""
        tier = self.parts.tiers.get(budget.downgrade_to)
        if tier is None or getattr(tier, "model", None) is None:
            return
        prices = {}
        for name, other in self.parts.tiers.items():
            model = self.parts.models.get(getattr(other, "model", None))
            price = getattr(model, "price", None)
            prices[name] = None if price is None else (price.input_per_mtok + price.output_per_mtok)
        own = prices.get(budget.downgrade_to)
        others = [p for n, p in prices.items() if n != budget.downgrade_to and p is not None]
        if own is None:
            self.report("RR504", f"{label} downgrades to tier '{budget.downgrade_to}', whose model has no price",
                        loc, warning=True, hint="price the model so the budget can count what the downgraded requests cost")
        elif others and own >= max(others):
            self.report("RR504", f"{label} downgrades to tier '{budget.downgrade_to}', whose model costs as much as any other tier's",
                        loc, warning=True, hint="downgrade to a tier with a cheaper model")

    def spend_condition(self, cond: Condition, loc: Loc) -> None:
        spend = cond.spend
        assert spend is not None
        names = self.parts.budget_names
        if spend.budget not in names:
            hint = did_you_mean(spend.budget, names) or (f"budgets: {', '.join(sorted(names))}" if names else "declare it as a [[budgets]] entry")
            self.report("RR501", f"unknown budget '{spend.budget}'", loc + ("spend", "budget"), hint=hint)
        self.out_of_range(f"spend of '{spend.budget}'", spend, 0.0, float("inf"), loc + ("spend",))
