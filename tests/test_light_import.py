"""`import rulerouter` is light: the heavy parts load when first used, and only then.

Each case runs in a fresh interpreter and reads `sys.modules` afterwards: a behaviour test of
what is loaded, not a timing (bench/import_time.py measures the time and memory).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import rulerouter

ROOT = Path(__file__).resolve().parents[1]

#: Third-party packages and parts of rulerouter that deciding does not need.
HEAVY = {"httpx", "httpcore", "httptools", "h2", "asyncio", "structlog", "jsonpath_ng", "tomli_w", "tqdm", "numpy", "scipy",
         "uvicorn", "uvloop", "redis", "rulerouter.execute.executor", "rulerouter.execute.transport", "rulerouter.execute.streaming",
         "rulerouter.execute.batch", "rulerouter.execute.result", "rulerouter.observe.report", "rulerouter.observe.simulate", "rulerouter.policy.json_schema",
         "rulerouter.quality", "rulerouter.gateway", "rulerouter.testing", "rulerouter.cli", "rulerouter.state.redis"}


def loaded(code: str) -> set[str]:
    """The modules loaded after running `code` in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def router_code(tables: str) -> str:
    """Code that builds `router` from a one-tier policy with these extra tables."""
    policy = f'schema_version = 1\ndefault_tier = "cheap"\n[tiers]\ncheap = "m"\n[models.m]\n{tables}'
    return f"from rulerouter import Router\nrouter = Router.from_toml({policy!r})\n"


def heavy(modules: set[str], allowed: set[str] = frozenset()) -> set[str]:  # type: ignore[assignment]
    """The heavy packages (top names) among `modules`, less those `allowed`."""
    return {h for h in HEAVY - allowed for m in modules if m == h or m.startswith(h + ".")}


def test_import_rulerouter_loads_only_the_errors():
    modules = loaded("import rulerouter")
    assert heavy(modules) == set()
    assert {m for m in modules if m.startswith("rulerouter")} == {"rulerouter", "rulerouter._lazy", "rulerouter._version", "rulerouter.errors"}
    assert "pydantic" not in modules


def test_every_export_still_imports_by_name():
    names = ", ".join(n for n in rulerouter.__all__ if n != "__version__")
    modules = loaded(f"from rulerouter import {names}\nfrom rulerouter import *")
    assert "rulerouter.router" in modules and "rulerouter.execute.streaming" in modules  # what was asked for is there
    assert set(rulerouter.__all__) <= set(dir(rulerouter))


def test_loading_a_policy_and_deciding_loads_nothing_that_calls_models():
    modules = loaded("from rulerouter import Router\nr = Router.from_file('rules/default.toml')\n"
                     "assert r.decide('Summarise the meeting notes').tier")
    assert heavy(modules) == set()  # default.toml's metadata paths are simple: read without jsonpath-ng


#: What deciding loads only for a policy that uses signals, languages, scores, classifiers or examples.
SIGNALS_AND_FEATURES = {"rulerouter.decide.signals", "rulerouter.decide.language_guess", "rulerouter.decide.cue_phrases",
                        "rulerouter.decide.text_measures", "rulerouter.decide.request_forms", "rulerouter.decide.scores", "rulerouter.decide.signal_conditions",
                        "rulerouter.decide.classifier", "rulerouter.decide.feature_table", "rulerouter.decide.text_features",
                        "rulerouter.decide.similarity"}


def test_signals_and_features_load_with_the_first_policy_that_uses_them():
    modules = loaded("from rulerouter import Router\nRouter.from_file('rules/default.toml').decide('Summarise the notes')")
    assert modules & SIGNALS_AND_FEATURES == set()  # default.toml tests keywords, sizes and metadata only
    modules = loaded("from rulerouter import Router\nRouter.from_file('rules/recommended.toml').decide('Prove it')")
    assert SIGNALS_AND_FEATURES - {"rulerouter.decide.similarity"} <= modules  # signals, scores and the classifier
    similar = router_code('[[rules]]\nname = "like-these"\ntier = "cheap"\n'
                          'when.similar = { examples = ["prove the theorem", "derive the formula"], gte = 0.5 }\n')
    modules = loaded(similar + 'assert router.decide("prove the theorem").rule == "like-these"\n')
    assert {"rulerouter.decide.similarity", "rulerouter.decide.feature_table"} <= modules
    assert "rulerouter.decide.signals" not in modules and "rulerouter.decide.classifier" not in modules


def test_each_heavy_part_loads_when_it_is_used():
    log_and_paths = router_code('[log]\ndestination = "stderr"\n[[rules]]\nname = "by-team"\ntier = "cheap"\n'
                                'when.metadata = { path = "$.teams[*].name", eq = "ml" }\n')
    log_and_paths += 'router.decide("hi", metadata={"teams": [{"name": "ml"}]})\n'
    modules = loaded(log_and_paths)
    assert {"structlog", "jsonpath_ng"} <= modules  # a rule file that writes events and reads a path with a wildcard
    assert heavy(modules, {"structlog", "jsonpath_ng", "asyncio"}) == set()  # structlog imports asyncio
    modules = loaded("from rulerouter import Router\nr = Router.from_file('rules/default.toml')\nr.executor")
    assert {"httpx", "httptools", "asyncio", "rulerouter.execute.transport"} <= modules  # about to call a model
    assert "rulerouter.gateway" not in modules and "structlog" not in modules


def test_a_name_that_is_not_exported_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        rulerouter.Nope  # noqa: B018
    from rulerouter import execute

    assert "Executor" in dir(execute)
