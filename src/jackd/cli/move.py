"""``jackd move SRC DST``: move jobs to another tube, keeping priority, TTR and delay left."""

from __future__ import annotations

from typing import Any

import click

from ._common import Run, json_option, print_json, progress_bar, server_options, state_option
from ._ops import count_jobs, move_jobs
from .put import _check_tube


@click.command(short_help="Move jobs from one tube to another.")
@click.argument("source", metavar="SRC", callback=_check_tube)
@click.argument("target", metavar="DST", callback=_check_tube)
@state_option
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Move at most N jobs.")
@server_options
@json_option
def move(
    source: str,
    target: str,
    states: tuple[str, ...],
    limit: int | None,
    servers: list[str],
    debug: bool,
    as_json: bool,
) -> None:
    """Move the jobs in STATES (default: all) of tube SRC to tube DST.

    Each job keeps its priority, its TTR and what is left of its delay, and arrives in the
    same state (a buried job stays buried). The copy is put before the original is deleted:
    a crash in between can leave a job twice, never lose it. Reserved jobs stay (a worker
    has them) and are counted. With --json: one object per server with server, source,
    target, the counts moved per state, moved, reserved and duplicates.
    """
    if source == target:
        raise click.UsageError("SRC and DST are the same tube")
    run = Run(servers, debug)
    out: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            waiting = sum(count_jobs(client, [source], states)[s] for s in states)
            total = min(waiting, limit) if limit is not None else waiting
            with progress_bar(f"move {source} to {target}", total) as advance:
                result = move_jobs(client, source, target, states, limit=limit, progress=advance)
            row = {"server": server, "source": source, "target": target, **result.moved}
            row.update(moved=result.total, reserved=result.reserved, duplicates=result.duplicates)
            out.append(row)
            if not as_json:
                where = f"{server}: " if len(servers) > 1 else ""
                detail = ", ".join(f"{result.moved[s]} {s}" for s in states)
                click.echo(f"{where}moved {result.total} jobs ({detail}) from {source} to {target}")
                if result.reserved:
                    click.echo(
                        f"{where}skipped {result.reserved} reserved jobs (a worker has them)"
                    )
                if result.duplicates:
                    click.echo(
                        f"{where}{result.duplicates} originals were taken by a worker after "
                        "their copy was put: those jobs now exist twice"
                    )
    if as_json:
        print_json(out)
    run.finish()
