"""What the loopback upstream does with one chat request: the behaviours a test scripts.

Behaviours are plain frozen values, declared by a test and rendered by `_server.py`, so a test
reads like the failure it provokes (`Status(429, retry_after=1)`, `StreamBreak(after_chunks=2)`)
and the same value can be queued, used as a default, compared in an assertion, or drawn at
random by `Faults`. A *hook* — any callable taking the `RecordedRequest` and returning a
behaviour — covers everything else (a judge that scores, a reply that echoes the prompt).

Every behaviour has a `kind`: a short stable name (`"status_503"`, `"reset"`) used to count what
`Faults` injected.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

__all__ = [
    "Behaviour",
    "ContextLengthExceeded",
    "EchoAuth",
    "ErrorObject",
    "Faults",
    "Hook",
    "Malformed",
    "MissingChoices",
    "RecordedRequest",
    "Reply",
    "Reset",
    "Slow",
    "Source",
    "Status",
    "StreamBreak",
    "ToolCall",
]


class Behaviour:
    """Base class of every scripted answer."""

    __slots__ = ()
    kind: ClassVar[str] = "behaviour"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call in a `Reply`: the tool's name and its arguments (an object, or its JSON text).

    The arguments are kept as JSON text, so a reply stays hashable; `id` defaults to one the
    server makes up (`call_…` for OpenAI, `toolu_…` for Anthropic). Streamed, the arguments
    arrive in many small pieces, as real upstreams send them.
    """

    name: str
    arguments: Mapping[str, Any] | str = "{}"
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("ToolCall needs a tool name")
        if not isinstance(self.arguments, str):
            object.__setattr__(self, "arguments", json.dumps(dict(self.arguments), ensure_ascii=False))

    @property
    def input(self) -> Any:
        """The arguments as a JSON value (Anthropic's `input`); None when they are not JSON."""
        try:
            return json.loads(self.arguments)  # type: ignore[arg-type]
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Reply(Behaviour):
    """A successful completion. Token counts default to a deterministic estimate (~chars/4).

    `tool_calls` are answered after `content` (as parallel calls when there are several).
    `finish_reason` uses OpenAI's names (Anthropic's own are accepted too, and each API gets
    its equivalent); by default it is "tool_calls" when there are tool calls, else "stop".
    `delay` waits before answering; `chunk_delay` spaces a streamed answer's events (the first
    is sent at once), so a test can leave in the middle of a slow stream.
    """

    content: str = "ok"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    kind: ClassVar[str] = "reply"

    def __post_init__(self) -> None:
        calls = tuple(self.tool_calls)
        if not all(isinstance(call, ToolCall) for call in calls):
            raise TypeError("Reply(tool_calls=...) takes ToolCall values")
        object.__setattr__(self, "tool_calls", calls)

    @property
    def finish(self) -> str:
        """The finish reason in OpenAI's terms."""
        if self.finish_reason is None:
            return "tool_calls" if self.tool_calls else "stop"
        return self.finish_reason


@dataclass(frozen=True, slots=True)
class Status(Behaviour):
    """An HTTP error in OpenAI's shape; `code_str` is the error's `code` field."""

    code: int
    message: str | None = None
    retry_after: float | None = None
    code_str: str | None = None
    error_type: str | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.code <= 599:
            raise ValueError(f"Status code must be an HTTP error (400..599), got {self.code}")

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"status_{self.code}"


@dataclass(frozen=True, slots=True)
class ContextLengthExceeded(Behaviour):
    """400 with OpenAI's `context_length_exceeded` code and message."""

    limit: int = 8192
    kind: ClassVar[str] = "context_length_exceeded"


@dataclass(frozen=True, slots=True)
class Slow(Behaviour):
    """Wait `seconds` (without blocking other connections), then answer with `then`."""

    seconds: float
    then: Behaviour = Reply()
    kind: ClassVar[str] = "slow"

    def __post_init__(self) -> None:
        if not isinstance(self.then, Behaviour):
            raise TypeError(f"Slow(then=...) must be a behaviour such as Reply('...'), got {self.then!r}")


@dataclass(frozen=True, slots=True)
class Reset(Behaviour):
    """Close the connection abruptly (TCP reset), without any response."""

    kind: ClassVar[str] = "reset"


@dataclass(frozen=True, slots=True)
class Malformed(Behaviour):
    """200 whose body is not JSON (for a stream: an SSE event whose data is not JSON)."""

    body: bytes = b"not json"
    content_type: str = "application/json"
    kind: ClassVar[str] = "malformed"


@dataclass(frozen=True, slots=True)
class MissingChoices(Behaviour):
    """200 with a well-formed completion object that has no `choices`."""

    kind: ClassVar[str] = "missing_choices"


