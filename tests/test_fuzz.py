"""Fuzzing: rule files, requests and gateway bodies that try to break rulerouter.

The suite runs a few hundred generated cases per test; `make soak` runs the long profile
(HYPOTHESIS_PROFILE=long: 4,000 rule files, 3,000 decide() inputs, 3,000 gateway bodies).
Asserted: lint and `Router.from_toml` never raise anything but the project's own diagnostics;
`decide()` raises nothing but the boundary's `InvalidInput`, and only for what it refuses; the
library, the CLI's JSON arguments and the gateway treat hostile values (invalid Unicode, deep or
self-containing values, NaN and Infinity, huge integers, types JSON cannot carry) by one rule —
repaired and reported, or refused naming the field — and what goes upstream is always strict
JSON in UTF-8; no client mistake ever gets a 5xx from the gateway; a client-key setting either
names usable keys or stops the gateway; and any request head sent over a real socket is served
within the head limits and gets exactly 414 or 431 beyond them.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulerouter import PolicyError, Router, check_text
from rulerouter.policy.load import check_file
from rulerouter.boundary import MAX_DEPTH, InvalidInput, check
from rulerouter.cli._common import Exit, parse_json_arg
from rulerouter.execute.providers import ReplyHeaders
from rulerouter.gateway.app import Gateway
from rulerouter.gateway.client_keys import ClientKeys, ClientKeysError, client_keys_from
from rulerouter.gateway.hot_reload import PolicyHolder
from rulerouter.policy.load import check_text as load_check

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
SURROGATE = re.compile("[\ud800-\udfff]")


def examples(short: int, long: int) -> Any:
    return settings(max_examples=long if LONG else short, deadline=None, suppress_health_check=list(HealthCheck))


# --- rule files ----------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "schema_version": 1,
    "default_tier": "standard",
    "tiers": {"standard": {"model": "m1"}, "complex": "m2"},
    "providers": {"p": {"base_url": "http://127.0.0.1:9/v1"}},
    "models": {"m1": {"price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}, "fallback": ["m2"]},
               "m2": {"price": {"input_per_mtok": 3.0, "output_per_mtok": 4.0}}},
    "rules": [
        {"name": "kw", "when": {"keywords": {"any": ["deadlock", "race"]}}, "tier": "complex"},
        {"name": "long", "when": {"words": {"gt": 100}}, "tier": "complex"},
        {"name": "meta", "when": {"metadata": {"path": "$.tier", "exists": True}}, "tier_from_metadata": "$.tier"},
        {"name": "spent", "when": {"spend": {"budget": "team", "gte": 0.8}}, "tier": "standard"},
    ],
    "verification": {"tiers": ["standard"], "judge_tier": "complex", "threshold": 0.5, "escalate_to": "complex"},
    "budgets": [{"name": "team", "limit_usd": 5.0, "window": "day", "per": "$.team", "on_exceeded": "downgrade",
                 "downgrade_to": "standard", "warn_at": [0.5]},
                {"name": "all", "limit_usd": 50.0, "window": "month"}],
    "rate_limits": [{"name": "keys", "per": "key", "requests_per_minute": 60, "tokens_per_minute": 10000}],
    "state": {"redis_url_env": "FUZZ_REDIS_URL", "on_unavailable": "refuse"},
}

odd_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
scalars = st.one_of(st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False), odd_text, st.dates())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)), max_leaves=12)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += paths(value, prefix + (index,))
    return out


def nested_condition(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"keywords": {"any": ["x"]}}
    for level in range(depth):
        condition = {("all", "any", "not")[level % 3]: condition if level % 3 == 2 else [condition]}
    return condition


@st.composite
def mutated_policies(draw: st.DrawFn) -> str:
    doc = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(0, 4))):
        where = draw(st.sampled_from(paths(doc)[1:]))
        parent = doc
        for part in where[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(odd_text)] = draw(values)
    if draw(st.booleans()):
        doc["rules"] = doc.get("rules") if isinstance(doc.get("rules"), list) else []
        extra = draw(st.sampled_from(["deep", "huge", "unicode", "regex", "paths", "non-finite", "bool-number", "many"]))
        if extra == "deep":
            doc["rules"].append({"name": "deep", "when": nested_condition(draw(st.integers(1, 120))), "tier": "complex"})
        elif extra in ("non-finite", "bool-number"):  # where a number goes: inf, nan, true, false
            numeric = [p for p in paths(doc) if p and isinstance(_at(doc, p), (int, float)) and not isinstance(_at(doc, p), bool)]
            for where in draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=3)) if numeric else ():
                bad = [math.inf, -math.inf, math.nan] if extra == "non-finite" else [True, False]
                _at(doc, where[:-1])[where[-1]] = draw(st.sampled_from(bad))
        elif extra == "many":  # a big policy: lint must stay fast and exact on it
            count = draw(st.integers(100, 3000))
            doc["rules"].extend({"name": f"r{i}", "when": {"keywords": {"any": [f"w{i % 97}", f"v{i}"]}}, "tier": "complex"} for i in range(count))
        elif extra == "huge":
            doc["rules"].append({"name": "huge", "when": {"keywords": {"any": [f"k{i}" for i in range(draw(st.integers(1, 20000)))]}}, "tier": "complex"})
        elif extra == "unicode":
            doc["rules"].append({"name": draw(odd_text), "when": {"keywords": {"any": draw(st.lists(odd_text, max_size=5))}}, "tier": draw(odd_text)})
        elif extra == "regex":
            doc["rules"].append({"name": "re", "when": {"regex": draw(st.text(alphabet="()[]{}*+?|\\^$.abc", max_size=15))}, "tier": "complex"})
        else:
            doc["rules"].append({"name": "p", "when": {"request": {"path": draw(st.text(alphabet="$.[]*?@()'\"abc0:,", max_size=15)), "exists": True}}, "tier": "complex"})
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        text = json.dumps(doc)  # not TOML at all: lint must say so
    if draw(st.integers(0, 4)) == 0 and text:  # near-valid: damage the text
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from(["", "[", "]", "=", '"', "\n", "{", "#", "\\", "\ufeff", "[" * 300, "{ a = " * 200])) + text[at + draw(st.integers(0, 3)):]
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text  # a byte-order mark, as some editors write
    return text


def _at(doc: Any, where: tuple) -> Any:
    for part in where:
        doc = doc[part]
    return doc


def assert_only_diagnostics(text: str) -> None:
    checked = check_text(text, "fuzz.toml", env={})
    for diagnostic in checked.diagnostics:
        assert diagnostic.line >= 1 and diagnostic.col >= 1 and diagnostic.code.startswith("RR")
    try:
        Router.from_toml(text, env={})
    except PolicyError as exc:
        assert exc.diagnostics
    else:
        assert checked.ok


@examples(150, 4000)
@given(mutated_policies())
def test_rule_files_never_raise_anything_but_diagnostics(text: str) -> None:
    assert_only_diagnostics(text)


@examples(100, 1000)
@given(st.text(max_size=300))
def test_any_text_is_diagnosed(text: str) -> None:
    assert_only_diagnostics(text)


@examples(60, 600)
@given(text=mutated_policies(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "bytes"]),
       junk=st.binary(max_size=40))
def test_rule_files_in_any_encoding_are_read_or_named(tmp_path_factory: pytest.TempPathFactory, text: str, encoding: str, junk: bytes) -> None:
    """A file's bytes, in whatever encoding: read as UTF-8 (with or without a BOM), or one RR002
    that says what it is — never an exception, never a TOML error for the wrong encoding."""
    text = text.lstrip("\ufeff")  # the file gets at most one BOM (more are text: see the test of invisible characters)
    try:
        raw = junk + text.encode("utf-8") if encoding == "bytes" else text.encode(encoding)
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace") + junk
    path = tmp_path_factory.mktemp("enc") / "policy.toml"
    path.write_bytes(raw)
    checked = check_file(path, env={})
    for diagnostic in checked.diagnostics:
        assert diagnostic.line >= 1 and diagnostic.col >= 1 and diagnostic.code.startswith("RR")
    if encoding in ("utf-16", "utf-32"):
        assert [d.code for d in checked.diagnostics] == ["RR002"] and encoding.upper() in checked.diagnostics[0].message
    if encoding in ("utf-8", "utf-8-sig"):  # one BOM or none: the same findings as the text itself
        assert checked.diagnostics == check_text(text, str(path), env={}).diagnostics


INVISIBLE = ["\ufeff", "\u200b", "\u200d", "\u2060", "\u00a0", "\u3000", "\u2028", "\x0b", "\x7f"]


@examples(60, 600)
@given(where=st.integers(min_value=0), char=st.sampled_from(INVISIBLE))
def test_an_invisible_character_anywhere_is_read_or_named(where: int, char: str) -> None:
    """An invisible character put anywhere in a valid rule file: read (inside a string or a
    comment), or a TOML error; when the error is at that character, its hint names it."""
    clean = tomli_w.dumps(BASE)
    at = where % (len(clean) + 1)
    text = clean[:at] + char + clean[at:]
    checked = load_check(text, "p.toml", env={})
    line = clean.count("\n", 0, at) + 1
    col = at - (clean.rfind("\n", 0, at) + 1) + 1
    for d in checked.diagnostics:
        if d.code == "RR001" and (d.line, d.col) == (line, col):
            assert f"U+{ord(char):04X}" in (d.hint or ""), d


# --- requests ------------------------------------------------------------------------------------

ROUTER = Router.from_toml(tomli_w.dumps(BASE), env={})
json_values = st.recursive(st.none() | scalars.filter(lambda v: not hasattr(v, "isoformat")), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3), max_leaves=10)

# Hostile values: the classes the request boundary closes, mixed into ordinary ones.
broken_text = st.text(max_size=12).map(lambda t: t + "\ud83d") | st.binary(max_size=12).map(lambda b: (b + b"\xff").decode("utf-8", "surrogateescape"))
bad_numbers = st.sampled_from([float("nan"), float("inf"), float("-inf")]) | st.sampled_from([4300, 5000]).map(lambda digits: -(10**digits))
not_json = st.sampled_from([{1, 2}, b"bytes", (1, "\udc80"), object(), 3j])


def too_deep(depth: int, as_dict: bool) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value} if as_dict else [value]
    return value


def containing_itself(_: Any) -> Any:
    loop: dict[str, Any] = {}
    loop["self"] = [loop]
    return loop


deep_values = st.builds(too_deep, st.integers(MAX_DEPTH + 1, 3000), st.booleans()) | st.just(None).map(containing_itself)
hostile_values = st.recursive(
    st.none() | scalars.filter(lambda v: not hasattr(v, "isoformat")) | broken_text | bad_numbers | not_json | deep_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text | broken_text, inner, max_size=3),
    max_leaves=8,
)


def expected_refusal(value: Any, field: str, sent: bool) -> str | None:
    """The field the boundary must name when it refuses `value`, worked out independently of it."""
    def walk(v: Any, depth: int, seen: tuple[int, ...]) -> bool:
        if isinstance(v, (dict, list, tuple)):
            if depth >= MAX_DEPTH or id(v) in seen:
                return True
            items = v.items() if isinstance(v, dict) else enumerate(v)
            return any((sent and not isinstance(k, (str, int))) or walk(x, depth + 1, seen + (id(v),)) for k, x in items) or (sent and isinstance(v, dict) and any(not isinstance(k, str) for k in v))
        if isinstance(v, int) and not isinstance(v, bool):
            return abs(v) >= 10**4300
        if isinstance(v, float):
            return sent and not math.isfinite(v)
        return sent and not (v is None or isinstance(v, (str, bool)))
    return field if walk(value, 0, ()) else None


def top_field(field: str | None) -> str:
    assert field, "a refusal names its field"
    return re.split(r"[.\[]", field)[0]


@examples(150, 3000)
@given(prompt=st.one_of(st.none(), st.text(), broken_text, scalars, not_json), messages=st.one_of(st.none(), json_values, hostile_values),
       metadata=st.one_of(json_values, hostile_values), request=st.one_of(st.none(), json_values, hostile_values))
def test_decide_raises_only_the_boundary_refusal(prompt: Any, messages: Any, metadata: Any, request: Any) -> None:
    refused = [f for f, v in (("messages", messages), ("metadata", metadata), ("request", request)) if v is not None and expected_refusal(v, f, False)]
    if prompt is not None and not isinstance(prompt, str):
        refused.append("prompt")  # a number is not an empty prompt
    if messages is not None and not isinstance(messages, (list, tuple)):
        refused.append("messages")
    try:
        decision = ROUTER.decide(prompt, messages=messages, metadata=metadata, request=request)
    except InvalidInput as exc:
        assert top_field(exc.field) in refused, (exc.field, refused)
        return
    assert not refused
    assert decision.tier in ("standard", "complex")
    assert decision.explanation
    assert ("prompt" in decision.repaired) == (isinstance(prompt, str) and bool(SURROGATE.search(prompt)))


# --- calls through the library -------------------------------------------------------------------

SENT: list[bytes] = []


def strict_json(body: bytes) -> Any:
    """What an upstream's strict parser sees: UTF-8, and no NaN or Infinity."""
    def refuse(literal: str) -> Any:
        raise AssertionError(f"{literal} sent upstream")
    return json.loads(body.decode("utf-8"), parse_constant=refuse)


