"""A private beanstalkd for tests, demos and benchmarks.

``BeanstalkdServer`` starts the ``beanstalkd`` binary on a free loopback port (the kernel picks
it: ``-p 0``), or on a unix socket, and stops it with SIGKILL. Nothing here is needed to use
jackd against a real server; it is here so that your tests can run against a real one too::

    with BeanstalkdServer("-z", "2000000") as server, jackd.connect(server.address) as client:
        client.put(b"job")
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from types import TracebackType

_BIND = re.compile(r"^bind \d+ (?P<host>.+):(?P<port>\d+)$", re.MULTILINE)


class BeanstalkdServer:
    """One beanstalkd process, started on a free port and killed on exit.

    ``args`` are extra command-line flags (``"-z", "2000000"``, ``"-b", dir``). With
    ``unix_socket=True`` the server listens on a socket file in a private temporary directory
    instead of TCP. ``address`` is then a string ``jackd.connect`` accepts.
    """

    def __init__(
        self,
        *args: str,
        host: str = "127.0.0.1",
        unix_socket: bool = False,
        binary: str = "beanstalkd",
        start_timeout: float = 10.0,
    ) -> None:
        self.args = args
        self.host = host
        self.unix_socket = unix_socket
        self.binary = binary
        self.start_timeout = start_timeout
        self.port = 0
        """The TCP port, once started (0 for a unix socket)."""
        self.socket_path: str | None = None
        """The unix socket's path, once started with ``unix_socket=True``."""
        self._dir: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._process is None:
            raise RuntimeError("beanstalkd is not running")
        return self._process.pid

    @property
    def address(self) -> str:
        """``"host:port"`` or ``"unix:///path"``, for ``jackd.connect``."""
        if self.socket_path is not None:
            return f"unix://{self.socket_path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far (it runs with ``-V``)."""
        if self._dir is None:
            return ""
        with open(os.path.join(self._dir, "beanstalkd.log"), errors="replace") as f:
            return f.read()

    def start(self) -> BeanstalkdServer:
        """Start the server and wait until it accepts connections."""
        if shutil.which(self.binary) is None:
            raise FileNotFoundError(
                f"{self.binary!r} not found: install beanstalkd (Debian: apt install beanstalkd)"
            )
        self._dir = tempfile.mkdtemp(prefix="jackd-beanstalkd-")
        if self.unix_socket:
            self.socket_path = os.path.join(self._dir, "beanstalkd.sock")
            listen = ["-l", f"unix:{self.socket_path}"]
        else:
            listen = ["-l", self.host, "-p", "0"]
        with open(os.path.join(self._dir, "beanstalkd.log"), "wb") as log:
            self._process = subprocess.Popen(
                [self.binary, "-V", *listen, *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                raise RuntimeError(f"beanstalkd exited at start: {self.log.strip()}")
            if not self.unix_socket and not self.port:
                found = _BIND.search(self.log)
                if found:
                    self.port = int(found["port"])
            if (self.unix_socket or self.port) and self._accepts():
                return
            time.sleep(0.005)
        raise TimeoutError(f"beanstalkd did not start in {self.start_timeout} s: {self.log}")

    def _accepts(self) -> bool:
        # The "bind" line is printed just before listen(), so connect until it works.
        try:
            if self.socket_path is not None:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(self.socket_path)
            else:
                socket.create_connection((self.host, self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def signal(self, signum: int) -> None:
        """Send a signal to the server, such as SIGUSR1 for drain mode."""
        os.kill(self.pid, signum)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL) and wait for it, keeping its files."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        """Kill the server and remove its temporary files."""
        self.kill()
        self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> BeanstalkdServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
