"""``jackd bury ID...``: bury jobs by id, ready and delayed ones too."""

from __future__ import annotations

from typing import Any

import click

from .._errors import NotFoundError
from ._common import Run, json_option, print_json, server_options
from ._ops import bury_job
from .kick import JOB_ID


@click.command(short_help="Bury jobs by id.")
@click.argument("ids", metavar="ID...", nargs=-1, required=True, type=JOB_ID)
@server_options
@json_option
def bury(ids: tuple[int, ...], servers: list[str], debug: bool, as_json: bool) -> None:
    """Bury each job ID, keeping its priority.

    bury only works on a job the connection reserved, so a ready or delayed job is first
    reserved by id (reserve-job), then buried; a buried one stays as it is; a job a worker
    holds is an error. With --json: one object per job per server with server, id, buried
    and was (the state before).
    """
    run = Run(servers, debug)
    out: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            for jid in ids:
                try:
                    was = bury_job(client, jid)
                except NotFoundError:
                    was = "missing"
                if was in ("missing", "reserved"):
                    problem = "not found" if was == "missing" else "reserved by a worker"
                    run.fail(f"job {jid} is {problem}", server)
                    out.append({"server": server, "id": jid, "buried": False})
                    continue
                out.append({"server": server, "id": jid, "buried": True, "was": was})
                if not as_json:
                    prefix = f"{server}: " if len(servers) > 1 else ""
                    note = " (it was buried already)" if was == "buried" else f" (was {was})"
                    click.echo(f"{prefix}buried job {jid}{note}")
    if as_json:
        print_json(out)
    run.finish()
