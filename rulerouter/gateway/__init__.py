"""The gateway: HTTP front doors that route every request through a `Router`.

`rulerouter serve` is a drop-in endpoint for both of the APIs clients bring: OpenAI's
`POST /v1/chat/completions` and Anthropic's `POST /v1/messages` (each streamed or not), routed
by the same rules; `GET /v1/models`, `GET /metrics`, `/healthz` and `/readyz`.

    server.py             settings, building the app from a rule file, running the HTTP server
    connection_limits.py  the server's HTTP protocol with head size/count, head and idle timeouts
                          and a connection cap enforced as the bytes arrive (431/414/408/503)
    limits.py             every limit a client meets, with its default
    app.py                the ASGI application: routes, client keys, the chat-completions door
    asgi.py               what both doors share: sending, routing headers, error statuses
    client_keys.py        who may use the gateway; the setting fails closed
    request_boundary.py   what every front door does first: read the body (413/408), parse it as
                          JSON by the request boundary's rules, read the metadata header
    request_body.py       the OpenAI chat-completions request; every mistake is a 400 naming the field
    anthropic_door.py     the Messages API door: /v1/messages, count_tokens, models
    anthropic_request.py  a Messages API request, checked and translated into the internal form
    anthropic_response.py answers, stream events and errors in Anthropic's shapes
    hot_reload.py         the policy being served, swapped atomically when its file changes
    refusals.py           a budget or rate limit's refusal as an HTTP status, message and headers
    worker_metrics.py     /metrics with the same totals whichever `--workers` process answers

May import every stage below it (policy, decide, execute, observe, state) and `Router`;
nothing imports the gateway but the CLI.
"""

from .._lazy import lazy_exports

__all__ = ["Gateway", "GatewaySettings", "build_gateway", "create_app", "serve"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "Gateway": ".app",
    "GatewaySettings": ".server",
    "build_gateway": ".server",
    "create_app": ".server",
    "serve": ".server",
})
