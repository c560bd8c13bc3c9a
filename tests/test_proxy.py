"""Proxies: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY, honoured as httpx honours them.

A real proxy runs on 127.0.0.1 in a thread of the test (`ForwardingProxy`): it forwards
absolute-form requests (`POST http://host:port/path`) and tunnels `CONNECT host:port`, and
records what it was asked. The router's calls — sync and async, plain and streamed — and the
transport alone go through it, or around it when NO_PROXY says so.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from rulerouter import Router
from rulerouter.errors import UsageError
from rulerouter.execute.transport.pool import FastAsyncTransport
from rulerouter.execute.transport.proxy import ProxyRules
from rulerouter.testing import LoopbackUpstream, Reply

from .test_streaming import collect


class ForwardingProxy:
    """A small HTTP proxy on 127.0.0.1: forwarding for http://, CONNECT tunnels for https://.

    Each forwarded request is sent to the origin on a connection of its own, with
    `Connection: close`, and the origin's answer is relayed until the origin closes; a tunnel
    relays bytes both ways. `seen` lists each request line; `auth` each Proxy-Authorization.
    `refuse` answers every CONNECT with that status instead.
    """

    def __init__(self, refuse: int | None = None) -> None:
        self.seen: list[str] = []
        self.auth: list[str | None] = []
        self.refuse = refuse
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []

    def __enter__(self) -> ForwardingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
        except OSError:
            pass
        self._listener.close()
        for sock in list(self._open):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._thread.join(5)
        for thread in self._threads:
            thread.join(5)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._open.append(client)
            thread = threading.Thread(target=self._client, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _client(self, client: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                self.seen.append(f"{method} {target}")
                self.auth.append(headers.get("proxy-authorization"))
                if method == "CONNECT":
                    return self._connect(client, target, buffer)
                length = int(headers.get("content-length", "0"))
                while len(buffer) < length:
                    buffer += client.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                url = httpx.URL(target)
                kept = [line for line in lines[1:] if not line.lower().startswith(("proxy-authorization", "connection"))]
                origin_head = "\r\n".join([f"{method} {url.raw_path.decode()} HTTP/1.1", *kept, "Connection: close"]).encode()
                with socket.create_connection((url.host, url.port or 80)) as origin:
                    origin.sendall(origin_head + b"\r\n\r\n" + body)
                    while data := origin.recv(65536):
                        client.sendall(data)
                return  # the origin said Connection: close to its answer, and closed
        except OSError:
            return
        finally:
            client.close()

    def _connect(self, client: socket.socket, target: str, early: bytes) -> None:
        if self.refuse is not None:
            client.sendall(b"HTTP/1.1 %d Refused\r\nContent-Length: 0\r\n\r\n" % self.refuse)
            return
        host, _, port = target.rpartition(":")
        origin = socket.create_connection((host.strip("[]"), int(port)))
        self._open.append(origin)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if early:
            origin.sendall(early)

        def pipe(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        back = threading.Thread(target=pipe, args=(origin, client), daemon=True)
        back.start()
        pipe(client, origin)
        back.join(5)
        origin.close()


POLICY = """
schema_version = 1
default_tier = "cheap"
[tiers]
cheap = "m"
[providers.up]
base_url = "{base_url}"
api_key_env = "KEY"
timeout_s = 5
[models.m]
"""


@pytest.fixture
def proxy() -> Iterator[ForwardingProxy]:
    with ForwardingProxy() as p:
        yield p


# --- the rules, as httpx reads them ---------------------------------------------------------------


@pytest.mark.parametrize(("env", "url", "expected"), [
    ({"HTTPS_PROXY": "p:3128"}, "https://api.example.com/v1", "http://p:3128"),
    ({"HTTPS_PROXY": "p:3128"}, "http://api.example.com/v1", None),
    ({"HTTP_PROXY": "http://h:1"}, "http://api.example.com/v1", "http://h:1"),
    ({"ALL_PROXY": "http://a:1", "HTTPS_PROXY": "http://s:1"}, "https://x.com", "http://s:1"),
    ({"ALL_PROXY": "http://a:1"}, "http://x.com", "http://a:1"),
    ({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1"}, "https://x.com", "http://lower:1"),
    ({"HTTPS_PROXY": "http://upper:1", "https_proxy": ""}, "https://x.com", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "example.com"}, "https://api.example.com", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "example.com"}, "https://example.com", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "example.com"}, "https://notexample.com", "http://a:1"),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": ".example.com"}, "https://example.com", "http://a:1"),
    ({"ALL_PROXY": "http://a:1", "no_proxy": "127.0.0.1, ::1 ,localhost"}, "http://127.0.0.1:8080", None),
    ({"ALL_PROXY": "http://a:1", "no_proxy": "127.0.0.1, ::1 ,localhost"}, "http://[::1]:8080", None),
    ({"ALL_PROXY": "http://a:1", "no_proxy": "localhost"}, "http://localhost:9", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "http://internal:8080"}, "http://internal:8080/v1", None),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "http://internal:8080"}, "http://internal:9090/v1", "http://a:1"),
    ({"ALL_PROXY": "http://a:1", "NO_PROXY": "*"}, "https://x.com", None),
])
def test_which_proxy_a_url_goes_through(env: dict[str, str], url: str, expected: str | None) -> None:
    found = ProxyRules.from_env(env).for_url(httpx.URL(url))
    assert (str(found.url) if found else None) == expected


def test_credentials_become_proxy_authorization_and_never_show() -> None:
    proxy = ProxyRules.from_env({"HTTP_PROXY": "http://alice:s%40cret@p:8080"}).for_url(httpx.URL("http://x"))
    assert proxy is not None and proxy.authorization == b"Basic YWxpY2U6c0BjcmV0"
    assert "cret" not in repr(proxy) and "alice" not in str(proxy.url)


def test_a_socks_proxy_is_refused_clearly_where_it_would_be_used() -> None:
    env = {"KEY": "k", "ALL_PROXY": "socks5://127.0.0.1:1080", "NO_PROXY": "skip.example"}
    with pytest.raises(UsageError, match="socks5 proxy; only http:// and https:// proxies"):
        Router.from_toml(POLICY.format(base_url="http://api.example.com/v1"), env=env).executor  # noqa: B018
    assert Router.from_toml(POLICY.format(base_url="http://skip.example/v1"), env=env).executor is not None


# --- through a real proxy -------------------------------------------------------------------------


def test_router_calls_go_through_http_proxy_sync_async_and_streamed(up: LoopbackUpstream, proxy: ForwardingProxy) -> None:
    up.default(Reply("via the proxy"))
    env = {"KEY": "k", "HTTP_PROXY": proxy.url.replace("http://", "http://bob:pw@")}
    router = Router.from_toml(POLICY.format(base_url=up.base_url), env=env)
    assert router.complete("hi").content == "via the proxy"

    async def go() -> str | None:
        try:
            return (await router.acomplete("hi")).content
        finally:
            await router.aclose()

    assert asyncio.run(go()) == "via the proxy"
    for mode in ("sync", "async"):
        _, stream, error = collect(router, mode, "hi")
        assert error is None and stream.text == "via the proxy"
    assert proxy.seen == [f"POST {up.base_url}/chat/completions"] * 4
    assert proxy.auth == ["Basic Ym9iOnB3"] * 4
    assert all("proxy-authorization" not in r.headers for r in up.requests)  # the proxy's credentials stop at the proxy
    assert [r.path for r in up.requests] == ["/v1/chat/completions"] * 4


def test_no_proxy_sends_calls_around_the_proxy(up: LoopbackUpstream, proxy: ForwardingProxy) -> None:
    env = {"KEY": "k", "HTTP_PROXY": proxy.url, "NO_PROXY": "127.0.0.1"}
    router = Router.from_toml(POLICY.format(base_url=up.base_url), env=env)
    assert router.complete("hi").content == "ok"
    assert asyncio.run(router.acomplete("hi")).content == "ok"
    assert proxy.seen == [] and len(up.requests) == 2


def _certificate(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    client.set_alpn_protocols(["http/1.1"])
    return server, client


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_goes_through_a_connect_tunnel(tmp_path: Path) -> None:
    server_ctx, client_ctx = _certificate(tmp_path)

    async def body() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while head := await reader.readuntil(b"\r\n\r\n"):
                    answer = b"secure " + head.split(b" ", 2)[1]
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.transport.abort()

        origin = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        port = origin.sockets[0].getsockname()[1]
        with ForwardingProxy() as proxy:
            rules = ProxyRules.from_env({"HTTPS_PROXY": proxy.url.replace("http://", "http://carol:pw@")})
            async with httpx.AsyncClient(transport=FastAsyncTransport(ssl_context=client_ctx, proxies=rules)) as client:
                for path in ("/one", "/two"):
                    response = await client.get(f"https://127.0.0.1:{port}{path}")
                    assert response.text == f"secure {path}"
            assert proxy.seen == [f"CONNECT 127.0.0.1:{port}"]  # one tunnel, kept alive for both requests
            assert proxy.auth == ["Basic Y2Fyb2w6cHc="]
            refusing = ForwardingProxy(refuse=407)
            with refusing:
                rules = ProxyRules.from_env({"HTTPS_PROXY": refusing.url})
                async with httpx.AsyncClient(transport=FastAsyncTransport(ssl_context=client_ctx, proxies=rules)) as client:
                    with pytest.raises(httpx.ProxyError, match="refused a tunnel .* 407"):
                        await client.get(f"https://127.0.0.1:{port}/")
        origin.close()
        await origin.wait_closed()

    asyncio.run(body())


def test_a_proxy_that_is_down_is_a_connect_error(up: LoopbackUpstream) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    env: dict[str, Any] = {"KEY": "k", "HTTP_PROXY": f"http://127.0.0.1:{port}"}
    router = Router.from_toml(POLICY.format(base_url=up.base_url), env=env)
    with pytest.raises(Exception) as caught:
        router.complete("hi")
    assert "connect" in str(caught.value)
    with pytest.raises(Exception) as caught:
        asyncio.run(router.acomplete("hi"))
    assert "connect" in str(caught.value) and f"through the proxy 127.0.0.1:{port}" in str(caught.value)
