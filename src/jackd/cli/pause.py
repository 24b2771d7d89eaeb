"""``jackd pause TUBE SECONDS`` and ``jackd resume TUBE``."""

from __future__ import annotations

from typing import Any

import click

from .._errors import NotFoundError
from ._common import Run, json_option, print_json, server_options
from .put import U32, _check_tube


def _pause(tube: str, seconds: int, servers: list[str], debug: bool, as_json: bool) -> None:
    run = Run(servers, debug)
    out: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            try:
                client.pause_tube(tube, seconds)
            except NotFoundError:
                run.fail(f"tube {tube} not found", server)
                continue
            out.append({"server": server, "tube": tube, "pause": seconds})
            if not as_json:
                where = f"{server}: " if len(servers) > 1 else ""
                done = f"paused {tube} for {seconds}s" if seconds else f"resumed {tube}"
                click.echo(f"{where}{done}")
    if as_json:
        print_json(out)
    run.finish()


@click.command(short_help="Hand out no jobs from a tube for a while.")
@click.argument("tube", callback=_check_tube)
@click.argument("seconds", type=U32)
@server_options
@json_option
def pause(tube: str, seconds: int, servers: list[str], debug: bool, as_json: bool) -> None:
    """Pause TUBE for SECONDS: no job of it is reserved until then (0 resumes it).

    With --json: one object per server with server, tube and pause (the seconds).
    """
    _pause(tube, seconds, servers, debug, as_json)


@click.command(short_help="End a tube's pause.")
@click.argument("tube", callback=_check_tube)
@server_options
@json_option
def resume(tube: str, servers: list[str], debug: bool, as_json: bool) -> None:
    """End the pause of TUBE: its jobs are handed out again at once.

    With --json: one object per server with server, tube and pause (0).
    """
    _pause(tube, 0, servers, debug, as_json)
