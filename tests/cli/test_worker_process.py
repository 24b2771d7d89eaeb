"""``jackd worker`` as a real process: signals, a crash, an unreachable server, a restart.

Every wait is on state: the lines the handlers write, the server's view of a job, the log
line that says a signal was taken. The handler that sleeps is mid-job once its "started"
line is written.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import jackd
from jackd.cli import EXIT_OK, EXIT_UNREACHABLE
from jackd.testing import BeanstalkdFactory, BeanstalkdServer

from .conftest import (
    WorkerModule,
    WorkerProcess,
    WriteModule,
    free_port,
    put,
    wait_for,
)

Spawn = Callable[..., WorkerProcess]

pytestmark = pytest.mark.timeout(90)


def job_state(client: jackd.Client, job_id: int) -> str:
    """The job's state, or "deleted" once the server no longer has it."""
    try:
        return client.stats_job(job_id).state
    except jackd.NotFoundError:
        return "deleted"


def start_slow_job(
    spawn: Spawn,
    module: WorkerModule,
    server: BeanstalkdServer,
    seconds: float,
    *options: str,
    priority: int = 1024,
) -> tuple[WorkerProcess, int]:
    """Put a job that takes ``seconds``, start a worker, and return once it is mid-job."""
    (job_id,) = put(server.address, "slow", str(seconds).encode(), priority=priority, ttr=300)
    process = spawn(module.target("sleeper"), "--server", server.address, *options)
    wait_for(
        lambda: f"started {job_id}" in module.lines() or process.process.poll() is not None,
        what="the handler to start",
    )
    assert f"started {job_id}" in module.lines(), process.log
    return process, job_id


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_job_lets_it_finish_and_exits_0(
    spawn: Spawn,
    write_module: WriteModule,
    beanstalkd: BeanstalkdServer,
    jackd_client: jackd.Client,
    signum: int,
    kind: str,
) -> None:
    module = write_module(None, kind=kind)
    process, job_id = start_slow_job(spawn, module, beanstalkd, 1.0)
    process.send(signum)
    assert process.wait() == EXIT_OK, process.log
    assert module.lines() == [f"started {job_id}", f"finished {job_id}"]
    assert job_state(jackd_client, job_id) == "deleted"
    assert f"{signal.Signals(signum).name}: stopping" in process.log
    assert "Traceback" not in process.log


def test_a_second_sigint_releases_a_long_job_at_once(
    spawn: Spawn,
    write_module: WriteModule,
    beanstalkd: BeanstalkdServer,
    jackd_client: jackd.Client,
    kind: str,
) -> None:
    module = write_module(None)
    # The handler would take a minute and the grace allows it: only the second signal ends it.
    process, job_id = start_slow_job(spawn, module, beanstalkd, 60, "--grace", "60", priority=77)
    process.send(signal.SIGINT)
    process.wait_for_log("SIGINT: stopping")
    assert job_state(jackd_client, job_id) == "reserved"
    second = time.monotonic()
    process.send(signal.SIGINT)
    wait_for(lambda: job_state(jackd_client, job_id) == "ready", what="the job to be released")
    assert time.monotonic() - second < 10
    assert jackd_client.stats_job(job_id).pri == 77
    assert process.wait() == EXIT_OK, process.log
    assert f"finished {job_id}" not in module.lines()
    assert "SIGINT again: releasing unfinished jobs now" in process.log


def test_a_short_grace_releases_a_longer_job(
    spawn: Spawn,
    write_module: WriteModule,
    beanstalkd: BeanstalkdServer,
    jackd_client: jackd.Client,
    kind: str,
) -> None:
    module = write_module(None, kind=kind)
    process, job_id = start_slow_job(spawn, module, beanstalkd, 60, "--grace", "0.5", priority=9)
    signalled = time.monotonic()
    process.send(signal.SIGTERM)
    assert process.wait() == EXIT_OK, process.log
    # Well before the worker's own grace (30 s), let alone the handler's minute.
    assert time.monotonic() - signalled < 10
    stats = jackd_client.stats_job(job_id)
    assert (stats.state, stats.pri) == ("ready", 9)
    assert f"finished {job_id}" not in module.lines()