@examples(100, 2000)
@given(prompt=st.one_of(st.text(min_size=1), broken_text), params=st.dictionaries(st.sampled_from(["temperature", "tools", "stop", "seed", "user", "response_format"]), hostile_values, max_size=3),
       metadata=st.one_of(st.none(), hostile_values))
def test_library_calls_send_strict_json_or_refuse_naming_the_field(prompt: str, params: dict[str, Any], metadata: Any) -> None:
    refused = [name for name, value in params.items() if expected_refusal(value, name, True)]
    if metadata is not None and expected_refusal(metadata, "metadata", False):
        refused.append("metadata")
    SENT.clear()
    try:
        result = LIBRARY.complete(prompt, metadata=metadata, verify=False, **params)
    except InvalidInput as exc:
        assert top_field(exc.field) in refused, (exc.field, refused)
        assert SENT == []  # refused before anything was sent
        return
    assert not refused and result.content == "ok"
    sent = strict_json(SENT[0])
    assert ("prompt" in result.repaired) == bool(SURROGATE.search(prompt))
    assert sent["messages"][-1]["content"] == SURROGATE.sub("\ufffd", prompt)


# --- JSON arguments of the CLI -------------------------------------------------------------------

@examples(100, 1000)
@given(text=st.one_of(st.text(max_size=60), hostile_values.map(lambda v: json.dumps(v, default=repr) if not expected_refusal(v, "x", True) else "[" * 2000), st.sampled_from(["NaN", '{"a": Infinity}', "1e999", "9" * 5000, "[" * 5000, '{"a": "\\ud800"}'])))
def test_cli_json_arguments_are_values_or_usage_errors(text: str) -> None:
    try:
        value = parse_json_arg(text, "--metadata")
    except Exit as stop:
        assert stop.code == 2 and stop.message and "--metadata" in stop.message
        return
    check(value, "--metadata")  # what it returns, the boundary accepts


