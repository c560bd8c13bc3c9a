"""Lint: what a schema cannot see.

Validation says each section has the right shape; lint checks how the sections fit together
(every tier, model, provider and fallback named exists), whether each rule can ever fire, and
whether its regexes and JSONPaths compile. It runs even when some sections failed validation:
each tier, model, provider and rule is then checked on its own, and references are resolved
against the names written in the file, so one typo does not hide every other problem.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from typing import Annotated, Any, Mapping

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from .diagnostics import Diagnostic, Severity
from .implication import normalise
from .jsonpath import JsonPathError, compile_path
from .limits import Budget, RateLimit, State
from .lint_limits import LimitChecks
from .lint_resources import ResourceChecks
from .lint_signals import Loc
from .parse import Parsed, did_you_mean
from .regex import RegexError, compile_regex
from .resources import Resources
from .schema import Classifier, Condition, Model, Policy, Provider, Rule, Score, Tier, Verification
from .shadowing import first_shadows

__all__ = ["lint_parsed"]

@dataclass
class _Parts:
    """Whatever of the policy validated, item by item, plus every name the file declares."""

    tier_names: set[str] = field(default_factory=set)
    model_names: set[str] = field(default_factory=set)
    provider_names: set[str] = field(default_factory=set)
    score_names: set[str] = field(default_factory=set)
    classifier_names: set[str] = field(default_factory=set)
    default_tier: str | None = None
    tiers: dict[str, Tier] = field(default_factory=dict)
    models: dict[str, Model] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    rules: list[tuple[int, Rule]] = field(default_factory=list)
    scores: dict[str, Score] = field(default_factory=dict)
    classifiers: dict[str, Classifier] = field(default_factory=dict)
    verification: Verification | None = None
    budgets: list[tuple[int, Budget]] = field(default_factory=list)
    rate_limits: list[tuple[int, RateLimit]] = field(default_factory=list)
    budget_names: set[str] = field(default_factory=set)
    state: State | None = None
    unknown_match: set[int] = field(default_factory=set)  # rules whose condition or tier failed validation


_FIELD_ADAPTERS: dict[tuple[type[BaseModel], str], TypeAdapter[Any]] = {}


def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    key = (model, name)
    adapter = _FIELD_ADAPTERS.get(key)
    if adapter is None:
        info = model.model_fields[name]
        annotated = Annotated[info.annotation, info]  # keeps the field's constraints
        adapter = _FIELD_ADAPTERS[key] = TypeAdapter(annotated, config=ConfigDict(strict=True, allow_inf_nan=False))
    return adapter


def _validated(model: type[BaseModel], value: Any) -> tuple[Any, frozenset[str]]:
    """The item validated whole; failing that, built from those of its fields that validate —
    and the names of the fields that were written but failed.

    A partial item lets lint check the references of an item that has an unrelated mistake
    (a model with a bad price still has its fallback list checked). A field that failed reads
    as its default, or as None when it has none (so reading it never raises); the names
    returned say which defaults stand for a mistake, so that lint does not take a rule whose
    condition failed validation for a rule with no condition.
    """
    try:
        return model.model_validate(value), frozenset()
    except ValidationError:
        pass
    if not isinstance(value, dict):
        return None, frozenset()
    by_key = {(info.alias or name): name for name, info in model.model_fields.items()}
    good: dict[str, Any] = {}
    failed: set[str] = set()
    for key, item in value.items():
        name = by_key.get(key)
        if name is None:
            continue
        try:
            good[name] = _field_adapter(model, name).validate_python(item)
        except ValidationError:
            failed.add(name)
    unset = {name: None for name, info in model.model_fields.items() if name not in good and info.is_required()}
    return model.model_construct(_fields_set=set(good), **unset, **good), frozenset(failed)


def _parts(parsed: Parsed) -> _Parts:
    data = parsed.data or {}
    parts = _Parts()
    sections = (("tiers", parts.tier_names), ("models", parts.model_names), ("providers", parts.provider_names),
                ("scores", parts.score_names), ("classifiers", parts.classifier_names))
    for section, names in sections:
        if isinstance(data.get(section), dict):
            names.update(data[section])
    if isinstance(data.get("budgets"), list):
        parts.budget_names.update(b["name"] for b in data["budgets"] if isinstance(b, dict) and isinstance(b.get("name"), str))
    policy = parsed.model
    if isinstance(policy, Policy):
        parts.default_tier = policy.default_tier
        parts.tiers, parts.models, parts.providers = dict(policy.tiers), dict(policy.models), dict(policy.providers)
        parts.rules = list(enumerate(policy.rules))
        parts.scores = dict(policy.scores)
        parts.classifiers = dict(policy.classifiers)
        parts.verification = policy.verification
        parts.budgets, parts.rate_limits = list(enumerate(policy.budgets)), list(enumerate(policy.rate_limits))
        parts.state = policy.state
        return parts
    if isinstance(data.get("default_tier"), str):
        parts.default_tier = data["default_tier"]
    items = (("tiers", Tier, parts.tiers), ("models", Model, parts.models), ("providers", Provider, parts.providers),
             ("scores", Score, parts.scores), ("classifiers", Classifier, parts.classifiers))
    for section, model, target in items:
        if isinstance(data.get(section), dict):
            for name, value in data[section].items():
                item, _ = _validated(model, value)
                if item is not None:
                    target[name] = item
    if isinstance(data.get("rules"), list):
        for index, value in enumerate(data["rules"]):
            rule, failed = _validated(Rule, value)
            if rule is not None:
                parts.rules.append((index, rule))
                if failed & {"when", "text", "enabled", "tier", "tier_from_metadata"}:
                    parts.unknown_match.add(index)
    if isinstance(data.get("verification"), dict):
        parts.verification = _validated(Verification, data["verification"])[0]
    for section, model, target in (("budgets", Budget, parts.budgets), ("rate_limits", RateLimit, parts.rate_limits)):
        if isinstance(data.get(section), list):
            for index, value in enumerate(data[section]):
                item, _ = _validated(model, value)
                if item is not None:
                    target.append((index, item))
    if isinstance(data.get("state"), dict):
        parts.state = _validated(State, data["state"])[0]
    return parts


class _Linter(ResourceChecks, LimitChecks):
    def __init__(self, parsed: Parsed, env: Mapping[str, str], resources: Resources) -> None:
        self.parsed = parsed
        self.env = env
        self.resources = resources
        self.parts = _parts(parsed)
        self.out: list[Diagnostic] = []

    def report(self, code: str, message: str, loc: Loc, *, prefer: str = "value", warning: bool = False, hint: str | None = None) -> None:
        severity = Severity.WARNING if warning else Severity.ERROR
        self.out.append(self.parsed.diagnostic(code, message, loc, prefer=prefer, severity=severity, hint=hint))

    def tier_ref(self, name: str, loc: Loc, what: str) -> None:
        if name not in self.parts.tier_names:
            known = ", ".join(sorted(self.parts.tier_names)) or "none"
            self.report("RR201", f"{what} names unknown tier '{name}' (tiers: {known})", loc,
                        hint=did_you_mean(name, self.parts.tier_names))

    def model_ref(self, name: str, loc: Loc, what: str) -> None:
        if name not in self.parts.model_names:
            self.report("RR202", f"{what} names unknown model '{name}'; declare it as [models.\"{name}\"]", loc,
                        hint=did_you_mean(name, self.parts.model_names))

    def run(self) -> list[Diagnostic]:
        if self.parts.default_tier is not None:
            self.tier_ref(self.parts.default_tier, ("default_tier",), "default_tier")
        for name, tier in self.parts.tiers.items():
            if getattr(tier, "model", None) is not None:
                self.model_ref(tier.model, ("tiers", name, "model"), f"tier '{name}'")
        self.check_models()
        self.check_providers()
        self.check_rules()
        self.check_scores()
        self.check_classifiers()
        self.check_verification()
        self.check_limits()
        return self.out

    def check_models(self) -> None:
        providers = self.parts.provider_names
        for name, model in self.parts.models.items():
            loc: Loc = ("models", name)
            if model.provider is not None and model.provider not in providers:
                self.report("RR203", f"model '{name}' names unknown provider '{model.provider}'", loc + ("provider",),
                            hint=did_you_mean(model.provider, providers))
            elif model.provider is None and len(providers) > 1:
                self.report("RR206", f"model '{name}' has no provider and there are {len(providers)}; say which",
                            loc, prefer="key", hint="providers: " + ", ".join(sorted(providers)))
            seen: set[str] = set()
            for index, target in enumerate(model.fallback):
                at = loc + ("fallback", index)
                if target == name:
                    self.report("RR204", f"fallback cycle: model '{name}' falls back to itself",
                                at, hint="to retry the same model, set retry.retries_per_model")
                elif target in seen:
                    self.report("RR104", f"fallback of '{name}' lists '{target}' twice", at)
                else:
                    self.model_ref(target, at, f"fallback of '{name}'")
                seen.add(target)
            if self.raw(loc + ("price",)) is None:
                self.report("RR401", f"model '{name}' has no price; its cost will be reported as unknown",
                            loc, prefer="key", warning=True,
                            hint="add price = { input_per_mtok = ..., output_per_mtok = ... }")
        if self.parts.model_names and not providers and self.parsed.data is not None:
            self.report("RR206", "no [providers]: the policy can decide, but no model can be called",
                        ("models",), prefer="key", warning=True)

    def check_providers(self) -> None:
        for name, provider in self.parts.providers.items():
            loc: Loc = ("providers", name)
            problem = provider.endpoint_problem(name, self.env)
            if problem is not None:
                self.report("RR404", problem, loc + ("base_url_env",), warning=True,
                            hint="no endpoint is built in: rulerouter calls only the URL you give it")
            variable = provider.api_key_env
            if variable is not None and not self.env.get(variable):
                where = provider.endpoint(self.env) or f"the endpoint in {provider.base_url_env}"
                self.report("RR402", f"provider '{name}': environment variable {variable} is not set; requests to {where} will be sent without a key",
                            loc + ("api_key_env",), warning=True)

    def check_verification(self) -> None:
        verification = self.parts.verification
        if verification is None:
            return
        loc: Loc = ("verification",)
        for index, tier in enumerate(getattr(verification, "tiers", None) or ()):
            self.tier_ref(tier, loc + ("tiers", index), "verification.tiers")
        for key in ("judge_tier", "escalate_to"):
            tier = getattr(verification, key, None)
            if tier is not None:
                self.tier_ref(tier, loc + (key,), f"verification.{key}")
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(verification.prompt) if name is not None}
        except ValueError as exc:
            self.report("RR403", f"verification.prompt is not a valid template: {exc}", loc + ("prompt",),
                        hint="write literal braces as {{ and }}")
            return
        unknown = sorted(fields - {"prompt", "response"})
        if unknown:
            self.report("RR403", f"verification.prompt uses unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}",
                        loc + ("prompt",), hint="the judge prompt can use {prompt} and {response}")
        for needed in ("prompt", "response"):
            if needed not in fields:
                self.report("RR403", f"verification.prompt never shows the {needed} to the judge; add {{{needed}}}",
                            loc + ("prompt",))

    def check_rules(self) -> None:
        first_index: dict[str, int] = {}
        judged: list[tuple[int, Rule]] = []  # rules whose matching is known: they shadow or are shadowed
        shapes: list[tuple[Any, bool]] = []
        for index, rule in self.parts.rules:
            loc: Loc = ("rules", index)
            if getattr(rule, "name", None) is None:
                continue  # reported by validation; without a name the rule cannot be discussed
            if rule.name in first_index:
                line = self.parsed.at(("rules", first_index[rule.name], "name"))[0]
                self.report("RR205", f"duplicate rule name '{rule.name}'", loc + ("name",),
                            hint=f"first defined at line {line}; rule names appear in logs and metrics and must be unique")
            else:
                first_index[rule.name] = index
            if rule.tier is not None:
                self.tier_ref(rule.tier, loc + ("tier",), f"rule '{rule.name}'")
            if rule.tier_from_metadata is not None:
                self.jsonpath(rule.tier_from_metadata, loc + ("tier_from_metadata",))
            if rule.when is not None:
                self.condition(rule.when, loc + ("when",), rule.text)
            if rule.enabled is False or index in self.parts.unknown_match:
                continue  # disabled, or when it matches is unknown (reported by validation): neither shadows nor is shadowed
            judged.append((index, rule))
            # a rule that takes its tier from metadata may pass on a request, so it shadows nothing
            shapes.append((normalise(rule.when, rule.text), rule.tier is not None))
        for (index, rule), by in zip(judged, first_shadows(shapes)):
            if by is not None:
                self.shadowed(index, rule, *judged[by])

    def shadowed(self, index: int, rule: Rule, other_index: int, other: Rule) -> None:
        line = self.parsed.at(("rules", other_index), "key")[0]
        if other.when is None:
            self.report("RR301", f"rule '{rule.name}' can never fire: rule '{other.name}' (line {line}) has no condition and always matches",
                        ("rules", index, "name"), hint="move it above that rule, or give that rule a condition")
        else:
            self.report("RR302", f"rule '{rule.name}' can never fire: whenever it matches, rule '{other.name}' (line {line}) matches first",
                        ("rules", index, "name"), hint="move the narrower rule above the broader one")

    def jsonpath(self, path: str, loc: Loc) -> None:
        try:
            compile_path(path)
        except JsonPathError as exc:
            self.report("RR304", f"invalid JSONPath {path!r}: {exc}", loc, hint="paths look like $.tier or $.response_format.type")

    def regex(self, pattern: str, loc: Loc) -> None:
        try:
            compile_regex(pattern)
        except RegexError as exc:
            self.report("RR303", f"invalid regex {pattern!r}: {exc}", loc,
                        hint="patterns use RE2 syntax (no backreferences or lookaround), which runs in linear time")

    def raw(self, loc: Loc) -> Any:
        node: Any = self.parsed.data
        for part in loc:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def condition(self, cond: Condition, loc: Loc, source: str) -> None:
        if cond.keywords is not None:
            for kind in ("any", "all", "none"):
                words = getattr(cond.keywords, kind)
                if words is None:
                    continue
                at = loc + ("keywords", kind)
                if not words:
                    self.report("RR305", f"empty keyword list keywords.{kind}", at, hint="add keywords or remove the list")
                for i, word in enumerate(words):
                    if not word.strip():
                        self.report("RR305", f"empty keyword at keywords.{kind}[{i}]", at + (i,))
            both = set(cond.keywords.all or ()) & set(cond.keywords.none or ())
            if both:
                self.report("RR306", f"keywords {sorted(both)} are required by `all` and forbidden by `none`", loc + ("keywords",), prefer="key")
        if cond.regex is not None:
            pattern_loc = loc + ("regex",) if isinstance(self.raw(loc + ("regex",)), str) else loc + ("regex", "pattern")
            self.regex(cond.regex.pattern, pattern_loc)
        for kind in ("words", "tokens"):
            bounds = getattr(cond, kind)
            if bounds is not None:
                low = max([b + 1 for b in (bounds.gt,) if b is not None] + [b for b in (bounds.gte,) if b is not None] + [0])
                high = min([b - 1 for b in (bounds.lt,) if b is not None] + [b for b in (bounds.lte,) if b is not None] + [10**18])
                if low > high:
                    self.report("RR306", f"{kind} bounds can never all hold (needs {low} ≤ {kind} ≤ {high})", loc + (kind,), prefer="key")
        self.signal_conditions(cond, loc)
        if cond.spend is not None:
            self.spend_condition(cond, loc)
        if cond.similar is not None:
            self.similar_condition(cond, loc)
        for where in ("metadata", "request"):
            predicates = getattr(cond, where)
            if predicates is None:
                continue
            shorthand = isinstance(self.raw(loc + (where,)), dict)
            for i, predicate in enumerate(predicates):
                at = loc + (where,) if shorthand else loc + (where, i)
                self.jsonpath(predicate.path, at + ("path",))
                if predicate.matches is not None:
                    self.regex(predicate.matches, at + ("matches",))
        for kind in ("all", "any"):
            children = getattr(cond, kind)
            if children is not None:
                if not children and kind == "any":
                    self.report("RR306", "`any` lists no conditions, so it never holds", loc + (kind,))
                for i, child in enumerate(children):
                    self.condition(child, loc + (kind, i), source)
        if cond.not_ is not None:
            self.condition(cond.not_, loc + ("not",), source)


def lint_parsed(parsed: Parsed, env: Mapping[str, str] | None = None,
                resources: Resources | None = None) -> list[Diagnostic]:
    """Semantic diagnostics for a parsed rule file (schema diagnostics are already on `parsed`).

    `resources` reads the files the policy refers to (default: beside `parsed.path`)."""
    if parsed.data is None:
        return []
    return _Linter(parsed, os.environ if env is None else env, resources or Resources.beside(parsed.path)).run()

