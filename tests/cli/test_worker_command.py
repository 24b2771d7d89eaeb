"""``jackd worker`` run in-process through click's CliRunner: usage, loading, exit codes, --burst.

Each test that runs a worker gives it a real beanstalkd of its own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import Result

import jackd
import jackd._aio_worker
import jackd.worker
from jackd.cli import EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE
from jackd.testing import BeanstalkdFactory, BeanstalkdServer

from .conftest import WriteModule, free_port, put, tube_is_empty

Invoke = Callable[..., Result]

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fast_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give up connecting at start after two quick attempts instead of about 30 s."""
    fast = jackd.Reconnect(attempts=2, first_delay=0.01)
    monkeypatch.setattr(jackd.worker, "STARTING_RECONNECT", fast)
    monkeypatch.setattr(jackd._aio_worker, "STARTING_RECONNECT", fast)


# -- usage errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker"], "Missing argument 'MODULE:ATTRIBUTE'"),
        (["worker", "myapp.jobs"], "'myapp.jobs' is not MODULE:ATTRIBUTE"),
        (["worker", "myapp.jobs:"], "is not MODULE:ATTRIBUTE"),
        (["worker", ":worker"], "is not MODULE:ATTRIBUTE"),
        (["worker", "m:w", "--concurrency", "0"], "--concurrency"),
        (["worker", "m:w", "--concurrency", "many"], "--concurrency"),
        (["worker", "m:w", "--grace", "-1"], "grace must be a finite number"),
        (["worker", "m:w", "--grace", "nan"], "grace must be a finite number"),
        (["worker", "m:w", "--grace", "inf"], "grace must be a finite number"),
        (["worker", "m:w", "--log-level", "chatty"], "--log-level"),
        (["worker", "m:w", "--server", "localhost:notaport"], "invalid port"),
        (["worker", "m:w", "--nope"], "No such option '--nope'"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_exit_2(invoke: Invoke, args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == EXIT_USAGE, result.output
    assert "Usage:" in result.stderr
    assert message in result.stderr


@pytest.mark.parametrize("comma", [False, True])
def test_several_servers_are_all_consumed_from(
    invoke: Invoke,
    beanstalkd_factory: Any,
    comma: bool,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    servers = [beanstalkd_factory(), beanstalkd_factory()]
    for n, server in enumerate(servers):
        with jackd.connect(server.address) as client:
            client.put(b"on server %d" % n)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = _drainer(tmp_path)
    if comma:
        args = ["--server", ",".join(s.address for s in servers)]
    else:
        args = [arg for s in servers for arg in ("--server", s.address)]
    result = invoke("worker", module, *args, "--burst")
    assert result.exit_code == EXIT_OK, result.stderr
    for server in servers:
        with jackd.connect(server.address) as client:
            assert client.stats().current_jobs_ready == 0


def _drainer(where: Any) -> str:
    """Write a worker module that deletes every job of the default tube; name its worker."""
    import textwrap

    (where / "jackd_drainer.py").write_text(
        textwrap.dedent(
            """
            import jackd

            worker = jackd.Worker()


            @worker.handler("default")
            def drain(job):
                pass
            """
        )
    )
    return "jackd_drainer:worker"


def test_help_names_the_exit_codes_and_the_group_lists_worker(invoke: Invoke) -> None:
    result = invoke("worker", "--help")
    assert result.exit_code == EXIT_OK
    assert "3  no server could be reached at start" in result.stdout
    # One code per line, as written, and no stray marker where click keeps a paragraph.
    assert re.search(r"^ +1  the worker failed while running$", result.stdout, re.M)
    assert "\\b" not in result.stdout
    listing = invoke("--help")
    listed = r"^  worker +Run a jackd\.Worker or jackd\.aio\.Worker\.$"
    assert re.search(listed, listing.stdout, re.M)
    version = invoke("--version")
    assert version.stdout.strip() == f"jackd, version {jackd.__version__}"


# -- loading the worker ------------------------------------------------------------------------


def test_a_missing_module_exits_2(invoke: Invoke) -> None:
    result = invoke("worker", "no_such_module_here:worker")
    assert result.exit_code == EXIT_USAGE
    assert "cannot import 'no_such_module_here'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_module_that_fails_to_import_exits_2_with_its_traceback(
    invoke: Invoke, write_module: WriteModule
) -> None:
    module = write_module(None, extra="import no_such_dependency_of_the_app\n")
    result = invoke("worker", module.target("recorder"))
    assert result.exit_code == EXIT_USAGE
    assert f"importing {module.name!r} failed" in result.stderr
    assert "No module named 'no_such_dependency_of_the_app'" in result.stderr
    assert "Traceback" in result.stderr

    broken = write_module(None, extra="raise ValueError('bad settings')\n")
    result = invoke("worker", broken.target("recorder"))
    assert result.exit_code == EXIT_USAGE
    assert "ValueError: bad settings" in result.stderr


def test_a_missing_attribute_exits_2(invoke: Invoke, write_module: WriteModule) -> None:
    module = write_module(None)
    result = invoke("worker", module.target("nothing"))
    assert result.exit_code == EXIT_USAGE
    assert f"module {module.name!r} has no attribute 'nothing'" in result.stderr
    dotted = invoke("worker", module.target("recorder.nothing"))
    assert dotted.exit_code == EXIT_USAGE
    assert "has no attribute 'recorder.nothing'" in dotted.stderr


@pytest.mark.parametrize(
    ("attribute", "what"),
    [("append", "a function"), ("RECORD", "a str"), ("jackd.Worker", "the class Worker")],
)
def test_something_else_than_a_worker_exits_2(
    invoke: Invoke, write_module: WriteModule, attribute: str, what: str
) -> None:
    module = write_module(None)
    result = invoke("worker", module.target(attribute))
    assert result.exit_code == EXIT_USAGE
    assert f"is {what}, not a jackd.Worker or jackd.aio.Worker" in result.stderr


def test_a_worker_without_handlers_exits_2(
    invoke: Invoke, write_module: WriteModule, kind: str
) -> None:
    worker = "jackd.aio.Worker" if kind == "asyncio" else "jackd.Worker"
    module = write_module(None, kind=kind, extra=f"idle = {worker}()\n")
    result = invoke("worker", module.target("idle"))
    assert result.exit_code == EXIT_USAGE
    assert "has no handlers" in result.stderr


def test_a_dotted_attribute_is_followed(
    invoke: Invoke, write_module: WriteModule, beanstalkd: BeanstalkdServer
) -> None:
    module = write_module(beanstalkd.address, extra="class app:\n    worker = recorder\n")
    put(beanstalkd.address, "record", b"via app.worker")
    result = invoke("worker", module.target("app.worker"), "--burst")
    assert result.exit_code == EXIT_OK, result.output
    assert module.lines() == ["done via app.worker"]


def test_a_keyboard_interrupt_before_the_worker_runs_is_a_clean_stop(
    invoke: Invoke, write_module: WriteModule
) -> None:
    # Ctrl-C while the app is still importing: nothing is reserved, so nothing is lost, and
    # click must not turn it into "Aborted!" and exit 1.
    module = write_module(None, extra="raise KeyboardInterrupt\n")
    result = invoke("worker", module.target("recorder"))
    assert result.exit_code == EXIT_OK, result.output
    assert "Aborted" not in result.output
    assert "nothing was lost" in result.stderr


# -- running -----------------------------------------------------------------------------------


def test_burst_processes_every_job_then_exits_0(
    invoke: Invoke, write_module: WriteModule, beanstalkd: BeanstalkdServer, kind: str
) -> None:
    # The module's own address leads nowhere: --server must be the one used.
    module = write_module(f"127.0.0.1:{free_port()}", kind=kind)
    bodies = [f"job {n}".encode() for n in range(50)]
    put(beanstalkd.address, "record", *bodies)
    result = invoke("worker", module.target("recorder"), "--server", beanstalkd.address, "--burst")
    assert result.exit_code == EXIT_OK, result.output
    assert sorted(module.lines()) == sorted(f"done {b.decode()}" for b in bodies)
    with jackd.connect(beanstalkd.address) as client:
        assert tube_is_empty(client, "record")


def test_without_server_the_worker_s_own_address_is_used(
    invoke: Invoke, write_module: WriteModule, beanstalkd: BeanstalkdServer, kind: str
) -> None:
    module = write_module(beanstalkd.address)
    put(beanstalkd.address, "record", b"one")
    result = invoke("worker", module.target("recorder"), "--burst")
    assert result.exit_code == EXIT_OK, result.output
    assert module.lines() == ["done one"]


def test_concurrency_and_grace_override_the_worker_s(
    invoke: Invoke, write_module: WriteModule, beanstalkd: BeanstalkdServer, kind: str
) -> None:
    import sys

    module = write_module(beanstalkd.address, kind=kind)
    put(beanstalkd.address, "record", b"x")
    result = invoke(
        "worker", module.target("recorder"), "--burst", "--concurrency", "5", "--grace", "2.5"
    )
    assert result.exit_code == EXIT_OK, result.output
    loaded = sys.modules[module.name].recorder
    assert (loaded.concurrency, loaded.grace) == (5, 2.5)
    assert "worker started: 5 " in result.stderr  # "5 slot(s)", or "5 at once"


def test_log_level_and_format(
    invoke: Invoke, write_module: WriteModule, beanstalkd: BeanstalkdServer
) -> None:
    module = write_module(beanstalkd.address)
    put(beanstalkd.address, "record", b"a")
    info = invoke("worker", module.target("recorder"), "--burst")
    started = [line for line in info.stderr.splitlines() if "worker started" in line]
    assert len(started) == 1
    # "2024-05-01 12:00:00,123 INFO jackd.worker: worker started: ..."
    assert started[0].split(" ", 2)[2].startswith("INFO jackd.worker: worker started: 2 slot(s)")
    assert " DEBUG " not in info.stderr

    put(beanstalkd.address, "record", b"b")
    debug = invoke("worker", module.target("recorder"), "--burst", "--log-level", "DEBUG")
    assert " DEBUG jackd.worker: job 2 from 'record': succeeded" in debug.stderr

    quiet = invoke("worker", module.target("recorder"), "--burst", "--log-level", "warning")
    assert quiet.exit_code == EXIT_OK
    assert quiet.stderr == ""


def test_the_log_handler_is_removed_afterwards(
    invoke: Invoke, write_module: WriteModule, beanstalkd: BeanstalkdServer
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    module = write_module(beanstalkd.address)
    assert invoke("worker", module.target("recorder"), "--burst").exit_code == EXIT_OK
    assert (root.handlers, root.level) == (handlers, level)


def test_an_unreachable_server_exits_3(
    invoke: Invoke, write_module: WriteModule, fast_start: None, kind: str
) -> None:
    address = f"127.0.0.1:{free_port()}"
    module = write_module(None, kind=kind)
    result = invoke("worker", module.target("recorder"), "--server", address)
    assert result.exit_code == EXIT_UNREACHABLE, result.output
    assert f"Error: cannot reach beanstalkd at {address}" in result.stderr


def test_a_failing_worker_exits_1(
    invoke: Invoke, write_module: WriteModule, beanstalkd: BeanstalkdServer
) -> None:
    module = write_module(
        beanstalkd.address,
        extra="""
        class Broken(jackd.Worker):
            def run(self, burst=False):
                raise RuntimeError("the runtime broke")


        broken = Broken()
        broken.handler("record")(record)
        """,
    )
    result = invoke("worker", module.target("broken"))
    assert result.exit_code == EXIT_ERROR, result.output
    assert "Error: the worker failed" in result.stderr
    assert "RuntimeError: the runtime broke" in result.stderr


def test_sigterm_before_the_worker_runs_is_a_clean_stop(
    invoke: Invoke, write_module: WriteModule
) -> None:
    import signal

    # SIGTERM while the app imports would kill the process by default; it is a clean stop.
    module = write_module(None, extra="os.kill(os.getpid(), __import__('signal').SIGTERM)\n")
    result = invoke("worker", module.target("recorder"))
    assert result.exit_code == EXIT_OK, result.output
    assert "nothing was lost" in result.stderr
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # given back afterwards


def test_a_worker_built_with_several_servers_runs_on_all(
    invoke: Invoke, write_module: WriteModule, beanstalkd_factory: BeanstalkdFactory, kind: str
) -> None:
    first, second = beanstalkd_factory(), beanstalkd_factory()
    worker = "jackd.aio.Worker" if kind == "asyncio" else "jackd.Worker"
    servers = [first.address, second.address]
    module = write_module(
        None, kind=kind, extra=f"both = {worker}({servers!r})\nboth.handler('record')(record)\n"
    )
    put(first.address, "record", b"from the first")
    put(second.address, "record", b"from the second")
    result = invoke("worker", module.target("both"), "--burst")
    assert result.exit_code == EXIT_OK, result.output
    assert sorted(module.lines()) == ["done from the first", "done from the second"]


def test_a_sigterm_handler_of_the_caller_s_is_left_alone(
    invoke: Invoke, write_module: WriteModule, beanstalkd: BeanstalkdServer
) -> None:
    import signal

    module = write_module(beanstalkd.address)
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        assert invoke("worker", module.target("recorder"), "--burst").exit_code == EXIT_OK
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)
