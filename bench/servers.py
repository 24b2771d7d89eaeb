"""The Redis server the competitor job queues run on, and reading a server's CPU time.

``RedisServer`` starts Debian's ``redis-server`` on loopback, on a port that was free a moment
before (redis cannot be asked to pick one and say which), with persistence off, and kills it
on exit. ``server_cpu`` reads the CPU seconds a beanstalkd or a Redis has used so far, over a
raw socket, so that the measuring process imports no client library for it.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType
from typing import Literal

Kind = Literal["beanstalkd", "redis"]

_BEANSTALKD_RUSAGE = re.compile(rb"^rusage-[us]time: ([0-9.]+)$", re.MULTILINE)
_REDIS_CPU = re.compile(rb"^used_cpu_(?:sys|user):([0-9.]+)\r?$", re.MULTILINE)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` on ``host`` and a free port, killed (SIGKILL) on exit."""

    def __init__(self, host: str = "127.0.0.1", start_timeout: float = 10.0) -> None:
        self.host = host
        self.start_timeout = start_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("redis-server is not running")
        return self._process.pid

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server not found (Debian: apt install redis-server)")
        self._dir = tempfile.TemporaryDirectory(prefix="jackd-bench-redis-")
        last = ""
        for _ in range(5):  # the free port may be taken before redis binds it: try another
            self.port = _free_port(self.host)
            self._process = subprocess.Popen(
                [
                    binary,
                    "--bind",
                    self.host,
                    "--port",
                    str(self.port),
                    "--protected-mode",
                    "yes",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    self._dir.name,
                    "--daemonize",
                    "no",
                    "--loglevel",
                    "warning",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    assert self._process.stdout is not None
                    last = self._process.stdout.read().decode(errors="replace").strip()
                    break
                try:
                    if _ping(self.host, self.port):
                        return self
                except OSError:
                    time.sleep(0.01)
            else:
                self.stop()
                raise TimeoutError(f"redis-server did not answer within {self.start_timeout} s")
        self.stop()
        raise RuntimeError(f"redis-server did not start: {last[-300:]}")

    def stop(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _ping(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


class CpuProbe:
    """Reads a server's CPU seconds (user + system) over a connection of its own."""

    def __init__(self, address: str, kind: Kind = "beanstalkd") -> None:
        host, _, port = address.rpartition(":")
        self.kind = kind
        self._sock = socket.create_connection((host.strip("[]"), int(port)))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def cpu(self) -> float:
        """The server's CPU seconds so far."""
        if self.kind == "beanstalkd":
            body = self._ask(b"stats\r\n", b"OK ")
            return sum(float(v) for v in _BEANSTALKD_RUSAGE.findall(body))
        body = self._ask(b"INFO cpu\r\n", b"$")
        return sum(float(v) for v in _REDIS_CPU.findall(body))

    def _ask(self, request: bytes, prefix: bytes) -> bytes:
        """Send ``request``; read one "<prefix><length>\\r\\n<body>\\r\\n" reply; the body."""
        sock = self._sock
        sock.sendall(request)
        data = b""
        while True:
            data += sock.recv(65536)
            head, sep, rest = data.partition(b"\r\n")
            if not sep:
                continue
            if not head.startswith(prefix):
                raise RuntimeError(f"unexpected reply {head[:80]!r}")
            size = int(head[len(prefix) :])
            if len(rest) >= size + 2:
                return rest[:size]

    def close(self) -> None:
        self._sock.close()
