"""`python -m rulerouter.testing serve` as a child process: port line, requests, clean exit."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from rulerouter.testing import RecordedRequest, SimulatedProvider, Status

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+)/v1)\n")


def spawn(*args: str) -> tuple[subprocess.Popen[str], str, int]:
    proc = subprocess.Popen([sys.executable, "-m", "rulerouter.testing", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    match = LISTENING.fullmatch(line)
    if match is None:
        proc.kill()
        stderr = proc.stderr.read()  # type: ignore[union-attr]
        raise AssertionError(f"unexpected first line {line!r}; stderr: {stderr}")
    return proc, match.group(1), int(match.group(2))


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    proc, base_url, port = spawn("--port", "0")
    yield proc, base_url, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def stops_cleanly(proc: subprocess.Popen[str], signum: int) -> bool:
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=10)
    assert err == "" and out == ""
    return proc.returncode == 0


def test_serve_prints_the_port_answers_and_exits_on_sigterm(served):
    proc, base_url, port = served
    with httpx.Client(base_url=base_url, timeout=5) as client:
        assert client.get(base_url.removesuffix("/v1") + "/healthz").json() == {"status": "ok"}
        r = client.post("/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        assert r.json()["choices"][0]["message"]["content"] == "ok"
    assert stops_cleanly(proc, signal.SIGTERM)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_serve_exits_cleanly_on_sigint_with_a_connection_open(served):
    proc, base_url, _ = served
    with httpx.Client(base_url=base_url, timeout=5) as client:
        client.get("/models")  # leaves an idle keep-alive connection behind
        assert stops_cleanly(proc, signal.SIGINT)


def test_serve_simulate_is_labelled_and_fails_deterministically():
    provider = SimulatedProvider(seed=5)
    prompts = [f"Summarise chapter {i}" for i in range(200)]

    def fate(prompt: str) -> object:
        body = {"model": "cheap", "messages": [{"role": "user", "content": prompt}]}
        return provider(RecordedRequest("POST", "/v1/chat/completions", {}, body, model="cheap"))

    failing = next(p for p in prompts if isinstance(fate(p), Status))
    working = next(p for p in prompts if not isinstance(fate(p), Status))
    proc, base_url, _ = spawn("--simulate", "--seed", "5")
    try:
        with httpx.Client(base_url=base_url, timeout=5) as client:
            def post(prompt: str) -> httpx.Response:
                return client.post("/chat/completions",
                                   json={"model": "cheap", "messages": [{"role": "user", "content": prompt}]})

            assert post(failing).status_code == 503
            assert post(working).json()["choices"][0]["message"]["content"].startswith("[simulated cheap] ")
        assert stops_cleanly(proc, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_rejects_a_bad_port_and_reports_a_taken_one(served):
    bad = subprocess.run([sys.executable, "-m", "rulerouter.testing", "serve", "--port", "99999"],
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "not a TCP port" in bad.stderr
    _, _, taken_port = served
    taken = subprocess.run([sys.executable, "-m", "rulerouter.testing", "serve", "--port", str(taken_port)],
                           capture_output=True, text=True, timeout=10)
    assert taken.returncode == 1 and taken.stdout == ""
    assert f"cannot listen on 127.0.0.1:{taken_port}" in taken.stderr


def test_serve_status_makes_a_model_fail():
    proc, base_url, _ = spawn("--port", "0", "--status", "primary=500", "--status", "limited=429")
    try:
        with httpx.Client(base_url=base_url, timeout=5) as client:
            def status(model: str) -> int:
                return client.post("/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]}).status_code

            assert (status("primary"), status("limited"), status("other")) == (500, 429, 200)
    finally:
        assert stops_cleanly(proc, signal.SIGTERM)
    bad = subprocess.run([sys.executable, "-m", "rulerouter.testing", "serve", "--status", "primary=200"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "MODEL=CODE" in bad.stderr
