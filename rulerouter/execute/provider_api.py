"""The API a provider speaks: how a call's request is written, and how its reply is read.

`OpenAIChat` (chat completions: the internal form itself, passed through) and
`AnthropicMessages` (the Messages API: translated by `anthropic_request.py` on the way out and
`anthropic_reply.py` on the way back) share one interface, so the drivers, the fallback flow,
verification, streaming and cost never look at which API a model is called through.

A request that came in another API (`NativeRequest`) is sent as it came to a provider of that
API; for a provider of another API it is sent as its translation, unless the translation lost
something, in which case `Untranslatable` stops the call before any I/O.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from .anthropic_reply import read_anthropic_reply
from .anthropic_request import ANTHROPIC_VERSION, DEFAULT_MAX_TOKENS, anthropic_body
from .native import NativeRequest, Untranslatable
from .stream_events import AnthropicEvents, OpenAIEvents
from .redact import Redactor
from .upstream_reply import Outcome, read_reply

__all__ = ["AnthropicMessages", "OpenAIChat", "ProviderAPI"]

_dumps = json.JSONEncoder(ensure_ascii=False).encode
_NO_HEADERS: tuple[tuple[bytes, bytes], ...] = ()


def _refuse_lost(native: NativeRequest | None, api: str) -> None:
    if native is not None and native.api != api and native.untranslatable:
        raise Untranslatable(", ".join(native.untranslatable), f"cannot be translated from the {native.api} API")


class OpenAIChat:
    """An OpenAI-compatible endpoint: `POST {base_url}/chat/completions`, the internal form as is."""

    name = "openai"
    path = "/chat/completions"

    def default_headers(self) -> dict[str, str]:
        return {}

    def key_header(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    def body(self, upstream: str, messages: list[Any], params: Mapping[str, Any], native: NativeRequest | None,
             stream: bool) -> tuple[bytes, tuple[tuple[bytes, bytes], ...]]:
        _refuse_lost(native, self.name)
        payload = dict(params)
        payload["model"] = upstream
        payload["messages"] = messages
        if stream:
            payload["stream"] = True
            payload.setdefault("stream_options", {"include_usage": True})
        return _dumps(payload).encode("utf-8"), _NO_HEADERS

    def read_reply(self, status: int, headers: Mapping[str, str], body: bytes, redact: Redactor) -> Outcome:
        return read_reply(status, headers, body, redact)

    def events(self) -> OpenAIEvents:
        return OpenAIEvents()


class AnthropicMessages:
    """Anthropic's Messages API: `POST {base_url}/messages`, key as `x-api-key`, `anthropic-version`."""

    name = "anthropic"
    path = "/messages"

    def __init__(self, version: str | None = None, default_max_tokens: int | None = None) -> None:
        self.version = version or ANTHROPIC_VERSION
        self.default_max_tokens = default_max_tokens or DEFAULT_MAX_TOKENS

    def default_headers(self) -> dict[str, str]:
        return {"anthropic-version": self.version}

    def key_header(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def body(self, upstream: str, messages: list[Any], params: Mapping[str, Any], native: NativeRequest | None,
             stream: bool) -> tuple[bytes, tuple[tuple[bytes, bytes], ...]]:
        if native is not None and native.api == self.name:
            payload = dict(native.body)
            payload["model"] = upstream
            if stream:
                payload["stream"] = True
            headers = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in native.headers)
            return _dumps(payload).encode("utf-8"), headers
        _refuse_lost(native, self.name)
        payload = anthropic_body(messages, params, model=upstream, stream=stream, version=self.version,
                                 default_max_tokens=self.default_max_tokens)
        return _dumps(payload).encode("utf-8"), _NO_HEADERS

    def read_reply(self, status: int, headers: Mapping[str, str], body: bytes, redact: Redactor) -> Outcome:
        return read_anthropic_reply(status, headers, body, redact)

    def events(self) -> AnthropicEvents:
        return AnthropicEvents()


ProviderAPI = OpenAIChat | AnthropicMessages
