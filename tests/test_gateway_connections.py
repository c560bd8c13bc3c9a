"""Slow and huge request heads, idle and surplus connections — tested on the wire, with real sockets.

Before: three connections sending one header line a second stayed open indefinitely; a 50 MB
`X-Rulerouter-Metadata` header was accepted (peak RSS 202 MB), bypassing `--max-body-bytes`.
Now the server refuses these where the bytes arrive: a head over `--max-header-bytes` gets 431
(414 for the request line) after at most that many bytes, more than `--max-headers` headers get
431, a head not whole within `--head-timeout` gets 408, a connection with no request in
progress is closed after `--idle-timeout`, and a connection beyond `--max-connections` gets 503.
These tests speak HTTP/1.1 over plain sockets, so they hold whatever server runs the gateway.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rulerouter.testing import LoopbackUpstream

from .gateway_helpers import Served, serve

LIMITS = ("--max-header-bytes", "16384", "--max-headers", "50", "--head-timeout", "1", "--idle-timeout", "1.5", "--max-connections", "6")
BODY = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()


@pytest.fixture(scope="module")
def gateway(upstream: LoopbackUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(upstream.base_url, tmp_path_factory.mktemp("connections"), args=LIMITS) as served:
        yield served


def connect(gateway: Served) -> socket.socket:
    host, port = gateway.root.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def request(body: bytes = BODY, extra: bytes = b"") -> bytes:
    return (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" + extra
            + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def read_all(sock: socket.socket, limit: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (or `limit` seconds pass)."""
    sock.settimeout(limit)
    data = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(reply: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", reply)
    assert match, reply[:200]
    return int(match.group(1))


def error_of(reply: bytes) -> dict:
    return json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]


def refused(gateway: Served, reason: str) -> int:
    text = httpx.get(f"{gateway.root}/metrics").text
    match = re.search(rf'rulerouter_connections_refused_total{{reason="{reason}"}} (\d+)', text)
    return int(match.group(1)) if match else 0


def test_ordinary_requests_pipelining_and_big_bodies_still_work(gateway: Served) -> None:
    with connect(gateway) as sock:
        big = json.dumps({"messages": [{"role": "user", "content": "x" * 40_000}]}).encode()  # larger than the head limit: a body
        sock.sendall(request() + request(big) + request())
        replies = b""
        while replies.count(b"HTTP/1.1 200 OK") < 3:
            chunk = sock.recv(65536)
            assert chunk, replies
            replies += chunk
    forty = {f"x-extra-{i}": "v" * 100 for i in range(40)}  # 40 headers, 4 KB: within the limits
    assert httpx.post(f"{gateway.base_url}/chat/completions", content=BODY, headers=forty).status_code == 200


def test_a_slow_head_is_cut_off_with_408(gateway: Served) -> None:
    before = refused(gateway, "request_timeout")
    socks = [connect(gateway) for _ in range(3)]  # the three connections, one header line a second
    started = time.monotonic()
    for sock in socks:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
    closed: list[bytes] = []
    for line in range(10):
        for sock in socks:
            try:
                sock.sendall(b"x-slow-%d: y\r\n" % line)
            except OSError:
                pass
        time.sleep(0.3)
        if time.monotonic() - started > 2.5:
            break
    for sock in socks:
        closed.append(read_all(sock, 5))
        sock.close()
    elapsed = time.monotonic() - started
    assert all(status_of(reply) == 408 for reply in closed), closed
    assert all(error_of(reply)["code"] == "request_timeout" for reply in closed)
    assert elapsed < 8
    assert refused(gateway, "request_timeout") >= before + 3


def test_blank_lines_do_not_keep_a_connection_open(gateway: Served) -> None:
    with connect(gateway) as sock:
        started = time.monotonic()
        reply = b""
        for _ in range(30):
            try:
                sock.sendall(b"\r\n")
            except OSError:
                break
            time.sleep(0.2)
            sock.settimeout(0.01)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            reply += chunk
            if not chunk or reply:
                break
        assert time.monotonic() - started < 4
        reply += read_all(sock, 3)
    assert status_of(reply) == 408


def test_idle_connections_are_closed_new_and_kept_alive(gateway: Served) -> None:
    with connect(gateway) as silent:
        started = time.monotonic()
        assert read_all(silent, 6) == b""  # closed without a word: it never asked for anything
        assert time.monotonic() - started < 5
    with connect(gateway) as kept:
        kept.sendall(request())
        kept.settimeout(10)
        first = kept.recv(65536)
        assert status_of(first) == 200
        started = time.monotonic()
        rest = read_all(kept, 6)
        assert time.monotonic() - started < 5 and b"HTTP/1.1" not in rest


def test_a_huge_header_gets_431_after_the_limit_without_being_buffered(gateway: Served) -> None:
    before = refused(gateway, "headers_too_large")
    peak_before = peak_rss_kib(gateway)
    with connect(gateway) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-rulerouter-metadata: {\"a\": \"")
        sent = 0
        chunk = b"m" * 65536
        try:
            while sent < 50 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the gateway answered and closed: it stopped reading long before 50 MB
        reply = read_all(sock, 5)
    assert status_of(reply) == 431 and error_of(reply)["code"] == "headers_too_large"
    assert sent < 50 * 1024 * 1024
    assert peak_rss_kib(gateway) - peak_before < 20 * 1024  # nothing near 50 MB was held
    assert refused(gateway, "headers_too_large") == before + 1


def test_too_many_headers_get_431_and_a_long_request_line_414(gateway: Served) -> None:
    with connect(gateway) as sock:
        sock.sendall(request(extra=b"".join(b"x-h%d: v\r\n" % i for i in range(60))))
        reply = read_all(sock)
    assert status_of(reply) == 431 and error_of(reply)["code"] == "too_many_headers"
    with connect(gateway) as sock:
        try:
            sock.sendall(b"GET /" + b"a" * 40_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n")
        except OSError:
            pass
        reply = read_all(sock)
    assert status_of(reply) == 414 and error_of(reply)["code"] == "uri_too_long"


def test_connections_beyond_the_cap_get_503_and_the_cap_frees_up(gateway: Served) -> None:
    time.sleep(2)  # connections of earlier tests have timed out
    held = [connect(gateway) for _ in range(6)]
    try:
        time.sleep(0.2)
        with connect(gateway) as extra:
            reply = read_all(extra, 5)
        assert status_of(reply) == 503 and b"retry-after: 1" in reply.lower()
        assert error_of(reply)["code"] == "too_many_connections"
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert httpx.post(f"{gateway.base_url}/chat/completions", content=BODY, headers={"content-type": "application/json"}).status_code == 200


def peak_rss_kib(gateway: Served) -> int:
    status = Path(f"/proc/{gateway.proc.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
