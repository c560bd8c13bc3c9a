"""Connections to the providers a policy names: pooled httpx clients, keys, URLs, headers.

One `httpx.Client` (sync) and one `FastAsyncTransport` (async; it keeps a connection pool per
event loop) per provider, reused across calls (see `transport/pool.py` for why), through the
proxy that HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY name for its URL, as httpx reads
them (from the environment the router was given). Each provider
speaks one API (`provider_api.py`), which decides its URL path and how its key is sent. Keys are
read from the environment variables the rule file names, once, when the router is built; they go
into the provider's auth header (`Authorization: Bearer`, or Anthropic's `x-api-key`) and
nowhere else, and every upstream message is scrubbed of them.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Awaitable, Iterator, Mapping

import httpx

from ..errors import UsageError
from ..policy.schema import Policy, Provider
from .provider_api import AnthropicMessages, OpenAIChat, ProviderAPI
from .transport.http2 import Http2Transport, http2_available, http2_options
from .transport.pool import Endpoint, FastAsyncTransport
from .transport.proxy import ProxyRules
from .redact import redactor_for

__all__ = ["Providers", "ReplyHeaders", "Target"]


@dataclass(frozen=True, slots=True)
class Target:
    """Everything needed to call one model."""

    model: str
    provider: str
    upstream: str
    url: str
    url_obj: httpx.URL  # parsed once: every async request reuses it
    api: ProviderAPI
    endpoint: Endpoint  # the URL with its provider's headers, for the async transport's `post`


class ReplyHeaders(Mapping[str, str]):
    """A reply's headers as received (raw pairs), read by lower-case name (the first of a name
    given twice); the mapping is built on first lookup, which most answers never make."""

    __slots__ = ("raw", "_map")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw
        self._map: dict[str, str] | None = None

    def _lookup(self) -> dict[str, str]:
        if self._map is None:
            found: dict[str, str] = {}
            for name, value in self.raw:
                found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
            self._map = found
        return self._map

    def __getitem__(self, name: str) -> str:
        return self._lookup()[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        return self._lookup().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def has(self, name: bytes) -> bool:
        """Whether a header of this lower-case name came, without building the mapping."""
        return any(key.lower() == name for key, _ in self.raw)


class _Provider:
    __slots__ = ("name", "api", "base_url", "headers", "raw_headers", "timeout", "timeouts", "limits", "sync_client", "transport",
                 "lock", "proxies", "http2")

    def __init__(self, name: str, spec: Provider, env: Mapping[str, str], proxies: ProxyRules) -> None:
        self.name = name
        self.api: ProviderAPI = AnthropicMessages(spec.anthropic_version, spec.default_max_tokens) if spec.api == "anthropic" else OpenAIChat()
        from_env = env.get(spec.base_url_env) if spec.base_url_env else None
        base_url = from_env or spec.base_url or ""  # Providers builds a provider only when it has an endpoint
        self.base_url = base_url.rstrip("/")
        try:
            url = httpx.URL(self.base_url)
        except httpx.InvalidURL as exc:
            url = None
            why = str(exc)
        if url is None or url.scheme not in ("http", "https") or not url.host:
            where = f"${spec.base_url_env}" if from_env else "base_url"
            why = why if url is None else "it must be an http:// or https:// URL with a host"
            raise UsageError(f"provider '{name}': {where} is {base_url[:80]!r}, which is not a URL models can be called at ({why})")
        try:
            proxy = proxies.for_url(url)
        except ValueError as exc:
            raise UsageError(f"provider '{name}' ({self.base_url}): {exc}; set NO_PROXY for it or use an HTTP proxy") from None
        self.proxies = proxies if proxy is not None else None  # its URL goes through a proxy, or never does
        self.http2: dict[str, object] | None = None  # httpx transport options, when it speaks HTTP/2
        if spec.http2:
            if not http2_available():
                raise UsageError(f"provider '{name}' has http2 = true, which needs the h2 package: pip install 'rulerouter[http2]'")
            self.http2 = http2_options(self.base_url, proxy)
        headers = {"content-type": "application/json", "accept": "application/json", **self.api.default_headers()}
        headers.update({k.lower(): v for k, v in spec.headers.items()})  # the rule file's headers win over defaults
        key = env.get(spec.api_key_env) if spec.api_key_env else None
        if key:
            headers.update(self.api.key_header(key))
        self.headers = headers
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.timeout = httpx.Timeout(spec.timeout_s, connect=spec.connect_timeout_s, pool=spec.timeout_s)
        self.timeouts = self.timeout.as_dict()
        self.limits = spec.max_connections
        self.sync_client: httpx.Client | None = None
        self.transport = self.new_transport()  # keeps a pool per event loop
        self.lock = threading.Lock()

    def new_transport(self) -> FastAsyncTransport | Http2Transport:
        if self.http2 is not None:
            return Http2Transport(max_connections=self.limits, options=self.http2)
        return FastAsyncTransport(max_connections=self.limits, proxies=self.proxies)

    def client(self) -> httpx.Client:
        if self.sync_client is None:
            with self.lock:
                if self.sync_client is None:
                    limits = httpx.Limits(max_connections=self.limits, max_keepalive_connections=self.limits)
                    # trust_env=False: the proxies come from the environment the router was given
                    if self.http2 is not None:
                        transport = httpx.HTTPTransport(limits=limits, **self.http2)  # type: ignore[arg-type]
                        self.sync_client = httpx.Client(headers=self.headers, timeout=self.timeout, trust_env=False, transport=transport)
                    else:
                        mounts = self.proxies.httpx_mounts(limits=limits) if self.proxies is not None else None
                        self.sync_client = httpx.Client(headers=self.headers, timeout=self.timeout, limits=limits, trust_env=False, mounts=mounts)
        return self.sync_client

    async def send(self, target: Target, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = (), url: httpx.URL | None = None) -> httpx.Response:
        """POST `body` (with `extra` headers) to the target (or `url`) through the transport directly.

        The request and response are httpx objects, but httpx.AsyncClient's layers (URL merging,
        cookies, auth and redirect handling) are skipped: an API POST needs none of them, and
        they cost more than the rest of a routed call together.
        """
        headers = self.raw_headers if not extra else [*self.raw_headers, *extra]
        request = httpx.Request("POST", url or target.url_obj, headers=headers, content=body, extensions={"timeout": self.timeouts})
        return await self.transport.handle_async_request(request)

    async def post(self, target: Target, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()) -> tuple[int, ReplyHeaders, bytes]:
        """POST `body` to the target and read the whole reply: (status, headers, body decoded).

        On the HTTP/1.1 transport no httpx request or response is built (see
        `FastAsyncTransport.post`); a body the upstream compressed (it was asked to by a header
        of the rule file) is decoded with httpx's decoders.
        """
        transport = self.transport
        if isinstance(transport, FastAsyncTransport):
            status, raw, content = await transport.post(target.endpoint, body, extra, self.timeouts)
        else:  # HTTP/2: httpx's transport
            response = await self.send(target, body, extra)
            return response.status_code, ReplyHeaders(response.headers.raw), await response.aread()
        headers = ReplyHeaders(raw)
        if headers.has(b"content-encoding"):
            content = httpx.Response(status, headers=raw, content=content).content
        return status, headers, content


class Providers:
    """The providers of one policy, and which provider and URL each model is called through."""

    def __init__(self, policy: Policy, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        try:
            proxies = ProxyRules.from_env(env)
        except ValueError as exc:
            raise UsageError(f"the proxy settings of the environment: {exc}") from None
        self._providers: dict[str, _Provider] = {}
        unreachable: dict[str, str] = {}  # provider → why it cannot be called (no endpoint)
        for name, spec in policy.providers.items():
            problem = spec.endpoint_problem(name, env)
            if problem is None:
                self._providers[name] = _Provider(name, spec, env, proxies)
            else:
                unreachable[name] = problem
        self.redact = redactor_for(policy, env)
        self.targets: dict[str, Target] = {}
        #: Models whose provider has no endpoint, and why: calling one fails, nothing is sent.
        self.unreachable: dict[str, str] = {}
        only = next(iter(policy.providers)) if len(policy.providers) == 1 else None
        for name, model in policy.models.items():
            provider = model.provider or only
            if provider in unreachable:
                self.unreachable[name] = unreachable[provider]
            if provider is None or provider not in self._providers:
                continue
            spec = self._providers[provider]
            url = spec.base_url + spec.api.path
            url_obj = httpx.URL(url)
            endpoint = FastAsyncTransport.endpoint(url_obj, spec.raw_headers)
            self.targets[name] = Target(name, provider, model.upstream or name, url, url_obj, spec.api, endpoint)

    def target(self, model: str) -> Target:
        target = self.targets.get(model)
        if target is None and model in self.unreachable:
            raise UsageError(self.unreachable[model])
        if target is None:
            raise UsageError(f"model '{model}' has no provider to call it through; add [providers] to the rule file")
        return target

    def base_url(self, provider: str) -> str:
        return self._providers[provider].base_url

    def client(self, provider: str) -> httpx.Client:
        return self._providers[provider].client()

    async def asend(self, target: Target, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = (), url: httpx.URL | None = None) -> httpx.Response:
        return await self._providers[target.provider].send(target, body, extra, url)

    def apost(self, target: Target, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Awaitable[tuple[int, ReplyHeaders, bytes]]:
        """The provider's `post` of the call, to await (handed on, not wrapped in a coroutine of its own)."""
        return self._providers[target.provider].post(target, body, extra)

    def close(self) -> None:
        for provider in self._providers.values():
            if provider.sync_client is not None:
                provider.sync_client.close()
                provider.sync_client = None

    async def aclose(self) -> None:
        """Close pooled async connections (of every loop) and the sync ones."""
        for provider in self._providers.values():
            await provider.transport.aclose()
            provider.transport = provider.new_transport()  # usable again afterwards
        self.close()
