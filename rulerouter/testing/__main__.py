"""`python -m rulerouter.testing serve`: the loopback upstream as a process of its own.

Benchmarks run it as an "instant upstream" outside the process they measure, and `make demo`
runs it with `--simulate` as the clearly labelled simulated provider (see `_simulate.py`). Once
listening it prints exactly one line, `listening on http://HOST:PORT/v1`, and flushes it, so a
parent that passed `--port 0` learns the port by reading one line; SIGTERM or SIGINT stop it
cleanly with exit status 0. Requests are not recorded (nobody could read them), so memory stays
flat over long runs.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from ._behaviours import Reply, Status
from ._simulate import SimulatedProvider
from ._upstream import LoopbackUpstream, new_event_loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rulerouter.testing",
        description="A loopback OpenAI-compatible upstream for tests, benchmarks and demos.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve in the foreground until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="port to bind; 0 picks a free one (default)")
    serve.add_argument("--simulate", action="store_true",
                       help="answer as the labelled simulated provider (plausible text, some 503s, some poor "
                            "answers, judge scores) instead of a constant instant reply")
    serve.add_argument("--seed", type=int, default=0, help="seed of the simulated provider (default 0)")
    serve.add_argument("--status", action="append", default=[], type=_model_status, metavar="MODEL=CODE",
                       help="answer every request for MODEL with this HTTP error status (repeatable), e.g. a failing primary")
    args = parser.parse_args(argv)
    default = SimulatedProvider(seed=args.seed) if args.simulate else Reply("ok")
    upstream = LoopbackUpstream(host=args.host, port=args.port, default=default, record=False)
    for model, code in args.status:
        upstream.default(Status(code), model=model)
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(_serve(upstream))
    except OSError as exc:  # e.g. the port is taken
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _model_status(text: str) -> tuple[str, int]:
    model, _, code = text.rpartition("=")
    if not model or not code.isdigit() or not 400 <= int(code) <= 599:
        raise argparse.ArgumentTypeError(f"{text!r} is not MODEL=CODE with an HTTP error status (400-599)")
    return model, int(code)


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0..65535)")
    return port


async def _serve(upstream: LoopbackUpstream) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with upstream:
        print(f"listening on {upstream.base_url}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    sys.exit(main())
