"""Start a real `rulerouter serve` process in front of the loopback upstream, for the tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import ROOT

POLICY = """
schema_version = 1
default_tier = "cheap"

[tiers]
cheap = "small"
strong = "large"

[providers.up]
base_url = "{base_url}"
api_key_env = "GATEWAY_TEST_UPSTREAM_KEY"
timeout_s = 5

[models.small]
price = {{ input_per_mtok = 1.0, output_per_mtok = 2.0 }}
fallback = ["large"]

[models.large]
price = {{ input_per_mtok = 10.0, output_per_mtok = 20.0 }}

[retry]
retries_per_model = 0

[circuit_breaker]
failure_threshold = 1000

[[rules]]
name = "hard"
when.keywords.any = ["prove"]
tier = "strong"

[log]
destination = "{log}"
"""

UPSTREAM_KEY = "sk-upstream-GATEWAY-SECRET-42"
GATEWAY_KEY = "gw-client-key-7e1f"


class Served:
    def __init__(self, proc: subprocess.Popen[str], base_url: str, policy: Path, log: Path, first_line: str = "") -> None:
        self.proc = proc
        self.first_line = first_line  # "listening on …", with the policy, workers, state and client-key mode
        self.base_url = base_url
        self.root = base_url.removesuffix("/v1")
        self.policy = policy
        self.log = log
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)


@contextmanager
def serve(upstream_url: str, tmp: Path, *, policy_text: str | None = None, env_extra: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Iterator[Served]:
    policy = tmp / "policy.toml"
    log = tmp / "events.jsonl"
    policy.write_text(policy_text or POLICY.format(base_url=upstream_url, log=log))
    env = {**os.environ, "GATEWAY_TEST_UPSTREAM_KEY": UPSTREAM_KEY, **(env_extra or {})}
    if "RULEROUTER_GATEWAY_KEYS" not in env and "--keys-env" not in args:
        args = ("--no-client-keys", *args)  # no keys for this test: say so, as an operator must
    proc = subprocess.Popen(
        [sys.executable, "-m", "rulerouter", "serve", "-c", str(policy), "--port", "0", "--watch-interval", "0.05", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+/v1)", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"the gateway did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    served = Served(proc, match.group(1), policy, log, line)
    try:
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
