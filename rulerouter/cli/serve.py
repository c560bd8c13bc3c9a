"""`rulerouter serve`: the OpenAI-compatible gateway (needs `pip install 'rulerouter[server]'`)."""

from __future__ import annotations

import argparse

from ._common import Exit, add_config_arg, config_path, usage_error


def cmd_serve(args: argparse.Namespace) -> int:
    if args.workers < 1:
        usage_error("--workers must be at least 1")
    if args.max_body_bytes < 1024:
        usage_error("--max-body-bytes must be at least 1024")
    path = config_path(args)
    from ..errors import PolicyError
    from ..gateway import GatewaySettings, serve
    from ..gateway.client_keys import ClientKeysError
    from ..policy.diagnostics import format_text

    settings = GatewaySettings(rules=str(path), max_body_bytes=args.max_body_bytes, body_timeout_s=args.body_timeout,
                               keys_env=args.keys_env, no_client_keys=args.no_client_keys, watch_interval_s=args.watch_interval)
    try:
        return serve(settings, host=args.host, port=args.port, workers=args.workers)
    except PolicyError as exc:
        raise Exit(1, format_text(exc.diagnostics)) from None
    except ClientKeysError as exc:
        usage_error(f"{exc}; the gateway did not start")


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the OpenAI-compatible gateway (pip install 'rulerouter[server]')")
    add_config_arg(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, help="0 picks a free port (printed on the first line)")
    serve.add_argument("--workers", type=int, default=1, help="processes: /metrics adds up every worker; budgets, rate limits and breakers are shared through [state] (Redis)")
    serve.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024, metavar="N", help="larger request bodies get 413 (default 4 MiB)")
    serve.add_argument("--body-timeout", type=float, default=30.0, metavar="S", help="a body that has not arrived after S seconds gets 408")
    serve.add_argument("--keys-env", metavar="NAME",
                       help="environment variable with the accepted client keys, comma-separated (default: RULEROUTER_GATEWAY_KEYS); "
                            "it must be set: the gateway does not start without keys unless --no-client-keys is given")
    serve.add_argument("--no-client-keys", action="store_true",
                       help="serve without client authentication: anyone who can reach the port can use the gateway")
    serve.add_argument("--watch-interval", type=float, default=0.25, metavar="S", help="how often the rule file is checked for changes")
    serve.set_defaults(handler=cmd_serve)
