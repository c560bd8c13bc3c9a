"""Which proxy a request goes through: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY, read as
httpx reads them.

The variables are read in either case, the lower-case one winning (as `urllib.request` reads
them); a proxy without a scheme is `http://`. HTTP_PROXY applies to `http://` URLs, HTTPS_PROXY
to `https://` ones, ALL_PROXY to both when the more specific one is unset. NO_PROXY is a comma
list: `*` turns every proxy off; `example.com` exempts it and its subdomains, `.example.com`
only the subdomains; an IPv4 or IPv6 address or `localhost` exempts that host; an entry with a
scheme (`http://internal:8080`) exempts exactly that. The most specific rule wins: one with a
port before one without, a longer host before a shorter, a scheme before none.

`ProxyRules.for_url` answers for the async transport; `httpx_mounts` gives the same rules to a
sync `httpx.Client`. Proxies are `http://` (plain to the proxy) or `https://` (TLS to the
proxy); a SOCKS proxy is refused with a clear error rather than bypassed.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

__all__ = ["Proxy", "ProxyRules"]

_SCHEMES = ("http", "https", "all")


@dataclass(frozen=True, slots=True)
class Proxy:
    """One proxy: where it is, and the `Proxy-Authorization` its URL's credentials make."""

    url: httpx.URL
    authorization: bytes | None = None

    @classmethod
    def parse(cls, text: str) -> Proxy:
        url = httpx.URL(text if "://" in text else f"http://{text}")
        if url.scheme not in ("http", "https"):
            raise ValueError(f"the proxy {url.copy_with(username=None, password=None)} is a {url.scheme} proxy; "
                             "only http:// and https:// proxies are supported")
        authorization = None
        if url.username or url.password:
            pair = f"{unquote(url.username)}:{unquote(url.password)}".encode()
            authorization = b"Basic " + base64.b64encode(pair)
            url = url.copy_with(username=None, password=None)
        return cls(url, authorization)

    @property
    def host(self) -> str:
        return self.url.host

    @property
    def port(self) -> int:
        return self.url.port or (443 if self.url.scheme == "https" else 80)

    def __repr__(self) -> str:  # never the credentials
        return f"Proxy({str(self.url)!r})"


class _Pattern:
    """A URL pattern as httpx matches mounts: `scheme://host:port`, `all://` for any scheme,
    a host starting with `*` for the host and its subdomains (`*.` for subdomains only)."""

    __slots__ = ("text", "scheme", "host", "port", "regex")

    def __init__(self, text: str) -> None:
        url = httpx.URL(text)
        self.text = text
        self.scheme = "" if url.scheme == "all" else url.scheme
        self.host = "" if url.host == "*" else url.host
        self.port = url.port
        host = self.host
        if not host:
            self.regex = None
        elif host.startswith("*."):
            self.regex = re.compile(f"^.+\\.{re.escape(host[2:])}$")
        elif host.startswith("*"):
            self.regex = re.compile(f"^(.+\\.)?{re.escape(host[1:])}$")
        else:
            self.regex = re.compile(f"^{re.escape(host)}$")

    def matches(self, url: httpx.URL) -> bool:
        if self.scheme and self.scheme != url.scheme:
            return False
        if self.regex is not None and not self.regex.match(url.host):
            return False
        return self.port is None or self.port == url.port

    @property
    def priority(self) -> tuple[bool, int, int]:
        return self.port is None, -len(self.host), -len(self.scheme)


def _parsed(proxy: str | None) -> Proxy | ValueError | None:
    if not proxy:
        return None
    try:
        return Proxy.parse(proxy)
    except ValueError as exc:
        return exc
    except httpx.InvalidURL as exc:  # `HTTPS_PROXY='::::'`: said when a URL would go through it, never a crash
        return ValueError(f"the proxy {proxy!r} is not a URL ({exc})")


def _environment(env: Mapping[str, str]) -> dict[str, str]:
    """`*_proxy` variables as urllib reads them: any case, the lower-case spelling winning."""
    found: dict[str, str] = {}
    for name, value in env.items():
        if value and name.lower().endswith("_proxy"):
            found[name.lower()[:-6]] = value
    for name, value in env.items():
        if name.endswith("_proxy"):  # the lower-case spelling, set or deliberately empty
            if value:
                found[name[:-6]] = value
            else:
                found.pop(name[:-6], None)
    return found


def _is_ip(host: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(host).version == version
    except ValueError:
        return False


class ProxyRules:
    """The proxy (or none) for each URL, from the environment."""

    def __init__(self, rules: Mapping[str, str | None]) -> None:
        """Raises ValueError for a pattern that is not one (a `NO_PROXY` entry such as `[::1`)."""
        parsed = []
        for pattern, proxy in rules.items():
            try:
                parsed.append((_Pattern(pattern), _parsed(proxy)))
            except httpx.InvalidURL as exc:
                raise ValueError(f"NO_PROXY names {pattern.removeprefix('all://').lstrip('*')!r}, which is not a host ({exc})") from None
        self._rules = sorted(parsed, key=lambda rule: rule[0].priority)
        self._cache: dict[tuple[str, str, int | None], Proxy | ValueError | None] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProxyRules:
        found = _environment(env)
        rules: dict[str, str | None] = {}
        for scheme in _SCHEMES:
            if found.get(scheme):
                rules[f"{scheme}://"] = found[scheme]
        for host in (h.strip() for h in found.get("no", "").split(",")):
            if host == "*":
                return cls({})
            if not host:
                continue
            if "://" in host:
                rules[host] = None
            elif _is_ip(host, 4) or host.lower() == "localhost":
                rules[f"all://{host}"] = None
            elif _is_ip(host, 6):
                rules[f"all://[{host}]"] = None
            else:
                rules[f"all://*{host}"] = None
        return cls(rules)

    def __bool__(self) -> bool:
        return any(proxy is not None for _, proxy in self._rules)

    def for_url(self, url: httpx.URL) -> Proxy | None:
        """The proxy for `url`, or None; ValueError when it would be one that is not supported."""
        key = (url.scheme, url.host, url.port)
        found = self._cache.get(key, False)
        if found is False:
            found = self._cache[key] = next((proxy for pattern, proxy in self._rules if pattern.matches(url)), None)
        if isinstance(found, ValueError):
            raise found
        return found  # type: ignore[return-value]

    def httpx_mounts(self, **transport: Any) -> dict[str, httpx.HTTPTransport | None]:
        """The same rules as mounts of a sync `httpx.Client` (each proxy its own transport)."""
        mounts: dict[str, httpx.HTTPTransport | None] = {}
        for pattern, proxy in self._rules:
            if proxy is None:
                mounts[pattern.text] = None
                continue
            if isinstance(proxy, ValueError):
                continue  # refused when a URL it covers is asked for (`for_url`)
            auth = {"Proxy-Authorization": proxy.authorization.decode()} if proxy.authorization else None
            mounts[pattern.text] = httpx.HTTPTransport(proxy=httpx.Proxy(proxy.url, headers=auth), **transport)
        return mounts