# --- gateway bodies ------------------------------------------------------------------------------

REPLY = json.dumps({"id": "x", "object": "chat.completion", "model": "m1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()


class _Body(httpx.AsyncByteStream):
    async def __aiter__(self):  # type: ignore[override]
        yield REPLY


async def _answer(target: Any, body: bytes, extra: Any = (), url: Any = None) -> httpx.Response:  # an upstream that always answers, and records what it got
    SENT.append(body)
    return httpx.Response(200, headers={"content-type": "application/json"}, stream=_Body())


async def _answer_whole(target: Any, body: bytes, extra: Any = ()) -> tuple[int, ReplyHeaders, bytes]:  # the same, read whole
    SENT.append(body)
    return 200, ReplyHeaders([(b"content-type", b"application/json")]), REPLY


def _answer_sync(request: httpx.Request) -> httpx.Response:
    SENT.append(request.content)
    return httpx.Response(200, headers={"content-type": "application/json"}, content=REPLY)


def gateway() -> Gateway:
    checked = load_check(tomli_w.dumps(BASE), "fuzz.toml", env={})
    holder = PolicyHolder(__import__("pathlib").Path("fuzz.toml"), checked, env={}, log=None)
    holder.router.executor.providers.asend = _answer  # type: ignore[method-assign]
    holder.router.executor.providers.apost = _answer_whole  # type: ignore[method-assign]
    return Gateway(holder, max_body_bytes=64 * 1024, body_timeout_s=1.0, client_keys=ClientKeys.none("fuzz"))


def library() -> Router:
    policy = {key: value for key, value in BASE.items() if key != "rate_limits"}  # thousands of calls a minute
    router = Router.from_toml(tomli_w.dumps(policy), env={})
    client = httpx.Client(transport=httpx.MockTransport(_answer_sync))
    router.executor.providers.client = lambda name: client  # type: ignore[method-assign]
    return router


APP = gateway()
LIBRARY = library()


async def call(body: bytes, headers: list[tuple[bytes, bytes]], path: str = "/v1/chat/completions") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)] or [b""]

    async def receive() -> dict[str, Any]:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    await APP(scope, receive, send)
    status = sent[0]["status"]
    return status, b"".join(m.get("body", b"") for m in sent[1:])


