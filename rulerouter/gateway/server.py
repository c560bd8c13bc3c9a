"""Running the gateway: its settings, building the app from a rule file, and the HTTP server.

The server is an optional extra (`pip install rulerouter[server]`): uvicorn with uvloop and
httptools — the fastest pure-ASGI stack on CPython (httptools is llhttp, Node's C parser; uvloop
is libuv) — in front of `Gateway`, a framework-free ASGI application. The library itself never
imports any of it. Chosen by measurement over granian, which costs about the same CPU per request
and does not enforce the connection limits (`bench/gateway.py`, `bench/server_limits.py`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PolicyError
from ..policy.load import check_file
from ..policy.schema import Log
from .app import Gateway
from .client_keys import client_keys_from
from .hot_reload import PolicyHolder
from .limits import BodyLimits, ConnectionLimits

__all__ = ["GatewaySettings", "create_app", "serve"]

SETTINGS_ENV = "RULEROUTER_GATEWAY_SETTINGS"


@dataclass
class GatewaySettings:
    rules: str
    max_body_bytes: int = BodyLimits.max_bytes
    body_timeout_s: float = BodyLimits.timeout_s
    keys_env: str | None = None  # the variable holding the client keys (None: RULEROUTER_GATEWAY_KEYS)
    no_client_keys: bool = False  # serve without client keys: only when chosen explicitly
    watch_interval_s: float = 0.25
    metrics_dir: str | None = None  # set by `serve --workers N`: where workers share their counts
    max_header_bytes: int = ConnectionLimits.max_head_bytes
    max_headers: int = ConnectionLimits.max_headers
    head_timeout_s: float = ConnectionLimits.head_timeout_s
    idle_timeout_s: float = ConnectionLimits.idle_timeout_s
    max_connections: int = ConnectionLimits.max_connections

    def connection_limits(self) -> ConnectionLimits:
        return ConnectionLimits(self.max_header_bytes, self.max_headers, self.head_timeout_s, self.idle_timeout_s, self.max_connections)
    log: dict[str, object] = field(default_factory=dict)


def build_gateway(settings: GatewaySettings) -> Gateway:
    """Load the rule file (raising `PolicyError` with every diagnostic) and build the app.

    Raises `ClientKeysError` when the client-key setting is missing or malformed (see
    `client_keys.py`): the gateway never falls back to serving everyone.
    """
    path = Path(settings.rules)
    checked = check_file(path)
    if not checked.ok:
        raise PolicyError(checked.diagnostics)
    client_keys = client_keys_from(os.environ, settings.keys_env, open_mode=settings.no_client_keys)
    assert checked.policy is not None
    log = checked.policy.log
    if log.destination == "off":  # a gateway always reports: events to stderr unless the file says where
        log = Log(destination="stderr", format=log.format, include_text=log.include_text)
    if settings.log:
        log = Log(**{**log.model_dump(), **settings.log})
    holder = PolicyHolder(path, checked, env=None, log=log, secrets=client_keys.secrets())
    return Gateway(holder, max_body_bytes=settings.max_body_bytes, body_timeout_s=settings.body_timeout_s,
                   client_keys=client_keys, watch_interval_s=settings.watch_interval_s, metrics_dir=settings.metrics_dir)


def create_app() -> Gateway:
    """The ASGI app for `uvicorn --factory rulerouter.gateway.server:create_app` (settings from the environment)."""
    raw = os.environ.get(SETTINGS_ENV)
    settings = GatewaySettings(**json.loads(raw)) if raw else GatewaySettings(rules=os.environ.get("RULEROUTER_RULES", "rules/default.toml"))
    return build_gateway(settings)


def uvicorn_config(app: Any, limits: ConnectionLimits, **options: Any) -> Any:
    """The `uvicorn.Config` that `serve` runs (and the benchmarks run their floor app under):
    uvloop, and uvicorn's httptools protocol with the connection limits enforced where the bytes
    arrive; the limits travel on the config, pickled with it into every `--workers` process."""
    import uvicorn

    from .connection_limits import LimitedHttpToolsProtocol

    config = uvicorn.Config(app, http=LimitedHttpToolsProtocol, ws="none", loop="uvloop", lifespan="on", access_log=False, log_level="warning",
                            server_header=False, proxy_headers=False, timeout_keep_alive=limits.idle_timeout_s, backlog=2048, **options)
    config.rulerouter_limits = limits  # type: ignore[attr-defined]
    return config


def serve(settings: GatewaySettings, *, host: str = "127.0.0.1", port: int = 8080, workers: int = 1) -> int:
    """Run the gateway until SIGINT/SIGTERM. Prints one line `listening on http://HOST:PORT/v1`."""
    try:
        import uvicorn

        from . import connection_limits  # noqa: F401  (httptools, and uvicorn's protocol it extends)
    except ImportError:
        print("rulerouter: the gateway needs its server: pip install 'rulerouter[server]'", file=sys.stderr)
        return 2
    app = build_gateway(settings)  # fails here, before binding, when the policy is invalid
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        print(f"rulerouter: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    sock.listen(2048)
    sock.set_inheritable(True)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    state = app.holder.state.health()["backend"]
    policy = app.holder.router.policy
    if workers > 1 and state == "memory" and (policy.budgets or policy.rate_limits):
        print(f"rulerouter: warning: {workers} workers keep budgets and rate limits each on its own (so up to {workers}x a limit); "
              "share them through Redis: [state] redis_url_env", file=sys.stderr, flush=True)
    print(f"listening on http://{shown}:{bound}/v1 (policy {settings.rules}, {len(app.holder.router.policy.rules)} rules, "
          f"{workers} worker(s), state: {state}; {app.client_keys.describe()})", flush=True)
    limits = settings.connection_limits()
    if workers > 1:
        import shutil
        import tempfile

        metrics_dir = tempfile.mkdtemp(prefix="rulerouter-metrics-")
        os.environ[SETTINGS_ENV] = json.dumps({**asdict(settings), "metrics_dir": metrics_dir})
        config = uvicorn_config("rulerouter.gateway.server:create_app", limits, factory=True, fd=sock.fileno(), workers=workers)
        import inspect

        from uvicorn.supervisors import Multiprocess

        try:
            if "target" in inspect.signature(Multiprocess.__init__).parameters:  # uvicorn before 0.30
                Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
            else:
                Multiprocess(config, sockets=[sock]).run()
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        return 0
    uvicorn.Server(uvicorn_config(app, limits)).run(sockets=[sock])
    return 0
