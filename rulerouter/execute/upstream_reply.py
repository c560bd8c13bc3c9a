"""Reading an upstream: what its reply means, with no I/O of its own.

`read_reply` turns a status, headers and body of an OpenAI-compatible upstream into an
`Outcome`: an answer, or an error kind the fallback flow can act on (retry, fall back, fail
fast); `error_outcome` classifies an error status the same way for every API (Anthropic's reply
is read in `anthropic_reply.py`). `outcome_from_exception` does the same for transport errors. Upstream messages are cut to a readable length and scrubbed of
anything that looks like a credential (`redact.py`) before they are kept anywhere.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from typing import Any, Mapping

import httpx

from ..boundary import read_reply_json
from .redact import Redactor
from .result import Usage

__all__ = ["Outcome", "error_in_200", "error_outcome", "outcome_from_exception", "parse_body", "parse_retry_after", "read_reply", "usage_of"]

_MAX_MESSAGE = 300
_CONTEXT_HINTS = (
    "context_length_exceeded",
    "context length",
    "context window",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "input is too long",
)


@dataclass(slots=True)
class Outcome:
    """How one upstream call ended. `kind` is None on success."""

    kind: str | None
    status: int | None = None
    message: str | None = None
    retry_after_s: float | None = None
    response: dict[str, Any] | None = None
    usage: Usage | None = None
    latency_s: float = 0.0
    raw: bytes | None = None  # the reply's body as received, when it was a good completion
    api: str = "openai"  # the API `raw` is in ("openai" or "anthropic")

    @property
    def ok(self) -> bool:
        return self.kind is None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return 0.0
    return seconds


def usage_of(data: Any) -> Usage | None:
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    if not isinstance(prompt, int) or isinstance(prompt, bool):
        prompt = 0
    if not isinstance(completion, int) or isinstance(completion, bool):
        completion = 0
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    prompt = max(prompt, 0)
    return Usage(prompt, max(completion, 0), _count(cached, prompt))


def _count(value: Any, most: int) -> int:
    """A token count from an upstream: a non-negative integer no larger than `most`, or 0."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return 0
    return min(value, most)


def _error_text(data: Any) -> tuple[str, str | None]:
    """(message, code) of an OpenAI error body, or of whatever the body holds."""
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message") or error.get("msg") or json.dumps(error)[:_MAX_MESSAGE]
            code = error.get("code") or error.get("type")
            return str(message), (str(code) if code is not None else None)
        if isinstance(error, str):
            return error, None
    return str(data), None


def _is_context_length(message: str, code: str | None) -> bool:
    text = f"{code or ''} {message}".lower()
    return any(hint in text for hint in _CONTEXT_HINTS)


def _valid_completion(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return False
    message = choices[0].get("message")
    return isinstance(message, dict) and (message.get("content") is None or isinstance(message.get("content"), str))


def parse_body(body: bytes) -> tuple[bool, Any, bytes]:
    """(parsed, data, body): whether the body is JSON by the request boundary's rules (no NaN,
    not nested too deep), what it holds (text repaired), and the bytes to pass on for it."""
    if not body:
        return True, None, body
    try:
        data, body = read_reply_json(body)
    except ValueError:  # InvalidInput: not JSON, a number JSON forbids, nested too deep
        return False, None, body
    return True, data, body


def read_reply(status: int, headers: Mapping[str, str], body: bytes, redact: Redactor) -> Outcome:
    """Classify a complete (non-streaming) reply of an OpenAI-compatible upstream."""
    parsed, data, body = parse_body(body)
    if status != 200:
        return error_outcome(status, headers, body, parsed, data, redact)
    if not parsed:
        return Outcome("malformed", status, f"reply is not JSON ({len(body)} bytes)")
    if isinstance(data, dict) and "error" in data and "choices" not in data:
        return error_in_200(data, redact)
    if not _valid_completion(data):
        return Outcome("malformed", status, "reply is not a chat completion (no choices[0].message)")
    return Outcome(None, status, response=data, usage=usage_of(data), raw=body)


def error_in_200(data: Any, redact: Redactor) -> Outcome:
    """A 200 whose body is an error object: retryable, unless it says the prompt is too long."""
    message, code = _error_text(data)
    kind = "context_length" if _is_context_length(message, code) else "server_error"
    return Outcome(kind, 200, redact(_short(f"error in a 200 reply: {message}")))


def error_outcome(status: int, headers: Mapping[str, str], body: bytes, parsed: bool, data: Any, redact: Redactor) -> Outcome:
    """What an error status means, in either API: the error shapes both read the same way."""
    message, code = _error_text(data) if parsed and data is not None else (body[:_MAX_MESSAGE].decode("utf-8", "replace"), None)
    message = redact(_short(message)) if message else f"HTTP {status}"
    if status == 429:
        return Outcome("rate_limited", status, message, parse_retry_after(headers.get("retry-after")))
    if status >= 500 or status in (408, 409):
        kind = "timeout" if status in (408, 504) else "server_error"
        return Outcome(kind, status, message, parse_retry_after(headers.get("retry-after")))
    if _is_context_length(message, code):
        return Outcome("context_length", status, message)
    if 400 <= status < 500:
        return Outcome("rejected", status, message)
    return Outcome("malformed", status, f"unexpected HTTP status {status}: {message}")


def outcome_from_exception(exc: BaseException, redact: Redactor) -> Outcome:
    """Classify a transport error. Anything not listed is a connection failure."""
    if isinstance(exc, httpx.TimeoutException):
        kind = "timeout" if not isinstance(exc, httpx.ConnectTimeout) else "connect"
        what = {
            httpx.ConnectTimeout: "connect timed out",
            httpx.ReadTimeout: "no reply within the timeout",
            httpx.WriteTimeout: "sending timed out",
            httpx.PoolTimeout: "no free connection within the timeout",
        }.get(type(exc), "timed out")
        return Outcome(kind, None, what)
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return Outcome("connect", None, redact(_short(f"cannot connect: {detail}")))
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.NetworkError)):
        return Outcome("connect", None, redact(_short(f"connection lost: {detail}")))
    if isinstance(exc, (UnicodeError, ValueError, json.JSONDecodeError)):
        return Outcome("malformed", None, redact(_short(f"unreadable reply: {detail}")))
    return Outcome("connect", None, redact(_short(f"{type(exc).__name__}: {detail}")))