VALID = {"model": "auto", "messages": [{"role": "user", "content": "hello"}]}


HOSTILE_JSON = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e400", b"9" * 4301, b"[" * 1500 + b"]" * 1500,
                b'"\\ud83d"', b'"\\udfff tail"', b'"caf\xe9"', b'"\xff\xfe"', b'{"k": ' * 80 + b"1" + b"}" * 80]


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "truncated", "hostile"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "hostile":  # a valid request with hostile JSON text in one of its values
        where = draw(st.sampled_from(["content", "temperature", "metadata", "tools", "stop", "extra", "role"]))
        fragment = draw(st.sampled_from(HOSTILE_JSON))
        message = b'{"role": "user", "content": ' + (fragment if where == "content" else b'"hi"') + b"}"
        if where == "role":
            message = b'{"role": ' + fragment + b', "content": "hi"}'
        field = b"" if where in ("content", "role") else b', "' + where.encode() + b'": ' + fragment
        return b'{"model": "auto", "messages": [' + message + b"]" + field + b"}"
    request = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(["model", "messages", "stream", "metadata", "max_tokens", "temperature", "tools", "stop", "n", "response_format", draw(odd_text)]))
        request[key] = draw(json_values)
        if draw(st.booleans()) and isinstance(request.get("messages"), list) and request["messages"]:
            request["messages"][0] = draw(json_values)
    raw = json.dumps(request).encode()
    if kind == "truncated":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    return raw


