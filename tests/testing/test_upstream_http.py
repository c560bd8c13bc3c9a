"""The HTTP layer on a raw socket: framing, keep-alive, pipelining, and what it rejects."""

from __future__ import annotations

import json
import socket

import pytest

from rulerouter.testing import Reply, Slow

BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
REQUEST = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))


def read_response(sock: socket.socket, pending: bytearray) -> tuple[bytes, dict[str, str], bytes]:
    """One Content-Length-framed response (status line, headers, body); `pending` keeps leftovers."""
    while b"\r\n\r\n" not in pending:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed before a response head")
        pending += data
    head, _, rest = bytes(pending).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed inside a response body")
        rest += data
    pending[:] = rest[length:]
    return status.encode(), headers, rest[:length]


def is_closed(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
def raw(up):
    sock = socket.create_connection(("127.0.0.1", up.port), timeout=5)
    yield sock
    sock.close()


def test_pipelined_requests_are_answered_in_order(up, raw):
    up.script("m", Reply("first"), Slow(0.1, then=Reply("second")), Reply("third"))
    raw.sendall(REQUEST * 3)
    pending = bytearray()
    contents = [json.loads(read_response(raw, pending)[2])["choices"][0]["message"]["content"] for _ in range(3)]
    assert contents == ["first", "second", "third"]
    assert len({r.connection for r in up.requests}) == 1


def test_a_request_arriving_byte_by_byte_is_parsed(raw):
    for i in range(len(REQUEST)):
        raw.send(REQUEST[i : i + 1])
    status, _, body = read_response(raw, bytearray())
    assert status == b"HTTP/1.1 200 OK"
    assert json.loads(body)["choices"][0]["message"]["content"] == "ok"


def test_expect_100_continue_gets_an_interim_response(raw):
    head, _, body = REQUEST.partition(b"\r\n\r\n")
    raw.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
    assert raw.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    raw.sendall(body)
    status, _, _ = read_response(raw, bytearray())
    assert status == b"HTTP/1.1 200 OK"


@pytest.mark.parametrize("request_bytes", [
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"GARBAGE\r\n\r\n",
    b"GET /healthz HTTP/2.0\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\n folded: header\r\n\r\n",
])
def test_what_cannot_be_parsed_gets_400_and_a_close(raw, request_bytes):
    raw.sendall(request_bytes)
    status, headers, body = read_response(raw, bytearray())
    assert status == b"HTTP/1.1 400 Bad Request"
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    assert is_closed(raw)


def test_an_oversized_head_is_rejected(raw):
    raw.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 70_000)
    status, _, _ = read_response(raw, bytearray())
    assert status == b"HTTP/1.1 400 Bad Request"


def test_http_1_0_closes_unless_keep_alive_is_asked_for(up):
    with socket.create_connection(("127.0.0.1", up.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        status, headers, _ = read_response(sock, bytearray())
        assert (status, headers["connection"]) == (b"HTTP/1.1 200 OK", "close")
        assert is_closed(sock)
    with socket.create_connection(("127.0.0.1", up.port), timeout=5) as sock:
        pending = bytearray()
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, _ = read_response(sock, pending)
            assert status == b"HTTP/1.1 200 OK" and "connection" not in headers


def test_the_query_string_is_ignored_for_routing(raw):
    raw.sendall(b"GET /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = read_response(raw, bytearray())
    assert (status, json.loads(body)) == (b"HTTP/1.1 200 OK", {"status": "ok"})

