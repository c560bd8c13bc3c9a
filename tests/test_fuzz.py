"""Fuzzing: rule files, requests and gateway bodies that try to break rulerouter.

The suite runs a few hundred generated cases per test; `make soak` runs the long profile
(HYPOTHESIS_PROFILE=long: 4,000 rule files, 3,000 decide() inputs, 3,000 gateway bodies).
Asserted: lint and `Router.from_toml` never raise anything but the project's own diagnostics;
`decide()` never raises; no client mistake ever gets a 5xx from the gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import httpx
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulerouter import PolicyError, Router, check_text
from rulerouter.gateway.app import Gateway
from rulerouter.gateway.hot_reload import PolicyHolder
from rulerouter.policy.load import check_text as load_check

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"


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
        extra = draw(st.sampled_from(["deep", "huge", "unicode", "regex", "paths"]))
        if extra == "deep":
            doc["rules"].append({"name": "deep", "when": nested_condition(draw(st.integers(1, 60))), "tier": "complex"})
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
        text = text[:at] + draw(st.sampled_from(["", "[", "]", "=", '"', "\n", "{", "#", "\\"])) + text[at + draw(st.integers(0, 3)):]
    return text


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


# --- requests ------------------------------------------------------------------------------------

ROUTER = Router.from_toml(tomli_w.dumps(BASE), env={})
json_values = st.recursive(st.none() | scalars.filter(lambda v: not hasattr(v, "isoformat")), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3), max_leaves=10)


@examples(150, 3000)
@given(prompt=st.one_of(st.none(), st.text()), messages=st.one_of(st.none(), json_values), metadata=json_values, request=st.one_of(st.none(), json_values))
def test_decide_never_raises(prompt: Any, messages: Any, metadata: Any, request: Any) -> None:
    decision = ROUTER.decide(prompt, messages=messages, metadata=metadata, request=request)
    assert decision.tier in ("standard", "complex")
    assert decision.explanation


# --- gateway bodies ------------------------------------------------------------------------------

REPLY = json.dumps({"id": "x", "object": "chat.completion", "model": "m1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()


class _Body(httpx.AsyncByteStream):
    async def __aiter__(self):  # type: ignore[override]
        yield REPLY


def gateway() -> Gateway:
    checked = load_check(tomli_w.dumps(BASE), "fuzz.toml", env={})
    holder = PolicyHolder(__import__("pathlib").Path("fuzz.toml"), checked, env={}, log=None)

    async def send(target: Any, body: bytes, extra: Any = ()) -> httpx.Response:  # an upstream that always answers
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=_Body())

    holder.router.executor.providers.asend = send  # type: ignore[method-assign]
    return Gateway(holder, max_body_bytes=64 * 1024, body_timeout_s=1.0)


APP = gateway()


async def call(body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
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

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": headers}
    await APP(scope, receive, send)
    status = sent[0]["status"]
    return status, b"".join(m.get("body", b"") for m in sent[1:])


VALID = {"model": "auto", "messages": [{"role": "user", "content": "hello"}]}


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "truncated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
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
@given(body=bodies(), header=st.one_of(st.none(), st.binary(max_size=40)))
def test_no_client_mistake_gets_a_5xx(body: bytes, header: bytes | None) -> None:
    headers = [(b"content-type", b"application/json")]
    if header is not None:
        headers.append((b"x-rulerouter-metadata", header))
    status, payload = asyncio.run(call(body, headers))
    assert status in (200, 400, 404, 408, 413), (status, payload)
    if status != 200:
        error = json.loads(payload)["error"]
        assert isinstance(error["message"], str) and error["type"]


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
