"""Does a server stack enforce the gateway's connection limits? What each one answers.

Run on demand (`python bench/server_limits.py`); not part of `make test` (the gateway's own
limits are tested in `tests/test_gateway_connections.py`). A server qualifies to run the gateway
only if it answers every case as `rulerouter serve` does (`gateway/connection_limits.py`): a
limit broken is refused before the request reaches the app, with the status and the
OpenAI-shaped JSON error below, and is reported to the app (`connection_refused`).

Each stack serves `rulerouter.gateway.server:create_app` on the same policy, with a 2-second head
timeout, a 3-second idle timeout and a cap of 8 connections where the stack has such settings:

  * `uvicorn`: `rulerouter serve` itself;
  * `granian`: granian over ASGI (`--http1-header-read-timeout 2000 --http1-buffer-size 32768`;
    it has no setting for the header count, the idle time or a connection cap).

Cases: a 40 KB header (431), a 40 KB request line (414), 101 headers (431), a head trickled
past the head timeout (408), a connection that sends nothing (closed after the idle timeout), and
one connection over the cap (503 with Retry-After). Printed: each case's status line, whether the
body is the limit's JSON error (or the app's answer: the request got through), and how long the
server took to close the connection.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import POLICY, ROOT, start, start_upstream  # noqa: E402
from bench.gateway import SETTINGS_ENV, Served, free_port, installed, wait_until_up  # noqa: E402

PY = sys.executable
HEAD_TIMEOUT_S, IDLE_TIMEOUT_S, MAX_CONNECTIONS = 2, 3, 8
REFUSALS = {"headers_too_large", "uri_too_long", "too_many_headers", "request_timeout", "too_many_connections"}  # connection_limits.py
POST = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"


def start_uvicorn(policy: str) -> Served:
    proc, url = start([PY, "-m", "rulerouter", "serve", "-c", policy, "--port", "0", "--no-client-keys", "--head-timeout", str(HEAD_TIMEOUT_S),
                       "--idle-timeout", str(IDLE_TIMEOUT_S), "--max-connections", str(MAX_CONNECTIONS)], r"listening on (http://\S+/v1)")
    return Served("uvicorn", proc, url)


def start_granian(policy: str) -> Served:
    port = free_port()
    env = {**os.environ, SETTINGS_ENV: json.dumps({"rules": policy, "no_client_keys": True})}
    proc = subprocess.Popen([PY, "-m", "granian", "--interface", "asgi", "--factory", "rulerouter.gateway.server:create_app", "--host", "127.0.0.1",
                             "--port", str(port), "--no-ws", "--loop", "uvloop", "--http", "1", "--log-level", "warning",
                             "--http1-header-read-timeout", str(HEAD_TIMEOUT_S * 1000), "--http1-buffer-size", str(32 * 1024)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    wait_until_up(proc, f"http://127.0.0.1:{port}/healthz")
    return Served("granian", proc, f"http://127.0.0.1:{port}/v1")


STACKS = {"uvicorn": start_uvicorn, "granian": start_granian}


def exchange(port: int, parts: list[bytes], gap_s: float = 0.0, wait_s: float = 6.0) -> tuple[bytes, float]:
    """Send `parts` (`gap_s` apart), then read until the server closes or `wait_s` passes."""
    started = time.monotonic()
    out = b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(wait_s)
        try:
            for part in parts:
                sock.sendall(part)
                time.sleep(gap_s)
        except OSError:
            pass  # the server closed while we were still sending: read what it said
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except (TimeoutError, OSError):
            out += b"(still open)" if not out else b""
    return out, time.monotonic() - started


def over_the_cap(port: int) -> tuple[bytes, float]:
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        return exchange(port, [POST + b"\r\n{}"], wait_s=3.0)
    finally:
        for sock in held:
            sock.close()


def cases(port: int) -> dict[str, tuple[str, tuple[bytes, float]]]:
    return {
        "a 40 KB header": ("431", exchange(port, [POST + b"x-big: " + b"a" * 40_000 + b"\r\n\r\n{}"])),
        "a 40 KB request line": ("414", exchange(port, [b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n"])),
        "101 headers": ("431", exchange(port, [POST + b"".join(b"x-h%d: v\r\n" % i for i in range(101)) + b"\r\n{}"])),
        "a head trickled past the head timeout": ("408", exchange(port, [b"GET /healthz HTTP/1.1\r\n"] + [b"x-a: b\r\n"] * 12, gap_s=0.5)),
        "a connection that sends nothing": (f"closed after {IDLE_TIMEOUT_S} s", exchange(port, [], wait_s=IDLE_TIMEOUT_S + 3)),
        f"connection {MAX_CONNECTIONS + 1} of a cap of {MAX_CONNECTIONS}": ("503", over_the_cap(port)),
    }


def describe(answer: bytes) -> str:
    if not answer:
        return "closed, no response"
    if answer == b"(still open)":
        return "no response, still open"
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"{status}; body {len(body)} bytes, not the JSON error"
    if code not in REFUSALS:
        return f"{status} from the app ({code}): the request got through"
    return f"{status}; the JSON error ({code})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default=",".join(name for name in STACKS if installed(name)), help="comma-separated: uvicorn, granian")
    args = parser.parse_args()
    upstream, up_url = start_upstream()
    try:
        with tempfile.TemporaryDirectory() as work:
            policy = Path(work) / "bench.toml"
            policy.write_text(POLICY.format(base_url=up_url) + f'\n[log]\ndestination = "{Path(work) / "events.jsonl"}"\n')
            for name in args.servers.split(","):
                served = STACKS[name.strip()](str(policy))
                try:
                    port = int(served.url.rsplit(":", 1)[1].split("/")[0])
                    print(f"{name}:")
                    for case, (expected, (answer, seconds)) in cases(port).items():
                        print(f"  {case:<40} expected {expected:<18} got {describe(answer)} after {seconds:.1f} s")
                finally:
                    served.stop()
    finally:
        upstream.terminate()
        upstream.wait(10)


if __name__ == "__main__":
    main()
