"""Compile a validated policy into a flat list of rules, and decide requests with it.

Compiling happens once, at load: every rule's condition becomes a matcher, every keyword of
every rule joins one automaton per text source, every JSONPath and regex is compiled, and the
weights of every classifier and the features of every example set join one feature table. Deciding
is then a loop over the rules in file order; the first that matches names the tier. It does no
I/O, never raises on any input, and formats no explanation until someone asks for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..policy.jsonpath import compile_path
from ..policy.load import gc_paused
from ..policy.resources import ResourceError, Resources
from ..policy.schema import Condition, Policy, Rule, SimilarCondition
from .conditions import Matcher, build_matcher
from .inputs import Inputs
from .keyword_scan import KeywordScanner
from .learned_conditions import Learned

if TYPE_CHECKING:  # imported where a policy has classifiers, scores or example sets: signals and
    # features cost milliseconds to load, which a policy without them need not pay
    from .classifier import Classifier
    from .feature_table import FeatureTable
    from .scores import CompiledScore
    from .similarity import ExampleSet

__all__ = ["FORCED_MODEL", "FORCED_TIER", "CompiledPolicy", "CompiledRule", "Decision", "RuleTrace"]


class CompiledRule:
    __slots__ = ("name", "index", "tier", "matcher", "tier_finder", "tier_path", "description")

    def __init__(
        self,
        rule: Rule,
        index: int,
        scanner_for: Callable[[str, bool], KeywordScanner],
        scores: Mapping[str, CompiledScore],
        learned: Learned,
    ) -> None:
        self.name = rule.name
        self.index = index
        self.description = rule.description
        self.tier = rule.tier
        self.tier_path = rule.tier_from_metadata
        self.tier_finder = compile_path(rule.tier_from_metadata) if rule.tier_from_metadata else None
        self.matcher: Matcher = build_matcher(rule.when, rule.text, scanner_for, scores, learned)


FORCED_TIER = "(forced tier)"
FORCED_MODEL = "(forced model)"


class Decision:
    """Where a request goes and why. `explanation` is worked out when first read.

    `rule` names the rule that decided; it is None when no rule matched (the default tier), and
    `FORCED_TIER` / `FORCED_MODEL` when the caller named the tier or the model (`forced`), so that
    chat output, metrics, headers and logs never show a forced request as the default.
    """

    __slots__ = ("tier", "model", "rule", "_compiled_rule", "_inputs", "_note")

    def __init__(
        self,
        tier: str,
        model: str,
        rule: CompiledRule | None,
        inputs: Inputs,
        note: str | None = None,
        forced: str | None = None,
    ) -> None:
        self.tier = tier
        self.model = model
        self.rule = rule.name if rule is not None else {"tier": FORCED_TIER, "model": FORCED_MODEL, None: None}[forced]
        self._compiled_rule = rule
        self._inputs = inputs
        self._note = note

    @property
    def is_default(self) -> bool:
        return self.rule is None

    @property
    def repaired(self) -> tuple[str, ...]:
        """Fields whose text was not valid Unicode and was repaired (U+FFFD) at the boundary."""
        return self._inputs.repaired

    @property
    def explanation(self) -> str:
        rule = self._compiled_rule
        if rule is None:
            text = f"no rule matched; default tier '{self.tier}'"
        elif rule.tier_finder is not None:
            text = (
                f"rule '{rule.name}': {rule.matcher.explain(self._inputs)}; "
                f"tier '{self.tier}' taken from metadata {rule.tier_path}"
            )
        else:
            text = f"rule '{rule.name}': {rule.matcher.explain(self._inputs)}"
        return f"{text} ({self._note})" if self._note else text

    def to_dict(self) -> dict[str, Any]:
        return {"tier": self.tier, "model": self.model, "rule": self.rule, "explanation": self.explanation}

    def __repr__(self) -> str:
        return f"Decision(tier={self.tier!r}, model={self.model!r}, rule={self.rule!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return (self.tier, self.model, self.rule) == (other.tier, other.model, other.rule)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule fared for one request (for `rulerouter route --explain`)."""

    rule: str
    matched: bool
    detail: str
    tier: str | None


def _spend_budgets(cond: Condition | None) -> set[str]:
    if cond is None:
        return set()
    found = {cond.spend.budget} if cond.spend is not None else set()
    for child in (cond.all or []) + (cond.any or []) + ([cond.not_] if cond.not_ is not None else []):
        found |= _spend_budgets(child)
    return found


