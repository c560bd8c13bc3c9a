"""Stage 2, decide: a validated policy compiled once, then requests decided in microseconds.

`CompiledPolicy` turns every rule into a matcher; `decide()` runs them in file order over one
request's `Inputs` and returns a `Decision` (tier, model, rule, and why). Pure: no I/O, never
raises on any input, formats no explanation until one is read.

    compile.py            CompiledPolicy: rules compiled, the decision loop, Decision, RuleTrace
    inputs.py             the request as decide sees it: each text source, computed once
    keyword_scan.py       one Aho-Corasick automaton for every keyword of every rule
    matcher.py            the base of every compiled condition
    conditions.py         keyword, regex, size, metadata/request-field and boolean conditions
    signal_conditions.py  conditions on signals, the language guess and weighted scores
    spend_condition.py    `when.spend`: the fraction of a budget used, given to decide as input
    signals.py            the signals measured on a text (code, maths, formats, constraints…)
    cue_phrases.py        the phrases behind the cue signals, found in one scan
    text_measures.py      structural measurements: fences, numbers, equations, lists
    request_forms.py      what a request asks by its form: edit verb, premises, closed question, calculation
    language_guess.py     a rough language guess from scripts and stopwords
    scores.py             weighted sums of signals (`[scores.NAME]`)

May import `rulerouter.policy` (and `rulerouter.errors`); nothing above it.
"""

from .._lazy import lazy_exports

__all__ = ["CompiledPolicy", "Decision", "Inputs", "RuleTrace"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "CompiledPolicy": ".compile",
    "Decision": ".compile",
    "RuleTrace": ".compile",
    "Inputs": ".inputs",
})
