"""A request as its client sent it, in an API other than the internal (OpenAI) form.

Routing and every provider that speaks another API see a request's translation into the internal
form — OpenAI chat-completions messages and parameters. A front door that takes another API
(the gateway's `POST /v1/messages`) also hands the executor the original as a `NativeRequest`:
a provider that speaks that same API is sent the original, exactly as the client wrote it (only
the model and `stream` are set), so nothing is lost by translating there and back; any other
provider is sent the translation. What the translation could not carry is listed in
`untranslatable`; a provider that would need it is not called (the attempt is skipped with an
`untranslatable` error naming each field, and the next model in the chain is tried).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["NativeRequest", "Untranslatable"]


class Untranslatable(ValueError):
    """A field of a request that the target API has no way to carry."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")
        self.where = where
        self.why = why


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """The request in its own API: its body (without `model` and `stream`), the headers to pass
    on to a provider of the same API, and what has no translation into the internal form."""

    api: str
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()
    untranslatable: tuple[str, ...] = field(default=())