@dataclass(frozen=True, slots=True)
class ErrorObject(Behaviour):
    """200 whose JSON carries an `error` object instead of a completion."""

    message: str = "The upstream reported an error inside a 200 response."
    code_str: str | None = None
    kind: ClassVar[str] = "error_object"


@dataclass(frozen=True, slots=True)
class StreamBreak(Behaviour):
    """Send `after_chunks` content chunks, then drop the connection without `data: [DONE]`.

    A non-stream request gets the headers and half of the body, then the connection drops.
    """

    after_chunks: int = 1
    content: str = "This answer is cut off before it can finish"
    kind: ClassVar[str] = "stream_break"


@dataclass(frozen=True, slots=True)
class EchoAuth(Behaviour):
    """An error whose message echoes the request's Authorization header (a key-leak trap)."""

    status: int = 401
    kind: ClassVar[str] = "echo_auth"


@dataclass(slots=True)
class RecordedRequest:
    """One request as the upstream received it, and the behaviour that answered it.

    `api` is the API it came through: "openai" (chat completions) or "anthropic" (messages).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body; None when there was none or it was not JSON
    model: str | None = None
    stream: bool = False
    connection: int = 0  # sequence number of the TCP connection: equal numbers = keep-alive reuse
    behaviour: Behaviour | None = None  # set once decided; None for /healthz and /v1/models
    injected: bool = False  # True when `Faults` chose this behaviour as a fault
    abandoned: bool = False  # True when the client closed the connection before the answer was complete
    api: str = "openai"

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages") if isinstance(self.body, dict) else None
        return messages if isinstance(messages, list) else []

    @property
    def system(self) -> str:
        """The system prompt: Anthropic's `system`, or OpenAI's system and developer messages."""
        if self.api == "anthropic":
            return content_text(self.body.get("system")) if isinstance(self.body, dict) else ""
        return "\n".join(content_text(m.get("content")) for m in self.messages
                         if isinstance(m, dict) and m.get("role") in ("system", "developer"))

    @property
    def prompt(self) -> str:
        """The text of the last user message that has text ("" when there is none)."""
        for message in reversed(self.messages):
            if isinstance(message, dict) and message.get("role") == "user":
                text = content_text(message.get("content"))
                if text or self.api != "anthropic":
                    return text
        return ""


def content_text(content: Any) -> str:
    """The text of a message's `content`: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


Hook: TypeAlias = Callable[[RecordedRequest], Behaviour]

_DEFAULT_FAULTS: Mapping[Behaviour, float] = {
    Status(500): 1.0,
    Status(503): 1.0,
    Status(429, retry_after=0): 1.0,
    Reset(): 1.0,
    Malformed(): 1.0,
    StreamBreak(after_chunks=1): 1.0,
}


@dataclass(eq=False)
class Faults:
    """Random faults for soak tests: with probability `rate` answer with one of `kinds`.

    `kinds` maps a behaviour to its weight (a sequence means equal weights); otherwise the
    request is answered by `otherwise` (a behaviour or a hook). The draws come from
    `random.Random(seed)`, so the sequence of decisions is the same on every run; the upstream
    counts each injected fault by `kind` (`LoopbackUpstream.injected`).
    """

    rate: float = 0.3
    kinds: Mapping[Behaviour, float] | Sequence[Behaviour] = field(default_factory=lambda: dict(_DEFAULT_FAULTS))
    seed: int | None = 0
    otherwise: Behaviour | Hook = Reply()

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Faults rate must be within 0..1, got {self.rate}")
        weights = self.kinds if isinstance(self.kinds, Mapping) else dict.fromkeys(self.kinds, 1.0)
        if not weights or any(w <= 0 for w in weights.values()):
            raise ValueError("Faults kinds must be non-empty with positive weights")
        if not all(isinstance(b, Behaviour) for b in weights):
            raise TypeError("Faults kinds must be behaviours such as Status(503) or Reset()")
        otherwise = self.otherwise
        if isinstance(otherwise, Faults) or not (isinstance(otherwise, Behaviour) or callable(otherwise)):
            raise TypeError(f"Faults(otherwise=...) must be a behaviour or a hook, got {self.otherwise!r}")
        self._choices = list(weights)
        self._cum_weights = list(itertools.accumulate(weights.values()))
        self._rng = random.Random(self.seed)

    def draw(self) -> Behaviour | None:
        """The fault for the next request, or None when this request is answered normally."""
        if self._rng.random() >= self.rate:
            return None
        return self._rng.choices(self._choices, cum_weights=self._cum_weights)[0]


#: What a model's queue or default may hold: a behaviour, a hook, or (as a default) `Faults`.
Source: TypeAlias = Behaviour | Hook | Faults