@examples(150, 3000)
@given(body=bodies(), header=st.one_of(st.none(), st.binary(max_size=40), st.sampled_from(HOSTILE_JSON).map(lambda f: b'{"a": ' + f + b"}"), st.sampled_from(HOSTILE_JSON)))
def test_no_client_mistake_gets_a_5xx(body: bytes, header: bytes | None) -> None:
    headers = [(b"content-type", b"application/json")]
    if header is not None:
        headers.append((b"x-rulerouter-metadata", header))
    SENT.clear()
    status, payload = asyncio.run(call(body, headers))
    assert status in (200, 400, 404, 408, 413), (status, payload)
    if status != 200:
        error = json.loads(payload)["error"]
        assert isinstance(error["message"], str) and error["type"]
        assert "set_int_max_str_digits" not in error["message"]
    for sent in SENT:
        strict_json(sent)  # whatever reached the upstream is strict JSON in UTF-8


VALID_MESSAGE = {"model": "auto", "max_tokens": 50, "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]}
_MESSAGE_FIELDS = ["model", "messages", "max_tokens", "system", "stream", "metadata", "temperature", "top_p", "top_k", "tools",
                   "tool_choice", "stop_sequences", "thinking", "output_config", "service_tier"]
_BLOCKS = st.fixed_dictionaries({"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "document", "x"])},
                                optional={"text": json_values, "source": json_values, "id": json_values, "name": json_values,
                                          "input": json_values, "tool_use_id": json_values, "content": json_values, "is_error": json_values})


@st.composite
def message_bodies(draw: st.DrawFn) -> bytes:
    """Anthropic Messages API bodies: valid ones mutated field by field and block by block."""
    request = json.loads(json.dumps(VALID_MESSAGE))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*_MESSAGE_FIELDS, draw(odd_text)]))
        request[key] = draw(json_values)
    if draw(st.booleans()):
        request["messages"] = [{"role": draw(st.sampled_from(["user", "assistant", "system", "tool", 3])),
                                "content": draw(st.one_of(odd_text, st.lists(_BLOCKS, max_size=3), json_values))}
                               for _ in range(draw(st.integers(1, 3)))]
    raw = json.dumps(request).encode()
    if draw(st.booleans()):  # a literal JSON forbids, or Python cannot read, in a field
        field = draw(st.sampled_from(_MESSAGE_FIELDS))
        raw = raw[:-1] + b', "' + field.encode() + b'": ' + draw(st.sampled_from(HOSTILE_JSON)) + b"}"
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    return raw


@examples(150, 3000)
@given(body=message_bodies(), path=st.sampled_from(["/v1/messages", "/v1/messages/count_tokens"]))
def test_no_client_mistake_at_the_anthropic_door_gets_a_5xx(body: bytes, path: str) -> None:
    SENT.clear()
    status, payload = asyncio.run(call(body, [(b"content-type", b"application/json")], path))
    assert status in (200, 400, 404, 408, 413, 429), (status, payload)  # 429: the policy's rate limit, a refusal in Anthropic's shape
    if status != 200:
        error = json.loads(payload)
        assert error["type"] == "error" and isinstance(error["error"]["message"], str) and error["error"]["type"]
        assert "set_int_max_str_digits" not in error["error"]["message"]  # the request is at fault, not Python
    for sent in SENT:
        strict_json(sent)  # whatever reached the upstream is strict JSON in UTF-8