def test_a_killed_worker_s_job_is_ready_again_at_once(
    spawn: Spawn,
    write_module: WriteModule,
    beanstalkd: BeanstalkdServer,
    jackd_client: jackd.Client,
    kind: str,
) -> None:
    module = write_module(None, kind=kind)
    process, job_id = start_slow_job(spawn, module, beanstalkd, 60)
    assert jackd_client.stats_job(job_id).state == "reserved"
    killed = time.monotonic()
    process.send(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    # The server releases a closed connection's jobs itself, without waiting for the TTR.
    wait_for(lambda: job_state(jackd_client, job_id) == "ready", what="the job to be ready")
    assert time.monotonic() - killed < 10 < jackd_client.stats_job(job_id).ttr


def test_an_unreachable_server_exits_3(spawn: Spawn, write_module: WriteModule, kind: str) -> None:
    address = f"127.0.0.1:{free_port()}"
    module = write_module(None, kind=kind, fast_start=True)
    process = spawn(module.target("recorder"), "--server", address)
    assert process.wait() == EXIT_UNREACHABLE, process.log
    assert f"Error: cannot reach beanstalkd at {address}" in process.log
    assert "Traceback" not in process.log


def test_an_unreachable_server_is_given_up_on_within_30_s(
    spawn: Spawn, write_module: WriteModule
) -> None:
    # The worker's real start policy, once: it retries for a while, then gives up.
    address = f"127.0.0.1:{free_port()}"
    module = write_module(None)
    process = spawn(module.target("recorder"), "--server", address)
    assert process.wait(timeout=45) == EXIT_UNREACHABLE, process.log
    assert time.monotonic() - process.started < 35


def test_the_worker_carries_on_after_the_server_restarts(
    spawn: Spawn, write_module: WriteModule, beanstalkd_factory: BeanstalkdFactory, kind: str
) -> None:
    server = beanstalkd_factory(binlog=True)
    module = write_module(None, kind=kind)
    process = spawn(module.target("recorder"), "--server", server.address)
    put(server.address, "record", b"before")
    wait_for(lambda: "done before" in module.lines(), what="the first job")

    server.kill()
    server.restart()  # the same port, the same binlog
    put(server.address, "record", b"after 1", b"after 2")
    wait_for(
        lambda: {"done after 1", "done after 2"} <= set(module.lines()),
        timeout=20,
        what=lambda: f"the jobs put after the restart; worker log:\n{process.log}",
    )
    assert process.process.poll() is None, process.log
    process.send(signal.SIGTERM)
    assert process.wait() == EXIT_OK, process.log


def test_the_console_script_runs_a_worker_from_the_current_directory(
    spawn: Spawn, write_module: WriteModule, beanstalkd: BeanstalkdServer
) -> None:
    # python -m puts the current directory on sys.path itself; the console script does not,
    # so this is where the command's own sys.path entry matters.
    script = Path(sys.executable).parent / "jackd"
    module = write_module(beanstalkd.address)
    put(beanstalkd.address, "record", b"1", b"2", b"3")
    process = spawn(module.target("recorder"), "--burst", command=[str(script)])
    assert process.wait() == EXIT_OK, process.log
    assert sorted(module.lines()) == ["done 1", "done 2", "done 3"]


def test_sigterm_while_the_app_imports_exits_0(spawn: Spawn, write_module: WriteModule) -> None:
    module = write_module(None, extra="append('importing')\ntime.sleep(60)\n")
    process = spawn(module.target("recorder"))
    wait_for(lambda: module.lines() == ["importing"], what="the app to start importing")
    process.send(signal.SIGTERM)
    assert process.wait() == EXIT_OK, process.log
    assert "nothing was lost" in process.log
