"""A real redis-server for the tests: one per test session, on a free port, in a temporary directory.

Tests that need it take the `redis_server` fixture; where redis-server (the system's package,
which .ci/run installs) or the `redis` client (the `redis` extra) is missing they are skipped,
and say which.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["RedisServer", "missing"]


def missing() -> str | None:
    """Why the Redis tests cannot run here, or None when they can."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed here (.ci/run installs the distribution's redis-server package)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis client is not installed (pip install -e '.[redis]'; make test does)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or start again, on the same port; an RDB file left by `stop(save=True)` is loaded)."""
        for attempt in range(3):
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "",
                 "--appendonly", "no", "--logfile", str(self.dir / "redis.log"), "--dbfilename", "dump.rdb"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                        sock.sendall(b"PING\r\n")
                        if sock.recv(16).startswith(b"+PONG"):
                            return
                except OSError:
                    time.sleep(0.02)
            self.proc.kill()
            self.proc.wait()
            self.port = _free_port() if attempt < 2 else self.port  # the port was taken meanwhile
        raise RuntimeError(f"redis-server did not start: {(self.dir / 'redis.log').read_text(errors='replace')[-500:]}")

    def stop(self, *, save: bool = False) -> None:
        """Stop it: its data is lost unless `save` (then the next start loads it, as with persistence)."""
        if self.proc is None:
            return
        if save:
            import redis

            try:
                redis.Redis(port=self.port).shutdown(save=True)
            except redis.ConnectionError:
                pass  # it goes away while answering
        else:
            self.proc.terminate()
        self.proc.wait(10)
        self.proc = None
        if not save:
            (self.dir / "dump.rdb").unlink(missing_ok=True)

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(port=self.port)
