"""Client keys: who may use the gateway. The setting fails closed.

Two modes, and the gateway says at startup which one it is in:

- **keys required** (the default): every `/v1/*` request must carry one of the configured keys,
  as `Authorization: Bearer <key>` (OpenAI clients) or `x-api-key: <key>` (Anthropic clients).
  Keys come from an environment variable (`RULEROUTER_GATEWAY_KEYS`, or the one `--keys-env`
  names), comma-separated. Each is compared in constant time.
- **no client keys**: anyone who can reach the port may use it — only when the operator says so
  (`rulerouter serve --no-client-keys`).

A setting that cannot be what the operator meant stops the gateway before it listens, with a
message that says what to fix (`ClientKeysError`): the variable is not set, or is empty, or holds
only commas and spaces; an entry between commas is empty; a key holds whitespace or characters
an HTTP header cannot carry; or keys are given together with `--no-client-keys`. Nothing falls
back to serving everyone.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["DEFAULT_KEYS_ENV", "ClientKeys", "ClientKeysError", "client_id", "client_keys_from"]

DEFAULT_KEYS_ENV = "RULEROUTER_GATEWAY_KEYS"


class ClientKeysError(ValueError):
    """The client-key setting is missing or malformed; the gateway must not start."""


def client_id(key: bytes) -> str:
    """Who a gateway key belongs to, as budgets and events name it: never the key itself."""
    return "key-" + hashlib.sha256(key).hexdigest()[:12]


@dataclass(frozen=True)
class ClientKeys:
    """The accepted client keys (empty only in the explicitly chosen open mode)."""

    keys: tuple[bytes, ...]
    source: str  # where they came from, for the startup line: a variable name, or "--no-client-keys"
    ids: tuple[str, ...] = field(init=False, repr=False, compare=False)  # each key's client_id, hashed once

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", tuple(client_id(key) for key in self.keys))

    @classmethod
    def none(cls, source: str = "--no-client-keys") -> ClientKeys:
        """No client authentication: what `--no-client-keys` (or a test) asks for explicitly."""
        return cls((), source)

    @property
    def required(self) -> bool:
        return bool(self.keys)

    def secrets(self) -> list[str]:
        """The keys as text, for scrubbing them from events like upstream keys."""
        return [key.decode("ascii") for key in self.keys]

    def describe(self) -> str:
        """The mode, for the startup line."""
        if self.required:
            return f"client keys required ({len(self.keys)} from ${self.source})"
        return f"NO client keys ({self.source}): anyone who can reach this port can use it"

    def identify(self, headers: Iterable[tuple[bytes, bytes]]) -> tuple[bool, str | None]:
        """(allowed, client id) for a request's headers; the id is None in open mode."""
        if not self.keys:
            return True, None
        given = b""
        for name, value in headers:
            if name == b"authorization":
                given = value[7:].strip() if value[:7].lower() == b"bearer " else b""
            elif name == b"x-api-key" and not given:
                given = value.strip()
        matched = None
        for key, name in zip(self.keys, self.ids):  # compare with every key, each in constant time
            if hmac.compare_digest(given, key):
                matched = name
        return matched is not None, matched


def client_keys_from(environ: Mapping[str, str], variable: str | None, *, open_mode: bool = False) -> ClientKeys:
    """The client keys a gateway runs with; raises `ClientKeysError` for a setting that cannot be meant.

    `variable` is the environment variable named by `--keys-env` (None: the default one);
    `open_mode` is `--no-client-keys`.
    """
    name = variable or DEFAULT_KEYS_ENV
    raw = environ.get(name)
    if open_mode:
        if variable is not None:
            raise ClientKeysError(f"--no-client-keys and --keys-env {variable} contradict each other: choose one")
        if raw is not None and raw.strip(" ,\t"):
            raise ClientKeysError(f"--no-client-keys, but {name} holds keys: unset {name}, or drop --no-client-keys to require them")
        return ClientKeys.none()
    if raw is None:
        raise ClientKeysError(
            f"no client keys: {name} is not set. Set {name}=\"key1,key2\" to require keys, "
            "or pass --no-client-keys to serve anyone who can reach the port")
    entries = raw.split(",")
    if not raw.strip(" ,\t\r\n"):
        raise ClientKeysError(f"{name} is set but holds no key ({raw!r}); give keys (\"key1,key2\") or pass --no-client-keys")
    keys: list[bytes] = []
    for number, entry in enumerate(entries, 1):
        key = entry.strip()
        if not key:
            raise ClientKeysError(f"{name}: entry {number} of {len(entries)} is empty (two commas, or a trailing comma?)")
        if not key.isascii() or not key.isprintable() or any(ch.isspace() for ch in key):
            raise ClientKeysError(f"{name}: key {number} holds whitespace or characters an HTTP header cannot carry")
        keys.append(key.encode("ascii"))
    return ClientKeys(tuple(dict.fromkeys(keys)), name)
