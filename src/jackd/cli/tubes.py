"""``jackd tubes [PATTERN]``: every tube of every server, its jobs and its clients."""

from __future__ import annotations

import re
from typing import Any

import click
from rich.table import Table

from .._errors import NotFoundError
from ._common import Run, check_pattern, console, json_option, print_json, server_options
from ._ops import matching_tubes, stats_dict

#: The table's columns and the stat each one shows.
COLUMNS = (
    ("ready", "current_jobs_ready"),
    ("reserved", "current_jobs_reserved"),
    ("delayed", "current_jobs_delayed"),
    ("buried", "current_jobs_buried"),
    ("urgent", "current_jobs_urgent"),
    ("waiting", "current_waiting"),
    ("watching", "current_watching"),
    ("using", "current_using"),
    ("paused", "pause_time_left"),
    ("total", "total_jobs"),
)


@click.command(short_help="Every tube: its jobs by state, its clients, its pause.")
@click.argument("pattern", required=False, callback=check_pattern)
@server_options
@json_option
def tubes(pattern: re.Pattern[str], servers: list[str], debug: bool, as_json: bool) -> None:
    """List the tubes whose whole name PATTERN (a regular expression) matches; all without.

    Columns: ready, reserved, delayed, buried, urgent, waiting, watching, using, paused (the
    seconds of pause left) and total (jobs ever put). With --json: one object per tube per
    server, the stat names with - as _, plus server.
    """
    run = Run(servers, debug)
    rows: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            names = matching_tubes(client, pattern)
            pipe = client.pipeline()
            for name in names:
                pipe.stats_tube(name)
            for result in pipe.execute(raise_on_error=False):
                if isinstance(result, NotFoundError):
                    continue  # gone since list-tubes
                if isinstance(result, BaseException):
                    raise result
                rows.append({"server": server, **stats_dict(result)})
    if as_json:
        print_json(rows)
    elif rows or not (run.failed or run.unreachable):
        several = len(servers) > 1
        table = Table(box=None, pad_edge=False)
        if several:
            table.add_column("server")
        table.add_column("tube")
        for title, _ in COLUMNS:
            table.add_column(title, justify="right")
        for row in rows:
            cells = [
                str(row[key]) if key != "pause_time_left" else _paused(row) for _, key in COLUMNS
            ]
            table.add_row(*([row["server"]] if several else []), row["name"], *cells)
        console().print(table)
    run.finish()


def _paused(row: dict[str, Any]) -> str:
    if not row["pause"]:
        return "-"
    return f"{max(row['pause_time_left'], 0)}s"
