"""Connections to the providers a policy names: pooled httpx clients, keys, URLs, headers.

One `httpx.Client` (sync) and one `httpx.AsyncClient` per event loop (async) per provider, each
with its connection pool, reused across calls. Async clients run on `FastAsyncTransport`
(see `_transport.py` for why). Keys are read from the environment variables the rule file
names, once, when the router is built; they go into the Authorization header and nowhere else,
and every upstream message is scrubbed of them.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Mapping

import httpx

from ._transport import FastAsyncTransport
from .errors import UsageError
from .schema import Policy, Provider
from .upstream import Redactor

__all__ = ["Providers", "Target", "redactor_for"]


def redactor_for(policy: Policy, env: Mapping[str, str]) -> Redactor:
    """A redactor that knows every API key the policy's providers read from `env`."""
    return Redactor(env.get(spec.api_key_env, "") for spec in policy.providers.values() if spec.api_key_env)


@dataclass(frozen=True, slots=True)
class Target:
    """Everything needed to call one model."""

    model: str
    provider: str
    upstream: str
    url: str


class _Provider:
    __slots__ = ("name", "base_url", "headers", "timeout", "limits", "sync_client", "async_clients", "lock")

    def __init__(self, name: str, spec: Provider, env: Mapping[str, str]) -> None:
        self.name = name
        base_url = (env.get(spec.base_url_env) if spec.base_url_env else None) or spec.base_url
        self.base_url = base_url.rstrip("/")
        headers = {"content-type": "application/json", "accept": "application/json"}
        headers.update({k.lower(): v for k, v in spec.headers.items()})
        key = env.get(spec.api_key_env) if spec.api_key_env else None
        if key:
            headers["authorization"] = f"Bearer {key}"
        self.headers = headers
        self.timeout = httpx.Timeout(spec.timeout_s, connect=spec.connect_timeout_s, pool=spec.timeout_s)
        self.limits = spec.max_connections
        self.sync_client: httpx.Client | None = None
        self.async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
        self.lock = threading.Lock()

    def client(self) -> httpx.Client:
        if self.sync_client is None:
            with self.lock:
                if self.sync_client is None:
                    limits = httpx.Limits(max_connections=self.limits, max_keepalive_connections=self.limits)
                    self.sync_client = httpx.Client(headers=self.headers, timeout=self.timeout, limits=limits, trust_env=False)
        return self.sync_client

    def async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self.async_clients.get(loop)
        if client is None:
            transport = FastAsyncTransport(max_connections=self.limits)
            client = httpx.AsyncClient(headers=self.headers, timeout=self.timeout, transport=transport, trust_env=False)
            self.async_clients[loop] = client
        return client


class Providers:
    """The providers of one policy, and which provider and URL each model is called through."""

    def __init__(self, policy: Policy, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self._providers = {name: _Provider(name, spec, env) for name, spec in policy.providers.items()}
        self.redact = redactor_for(policy, env)
        self.targets: dict[str, Target] = {}
        only = next(iter(self._providers)) if len(self._providers) == 1 else None
        for name, model in policy.models.items():
            provider = model.provider or only
            if provider is None or provider not in self._providers:
                continue
            url = self._providers[provider].base_url + "/chat/completions"
            self.targets[name] = Target(name, provider, model.upstream or name, url)

    def target(self, model: str) -> Target:
        target = self.targets.get(model)
        if target is None:
            raise UsageError(f"model '{model}' has no provider to call it through; add [providers] to the rule file")
        return target

    def base_url(self, provider: str) -> str:
        return self._providers[provider].base_url

    def client(self, provider: str) -> httpx.Client:
        return self._providers[provider].client()

    def async_client(self, provider: str) -> httpx.AsyncClient:
        return self._providers[provider].async_client()

    def close(self) -> None:
        for provider in self._providers.values():
            if provider.sync_client is not None:
                provider.sync_client.close()
                provider.sync_client = None

    async def aclose(self) -> None:
        """Close this event loop's async clients (and the sync ones)."""
        loop = asyncio.get_running_loop()
        for provider in self._providers.values():
            client = provider.async_clients.pop(loop, None)
            if client is not None:
                await client.aclose()
        self.close()