def test_huge_and_slow_bodies() -> None:
    status, payload = asyncio.run(call(b"x" * (65 * 1024), [(b"content-type", b"application/json")]))
    assert status == 413
    status, payload = asyncio.run(call(b"{}", [(b"content-length", str(10**9).encode())]))
    assert status == 413

    async def slow() -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            await asyncio.sleep(5)  # a client that never sends its body
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await APP({"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}, receive, send)
        return sent[0]["status"], sent[1]["body"]

    status, payload = asyncio.run(slow())
    assert status == 408 and json.loads(payload)["error"]["code"] == "request_timeout"


# --- client keys ---------------------------------------------------------------------------------

key_settings = st.one_of(st.none(), st.text(max_size=30), st.lists(st.sampled_from(["", " ", "k1", "key-2", "a b", "é", "\t", "x" * 40]), max_size=4).map(",".join))


@examples(150, 2000)
@given(value=key_settings, named=st.booleans(), open_mode=st.booleans(), header=st.one_of(st.none(), st.binary(max_size=50)), header_name=st.sampled_from([b"authorization", b"x-api-key"]))
def test_client_keys_fail_closed(value: str | None, named: bool, open_mode: bool, header: bytes | None, header_name: bytes) -> None:
    environ = {} if value is None else {"FUZZ_KEYS": value}
    try:
        keys = client_keys_from(environ, "FUZZ_KEYS" if named else None, open_mode=open_mode) if named else client_keys_from(
            {} if value is None else {"RULEROUTER_GATEWAY_KEYS": value}, None, open_mode=open_mode)
    except ClientKeysError as exc:
        assert str(exc)
        return
    if not keys.required:  # open only when asked for, and then with nothing in the variable
        assert open_mode and not named and (value is None or not value.strip(" ,\t"))
        return
    assert not open_mode and value is not None
    assert all(k and k.decode().isprintable() and not any(c.isspace() for c in k.decode()) for k in keys.keys)
    headers = [] if header is None else [(header_name, header)]
    allowed, client = keys.identify(headers)
    given = b"" if header is None else (header[7:].strip() if header_name == b"authorization" and header[:7].lower() == b"bearer " else header.strip() if header_name == b"x-api-key" else b"")
    assert allowed == (given in keys.keys)
    assert (client is not None) == allowed


# --- request heads on the wire -------------------------------------------------------------------

HEAD_LIMIT, HEADER_LIMIT = 8192, 40


@pytest.fixture(scope="module")
def wire_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from rulerouter.testing import LoopbackUpstream

    from .gateway_helpers import serve

    with LoopbackUpstream() as up, serve(up.base_url, tmp_path_factory.mktemp("wire"),
                                         args=("--max-header-bytes", str(HEAD_LIMIT), "--max-headers", str(HEADER_LIMIT), "--head-timeout", "5")) as served:
        yield served


@examples(60, 600)
@given(path=st.integers(0, 3 * HEAD_LIMIT) | st.integers(HEAD_LIMIT - 120, HEAD_LIMIT + 20), headers=st.lists(st.tuples(st.integers(1, 30), st.integers(0, 3000)), max_size=3 * HEADER_LIMIT),
       pieces=st.integers(1, 8), get=st.booleans())
def test_request_heads_get_exactly_the_limits_answer(wire_gateway: Any, path: int, headers: list[tuple[int, int]], pieces: int, get: bool) -> None:
    """Any head: within the limits it is served; over them it gets 414/431 — never a hang, never a 5xx."""
    body = b'{"messages": [{"role": "user", "content": "hi"}]}'
    line = (b"GET /healthz" if get else b"POST /v1/chat/completions") + (b"?" + b"q" * path if path else b"") + b" HTTP/1.1\r\n"
    fields = [b"host: x\r\n", b"content-length: %d\r\n" % (0 if get else len(body)), b"connection: close\r\n"]
    fields += [b"x-" + b"n" * name + b": " + b"v" * value + b"\r\n" for name, value in headers]
    head = line + b"".join(fields) + b"\r\n"
    data = head + (b"" if get else body)
    host, port = wire_gateway.root.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        step = max(1, len(data) // pieces)
        try:
            for at in range(0, len(data), step):
                sock.sendall(data[at: at + step])
        except OSError:
            pass  # refused mid-head: the answer is already waiting
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    status = int(reply.split(b" ", 2)[1])
    if len(line) > HEAD_LIMIT:
        assert status == 414, (status, len(head))
    elif len(head) > HEAD_LIMIT or len(fields) > HEADER_LIMIT:
        assert status == 431, (status, len(head), len(fields))
    else:
        assert status == 200, (status, reply[:300])


# --- clients that leave --------------------------------------------------------------------------

def leaving_gateway() -> tuple[Gateway, list[dict[str, Any]], dict[str, float]]:
    """A gateway whose upstream takes `timing["upstream"]` seconds and streams with `timing["gap"]` between events."""
    checked = load_check(tomli_w.dumps({k: v for k, v in BASE.items() if k not in ("rate_limits", "verification")}), "leave.toml", env={})
    holder = PolicyHolder(__import__("pathlib").Path("leave.toml"), checked, env={}, log=None)
    seen: list[dict[str, Any]] = []
    holder.router.observer.add_sink(lambda e: seen.append(e) if e["event"] == "request" else None)
    timing: dict[str, Any] = {"upstream": 0.0, "gap": 0.0, "answered_at": None}  # answered_at: loop time of the last answer

    class Slow(httpx.AsyncByteStream):
        def __init__(self, parts: list[bytes]) -> None:
            self.parts = parts

        async def __aiter__(self):  # type: ignore[override]
            for part in self.parts:
                await asyncio.sleep(timing["gap"])
                yield part

    async def send(target: Any, body: bytes, extra: Any = ()) -> httpx.Response:
        await asyncio.sleep(timing["upstream"])
        timing["answered_at"] = asyncio.get_running_loop().time()
        if json.loads(body).get("stream"):
            chunk = {"id": "x", "object": "chat.completion.chunk", "model": "m1", "choices": [{"index": 0, "delta": {"content": "ok "}, "finish_reason": None}]}
            done = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            parts = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in (chunk, chunk, chunk, done)] + [b"data: [DONE]\n\n"]
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Slow(parts))
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=_Body())

    async def post(target: Any, body: bytes, extra: Any = ()) -> tuple[int, ReplyHeaders, bytes]:
        await asyncio.sleep(timing["upstream"])
        timing["answered_at"] = asyncio.get_running_loop().time()
        return 200, ReplyHeaders([(b"content-type", b"application/json")]), REPLY

    holder.router.executor.providers.asend = send  # type: ignore[method-assign]
    holder.router.executor.providers.apost = post  # type: ignore[method-assign]
    return Gateway(holder, max_body_bytes=64 * 1024, body_timeout_s=1.0, client_keys=ClientKeys.none("fuzz")), seen, timing


