"""Stage 1, policy: the rule file — its schema, reading it with positions, lint, loading.

TOML text becomes a validated `Policy` (Pydantic), or diagnostics that say `file:line:col`,
a stable code and why. Nothing here does I/O beyond reading the file, and nothing decides.

    schema.py          the rule file as Pydantic models (extra keys forbidden)
    vocabulary.py      the signals and language codes a rule may name
    toml_positions.py  where each key and value of a TOML document is (tomllib gives none)
    parse.py           TOML text → Policy, or RR0xx/RR1xx diagnostics with positions
    diagnostics.py     the Diagnostic value, every code, text and JSON output
    lint.py            what a schema cannot see: references, cycles, prices, keys (RR2xx–RR4xx)
    lint_signals.py    lint for signals, scores and languages (RR307–RR310)
    implication.py     does one condition imply another (finds rules that can never fire)
    regex.py           rule regexes on RE2, as lint checks them and the compiler builds them
    jsonpath.py        JSONPath expressions, validated and compiled to fast accessors
    load.py            parse → validate → lint in one call: `check_file`, `load_file`
    json_schema.py     the JSON Schema editors use (`rulerouter schema`)

Imports only `rulerouter.errors` of rulerouter's own code: every other stage builds on this one.
"""

from .._lazy import lazy_exports

__all__ = ["Checked", "Diagnostic", "Policy", "Severity", "check_file", "check_text", "load_file", "load_text"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "Diagnostic": ".diagnostics",
    "Severity": ".diagnostics",
    "Checked": ".load",
    "check_file": ".load",
    "check_text": ".load",
    "load_file": ".load",
    "load_text": ".load",
    "Policy": ".schema",
})
