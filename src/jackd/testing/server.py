"""``BeanstalkdServer``: one private beanstalkd process, for tests, demos and benchmarks."""

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
from typing import Any, Protocol

# beanstalkd -V prints "bind <fd> <host>:<port>" (or "bind <fd> <path>") just before listen().
_BIND = re.compile(r"^bind \d+ (?P<address>.+)$", re.MULTILINE)
_IN_USE = "Address already in use"


class BeanstalkdServer:
    """One beanstalkd process, started on a free port and killed on exit.

    ``args`` are extra command-line flags (``"-f", "0"``). ``max_job_size`` sets the largest
    job body the server accepts (``-z``; beanstalkd's default is 65,535 bytes). ``binlog=True``
    keeps a binlog (``-b``) in a private temporary directory; a path keeps it there instead,
    and that directory is left in place by ``stop``. With ``unix_socket=True`` the server
    listens on a socket file in a private temporary directory instead of TCP. ``address`` is
    then a string ``jackd.connect`` accepts.

    ``kill`` and ``restart`` simulate a crash and a recovery: the restarted server listens at
    the same address and reads the same binlog, so clients can reconnect to it.
    """

    def __init__(
        self,
        *args: str,
        host: str = "127.0.0.1",
        unix_socket: bool = False,
        binary: str = "beanstalkd",
        start_timeout: float = 10.0,
        max_job_size: int | None = None,
        binlog: bool | str | os.PathLike[str] = False,
    ) -> None:
        self.args = args
        self.host = host
        self.unix_socket = unix_socket
        self.binary = binary
        self.start_timeout = start_timeout
        self.max_job_size = max_job_size
        self.binlog = binlog
        self.port = 0
        """The TCP port, once started (0 for a unix socket)."""
        self.socket_path: str | None = None
        """The unix socket's path, once started with ``unix_socket=True``."""
        self.binlog_dir: str | None = None
        """The binlog's directory, once started with ``binlog``; None without a binlog."""
        self._dir: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0  # where the current process's output starts in the log file

    @property
    def pid(self) -> int:
        """The server's process id (the last one's, after ``kill``)."""
        if self._process is None:
            raise RuntimeError("beanstalkd is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        """True while the server's process is alive (paused counts as alive)."""
        return self._process is not None and self._process.poll() is None

    @property
    def address(self) -> str:
        """``"host:port"`` or ``"unix:///path"``, for ``jackd.connect``."""
        if self.socket_path is not None:
            return f"unix://{self.socket_path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far (it runs with ``-V``).

        After a ``restart`` this holds the output of every run, one after the other.
        """
        if self._dir is None:
            return ""
        with open(os.path.join(self._dir, "beanstalkd.log"), errors="replace") as f:
            return f.read()

    # -- starting --------------------------------------------------------------------------

    def start(self) -> BeanstalkdServer:
        """Start a fresh server and wait until it accepts connections.

        The kernel picks a free port; a server started before (and killed or stopped) is
        cleaned up first, so this never reuses its port, socket or private binlog.
        """
        if self.running:
            raise RuntimeError(f"beanstalkd is already running at {self.address}")
        if shutil.which(self.binary) is None:
            raise FileNotFoundError(
                f"{self.binary!r} not found: install beanstalkd (Debian: apt install beanstalkd)"
            )
        self.stop()
        self._dir = tempfile.mkdtemp(prefix="jackd-beanstalkd-")
        self.port = 0
        self.socket_path = None
        if self.unix_socket:
            self.socket_path = os.path.join(self._dir, "beanstalkd.sock")
        if self.binlog is True:
            self.binlog_dir = os.path.join(self._dir, "binlog")
            os.mkdir(self.binlog_dir)
        elif self.binlog:
            self.binlog_dir = os.fspath(self.binlog)
            os.makedirs(self.binlog_dir, exist_ok=True)
        else:
            self.binlog_dir = None
        return self._run(self._dir, retry_in_use=False)

    def restart(self) -> BeanstalkdServer:
        """Start the server again at the same address, with the same flags and binlog.

        Works on a running server (which is killed first, as by ``kill``), after ``kill``, and
        after the server died on its own. The port stays the same: beanstalkd binds with
        SO_REUSEADDR, so connections the old process left in TIME_WAIT do not block it, and if
        another socket holds the port for a moment this retries until ``start_timeout``.
        """
        if self._dir is None:
            raise RuntimeError("beanstalkd was never started (or was stopped): call start()")
        self.kill()
        return self._run(self._dir, retry_in_use=not self.unix_socket)

    def _command(self) -> list[str]:
        if self.socket_path is not None:
            listen = ["-l", f"unix:{self.socket_path}"]
        else:
            listen = ["-l", self.host, "-p", str(self.port)]
        if self.max_job_size is not None:
            listen += ["-z", str(self.max_job_size)]
        if self.binlog_dir is not None:
            listen += ["-b", self.binlog_dir]
        return [self.binary, "-V", *listen, *self.args]

    def _launch(self, directory: str) -> None:
        with open(os.path.join(directory, "beanstalkd.log"), "ab") as log:
            self._log_offset = log.tell()
            self._process = subprocess.Popen(
                self._command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _run(self, directory: str, *, retry_in_use: bool) -> BeanstalkdServer:
        try:
            self._launch(directory)
            self._wait_ready(directory, retry_in_use)
        except BaseException:
            self.kill()
            raise
        return self

    def _this_run_log(self) -> str:
        return self.log[self._log_offset :]

    def _wait_ready(self, directory: str, retry_in_use: bool) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            process = self._process
            output = self._this_run_log()
            if process is None or process.poll() is not None:
                if retry_in_use and _IN_USE in output:
                    # Another socket took the port between the kill and now; it is usually
                    # an outgoing connection's, gone in a moment.
                    time.sleep(0.05)
                    self._launch(directory)
                    continue
                raise RuntimeError(f"beanstalkd exited at start: {output.strip()}")
            # The bind line comes before listen(), so it alone does not mean ready; but
            # probing before it could reach whatever else listens on a reused port.
            found = _BIND.search(output)
            if found:
                if not self.unix_socket and not self.port:
                    self.port = int(found["address"].rsplit(":", 1)[1])
                if self._accepts():
                    return
            time.sleep(0.005)
        raise TimeoutError(f"beanstalkd did not start in {self.start_timeout} s: {self.log}")

    def _accepts(self) -> bool:
        try:
            if self.socket_path is not None:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(self.socket_path)
            else:
                socket.create_connection((self.host, self.port), timeout=1).close()
        except OSError:
            return False
        return True

    # -- while it runs ---------------------------------------------------------------------

    def signal(self, signum: int) -> None:
        """Send a signal to the server, such as SIGUSR1 for drain mode."""
        os.kill(self.pid, signum)

    def drain(self) -> None:
        """Put the server in drain mode (SIGUSR1): it refuses new jobs with ``DRAINING``.

        A signal is handled before the process runs on, so every command sent after this
        returns sees drain mode. Only a restart ends it.
        """
        self.signal(signal.SIGUSR1)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing is answered."""
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT); it then answers what it was sent."""
        self.signal(signal.SIGCONT)

    # -- stopping --------------------------------------------------------------------------

    def kill(self) -> None:
        """Kill the server at once (SIGKILL, like a crash) and wait until it is gone.

        Its files stay (the log, the binlog), so ``restart`` can bring it back.
        """
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


class BeanstalkdFactory(Protocol):
    """What the ``beanstalkd_factory`` fixture returns: call it to start one more server.

    ``args`` are extra beanstalkd flags; ``unix=True`` listens on a unix socket; ``more``
    holds any other ``BeanstalkdServer`` keyword argument (``host="::1"``, ``start_timeout``).
    The server is started when this returns, and stopped when the test ends.
    """

    def __call__(
        self,
        *args: str,
        max_job_size: int | None = None,
        binlog: bool | str | os.PathLike[str] = False,
        unix: bool = False,
        **more: Any,
    ) -> BeanstalkdServer:
        """Start a server with these options and return it."""
        ...
