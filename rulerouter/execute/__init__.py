"""Stage 3, execute: a decision becomes an answer over HTTP, with fallback, retry and verify.

Inside, a request has one form, OpenAI's chat completions; a provider that speaks another API
gets it translated on the way out and its answer translated on the way back (`provider_api.py`).
The plan of one request — which model next, after which error, how long to wait, whether to
judge the answer and escalate — is one pure generator (`flow.py`), driven by a sync and an
async driver that only do the I/O (`executor.py`, `streaming.py`). Every attempt, failed or
not, ends up on the `Result` or on the `ExecutionError` raised instead.

    executor.py        Executor: prepares a request, builds HTTP bodies, drives the flow
    flow.py            the pure fallback / retry / circuit / verification plan
    streaming.py       streamed answers: fallback until the first chunk, then committed
    stream_events.py   SSE decoding, and what each API's stream events mean as chunks
    upstream_reply.py  what an upstream's reply means (status, JSON, Retry-After, error kind)
    redact.py          scrubbing keys, and anything shaped like one, from every message
    providers.py       provider clients, keys, URLs and headers
    provider_api.py    the API a provider speaks (OpenAI chat completions or Anthropic messages)
    anthropic_request.py  the internal (OpenAI) request as an Anthropic Messages API request
    anthropic_reply.py    Anthropic replies and stream events in the internal (OpenAI) form
    native.py          a request in its client's own API, and what cannot be translated
    transport/         a fast HTTP/1.1 keep-alive transport under httpx's async API; proxies; HTTP/2
    breaker.py         per-model circuit breakers and Retry-After cooldowns
    verify.py          the judge's prompt and reading its score
    cost.py            what an attempt cost, from the rule file's prices
    result.py          Result, Attempt, Usage and the execution errors
    batch.py           many requests with bounded concurrency, an outcome for each

May import `rulerouter.decide` and `rulerouter.policy`. It reports what it did to a
`Recorder` it is given (the observer), so it never imports `rulerouter.observe`.
"""

from .._lazy import lazy_exports

__all__ = ["AllAttemptsFailed", "Attempt", "ExecutionError", "Executor", "Result", "StreamInterrupted", "UpstreamRejected", "Usage"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "Executor": ".executor",
    "AllAttemptsFailed": ".result",
    "Attempt": ".result",
    "ExecutionError": ".result",
    "Result": ".result",
    "StreamInterrupted": ".result",
    "UpstreamRejected": ".result",
    "Usage": ".result",
})
