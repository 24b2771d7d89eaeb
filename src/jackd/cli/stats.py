"""``jackd stats``: every server's statistics, one column per server."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from ._common import Run, console, json_option, print_json, server_options
from ._ops import stats_dict


@click.command(short_help="Server statistics, one column per server.")
@server_options
@json_option
def stats(servers: list[str], debug: bool, as_json: bool) -> None:
    """Show each server's statistics (the protocol's stats), one column per server.

    With --json: one object per server, the stat names with - as _, plus server.
    """
    run = Run(servers, debug)
    rows: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            rows.append({"server": server, **stats_dict(client.stats())})
    if as_json:
        print_json(rows)
    elif rows:
        table = Table("stat", *(row["server"] for row in rows), box=None, pad_edge=False)
        for key in rows[0]:
            if key == "server":
                continue
            table.add_row(key.replace("_", "-"), *(_show(row.get(key, "")) for row in rows))
        console().print(table)
    run.finish()


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
