"""The floor under the gateway: an ASGI app that answers every request with a fixed completion.

No routing, no upstream call: what an HTTP server stack costs by itself, measured by
`bench/gateway.py` under each server it compares. Run under `rulerouter serve`'s own stack
(uvicorn, uvloop, the connection-limited httptools protocol) with
`python bench/floor_app.py --port N`; other servers load `bench.floor_app:create_app`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

_BODY = json.dumps({
    "id": "chatcmpl-floor", "object": "chat.completion", "created": 0, "model": "cheap-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 18, "completion_tokens": 1, "total_tokens": 19},
}).encode()
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):  # read the request body whole, as the gateway does
        pass
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


def create_app() -> Any:
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="the floor app under rulerouter serve's uvicorn stack")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import uvicorn

    from rulerouter.gateway.limits import ConnectionLimits
    from rulerouter.gateway.server import uvicorn_config

    uvicorn.Server(uvicorn_config(app, ConnectionLimits(), host="127.0.0.1", port=args.port)).run()


if __name__ == "__main__":
    main()
