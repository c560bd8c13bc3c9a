"""What a rule file must be before its values are read, and where its requests may go.

One boundary for every path (`lint`, `check_file`, `load_file`, `Router`, `serve`): the bytes
are UTF-8 (a byte-order mark is dropped; UTF-16 and UTF-32 are named), nesting is bounded, every
number is finite, `schema_version` is the whole number 1. A provider's endpoint is the
operator's explicit choice: the shipped files name none, and nothing is sent until one is set.
"""

from __future__ import annotations

import codecs
import json
import math
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from rulerouter import PolicyError, Router, UsageError
from rulerouter.cli import main
from rulerouter.policy.load import check_file, check_text, load_text
from rulerouter.testing import LoopbackUpstream

from .conftest import ROOT

CLEAN = """schema_version = 1
default_tier = "a"

[tiers]
a = "m"
b = "m"

[providers.p]
base_url = "http://127.0.0.1:9/v1"

[models.m]
price = { input_per_mtok = 1, output_per_mtok = 1 }

[[rules]]
name = "first"
when.keywords.any = ["x"]
tier = "b"
"""


def codes(text: str) -> list[str]:
    return [d.code for d in check_text(text, env={}).diagnostics if d.is_error]


@pytest.mark.parametrize("value, got", [("true", "a boolean"), ("1.0", "a float"), ('"1"', "a string")])
def test_schema_version_is_the_whole_number_one(value: str, got: str) -> None:
    diagnostics = check_text(CLEAN.replace("schema_version = 1", f"schema_version = {value}"), env={}).diagnostics
    assert [(d.code, d.line, d.message) for d in diagnostics] == [("RR102", 1, f"schema_version: expected an integer, got {got}")]


def test_schema_version_two_is_named_as_unsupported() -> None:
    assert codes(CLEAN.replace("schema_version = 1", "schema_version = 2")) == ["RR104"]


def _numbers(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _numbers(value, path + (key,))]
    if isinstance(node, list):
        return [p for index, value in enumerate(node) for p in _numbers(value, path + (index,))]
    return [path] if isinstance(node, (int, float)) and not isinstance(node, bool) else []


