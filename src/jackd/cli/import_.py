"""``jackd import jobs.jsonl``: put back the jobs ``jackd export`` wrote, each in its state."""

from __future__ import annotations

import json
from typing import IO, Any

import click

from ._common import Run, json_option, print_json, progress_bar, server_options
from ._ops import STATES, JobRecord, import_jobs
from .put import _check_tube


def _check_tube_or_none(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    return None if value is None else _check_tube(ctx, param, value)


def read_records(stream: IO[str], name: str) -> list[JobRecord]:
    """Every record of an export file; ``click.ClickException`` naming the first bad line."""
    records = []
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            records.append(JobRecord.from_json(json.loads(line)))
        except ValueError as exc:
            raise click.ClickException(f"{name}, line {number}: {exc}") from None
    return records


@click.command("import", short_help="Put back jobs that jackd export wrote.")
@click.argument("source", metavar="FILE", type=click.File("r", encoding="utf-8"))
@click.option(
    "--tube", callback=_check_tube_or_none, help="Put every job into this tube instead of its own."
)
@server_options
@json_option
def import_(
    source: IO[str], tube: str | None, servers: list[str], debug: bool, as_json: bool
) -> None:
    """Put the jobs of FILE (jackd export's JSON lines; - for stdin) on every server given.

    Each job gets its priority and TTR back and its state: a delayed one the delay it had
    left, a buried one is buried again. Jobs go in the file's order, so ready jobs keep
    their order. The whole file is checked before anything is put. With --json: one object
    per server with server, the counts per state and imported.
    """
    records = read_records(source, source.name)
    run = Run(servers, debug)
    out: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            with progress_bar(f"import {server}", len(records)) as advance:
                counts = import_jobs(client, records, tube=tube, progress=advance)
            out.append({"server": server, **counts, "imported": sum(counts.values())})
            if not as_json:
                where = f"{server}: " if len(servers) > 1 else ""
                detail = ", ".join(f"{counts[s]} {s}" for s in STATES)
                click.echo(f"{where}imported {sum(counts.values())} jobs ({detail})")
    if as_json:
        print_json(out)
    run.finish()
