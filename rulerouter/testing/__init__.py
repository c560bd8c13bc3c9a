"""A real HTTP server on 127.0.0.1 speaking the OpenAI and Anthropic APIs, with faults on demand.

Mocks that replace the transport never see a reset socket, a half-sent stream or a slow first
byte; this server puts those on a real socket, so fallback, retry, timeout and streaming code is
tested the way it will fail in production. It is also an instant upstream for benchmarks and,
with `SimulatedProvider`, the labelled simulated provider of `make demo`.

    from rulerouter.testing import LoopbackUpstream, Reply, Status

    with LoopbackUpstream() as up:
        up.script("cheap-model", Status(503), Reply("hello"))   # one behaviour per request
        ...  # point the client at up.base_url
        assert [r.model for r in up.requests] == ["cheap-model", "cheap-model"]

It answers OpenAI chat completions at `POST /v1/chat/completions` and Anthropic's Messages API
at `POST /v1/messages` (with `/v1/messages/count_tokens`), from the same scripts: a behaviour
means the same thing in both APIs, rendered in each one's own shapes and event sequences.

Run it as a process with `python -m rulerouter.testing serve [--port 0] [--simulate]`.
Modules: `_http` (HTTP/1.1 protocol), `_server` (endpoints), `_exchange` (what renderers share),
`_openai_wire` and `_anthropic_wire` (behaviours in each API's shapes), `_script` (queues,
defaults, records), `_behaviours` (what a test declares), `_upstream` (lifecycle), `_simulate`
(the demo's provider), `__main__` (the `serve` command).
"""

from ._behaviours import (
    Behaviour,
    ContextLengthExceeded,
    EchoAuth,
    ErrorObject,
    Faults,
    Hook,
    Malformed,
    MissingChoices,
    RecordedRequest,
    Reply,
    Reset,
    Slow,
    Source,
    Status,
    StreamBreak,
    ToolCall,
)
from ._server import estimate_tokens
from ._simulate import POOR_ANSWER, SimulatedProvider
from ._upstream import LoopbackUpstream

__all__ = [
    "POOR_ANSWER",
    "Behaviour",
    "ContextLengthExceeded",
    "EchoAuth",
    "ErrorObject",
    "Faults",
    "Hook",
    "LoopbackUpstream",
    "Malformed",
    "MissingChoices",
    "RecordedRequest",
    "Reply",
    "Reset",
    "SimulatedProvider",
    "Slow",
    "Source",
    "Status",
    "StreamBreak",
    "ToolCall",
    "estimate_tokens",
]
