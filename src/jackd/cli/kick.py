"""``jackd kick TUBE [N | --all]`` and ``jackd kick-job ID...``: buried or delayed jobs to ready."""

from __future__ import annotations

from typing import Any

import click

from .._errors import NotFoundError
from ._common import Run, json_option, print_json, server_options
from .put import _check_tube

#: kick's bound is a u32: this kicks every job the protocol's kick would.
KICK_ALL = 2**32 - 1
JOB_ID = click.IntRange(min=1)


@click.command(short_help="Kick buried jobs (or delayed ones, when none is buried) to ready.")
@click.argument("tube", callback=_check_tube)
@click.argument("count", metavar="[N]", type=click.IntRange(0, KICK_ALL), required=False)
@click.option("--all", "kick_all", is_flag=True, help="Kick every one of them.")
@server_options
@json_option
def kick(
    tube: str,
    count: int | None,
    kick_all: bool,
    servers: list[str],
    debug: bool,
    as_json: bool,
) -> None:
    """Kick up to N jobs of TUBE into the ready queue, as the protocol's kick does.

    If TUBE has buried jobs, only buried ones are kicked (oldest first); otherwise delayed
    ones (soonest first). --all kicks all of them: every buried job, or every delayed one
    when none is buried. With --json: one object per server with server, tube and kicked.
    """
    if (count is None) == (not kick_all):
        raise click.UsageError("give N or --all (not both)")
    bound = KICK_ALL if kick_all else count
    assert bound is not None  # for mypy: one of the two is given
    run = Run(servers, debug)
    out: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            client.use(tube)
            kicked = client.kick(bound)
            out.append({"server": server, "tube": tube, "kicked": kicked})
            if not as_json:
                where = f"{server}: " if len(servers) > 1 else ""
                click.echo(f"{where}kicked {kicked} jobs in {tube}")
    if as_json:
        print_json(out)
    run.finish()


@click.command("kick-job", short_help="Kick buried or delayed jobs, by id, to ready.")
@click.argument("ids", metavar="ID...", nargs=-1, required=True, type=JOB_ID)
@server_options
@json_option
def kick_job(ids: tuple[int, ...], servers: list[str], debug: bool, as_json: bool) -> None:
    """Kick each job ID (buried or delayed, in any tube) into the ready queue.

    Ids are per server: with several servers, each server's job of that id is kicked. A
    job that is missing, ready or reserved is an error. With --json: one object per job per
    server with server, id and kicked (true or false).
    """
    run = Run(servers, debug)
    out: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            for jid in ids:
                try:
                    client.kick_job(jid)
                except NotFoundError:
                    run.fail(f"job {jid} not found, or not buried or delayed", server)
                    out.append({"server": server, "id": jid, "kicked": False})
                    continue
                out.append({"server": server, "id": jid, "kicked": True})
                if not as_json:
                    where = f"{server}: " if len(servers) > 1 else ""
                    click.echo(f"{where}kicked job {jid}")
    if as_json:
        print_json(out)
    run.finish()
