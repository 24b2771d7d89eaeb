"""``jackd export PATTERN > jobs.jsonl``: every job of matching tubes as JSON lines."""

from __future__ import annotations

import json
import re
from typing import IO, Any

import click

from ._common import (
    Run,
    check_pattern,
    progress_bar,
    server_options,
    state_option,
)
from ._ops import Scan, count_jobs, matching_tubes


@click.command("export", short_help="Write the jobs of matching tubes as JSON lines.")
@click.argument("pattern", callback=check_pattern)
@state_option
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8", lazy=False),
    default="-",
    help="The file to write (default: stdout).",
)
@click.option(
    "--from-id",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Skip the ids below this one (they are known to be gone: saves scanning them).",
)
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON array.")
def export(
    pattern: re.Pattern[str],
    states: tuple[str, ...],
    output: IO[str],
    from_id: int,
    servers: list[str],
    debug: bool,
    as_json: bool,
) -> None:
    """Write each job in STATES (default: all) of the tubes PATTERN matches as a JSON line.

    One object per job: server, id, tube, state, priority, ttr, delay (the seconds of delay
    left), encoding (utf-8, or base64 when the body is not UTF-8) and body. Jobs are left as
    they were: they are read with stats-job and peek by id, never reserved or kicked.
    Reserved jobs are skipped and counted. The summary goes to stderr (with --json as a
    JSON array of one object per server), so the output holds the jobs alone.
    """
    run = Run(servers, debug)
    summary: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            names = frozenset(matching_tubes(client, pattern))
            total = sum(count_jobs(client, names, states)[s] for s in states)
            counts = dict.fromkeys(states, 0)
            with progress_bar(f"export {server}", total) as advance:
                scan = Scan(client, names, states, start=from_id, server=server, progress=advance)
                for record in scan:
                    output.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
                    counts[record.state] += 1
            output.flush()
            summary.append(
                {
                    "server": server,
                    **counts,
                    "exported": sum(counts.values()),
                    "reserved": scan.reserved,
                }
            )
    if as_json:
        click.echo(json.dumps(summary, indent=2), err=True)
    else:
        for row in summary:
            where = f"{row['server']}: " if len(servers) > 1 else ""
            detail = ", ".join(f"{row[s]} {s}" for s in states)
            line = f"{where}exported {row['exported']} jobs ({detail})"
            if row["reserved"]:
                line += f"; skipped {row['reserved']} reserved jobs"
            click.echo(line, err=True)
    run.finish()
