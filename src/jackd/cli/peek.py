"""``jackd peek TUBE --ready/--delayed/--buried``, ``jackd peek ID``: a job, its stats, body."""

from __future__ import annotations

from typing import Any

import click
from rich.panel import Panel
from rich.table import Table

from .._commands import tube_name
from .._errors import NotFoundError
from ._common import Run, console, json_option, print_json, server_options
from ._ops import describe_body, job_json, peek_front


@click.command(short_help="Show a job: its stats and its body.")
@click.argument("target", metavar="TUBE|ID")
@click.option("--ready", "state", flag_value="ready", help="The next ready job of TUBE.")
@click.option("--delayed", "state", flag_value="delayed", help="The delayed job of TUBE due first.")
@click.option("--buried", "state", flag_value="buried", help="The oldest buried job of TUBE.")
@server_options
@json_option
def peek(target: str, state: str | None, servers: list[str], debug: bool, as_json: bool) -> None:
    """Show a job without touching it: its stats and its body.

    With --ready, --delayed or --buried, TARGET is a tube and the job is the one at the front
    of that state; without, TARGET is a job id. The body is shown as text, pretty JSON when
    it parses, or a hex dump when it is not UTF-8. With --json: one object per server, the
    job's stat names with - as _, plus server, body and encoding (utf-8 or base64).
    """
    if state is None:
        if not (target.isascii() and target.isdigit()):
            raise click.BadParameter(
                f"{target!r} is no job id; to peek into a tube, add --ready, --delayed or --buried",
                param_hint="TUBE|ID",
            )
        job_id: int | None = int(target)
    else:
        try:
            tube_name(target)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="TUBE|ID") from None
        job_id = None
    run = Run(servers, debug)
    found: list[dict[str, Any]] = []
    for server, client in run.clients():
        with run.guard(server):
            jid = job_id
            if jid is None:
                assert state is not None  # for mypy: no id means a tube and a state
                jid = peek_front(client, target, state)
                if jid is None:
                    run.fail(f"tube {target} has no {state} job", server)
                    continue
            try:
                job = client.peek(jid)
                job_stats = client.stats_job(jid)
            except NotFoundError:
                run.fail(f"job {jid} not found", server)
                continue
            found.append(job_json(job_stats, job.body, server))
            if not as_json:
                _show(server, job_stats_rows(found[-1]), job.body, len(servers) > 1)
    if as_json:
        print_json(found)
    run.finish()


def job_stats_rows(job: dict[str, Any]) -> list[tuple[str, str]]:
    """The stats of a peeked job as (name, value) rows, in the protocol's names."""
    skip = {"server", "body", "encoding"}
    return [(key.replace("_", "-"), str(value)) for key, value in job.items() if key not in skip]


def _show(server: str, rows: list[tuple[str, str]], body: bytes, several: bool) -> None:
    out = console()
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    kind, text = describe_body(body)
    title = f"{server}: " if several else ""
    out.print(table)
    out.print(
        Panel(
            text,
            title=f"{title}body ({len(body)} bytes, {kind})",
            title_align="left",
            expand=False,
        ),
        markup=False,
    )