class CompiledPolicy:
    """A policy ready to decide: rules in order, tiers mapped to models, scanners built.

    `resources` are the files the policy refers to (classifier models, example lists), as lint
    read them; without it they are read relative to the working directory.
    """

    def __init__(self, policy: Policy, resources: Resources | None = None) -> None:
        self.policy = policy
        self.resources = resources if resources is not None else Resources()
        self.default_tier = policy.default_tier
        self.tier_models = {name: tier.model for name, tier in policy.tiers.items()}
        self._scanners: dict[tuple[str, bool], KeywordScanner] = {}
        self._example_sets: dict[object, ExampleSet] = {}
        self.classifiers: dict[str, Classifier] = {}
        if policy.classifiers:
            from .classifier import Classifier

            try:
                self.classifiers = {name: Classifier(name, self.resources.model(spec.model))
                                    for name, spec in policy.classifiers.items()}
            except ResourceError as exc:
                raise ValueError(str(exc)) from None
        self.scores: dict[str, CompiledScore] = {}
        if policy.scores:
            from .scores import compile_scores

            self.scores = compile_scores(policy.scores, self.classifiers)
        learned = Learned(self.classifiers, self._example_set)
        with gc_paused():  # a big policy's matchers are many small objects, none in cycles
            self.rules = tuple(
                CompiledRule(rule, index, self._scanner_for, self.scores, learned)
                for index, rule in enumerate(policy.rules)
                if rule.enabled
            )
            for scanner in self._scanners.values():
                scanner.build()
        #: One lookup per request feature serves every classifier and example set (each is
        #: attached to its fields of this table); None when the policy has neither.
        self.feature_table: FeatureTable | None = None
        if self.classifiers or self._example_sets:
            from .feature_table import FeatureTable

            self.feature_table = FeatureTable(list(self.classifiers.values()), list(self._example_sets.values()))
        #: Budgets whose spend some enabled rule tests: the router reads these before deciding.
        self.spend_budgets = frozenset(name for rule in policy.rules if rule.enabled for name in _spend_budgets(rule.when))

    def _example_set(self, spec: SimilarCondition) -> ExampleSet:
        """One compiled set per file or inline list, shared by every condition that names it."""
        key: object = spec.examples if isinstance(spec.examples, str) else tuple(spec.examples)
        found = self._example_sets.get(key)
        if found is None:
            from .similarity import ExampleSet

            if isinstance(spec.examples, str):
                try:
                    examples = self.resources.examples(spec.examples)
                except ResourceError as exc:
                    raise ValueError(str(exc)) from None
                label = f"examples in {spec.examples!r}"
            else:
                examples, label = tuple(e for e in spec.examples if e.strip()), f"{len(spec.examples)} inline examples"
            found = self._example_sets[key] = ExampleSet(examples, label)
        return found

    def _scanner_for(self, source: str, case_sensitive: bool) -> KeywordScanner:
        key = (source, case_sensitive)
        scanner = self._scanners.get(key)
        if scanner is None:
            scanner = self._scanners[key] = KeywordScanner(source, case_sensitive)
        return scanner

    def _tier_from(self, rule: CompiledRule, inputs: Inputs) -> str | None:
        assert rule.tier_finder is not None
        metadata = inputs.metadata if inputs.metadata is not None else {}
        for value in rule.tier_finder(metadata):
            if isinstance(value, str) and value in self.tier_models:
                return value
        return None

    def decide(self, inputs: Inputs) -> Decision:
        for rule in self.rules:
            if rule.matcher(inputs):
                tier = rule.tier
                if tier is None:
                    tier = self._tier_from(rule, inputs)
                    if tier is None:
                        continue  # the metadata names no known tier: the rule does not apply
                return Decision(tier, self.tier_models[tier], rule, inputs)
        return Decision(self.default_tier, self.tier_models[self.default_tier], None, inputs)

    def decide_tier(self, tier: str, inputs: Inputs, note: str) -> Decision:
        """A decision forced by the caller (a tier named explicitly), explained as such."""
        return Decision(tier, self.tier_models[tier], None, inputs, note=note, forced="tier")

    def trace(self, inputs: Inputs) -> list[RuleTrace]:
        """Every rule tried for this request, in order, up to and including the one that decides."""
        steps = []
        for rule in self.rules:
            matched = rule.matcher(inputs)
            detail = rule.matcher.explain(inputs)
            tier = rule.tier
            if matched and tier is None:
                tier = self._tier_from(rule, inputs)
                if tier is None:
                    found = [repr(v) for v in rule.tier_finder(inputs.metadata or {})] if rule.tier_finder else []
                    detail += f"; metadata {rule.tier_path} names no known tier (found {', '.join(found) or 'nothing'})"
                    matched = False
            steps.append(RuleTrace(rule.name, matched, detail, tier if matched else None))
            if matched:
                break
        return steps
