"""Client keys fail closed: a missing or malformed setting stops the gateway; no keys is a choice.

`rulerouter serve` used to serve everyone, saying nothing, when `RULEROUTER_GATEWAY_KEYS` was
empty (`""`), held only separators (`","`), or `--keys-env` named a variable that was not set.
Each of these now stops it before it listens (exit 2, a message saying what to fix); its first
line says which mode it runs in.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from rulerouter.cli import main
from rulerouter.testing import LoopbackUpstream

from .gateway_helpers import POLICY, serve


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY.format(base_url="http://127.0.0.1:9/v1", log=tmp_path / "events.jsonl"))
    return path


@pytest.mark.parametrize(
    ("environ", "args", "fragment"),
    [
        ({}, (), "RULEROUTER_GATEWAY_KEYS is not set"),
        ({"RULEROUTER_GATEWAY_KEYS": ""}, (), "holds no key"),
        ({"RULEROUTER_GATEWAY_KEYS": ","}, (), "holds no key"),
        ({"RULEROUTER_GATEWAY_KEYS": " , ,"}, (), "holds no key"),
        ({"RULEROUTER_GATEWAY_KEYS": "alpha,,beta"}, (), "entry 2 of 3 is empty"),
        ({"RULEROUTER_GATEWAY_KEYS": "alpha,"}, (), "entry 2 of 2 is empty"),
        ({"RULEROUTER_GATEWAY_KEYS": "two words"}, (), "whitespace"),
        ({"RULEROUTER_GATEWAY_KEYS": "clé"}, (), "cannot carry"),
        ({"RULEROUTER_GATEWAY_KEYS": "alpha"}, ("--keys-env", "MY_KEYS"), "MY_KEYS is not set"),
        ({"MY_KEYS": ""}, ("--keys-env", "MY_KEYS"), "MY_KEYS is set but holds no key"),
        ({"RULEROUTER_GATEWAY_KEYS": "alpha"}, ("--no-client-keys",), "holds keys"),
        ({}, ("--no-client-keys", "--keys-env", "MY_KEYS"), "contradict"),
    ],
)
def test_a_missing_or_malformed_key_setting_stops_the_gateway(policy: Path, environ: dict[str, str], args: tuple[str, ...], fragment: str,
                                                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("RULEROUTER_GATEWAY_KEYS", "MY_KEYS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    code = main(["serve", "-c", str(policy), "--port", "0", *args])
    out, err = capsys.readouterr()
    assert code == 2 and fragment in err and "did not start" in err, err
    assert "listening" not in out


def test_startup_says_keys_are_required_and_they_are(upstream: LoopbackUpstream, tmp_path: Path) -> None:
    with serve(upstream.base_url, tmp_path, env_extra={"RULEROUTER_GATEWAY_KEYS": " alpha-key , beta-key "}) as served:
        line = served.first_line
        body = {"messages": [{"role": "user", "content": "hi"}]}
        chat = f"{served.base_url}/chat/completions"
        assert httpx.post(chat, json=body).status_code == 401
        assert httpx.post(chat, json=body, headers={"authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{served.base_url}/models").status_code == 401
        assert httpx.post(chat, json=body, headers={"authorization": "Bearer alpha-key"}).status_code == 200
        assert httpx.post(chat, json=body, headers={"x-api-key": "beta-key"}).status_code == 200  # as Anthropic clients send it
    assert "client keys required (2 from $RULEROUTER_GATEWAY_KEYS)" in line


def test_no_client_keys_is_an_explicit_choice_and_startup_says_so(upstream: LoopbackUpstream, tmp_path: Path) -> None:
    with serve(upstream.base_url, tmp_path) as served:  # the helper passes --no-client-keys when no keys are given
        assert httpx.post(f"{served.base_url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}).status_code == 200
    assert "NO client keys (--no-client-keys): anyone who can reach this port can use it" in served.first_line
