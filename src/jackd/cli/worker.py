"""``jackd worker MODULE:ATTRIBUTE``: load a ``jackd.Worker`` or ``jackd.aio.Worker`` and run it.

Signals are the worker's own business: run on the main thread, it takes SIGTERM and SIGINT
(first: stop gracefully, second: release the unfinished jobs at once) and returns normally,
so a stop by signal exits 0. This command only has to keep out of the way: it never lets
click turn a ``KeyboardInterrupt`` into "Aborted!" and exit 1, and until the worker has put
its handlers in place, SIGTERM interrupts like SIGINT does, when nothing is reserved yet.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from .. import aio
from .._address import parse_address
from .._errors import ConnectionLostError
from .._work import check_grace
from ..worker import Worker, worker_servers
from . import EXIT_ERROR, EXIT_UNREACHABLE, EXIT_USAGE

log = logging.getLogger("jackd.cli")

#: How the command's log lines look on stderr.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The levels ``--log-level`` takes.
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class LoadError(click.ClickException):
    """MODULE:ATTRIBUTE names no worker: the module or attribute is missing, or not a Worker."""

    exit_code = EXIT_USAGE


class Unreachable(click.ClickException):
    """No beanstalkd server could be reached when the worker started."""

    exit_code = EXIT_UNREACHABLE


class WorkerFailed(click.ClickException):
    """The worker raised while it ran."""

    exit_code = EXIT_ERROR


AnyWorker = Worker | aio.Worker
"""What ``jackd worker`` runs: a thread worker or an asyncio one."""


def load_worker(target: str) -> AnyWorker:
    """The ``jackd.Worker`` or ``jackd.aio.Worker`` that ``module:attribute`` names.

    The module is imported with the current directory first on ``sys.path``; the attribute
    may be dotted (``myapp.jobs:app.worker``). Raises ``LoadError`` saying what is wrong.
    """
    module_name, _, attribute = target.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path:
        # As python -m, gunicorn and celery do: the app's package is where you stand.
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise LoadError(
                f"cannot import {module_name!r}: {exc} (the current directory, {cwd}, is on "
                "sys.path)"
            ) from None
        raise LoadError(f"importing {module_name!r} failed:\n{traceback.format_exc()}") from None
    except Exception:
        raise LoadError(f"importing {module_name!r} failed:\n{traceback.format_exc()}") from None
    found: object = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise LoadError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(found, (Worker, aio.Worker)):
        what = (
            f"the class {found.__qualname__}"
            if isinstance(found, type)
            else (f"a {type(found).__qualname__}")
        )
        raise LoadError(f"{target} is {what}, not a jackd.Worker or jackd.aio.Worker")
    return found


def _check_target(ctx: click.Context, param: click.Parameter, value: str) -> str:
    module_name, colon, attribute = value.partition(":")
    if not colon or not module_name or not attribute:
        raise click.BadParameter(
            f"{value!r} is not MODULE:ATTRIBUTE, such as myapp.jobs:worker", ctx, param
        )
    return value


def _check_servers(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    urls = tuple(part.strip() for url in value for part in url.split(",") if part.strip())
    for url in urls:
        try:
            parse_address(url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
    return urls


def _check_grace(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is None:
        return None
    try:
        return check_grace(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@contextmanager
def logging_to_stderr(level: str) -> Iterator[None]:
    """Send every logger's records at ``level`` and up to stderr while the command runs.

    The handler is taken away afterwards, so running the command in-process (tests, click's
    CliRunner) leaves the logging setup as it found it.
    """
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level.upper())
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Until the worker takes SIGTERM over, make it interrupt like SIGINT, for a clean exit.

    Only where SIGTERM still has its default action (killing the process) and on the main
    thread, the only one that may set handlers; the worker restores this one when it stops.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_worker(worker: AnyWorker, burst: bool) -> None:
    """Run a loaded worker until it stops: a thread worker here, an asyncio one in a loop."""
    try:
        if isinstance(worker, aio.Worker):
            asyncio.run(worker.run(burst=burst))
        else:
            worker.run(burst=burst)
    except ConnectionLostError as exc:
        # Once running, the worker reconnects for ever: only the start can fail this way.
        where = ", ".join(str(parse_address(s)) for s in worker_servers(worker.address))
        raise Unreachable(f"cannot reach beanstalkd at {where}: {exc}") from None
    except Exception:
        raise WorkerFailed(f"the worker failed:\n{traceback.format_exc()}") from None


def serve_metrics(worker: AnyWorker, host: str, port: int) -> None:
    """Instrument ``worker`` and serve its metrics with prometheus_client, on a daemon thread."""
    try:
        from prometheus_client import start_http_server

        from ..metrics import instrument
    except ImportError:
        raise LoadError(
            "--metrics-port needs the metrics extra: pip install 'jackd[metrics]'"
        ) from None
    instrument(worker)
    try:
        httpd, _ = start_http_server(port, addr=host)
    except OSError as exc:
        raise WorkerFailed(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
    shown = f"[{host}]" if ":" in host else host
    log.info("metrics on http://%s:%d/metrics", shown, httpd.server_address[1])


@click.command(short_help="Run a jackd.Worker or jackd.aio.Worker.")
@click.argument("target", metavar="MODULE:ATTRIBUTE", callback=_check_target)
@click.option(
    "-s",
    "--server",
    "servers",
    multiple=True,
    metavar="URL",
    callback=_check_servers,
    help="The beanstalkd server, instead of the worker's own address "
    "(host:port, beanstalk://, beanstalks://, unix://); repeat it, or separate with commas, "
    "to consume from several servers.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    metavar="N",
    help="How many jobs run at once, instead of the worker's concurrency.",
)
@click.option(
    "--grace",
    type=float,
    metavar="SECONDS",
    callback=_check_grace,
    help="How long running jobs get to finish once stopped, instead of the worker's grace.",
)
@click.option("--burst", is_flag=True, help="Stop once the worker's tubes have no ready job.")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="The lowest level of the log lines written to stderr.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve the worker's Prometheus metrics (jackd_worker_*) on this port; needs the "
    "metrics extra.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="The address --metrics-port listens on.",
)
def worker(
    target: str,
    servers: tuple[str, ...],
    concurrency: int | None,
    grace: float | None,
    burst: bool,
    log_level: str,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run the worker MODULE:ATTRIBUTE names (a jackd.Worker or jackd.aio.Worker).

    MODULE is imported with the current directory on sys.path: myapp.jobs:worker runs the
    attribute worker of the module myapp.jobs.

    SIGTERM or SIGINT (Ctrl-C) stops it gracefully: no more jobs are reserved, and running
    ones get the grace period to finish; a second signal releases them at once.

    \b
    Exit codes:
      0  stopped cleanly (by a signal too, or --burst found the tubes empty)
      1  the worker failed while running
      2  a usage error, or MODULE:ATTRIBUTE names no worker
      3  no server could be reached at start
    """  # noqa: D301 - click keeps a paragraph as it is after a real backspace, not r"\b"
    with logging_to_stderr(log_level), sigterm_interrupts():
        try:
            loaded = load_worker(target)
            if servers:
                loaded.address = servers[0] if len(servers) == 1 else list(servers)
            if concurrency is not None:
                loaded.concurrency = concurrency
            if grace is not None:
                loaded.grace = grace
            if not loaded.tubes:
                raise LoadError(f"{target} has no handlers: register one with @worker.handler")
            if metrics_port is not None:
                serve_metrics(loaded, metrics_host, metrics_port)
            run_worker(loaded, burst)
        except KeyboardInterrupt:
            # Before the worker took the signals over (or after it gave them back): nothing
            # is reserved then, so this is a clean stop too.
            log.info("interrupted while the worker was not running; nothing was lost")
