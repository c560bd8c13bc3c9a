"""The gateway: HTTP front doors that route every request through a `Router`.

`rulerouter serve` is a drop-in OpenAI-compatible endpoint: `POST /v1/chat/completions`
(streamed or not), `GET /v1/models`, `GET /metrics`, `/healthz` and `/readyz`.

    server.py        settings, building the app from a rule file, running the HTTP server
    app.py           the ASGI application: routes, client keys, errors in OpenAI's shape
    request_body.py  reading a client's request; every mistake is a 400 naming the field
    hot_reload.py    the policy being served, swapped atomically when its file changes

May import every stage below it (policy, decide, execute, observe, state) and `Router`;
nothing imports the gateway but the CLI.
"""

from .app import Gateway
from .server import GatewaySettings, build_gateway, create_app, serve

__all__ = ["Gateway", "GatewaySettings", "build_gateway", "create_app", "serve"]