RICH: dict[str, Any] = {
    "schema_version": 1, "default_tier": "a", "tiers": {"a": "m", "b": "m"},
    "providers": {"p": {"base_url": "http://127.0.0.1:9/v1", "timeout_s": 5.0}},
    "models": {"m": {"price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}, "context_window": 1000}},
    "retry": {"backoff_initial_s": 0.1, "deadline_s": 9.0},
    "scores": {"s": {"weights": {"questions": 0.5}, "bias": 0.1, "caps": {"questions": 3.0}}},
    "budgets": [{"name": "daily", "limit_usd": 5.0, "window": "day", "warn_at": [0.5]}],
    "rules": [
        {"name": "count", "when": {"words": {"gt": 10}}, "tier": "b"},
        {"name": "signal", "when": {"signals": {"questions": {"gte": 0.5}}}, "tier": "b"},
        {"name": "score", "when": {"score": {"name": "s", "gt": 0.2}}, "tier": "b"},
        {"name": "spend", "when": {"spend": {"budget": "daily", "gte": 0.8}}, "tier": "b"},
        {"name": "meta", "when": {"metadata": {"path": "$.n", "gt": 3.0, "eq": 2.5}}, "tier": "b"},
        {"name": "later", "when": {"keywords": {"any": ["x"]}}, "tier": "b"},
    ],
}


@pytest.mark.parametrize("where", _numbers(RICH))
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_non_finite_number_anywhere_is_one_error_at_the_value(where: tuple, bad: float) -> None:
    doc = json.loads(json.dumps(RICH))
    node = doc
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = bad
    text = tomli_w.dumps(doc)
    diagnostics = check_text(text, env={}).diagnostics
    errors = [d for d in diagnostics if d.is_error]
    assert [d.code for d in errors] == ["RR104"], [d.format() for d in diagnostics]
    assert "is not a finite number" in errors[0].message
    line = text.splitlines()[errors[0].line - 1]
    assert line[errors[0].col - 1:].lower().lstrip("-+").startswith(("inf", "nan")), (line, errors[0].col)
    assert not [d for d in diagnostics if d.code in ("RR301", "RR302")]  # no cascade onto the rules after it
    with pytest.raises(PolicyError):
        load_text(text, env={})


@pytest.mark.parametrize("bad", ["{ gt = true }", "{ gt = inf }", "{ gt = 1.5 }", '{ gt = "5" }'])
def test_one_wrong_number_in_a_condition_does_not_shadow_the_rules_after_it(bad: str) -> None:
    text = CLEAN.replace('name = "first"\nwhen.keywords.any = ["x"]', f'name = "first"\nwhen.words = {bad}')
    text += '\n[[rules]]\nname = "second"\nwhen.keywords.any = ["y"]\ntier = "b"\n'
    text += '\n[[rules]]\nname = "third"\nwhen.all = [{ keywords.any = ["z"] }, { signals.questions = ' + bad.replace("gt", "lt") + ' }]\ntier = "b"\n'
    text += '\n[[rules]]\nname = "fourth"\nwhen.keywords.any = ["z"]\ntier = "b"\n'
    found = codes(text)
    assert found and set(found) <= {"RR102", "RR104"}, found


def test_a_byte_order_mark_is_accepted_and_read_like_the_text_without_it(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(codecs.BOM_UTF8 + CLEAN.encode())
    assert check_file(path, env={}).ok
    bad = CLEAN.replace('tier = "b"', 'tier = "c"')
    path.write_bytes(codecs.BOM_UTF8 + bad.encode())
    assert [(d.line, d.col, d.message) for d in check_file(path, env={}).diagnostics] == \
        [(d.line, d.col, d.message) for d in check_text(bad, str(path), env={}).diagnostics]
    assert check_text("\ufeff" + CLEAN, env={}).ok


@pytest.mark.parametrize("text, line, col, named", [
    ("\ufeff\ufeff" + CLEAN, 1, 1, "U+FEFF ZERO WIDTH NO-BREAK SPACE (a byte-order mark"),  # a second BOM
    (CLEAN.replace("[[rules]]", "\u200b[[rules]]", 1), None, 1, "U+200B ZERO WIDTH SPACE"),
    ("version\u00a0= 1\n", 1, 8, "U+00A0 NO-BREAK SPACE"),
])
def test_an_invisible_character_that_breaks_the_toml_is_named(text: str, line: int | None, col: int, named: str) -> None:
    [diagnostic] = check_text(text, env={}).diagnostics
    assert diagnostic.code == "RR001" and named in (diagnostic.hint or "") and diagnostic.col == col
    assert line is None or diagnostic.line == line


def test_an_ordinary_character_at_a_toml_error_gets_no_invisible_hint() -> None:
    [diagnostic] = check_text("version = 1\nx y = 2\n", env={}).diagnostics
    assert diagnostic.code == "RR001" and diagnostic.hint is None


@pytest.mark.parametrize("encoding, name", [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_utf16_and_utf32_files_are_named_as_such(tmp_path: Path, encoding: str, name: str) -> None:
    path = tmp_path / "wide.toml"
    path.write_bytes(CLEAN.encode(encoding))
    [diagnostic] = check_file(path, env={}).diagnostics
    assert diagnostic.code == "RR002" and diagnostic.message.startswith(f"{name} text") and "iconv" in (diagnostic.hint or "")


def test_a_byte_that_is_not_utf8_is_pointed_at(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(CLEAN.replace('"first"', '"caf\u00e9"').encode("latin-1"))
    [diagnostic] = check_file(path, env={}).diagnostics
    line = CLEAN.splitlines().index('name = "first"') + 1
    assert (diagnostic.code, diagnostic.line, diagnostic.col) == ("RR002", line, 12)
    assert "0xE9" in diagnostic.message


@pytest.mark.parametrize("when", [
    "when = " + "{ not = " * 400 + "{ words = { gt = 1 } }" + " }" * 400,
    "when." + "not." * 400 + "words.gt = 1",
    "when.all = " + "[" * 5000 + "]" * 5000,
])
def test_nesting_beyond_the_bound_is_one_diagnostic_everywhere(when: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = CLEAN.replace('when.keywords.any = ["x"]', when)
    assert codes(text) == ["RR003"]
    with pytest.raises(PolicyError):
        Router.from_toml(text, env={})
    path = tmp_path / "deep.toml"
    path.write_text(text)
    assert main(["lint", str(path)]) == 1
    assert "RR003" in capsys.readouterr().out


def test_nesting_within_the_bound_is_read() -> None:
    when = "when = " + "{ not = " * 20 + "{ words = { gt = 1 } }" + " }" * 20
    assert codes(CLEAN.replace('when.keywords.any = ["x"]', when)) == []


def test_lint_checks_policy_test_files_as_test_files(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "rules").glob("*.toml"))
    assert any(f.endswith(".test.toml") for f in files)
    assert main(["lint", *files]) == 0
    out = capsys.readouterr().out
    assert " error: " not in out and ".test.toml" not in out, out


# --- where requests go -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "recommended"])
def test_the_shipped_files_name_no_endpoint(name: str) -> None:
    lines = (ROOT / "rules" / f"{name}.toml").read_text().splitlines()
    assert not [line for line in lines if line.replace(" ", "").startswith("base_url=")]
    provider = Router.from_file(ROOT / "rules" / f"{name}.toml", env={}).policy.providers["gateway"]
    assert provider.base_url is None and provider.base_url_env == "RULEROUTER_BASE_URL"


def test_a_key_without_an_endpoint_is_sent_nowhere() -> None:
    router = Router.from_file(ROOT / "rules" / "default.toml", env={"RULEROUTER_API_KEY": "sk-secret-key"})
    assert router.decide("Why does this deadlock?").tier == "complex"  # deciding needs no endpoint
    assert [w.code for w in router.warnings] == ["RR404"]
    with pytest.raises(UsageError, match="provider 'gateway' has no endpoint: set RULEROUTER_BASE_URL") as caught:
        router.complete("Why does this deadlock?")
    assert "RULEROUTER_API_KEY" in str(caught.value) and "sk-secret-key" not in str(caught.value)


def test_the_endpoint_in_the_variable_is_called(upstream: LoopbackUpstream) -> None:
    router = Router.from_file(ROOT / "rules" / "default.toml", env={"RULEROUTER_BASE_URL": upstream.base_url, "RULEROUTER_API_KEY": "k"})
    assert router.warnings == []
    assert router.complete("Why does this deadlock?").model_used == "claude-opus-4-7"
    assert upstream.requests and upstream.requests[0].headers.get("authorization") == "Bearer k"


def test_a_variable_that_is_not_a_url_is_refused_before_sending() -> None:
    router = Router.from_file(ROOT / "rules" / "default.toml", env={"RULEROUTER_BASE_URL": "api.example.com/v1"})
    with pytest.raises(UsageError, match="RULEROUTER_BASE_URL is 'api.example.com/v1', which is not a URL"):
        router.complete("hello")


def test_serve_does_not_start_without_an_endpoint(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RULEROUTER_BASE_URL", raising=False)
    monkeypatch.chdir(ROOT)
    assert main(["serve", "--no-client-keys", "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert "listening" not in out and "set RULEROUTER_BASE_URL" in err and "did not start" in err


def test_the_key_warning_names_where_requests_go() -> None:
    warnings = check_text(CLEAN.replace('base_url = "http://127.0.0.1:9/v1"', 'base_url = "https://llm.example/v1"\napi_key_env = "RR_TEST_UNSET_KEY"'),
                          env={}).warnings
    assert [w.message for w in warnings] == [
        "provider 'p': environment variable RR_TEST_UNSET_KEY is not set; requests to https://llm.example/v1 will be sent without a key"]


def test_a_reload_to_a_provider_without_an_endpoint_keeps_the_last_policy(tmp_path: Path) -> None:
    import asyncio

    from rulerouter.gateway.hot_reload import PolicyHolder

    path = tmp_path / "policy.toml"
    path.write_text(CLEAN)
    holder = PolicyHolder(path, check_file(path, env={}), env={}, log=None)
    path.write_text(CLEAN.replace('base_url = "http://127.0.0.1:9/v1"', 'base_url_env = "RR_TEST_UNSET_URL"'))
    assert asyncio.run(holder.reload("file changed")) is False
    assert holder.generation == 1 and holder.last_reload is not None and not holder.last_reload["ok"]
    assert "set RR_TEST_UNSET_URL" in holder.last_reload["errors"][0]
