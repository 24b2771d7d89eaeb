"""What every admin subcommand shares: the server options, running on each server, output.

The conventions scripts rely on live here once: ``-s/--server`` (repeatable; default
``BEANSTALKD_URL``, then localhost:11300), ``--json`` (one JSON array of objects), errors as
one line on stderr (a traceback only with ``--debug``), and the exit codes: 1 when any
server failed, 3 when any could not be reached, 2 for usage errors (click's own).
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .._address import URL_VARIABLE, parse_address
from .._errors import ConnectionLostError, JackdError
from ..client import Client
from . import EXIT_ERROR, EXIT_OK, EXIT_UNREACHABLE

F = TypeVar("F", bound=Callable[..., Any])

#: Seconds allowed to connect to a server, and for any one reply (batches get more).
CONNECT_TIMEOUT = 5.0
REPLY_TIMEOUT = 60.0
#: Where the command falls back to when neither -s nor BEANSTALKD_URL names a server.
DEFAULT_SERVER = "localhost:11300"


def _split(values: tuple[str, ...]) -> list[str]:
    # "a,b" is the multi-server form BEANSTALKD_URL takes; -s accepts it too.
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _check_servers(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    servers = _split(value) or _split((os.environ.get(URL_VARIABLE, ""),)) or [DEFAULT_SERVER]
    for url in servers:
        try:
            parse_address(url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
    return servers


def server_options(func: F) -> F:
    """``-s/--server`` (repeatable) and ``--debug``, as every admin subcommand takes them."""
    func = click.option(
        "--debug", is_flag=True, help="On an error, show the traceback as well as its line."
    )(func)
    return click.option(
        "-s",
        "--server",
        "servers",
        multiple=True,
        metavar="URL",
        callback=_check_servers,
        help=f"A beanstalkd server (host:port, beanstalk://, beanstalks://, unix://); "
        f"repeat it, or separate with commas, for several. Default: ${URL_VARIABLE}, "
        f"then {DEFAULT_SERVER}.",
    )(func)


def json_option(func: F) -> F:
    """``--json``: print one JSON array of objects instead of tables."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON array of objects, for scripts."
    )(func)


def check_pattern(ctx: click.Context, param: click.Parameter, value: str | None) -> re.Pattern[str]:
    """Compile a PATTERN argument (a regular expression for whole tube names)."""
    try:
        return re.compile(value if value is not None else ".*")
    except re.error as exc:
        raise click.BadParameter(f"not a regular expression: {exc}", ctx, param) from None


def check_states(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    """Parse ``--state ready,delayed,buried`` (any of them, comma-separated; default all)."""
    from ._ops import STATES

    if value is None:
        return STATES
    states = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    wrong = [s for s in states if s not in STATES]
    if wrong or not states:
        raise click.BadParameter(
            f"{', '.join(wrong) or 'nothing'}: states are {', '.join(STATES)}", ctx, param
        )
    return states


def state_option(func: F) -> F:
    """``--state``: which job states a command works on."""
    return click.option(
        "--state",
        "states",
        metavar="STATES",
        callback=check_states,
        help="Comma-separated states to work on: ready, delayed, buried (default: all).",
    )(func)


@dataclass
class Run:
    """One command's run over its servers: connects, catches errors, sets the exit code.

    Iterate ``clients()`` for a connected client per server; wrap the work on one server in
    ``guard(server)``, which turns an error into one line on stderr and marks the run failed.
    ``finish()`` exits with the code the conventions give.
    """

    servers: list[str]
    debug: bool = False
    failed: bool = False
    unreachable: bool = False
    _names: dict[str, str] = field(default_factory=dict)

    def name(self, url: str) -> str:
        """How a server is shown: its endpoint (``host:port``, ``unix://...``)."""
        name = self._names.get(url)
        if name is None:
            name = self._names[url] = str(parse_address(url))
        return name

    def fail(self, message: str, server: str | None = None) -> None:
        """Report a failure: one line on stderr, and exit 1 at the end."""
        self.failed = True
        where = f"{server}: " if server is not None and len(self.servers) > 1 else ""
        click.echo(f"jackd: {where}{message}", err=True)

    def clients(self) -> Iterator[tuple[str, Client]]:
        """A connected client for each server in turn (closed after its turn).

        A server that cannot be reached is reported and skipped.
        """
        for url in self.servers:
            server = self.name(url)
            try:
                client = Client(url, timeout=REPLY_TIMEOUT, connect_timeout=CONNECT_TIMEOUT)
            except (ConnectionLostError, OSError) as exc:
                self.unreachable = True
                self._debug()
                self.fail(_reason(exc), server)
                continue
            try:
                yield server, client
            finally:
                client.close()

    @contextmanager
    def guard(self, server: str) -> Iterator[None]:
        """Report an error raised while working on ``server`` and carry on with the next."""
        try:
            yield
        except ConnectionLostError as exc:
            self.unreachable = True
            self._debug()
            self.fail(f"lost the connection to {server}: {_reason(exc)}", server)
        except (JackdError, OSError, ValueError, RuntimeError) as exc:
            self._debug()
            self.fail(_reason(exc), server)

    def _debug(self) -> None:
        if self.debug:
            click.echo(traceback.format_exc().rstrip(), err=True)

    @property
    def exit_code(self) -> int:
        """3 if a server could not be reached, else 1 if anything failed, else 0."""
        if self.unreachable:
            return EXIT_UNREACHABLE
        return EXIT_ERROR if self.failed else EXIT_OK

    def finish(self) -> None:
        """Exit with ``exit_code`` (returns when it is 0)."""
        code = self.exit_code
        if code:
            raise SystemExit(code)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def print_json(rows: list[dict[str, Any]]) -> None:
    """The ``--json`` output: one JSON array of objects."""
    click.echo(json.dumps(rows, indent=2, ensure_ascii=False))


def console(stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr), as wide as a pipe needs when it is no terminal."""
    stream = sys.stderr if stderr else sys.stdout
    made = Console(file=stream, highlight=False, soft_wrap=False)
    if not made.is_terminal:
        # 80 columns would squeeze a wide table into wrapped cells in a file or a pipe.
        made = Console(file=stream, highlight=False, width=250, soft_wrap=False)
    return made


@contextmanager
def progress_bar(what: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (on a terminal only); yields the function that advances it."""
    err = console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )
    with bar:
        task = bar.add_task(what, total=total)

        def advance(count: int) -> None:
            bar.advance(task, count)

        yield advance


def confirm(question: str, yes: bool) -> None:
    """Ask ``question`` on a terminal; without one, only ``--yes`` says yes.

    A ``y`` piped on stdin is no answer: a script must say ``--yes`` to destroy jobs. Exits
    1, having changed nothing, unless the answer is yes.
    """
    if yes:
        return
    refuse_without_terminal(yes)
    if not click.confirm(question, default=False, err=True):
        click.echo("jackd: not confirmed; nothing changed", err=True)
        raise SystemExit(EXIT_ERROR)


def stdin_is_terminal() -> bool:
    """True when stdin is a terminal a question can be asked on."""
    return sys.stdin.isatty()


def refuse_without_terminal(yes: bool) -> None:
    """Exit 1 unless ``--yes`` was given or stdin is a terminal that can be asked."""
    if not yes and not stdin_is_terminal():
        click.echo(
            "jackd: refusing without --yes: stdin is not a terminal to ask on; nothing changed",
            err=True,
        )
        raise SystemExit(EXIT_ERROR)


def yes_option(func: F) -> F:
    """``-y/--yes``: do it without asking."""
    return click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")(func)
