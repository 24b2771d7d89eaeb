"""``jackd clear PATTERN --state ready,delayed,buried``: delete the jobs of matching tubes."""

from __future__ import annotations

import re
from typing import Any

import click

from ._common import (
    Run,
    check_pattern,
    confirm,
    json_option,
    print_json,
    progress_bar,
    refuse_without_terminal,
    server_options,
    state_option,
    yes_option,
)
from ._ops import clear_jobs, count_jobs, matching_tubes


@click.command(short_help="Delete the jobs of matching tubes, in the states given.")
@click.argument("pattern", callback=check_pattern)
@state_option
@yes_option
@server_options
@json_option
def clear(
    pattern: re.Pattern[str],
    states: tuple[str, ...],
    yes: bool,
    servers: list[str],
    debug: bool,
    as_json: bool,
) -> None:
    """Delete every job in STATES of each tube whose whole name PATTERN matches.

    It counts them and asks first on a terminal; without one, it needs --yes, and otherwise
    exits 1 having deleted nothing. Reserved jobs are a worker's and are left alone. With
    --json: one object per tube per server with server, tube, state and deleted.
    """
    refuse_without_terminal(yes)  # before anything is read or changed
    run = Run(servers, debug)
    plan: dict[str, tuple[list[str], dict[str, int]]] = {}
    for server, client in run.clients():
        with run.guard(server):
            names = matching_tubes(client, pattern)
            plan[server] = (names, count_jobs(client, names, states))
    total = sum(counts[s] for _, counts in plan.values() for s in states)
    if not yes and total:
        lines = []
        for server, (names, counts) in plan.items():
            what = ", ".join(f"{counts[s]} {s}" for s in states)
            lines.append(f"  {server}: {what} in {len(names)} tubes ({', '.join(names)})")
        click.echo("\n".join(lines), err=True)
        confirm(f"Delete these {total} jobs?", yes)
    out: list[dict[str, Any]] = []
    with progress_bar("clear", total) as advance:
        for server, client in run.clients():
            if server not in plan:
                continue
            with run.guard(server):
                names, _ = plan[server]
                done = clear_jobs(client, names, states, progress=advance)
                for (tube, state), deleted in done.items():
                    out.append({"server": server, "tube": tube, "state": state, "deleted": deleted})
    if as_json:
        print_json(out)
    else:
        for server in plan:
            mine = [row for row in out if row["server"] == server]
            where = f"{server}: " if len(servers) > 1 else ""
            counts = {s: sum(r["deleted"] for r in mine if r["state"] == s) for s in states}
            detail = ", ".join(f"{n} {s}" for s, n in counts.items())
            tubes = len({r["tube"] for r in mine})
            click.echo(f"{where}deleted {sum(counts.values())} jobs ({detail}) from {tubes} tubes")
    run.finish()