LEAVING = leaving_gateway()


@examples(60, 600)
@given(stream=st.booleans(), upstream=st.floats(0, 0.05), gap=st.floats(0, 0.01), leave=st.floats(0, 0.08))
def test_a_client_leaving_at_any_point_is_recorded_once_as_what_happened(stream: bool, upstream: float, gap: float, leave: float) -> None:
    app, seen, timing = LEAVING
    timing.update(upstream=upstream, gap=gap, answered_at=None)
    seen.clear()
    left_at: list[float] = []
    sent: list[dict[str, Any]] = []
    body = json.dumps({**VALID, "stream": stream}).encode()
    delivered = [False]

    async def receive() -> dict[str, Any]:
        if not delivered[0]:
            delivered[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(leave)
        left_at.append(asyncio.get_running_loop().time())
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def go() -> None:
        await app({"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}, receive, send)
        await asyncio.sleep(0)  # the disconnect watcher, cancelled on the way out, ends on the next turn of the loop
        assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} == set()  # nothing left running

    asyncio.run(go())
    complete = bool(sent) and sent[-1].get("type") == "http.response.body" and not sent[-1].get("more_body", False)
    assert len(seen) == 1, seen  # recorded exactly once
    outcome = seen[0]["outcome"]
    assert outcome in ("ok", "cancelled"), seen[0]
    assert (outcome == "ok") == complete, (outcome, sent[-1:] if sent else None)
    if outcome == "cancelled":
        assert seen[0]["error"]["type"] == "Cancelled" and seen[0]["attempts"]
    # Gone well before the upstream answered — as it happened, not as scheduled: on a loaded machine
    # a stalled loop can wake both timers at once: noticed, and the call cut off.
    answered_at = timing["answered_at"]
    if left_at and (answered_at is None or left_at[0] + 0.01 < answered_at):
        assert outcome == "cancelled" and seen[0]["attempts"][-1]["outcome"] == "cancelled"


# --- the Anthropic translation, both ways ----------------------------------------------------------

_PARTS = st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "input_audio", "refusal", "x"])},
                               optional={"text": json_values, "image_url": json_values, "cache_control": json_values})
# Tool-call arguments are JSON text inside a string: the translation parses them, so they carry
# the boundary's classes too (NaN, 1e999, a 5,000-digit integer, nesting past the parser's limit).
_ARGUMENTS = st.one_of(json_values.map(json.dumps), st.sampled_from(['{"x": NaN}', '{"x": Infinity}', '{"x": 1e999}', '{"x": 1' + "0" * 5000 + "}",
                                                                    '{"x": ' + "[" * 3000 + "]" * 3000 + "}", '{"x": "\\ud800"}', "{oops"]))
