"""What an operator gets wrong: a reload that fails (shown by /readyz), environment variables that
are not URLs, and the exit codes of the command line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rulerouter.cli import build_parser, main
from rulerouter.testing import LoopbackUpstream, Reply

from .conftest import ROOT
from .gateway_helpers import serve


def wait_for_reload(root: str, ok: bool) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        last = httpx.get(f"{root}/readyz").json().get("last_reload")
        if last is not None and last["ok"] is ok:
            return last
        time.sleep(0.05)
    raise AssertionError("no reload was recorded")


def test_readyz_shows_a_failed_reload_while_the_last_good_policy_serves(up: LoopbackUpstream, tmp_path: Path) -> None:
    up.default(Reply("fine"))
    with serve(up.base_url, tmp_path, args=("--watch-interval", "3600")) as served:  # reloads only on SIGHUP
        ready = httpx.get(f"{served.root}/readyz").json()
        assert ready["status"] == "ready" and ready["last_reload"] is None
        good = served.policy.read_text()
        served.policy.write_text(good + "\n[[rules]\nbroken")
        served.proc.send_signal(signal.SIGHUP)
        failed = wait_for_reload(served.root, ok=False)
        assert failed["reason"] and failed["time"].endswith("Z") and failed["serving_generation"] == 1
        assert failed["error_count"] >= 1 and any("RR001" in line and ":" in line for line in failed["errors"])
        ready = httpx.get(f"{served.root}/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready" and ready.json()["generation"] == 1
        answer = httpx.post(f"{served.base_url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200  # still serving the last good policy
        served.policy.write_text(good)
        served.proc.send_signal(signal.SIGHUP)
        fixed = wait_for_reload(served.root, ok=True)
        assert fixed["generation"] == 2 and "errors" not in fixed


@pytest.mark.parametrize(("env", "said"), [
    ({"RULEROUTER_BASE_URL": "not a url"}, "$RULEROUTER_BASE_URL is 'not a url', which is not a URL"),
    ({"RULEROUTER_BASE_URL": "http://[::1"}, "$RULEROUTER_BASE_URL is 'http://[::1'"),
    ({"RULEROUTER_BASE_URL": "ftp://example.com/v1"}, "must be an http:// or https:// URL"),
    ({"RULEROUTER_BASE_URL": "https://127.0.0.1:9/v1", "HTTPS_PROXY": "::::"}, "the proxy '::::' is not a URL"),
    ({"RULEROUTER_BASE_URL": "https://127.0.0.1:9/v1", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "[::1"}, "NO_PROXY names '[::1'"),
])
def test_environment_urls_that_are_not_urls_are_usage_errors(env: dict[str, str], said: str, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str], in_repo: Path) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["chat", "-c", "rules/default.toml", "hi"]) == 2
    err = capsys.readouterr().err
    assert said in err and "internal error" not in err
    assert main(["route", "-c", "rules/default.toml", "hi"]) == 0  # deciding calls nothing: no URL needed
    capsys.readouterr()
    serve_it = subprocess.run([sys.executable, "-m", "rulerouter", "serve", "-c", "rules/default.toml", "--port", "0", "--no-client-keys"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert serve_it.returncode == 2 and said in serve_it.stderr and "the gateway did not start" in serve_it.stderr


def test_the_exit_codes_are_documented_and_70_is_only_for_a_bug(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    page = (ROOT / "docs" / "cli.md").read_text()
    for code in ("0", "1", "2", "70", "130"):
        assert f"| {code} |" in page, f"exit {code} is not in the table on docs/cli.md"
    assert "70" in (build_parser().epilog or "")
    import rulerouter.cli as cli

    def parser_whose_schema_raises(error: BaseException) -> object:
        def build() -> object:
            parser = build_parser()
            commands = next(a for a in parser._actions if a.dest == "command")
            commands.choices["schema"].set_defaults(handler=lambda args: (_ for _ in ()).throw(error))  # type: ignore[union-attr]
            return parser
        return build

    cases = [(ZeroDivisionError("division by zero"), 70, "internal error (ZeroDivisionError: division by zero)"),
             (PermissionError(13, "Permission denied", "/var/x"), 1, "rulerouter: /var/x: Permission denied"),
             (OSError(28, "No space left on device"), 1, "rulerouter: No space left on device")]
    for error, code, said in cases:
        monkeypatch.setattr(cli, "build_parser", parser_whose_schema_raises(error))
        assert main(["schema"]) == code
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err


def test_a_forced_tier_or_model_says_so_everywhere(up: LoopbackUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from .test_batch import write_policy
    from .test_execute import KEY, make

    monkeypatch.setenv("TEST_KEY", KEY)
    up.default(Reply("answer"))
    policy = write_policy(up, tmp_path)
    for argv, label in ((["--tier", "strong"], "(forced tier)"), (["--model", "medium"], "(forced model)"), ([], "(default)")):
        assert main(["chat", "-c", str(policy), *argv, "hi"]) == 0
        assert f"rule: {label}" in capsys.readouterr().err
    _, _, router = make(up)
    assert router.complete("hi", tier="strong").rule == "(forced tier)"
    assert router.complete("hi", model="medium").rule == "(forced model)"
    assert router.complete("hi").rule is None
    text = router.metrics.prometheus()
    assert 'rule="(forced tier)"' in text and 'rule="(forced model)"' in text and 'rule="(default)"' in text
    router.close()
