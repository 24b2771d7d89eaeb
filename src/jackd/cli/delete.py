"""``jackd delete ID...``: delete jobs by id, after asking."""

from __future__ import annotations

from typing import Any

import click

from .._errors import NotFoundError
from ._common import Run, confirm, json_option, print_json, server_options, yes_option
from .kick import JOB_ID


@click.command(short_help="Delete jobs by id.")
@click.argument("ids", metavar="ID...", nargs=-1, required=True, type=JOB_ID)
@yes_option
@server_options
@json_option
def delete(ids: tuple[int, ...], yes: bool, servers: list[str], debug: bool, as_json: bool) -> None:
    """Delete each job ID (ready, delayed or buried; a reserved job is a worker's).

    Asks first on a terminal; without one, it needs --yes, and otherwise exits 1 having
    deleted nothing. Ids are per server: with several servers, each server's job of that id
    is deleted. With --json: one object per job per server with server, id and deleted.
    """
    listed = " ".join(map(str, ids))
    where = f" on {len(servers)} servers" if len(servers) > 1 else ""
    confirm(f"Delete job{'s' if len(ids) > 1 else ''} {listed}{where}?", yes)
    run = Run(servers, debug)
    out: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            for jid in ids:
                try:
                    client.delete(jid)
                except NotFoundError:
                    run.fail(f"job {jid} not found, or reserved by a worker", server)
                    out.append({"server": server, "id": jid, "deleted": False})
                    continue
                out.append({"server": server, "id": jid, "deleted": True})
                if not as_json:
                    prefix = f"{server}: " if len(servers) > 1 else ""
                    click.echo(f"{prefix}deleted job {jid}")
    if as_json:
        print_json(out)
    run.finish()
