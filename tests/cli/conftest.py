"""Fixtures for the ``jackd`` command's tests: worker modules written into tmp_path, and
``jackd worker`` run in-process (click's CliRunner) or as a real subprocess.

The worker modules record what their handlers do into a file, one line at a time with
O_APPEND, so that a test can wait on what a worker did (and a killed worker's lines stay).
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import jackd
from jackd.cli.group import jackd as jackd_command

#: What a worker module holds: THREAD_MODULE's workers are jackd.Worker, ASYNCIO_MODULE's
#: jackd.aio.Worker, with the same names and handlers. ``recorder`` serves tube "record",
#: writing "done BODY" for each job; ``sleeper`` serves tube "slow", sleeping as many
#: seconds as the body says between a "started ID" and a "finished ID" line.
THREAD_MODULE = """
import os
import time

import jackd
import jackd.worker

RECORD = {record!r}
if {fast_start!r}:
    # Tests of an unreachable server need not wait the 30 s a real start gives up after.
    jackd.worker.STARTING_RECONNECT = jackd.Reconnect(attempts=2, first_delay=0.01)


def append(line):
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\\n").encode())
    finally:
        os.close(fd)


recorder = jackd.Worker({address!r}, concurrency=2, grace=30)
sleeper = jackd.Worker({address!r}, concurrency=1, grace=30)


@recorder.handler("record")
def record(job):
    append("done " + job.body.decode())


@sleeper.handler("slow")
def slow(job):
    append(f"started {{job.id}}")
    time.sleep(float(job.body))
    append(f"finished {{job.id}}")
"""

ASYNCIO_MODULE = """
import asyncio
import os

import jackd
import jackd.aio  # first: jackd._aio_worker cannot be imported before it
import jackd._aio_worker
import jackd.worker

RECORD = {record!r}
if {fast_start!r}:
    fast = jackd.Reconnect(attempts=2, first_delay=0.01)
    jackd.worker.STARTING_RECONNECT = jackd._aio_worker.STARTING_RECONNECT = fast


def append(line):
    fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\\n").encode())
    finally:
        os.close(fd)


recorder = jackd.aio.Worker({address!r}, concurrency=2, grace=30)
sleeper = jackd.aio.Worker({address!r}, concurrency=1, grace=30)


@recorder.handler("record")
async def record(job):
    append("done " + job.body.decode())


@sleeper.handler("slow")
async def slow(job):
    append(f"started {{job.id}}")
    await asyncio.sleep(float(job.body))
    append(f"finished {{job.id}}")
"""

MODULES = {"thread": THREAD_MODULE, "asyncio": ASYNCIO_MODULE}

_names = itertools.count()


@dataclass
class WorkerModule:
    """A worker module written into a directory: import it as ``name``."""

    name: str
    directory: Path
    record: Path

    def lines(self) -> list[str]:
        """The lines the module's handlers wrote so far."""
        try:
            return self.record.read_text().splitlines()
        except FileNotFoundError:
            return []

    def target(self, attribute: str) -> str:
        """``name:attribute``, as ``jackd worker`` takes it."""
        return f"{self.name}:{attribute}"


WriteModule = Callable[..., WorkerModule]


@pytest.fixture(params=list(MODULES))
def kind(request: pytest.FixtureRequest) -> str:
    """Which worker a test's module holds: "thread" (jackd.Worker) or "asyncio"."""
    return str(request.param)


def free_port() -> int:
    """A loopback port nobody listens on: bound by the kernel's choice, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def write_module(tmp_path: Path) -> Iterator[WriteModule]:
    """Write a worker module into tmp_path; ``write_module(address, kind="thread")``.

    Each gets a name of its own, so that modules of earlier tests in sys.modules never
    answer for it; those imported in-process are forgotten after the test.
    """
    written: list[str] = []

    def write(
        address: str | None, *, kind: str = "thread", fast_start: bool = False, extra: str = ""
    ) -> WorkerModule:
        name = f"jackd_cli_jobs_{os.getpid()}_{next(_names)}"
        record = tmp_path / f"{name}.record"
        source = MODULES[kind].format(record=str(record), address=address, fast_start=fast_start)
        (tmp_path / f"{name}.py").write_text(source + textwrap.dedent(extra))
        written.append(name)
        return WorkerModule(name, tmp_path, record)

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``jackd ARGS`` in this process from tmp_path, as a user's shell would.

    The command puts the current directory on sys.path; that change is undone after the test.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("BEANSTALKD_URL", raising=False)

    def run(*args: str) -> Result:
        return CliRunner().invoke(jackd_command, list(args), catch_exceptions=False)

    return run


def wait_for(
    condition: Callable[[], object],
    timeout: float = 10.0,
    what: str | Callable[[], str] = "a condition",
) -> None:
    """Poll ``condition`` until it is true; fail saying ``what`` after ``timeout`` seconds.

    ``what`` may be a function, called only on failure (to show a log as it is by then).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {said}")
        time.sleep(0.01)


class WorkerProcess:
    """``python -m jackd worker ARGS`` (or another command line) as a real subprocess.

    Its stderr goes to a file, so a test can read the log while it runs.
    """

    def __init__(self, args: list[str], cwd: Path, command: list[str] | None = None) -> None:
        self.started = time.monotonic()
        self._log_path = cwd / f"worker-{next(_names)}.log"
        env = {k: v for k, v in os.environ.items() if k != "BEANSTALKD_URL"}
        with open(self._log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*(command or [sys.executable, "-m", "jackd"]), "worker", *args],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def log(self) -> str:
        """What the process wrote so far (stdout and stderr)."""
        return self._log_path.read_text(errors="replace")

    def send(self, signum: int) -> None:
        """Send a signal to the process."""
        self.process.send_signal(signum)

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to exit and return its code; fail with its log if it does not."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the worker did not exit in {timeout} s; log:\n{self.log}"
            ) from None

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Wait until the process logged ``text``."""
        wait_for(
            lambda: text in self.log or self.process.poll() is not None,
            timeout,
            f"{text!r} in the log",
        )
        assert text in self.log, f"the worker exited without logging {text!r}:\n{self.log}"

    def kill(self) -> None:
        """Kill the process if it still runs (SIGKILL), and reap it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``jackd worker ARGS`` subprocesses from tmp_path; all are killed after the test."""
    processes: list[WorkerProcess] = []

    def start(*args: str, command: list[str] | None = None) -> WorkerProcess:
        process = WorkerProcess(list(args), tmp_path, command)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()


def put(address: str, tube: str, *bodies: bytes, **options: int) -> list[int]:
    """Put jobs into ``tube`` and return their ids."""
    with jackd.connect(address) as client:
        client.use(tube)
        return [client.put(body, **options) for body in bodies]


def tube_is_empty(client: jackd.Client, tube: str) -> bool:
    """True once ``tube`` holds no job in any state (or no longer exists)."""
    try:
        stats = client.stats_tube(tube)
    except jackd.NotFoundError:
        return True
    return (
        stats.current_jobs_ready
        + stats.current_jobs_reserved
        + stats.current_jobs_delayed
        + stats.current_jobs_buried
        == 0
    )