_TOOL_CALLS = st.lists(st.fixed_dictionaries({"id": odd_text, "type": st.just("function"),
                                              "function": st.fixed_dictionaries({"name": odd_text, "arguments": _ARGUMENTS})}), max_size=2)
_MESSAGES = st.lists(st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "x"])},
    optional={"content": st.one_of(odd_text, st.lists(_PARTS, max_size=3), json_values), "tool_calls": st.one_of(json_values, _TOOL_CALLS),
              "tool_call_id": json_values, "name": json_values, "refusal": json_values}), max_size=4)
_PARAMS = st.dictionaries(st.sampled_from(["max_tokens", "stop", "tools", "tool_choice", "parallel_tool_calls", "user", "n", "logprobs",
                                           "response_format", "reasoning_effort", "temperature", "top_p", "seed", "top_k", "service_tier"]),
                          json_values, max_size=4)
_EVENT_TYPES = ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
                "ping", "error", "x"]
_DELTAS = st.one_of(json_values, st.fixed_dictionaries({"type": st.sampled_from(["text_delta", "input_json_delta", "thinking_delta", "x"])},
                                                       optional={"text": json_values, "partial_json": json_values}))
_BLOCK_STARTS = st.one_of(json_values, st.fixed_dictionaries({"type": st.sampled_from(["text", "tool_use", "thinking", "x"])},
                                                             optional={"text": json_values, "id": json_values, "name": json_values}))
_EVENTS = st.one_of(json_values, st.fixed_dictionaries({"type": st.sampled_from(_EVENT_TYPES)},
                                                       optional={"index": st.one_of(st.integers(0, 3), json_values), "delta": _DELTAS,
                                                                 "content_block": _BLOCK_STARTS, "message": json_values,
                                                                 "usage": json_values, "error": json_values}))


@examples(200, 3000)
@given(messages=_MESSAGES, params=_PARAMS, version=st.sampled_from(["2023-06-01", "2026-10-21"]))
def test_the_request_translation_to_anthropic_never_fails_but_by_naming_a_field(messages: Any, params: Any, version: str) -> None:
    from rulerouter.execute.anthropic_request import anthropic_body
    from rulerouter.execute.native import Untranslatable

    try:
        body = anthropic_body(messages, params, model="m", stream=False, version=version)
    except Untranslatable as exc:
        assert exc.where and exc.why
    else:
        strict_json(json.dumps(body).encode())  # whatever is sent is strict JSON: no NaN, no Infinity
        assert body["messages"] and body["model"] == "m"


@examples(200, 3000)
@given(events=st.lists(_EVENTS, max_size=8))
def test_anthropic_stream_events_never_crash_the_reader(events: list[Any]) -> None:
    from rulerouter.execute.anthropic_reply import AnthropicStream
    from rulerouter.execute.upstream_reply import Outcome

    stream = AnthropicStream()
    for event in events:
        read = stream.read(event)
        if isinstance(read, Outcome):
            assert read.kind in ("malformed", "server_error") and read.message
            break
        for chunk in read:
            json.dumps(chunk)


_CHUNK_DELTAS = st.fixed_dictionaries({}, optional={"role": json_values, "content": json_values, "tool_calls": st.one_of(
    json_values, st.lists(st.fixed_dictionaries({}, optional={"index": st.one_of(st.integers(0, 2), json_values), "id": json_values,
                                                             "function": json_values}), max_size=2))})
_CHUNKS = st.one_of(json_values, st.fixed_dictionaries({"choices": st.one_of(json_values, st.lists(st.fixed_dictionaries(
    {}, optional={"delta": st.one_of(_CHUNK_DELTAS, json_values), "finish_reason": json_values}), max_size=2))}))


@examples(200, 3000)
@given(chunks=st.lists(_CHUNKS, max_size=6))
def test_chat_chunks_become_anthropic_events_or_a_value_error(chunks: list[Any]) -> None:
    from rulerouter.execute.result import Usage
    from rulerouter.gateway.anthropic_response import MessageEvents

    events = MessageEvents("msg_1", "m")
    out = events.start()
    try:
        for chunk in chunks:
            out += events.chunk(chunk if isinstance(chunk, dict) else {"choices": chunk})
    except ValueError:
        return  # the door ends the stream with an error event that says why
    out += events.end(Usage())
    for frame in out.decode().split("\n\n")[:-1]:
        json.loads(frame.split("\ndata: ", 1)[1])  # every event's data is JSON
