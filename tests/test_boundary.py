"""The request boundary: invalid Unicode, depth, and numbers JSON cannot hold, through every door.

One rule, wherever a request enters (the library, the CLI, the gateway): text that is not valid
Unicode is repaired to U+FFFD and the repair is reported; a value nested more than 64 levels (or
containing itself), a number JSON cannot hold, or a type JSON cannot carry in what is sent to a
model is refused with an error naming the field — and nothing is sent upstream.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from rulerouter import Router, UsageError
from rulerouter.boundary import MAX_DEPTH, InvalidInput, check, read_json, read_reply_json
from rulerouter.cli import main
from rulerouter.testing import LoopbackUpstream, Malformed

from .conftest import ROOT
from .gateway_helpers import POLICY, Served, serve


def nested(depth: int, leaf: Any = 1, key: str | None = None) -> Any:
    value = leaf
    for _ in range(depth):
        value = {key: value} if key else [value]
    return value


def self_containing() -> dict[str, Any]:
    loop: dict[str, Any] = {"name": "loop"}
    loop["again"] = loop
    return loop


# ---- the rule itself ----------------------------------------------------------------------------

def test_clean_values_pass_unchanged_and_uncopied() -> None:
    value = {"messages": [{"role": "user", "content": "héllo 🙂"}], "max_tokens": 5, "stop": ["a"], "x": None, "t": 0.5}
    checked, repaired = check(value, "")
    assert checked is value and repaired == []
    assert check(nested(MAX_DEPTH), "tools") == (nested(MAX_DEPTH), [])


def test_lone_surrogates_are_repaired_in_a_copy_and_reported() -> None:
    value = {"messages": [{"role": "user", "content": "half an emoji \ud83d"}], "metadata": {"n\udc80te": "ok"}}
    checked, repaired = check(value, "")
    assert checked["messages"][0]["content"] == "half an emoji \ufffd"
    assert "n\ufffdte" in checked["metadata"]
    assert repaired == ["messages[0].content", 'metadata["n\\udc80te"]']
    assert value["messages"][0]["content"].endswith("\ud83d")  # the caller's object is untouched


@pytest.mark.parametrize(
    ("value", "field", "fragment"),
    [
        ({"tools": nested(MAX_DEPTH + 1)}, "tools", "more than 64 levels"),
        ({"tools": [self_containing()]}, "tools", "contains itself"),
        ({"temperature": float("nan")}, "temperature", "NaN"),
        ({"top_p": float("inf")}, "top_p", "Infinity"),
        ({"seed": 10**5000}, "seed", "more than 4300 digits"),
        ({"stop": {"a", "b"}}, "stop", "a set"),
        ({"user": b"bytes"}, "user", "bytes"),
        ({"tools": [{1: "int key"}]}, "tools[0]", "key that is an int"),
    ],
)
def test_values_that_cannot_enter_are_refused_naming_the_field(value: Any, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check(value, "")
    assert caught.value.field == field and fragment in str(caught.value)
    assert isinstance(caught.value, UsageError)


def test_values_only_the_rules_read_need_not_be_json_but_are_bounded() -> None:
    metadata = {"when": object(), "score": float("nan"), 3: "int key"}
    assert check(metadata, "metadata", sent=False) == (metadata, [])
    with pytest.raises(InvalidInput, match="contains itself"):
        check({"user": self_containing()}, "metadata", sent=False)


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ('{"temperature": NaN}', "temperature", "NaN"),
        ('{"t": [Infinity]}', "t[0]", "Infinity"),
        ('{"t": -Infinity}', "t", "-Infinity"),
        ('{"t": 1e999}', "t", "1e999"),
        ('{"seed": ' + "9" * 5000 + "}", "seed", "an integer of 5000 digits"),
    ],
)
def test_json_text_keeps_forbidden_numbers_so_their_field_is_named(text: str, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check(read_json(text, "the body"), "")
    assert caught.value.field == field and fragment in str(caught.value)
    assert "set_int_max_str_digits" not in str(caught.value)


def test_json_text_past_the_parser_is_refused_without_a_recursion_error() -> None:
    with pytest.raises(InvalidInput, match="more than 64 levels"):
        read_json("[" * 100_000, "the body")
    with pytest.raises(InvalidInput, match="not valid JSON.*not UTF-8"):
        read_json(b"\xff\xfe", "the body")
    assert read_json(b'{"a": "caf\xe9"}', "x") == {"a": "caf\udce9"}  # kept for check() to repair


def test_upstream_replies_obey_the_same_rules() -> None:
    body = b'{"a": "ok"}'
    assert read_reply_json(body) == ({"a": "ok"}, body)
    assert read_reply_json(b'{"a": "\\ud83d"}') == ({"a": "\ufffd"}, '{"a": "\ufffd"}'.encode())  # re-encoded to pass on
    for bad in (b'{"a": NaN}', b'{"a": 1e999}', b"[" * 5000 + b"]" * 5000, json.dumps(nested(80)).encode()):
        with pytest.raises(InvalidInput):
            read_reply_json(bad)


# ---- the library --------------------------------------------------------------------------------

LIBRARY_POLICY = POLICY.replace("[log]\ndestination = \"{log}\"\n", "")


@pytest.fixture
def router(up: LoopbackUpstream) -> Iterator[Router]:
    r = Router.from_toml(LIBRARY_POLICY.format(base_url=up.base_url), env={"GATEWAY_TEST_UPSTREAM_KEY": "k"})
    yield r
    r.close()


def test_complete_and_stream_repair_half_an_emoji_and_say_so(up: LoopbackUpstream, router: Router) -> None:
    events: list[dict[str, Any]] = []
    router.observer.add_sink(events.append)
    result = router.complete("cut \ud83d", system_prompt="sys \udcff")
    assert result.content == "ok" and result.repaired == ("prompt", "system_prompt")
    assert up.requests[-1].body["messages"] == [{"role": "system", "content": "sys \ufffd"}, {"role": "user", "content": "cut \ufffd"}]
    stream = router.stream(messages=[{"role": "user", "content": "cut \ud83d"}])
    assert "".join(chunk.text for chunk in stream) == "ok"
    assert stream.decision.repaired == ("messages[0].content",)
    assert up.requests[-1].body["messages"][0]["content"] == "cut \ufffd"
    assert [e.get("repaired") for e in events if e["event"] == "request"] == [["prompt", "system_prompt"], ["messages[0].content"]]
    assert router.decide("\ud800").repaired == ("prompt",)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": float("nan")}, "temperature"),
        ({"tools": [nested(1000)]}, "tools"),
        ({"tools": [self_containing()]}, "tools"),
        ({"seed": 10**5000}, "seed"),
        ({"stop": {"x"}}, "stop"),
        ({"metadata": nested(200, key="a")}, "metadata"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "x", "extra": nested(100)}]}]}, "messages"),
    ],
)
def test_complete_stream_and_decide_refuse_what_cannot_be_carried(up: LoopbackUpstream, router: Router, kwargs: dict[str, Any], field: str) -> None:
    prompt = None if "messages" in kwargs else "hello"
    with pytest.raises(InvalidInput) as caught:
        router.complete(prompt, **kwargs)
    assert caught.value.field == field
    with pytest.raises(InvalidInput):
        router.stream(prompt, **kwargs).start()

    async def both() -> None:
        with pytest.raises(InvalidInput):
            await router.acomplete(prompt, **kwargs)
        with pytest.raises(InvalidInput):
            await router.astream(prompt, **kwargs).start()
        await router.aclose()

    asyncio.run(both())
    assert up.requests == []  # refused before anything was sent


def test_decide_refuses_a_self_containing_metadata_that_used_to_hang() -> None:
    policy = LIBRARY_POLICY.format(base_url="http://127.0.0.1:9/v1") + '\n[[rules]]\nname = "any-x"\nwhen.metadata = { path = "$..x", exists = true }\ntier = "strong"\n'
    router = Router.from_toml(policy, env={})
    with pytest.raises(InvalidInput, match="contains itself") as caught:
        router.decide("hi", metadata={"user": self_containing()})
    assert caught.value.field == "metadata"
    assert router.decide("hi", metadata={"x": float("nan"), "at": object()}).rule == "any-x"  # read only: any value


def test_upstream_reply_with_half_an_emoji_or_nan(up: LoopbackUpstream, router: Router) -> None:
    up.script("small", Malformed(b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "x \\ud83d"}}], "model": "small"}'))
    assert router.complete("hi").content == "x \ufffd"
    up.script("small", Malformed(b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}], "usage": {"prompt_tokens": NaN}}'))
    result = router.complete("hi")
    assert [a.error_kind for a in result.attempts] == ["malformed", None] and result.model_used == "large"


# ---- the gateway --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gateway(upstream: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(upstream.base_url, tmp_path_factory.mktemp("boundary")) as served:
        yield served


def post(gateway: Served, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{gateway.base_url}/chat/completions", content=body, headers={"content-type": "application/json", **(headers or {})})


def test_gateway_repairs_half_an_emoji_and_says_so(up: LoopbackUpstream, gateway: Served) -> None:
    response = post(gateway, b'{"messages": [{"role": "user", "content": "cut \\ud83d"}], "metadata": {"team": "caf\xe9"}}')
    assert response.status_code == 200, response.text
    assert response.headers["x-rulerouter-repaired"] == "messages[0].content, metadata.team"
    assert up.requests[-1].body["messages"][0]["content"] == "cut \ufffd"
    streamed = post(gateway, b'{"stream": true, "messages": [{"role": "user", "content": "cut \\ud83d"}]}')
    assert streamed.status_code == 200 and streamed.headers["x-rulerouter-repaired"] == "messages[0].content"
    assert streamed.text.endswith("data: [DONE]\n\n") and up.requests[-1].body["messages"][0]["content"] == "cut \ufffd"


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        (b'{"messages": [{"role": "user", "content": "x"}], "tools": ' + b"[" * 1000 + b"]" * 1000 + b"}", None, "more than 64 levels"),
        (b'{"messages": [{"role": "user", "content": "x"}], "tools": ' + json.dumps(nested(100)).encode() + b"}", "tools", "more than 64 levels"),
        (b'{"messages": [{"role": "user", "content": "x"}], "metadata": ' + json.dumps(nested(100, key="k")).encode() + b"}", "metadata", "more than 64 levels"),
        (b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}', "temperature", "NaN"),
        (b'{"messages": [{"role": "user", "content": "x"}], "top_p": 1e999}', "top_p", "1e999"),
        (b'{"messages": [{"role": "user", "content": "x"}], "metadata": {"w": -Infinity}}', "metadata.w", "-Infinity"),
        (b'{"messages": [{"role": "user", "content": "x"}], "seed": ' + b"7" * 5000 + b"}", "seed", "5000 digits"),
    ],
)
def test_gateway_refuses_depth_and_forbidden_numbers_with_a_400_naming_the_field(up: LoopbackUpstream, gateway: Served, body: bytes, param: str | None, fragment: str) -> None:
    response = post(gateway, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and fragment in error["message"] and "set_int_max_str_digits" not in error["message"]
    assert up.requests == []


def test_gateway_metadata_header_obeys_the_same_rules(up: LoopbackUpstream, gateway: Served) -> None:
    body = b'{"messages": [{"role": "user", "content": "x"}]}'
    for header in (json.dumps(nested(100, key="k")), '{"a": NaN}', "[" * 5000):
        response = post(gateway, body, {"x-rulerouter-metadata": header})
        assert response.status_code == 400 and response.json()["error"]["param"] == "X-Rulerouter-Metadata", response.text


# ---- the command line ---------------------------------------------------------------------------

def rulerouter(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_repairs_bytes_that_are_not_utf8_and_says_so(up: LoopbackUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(LIBRARY_POLICY.format(base_url=up.base_url))
    code, _, err = rulerouter(capsys, monkeypatch, "route", "-c", str(policy), stdin=b"caf\xe9 latin-1")
    assert code == 0 and "repaired (U+FFFD) in: prompt" in err
    monkeypatch.setenv("GATEWAY_TEST_UPSTREAM_KEY", "k")
    code, out, err = rulerouter(capsys, monkeypatch, "chat", "-c", str(policy), stdin=b"caf\xe9 \xff")
    assert code == 0, err
    assert out.strip() == "ok" and "repaired (U+FFFD) in: prompt" in err
    assert up.requests[-1].body["messages"][-1]["content"] == "caf\ufffd \ufffd"


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--metadata", "[" * 3000, "more than 64 levels"),
        ("--metadata", json.dumps(nested(70, key="a")), "more than 64 levels"),
        ("--metadata", '{"a": NaN}', "'--metadata.a' is NaN"),
        ("--request", '{"max_tokens": ' + "1" * 5000 + "}", "5000 digits"),
    ],
)
def test_cli_json_arguments_exit_2_naming_the_option(option: str, value: str, fragment: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = rulerouter(capsys, monkeypatch, "route", "-c", str(ROOT / "rules" / "default.toml"), option, value, "hello")
    assert code == 2 and fragment in err and "internal error" not in err, err
