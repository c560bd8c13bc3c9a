"""`rulerouter serve`: the OpenAI-compatible gateway (needs `pip install 'rulerouter[server]'`)."""

from __future__ import annotations

import argparse

from ..gateway.limits import ConnectionLimits
from ._common import PORT, Exit, add_config_arg, config_path, number, usage_error, whole_number


def cmd_serve(args: argparse.Namespace) -> int:
    path = config_path(args)
    from ..errors import PolicyError, UsageError
    from ..gateway import GatewaySettings, serve
    from ..gateway.client_keys import ClientKeysError
    from ..policy.diagnostics import format_text

    settings = GatewaySettings(rules=str(path), max_body_bytes=args.max_body_bytes, body_timeout_s=args.body_timeout,
                               keys_env=args.keys_env, no_client_keys=args.no_client_keys, watch_interval_s=args.watch_interval,
                               max_header_bytes=args.max_header_bytes, max_headers=args.max_headers, head_timeout_s=args.head_timeout,
                               idle_timeout_s=args.idle_timeout, max_connections=args.max_connections)
    try:
        return serve(settings, host=args.host, port=args.port, workers=args.workers)
    except PolicyError as exc:
        raise Exit(1, format_text(exc.diagnostics)) from None
    except (ClientKeysError, UsageError) as exc:  # client keys, or a provider URL the environment gets wrong
        usage_error(f"{exc}; the gateway did not start")


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the OpenAI-compatible gateway (pip install 'rulerouter[server]')")
    add_config_arg(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=PORT, default=8080, help="0 picks a free port (printed on the first line)")
    serve.add_argument("--workers", type=whole_number(1, 256), default=1, help="processes: /metrics adds up every worker; budgets, rate limits and breakers are shared through [state] (Redis)")
    serve.add_argument("--max-body-bytes", type=whole_number(1024), default=4 * 1024 * 1024, metavar="N", help="larger request bodies get 413 (default 4 MiB)")
    serve.add_argument("--body-timeout", type=number(0, 3600, above=True), default=30.0, metavar="S", help="a body that has not arrived after S seconds gets 408")
    limits = ConnectionLimits()
    serve.add_argument("--max-header-bytes", type=whole_number(1024, 1024 * 1024), default=limits.max_head_bytes, metavar="N",
                       help=f"a request line and headers larger than N bytes get 431 (414 for the request line), enforced as they arrive (default {limits.max_head_bytes})")
    serve.add_argument("--max-headers", type=whole_number(1, 10_000), default=limits.max_headers, metavar="N", help=f"more headers get 431 (default {limits.max_headers})")
    serve.add_argument("--head-timeout", type=number(0, 3600, above=True), default=limits.head_timeout_s, metavar="S",
                       help=f"a request head not whole S seconds after its first byte gets 408 and the connection is closed (default {limits.head_timeout_s:g})")
    serve.add_argument("--idle-timeout", type=number(0, 86400, above=True), default=limits.idle_timeout_s, metavar="S",
                       help=f"a connection with no request in progress for S seconds is closed (default {limits.idle_timeout_s:g})")
    serve.add_argument("--max-connections", type=whole_number(1, 1_000_000), default=limits.max_connections, metavar="N",
                       help=f"connections open at once; one more gets 503 and is closed (default {limits.max_connections})")
    serve.add_argument("--keys-env", metavar="NAME",
                       help="environment variable with the accepted client keys, comma-separated (default: RULEROUTER_GATEWAY_KEYS); "
                            "it must be set: the gateway does not start without keys unless --no-client-keys is given")
    serve.add_argument("--no-client-keys", action="store_true",
                       help="serve without client authentication: anyone who can reach the port can use the gateway")
    serve.add_argument("--watch-interval", type=number(0.01, 3600), default=0.25, metavar="S", help="how often the rule file is checked for changes (at least 0.01)")
    serve.set_defaults(handler=cmd_serve)
