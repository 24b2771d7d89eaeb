"""``jackd put TUBE [BODY]``: put a job, a file, or one job per line of stdin."""

from __future__ import annotations

import sys

import click

from .._commands import DEFAULT_DELAY, DEFAULT_PRIORITY, DEFAULT_TTR, tube_name
from ._common import Run, json_option, print_json, progress_bar, server_options

#: How many lines ``--lines`` puts in one pipelined batch.
LINES_BATCH = 1000
U32 = click.IntRange(0, 2**32 - 1)


def _check_tube(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        tube_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    return value


def _lines(data: bytes) -> list[bytes]:
    # A CRLF file's lines lose their \r too; blank lines make no jobs.
    return [line.removesuffix(b"\r") for line in data.split(b"\n") if line.strip(b"\r")]


@click.command(short_help="Put a job (or one per line of stdin) into a tube.")
@click.argument("tube", callback=_check_tube)
@click.argument("body", required=False)
@click.option("--pri", type=U32, default=DEFAULT_PRIORITY, show_default=True, help="Priority.")
@click.option("--delay", type=U32, default=DEFAULT_DELAY, show_default=True, help="Seconds.")
@click.option("--ttr", type=U32, default=DEFAULT_TTR, show_default=True, help="Seconds.")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Put this file's bytes as the body (- for stdin).",
)
@click.option(
    "--lines",
    is_flag=True,
    help="Put one job per line of stdin (blank lines skipped), in pipelined batches.",
)
@server_options
@json_option
def put(
    tube: str,
    body: str | None,
    pri: int,
    delay: int,
    ttr: int,
    path: str | None,
    lines: bool,
    servers: list[str],
    debug: bool,
    as_json: bool,
) -> None:
    """Put a job into TUBE on every server given: BODY, the file --file names, or stdin.

    With --lines, each line of stdin is a job of its own. Prints each job's id (with
    --json: one object per job with server, tube and id).
    """
    if sum((body is not None, path is not None, lines)) > 1:
        raise click.UsageError("give one of BODY, --file and --lines")
    if lines:
        bodies = _lines(sys.stdin.buffer.read())
    elif path is not None:
        with click.open_file(path, "rb") as f:
            bodies = [f.read()]
    elif body is not None:
        bodies = [body.encode("utf-8")]
    else:
        bodies = [sys.stdin.buffer.read()]
    run = Run(servers, debug)
    out = []
    for server, client in run.clients():
        with run.guard(server):
            client.use(tube)
            ids: list[int] = []
            if lines:
                with progress_bar(f"put {tube}", len(bodies)) as advance:
                    for start in range(0, len(bodies), LINES_BATCH):
                        batch = bodies[start : start + LINES_BATCH]
                        ids += client.put_many(batch, pri, delay, ttr)
                        advance(len(batch))
            else:
                ids.append(client.put(bodies[0], pri, delay, ttr))
            out += [{"server": server, "tube": tube, "id": jid} for jid in ids]
            if not as_json:
                where = f"{server}: " if len(servers) > 1 else ""
                if lines:
                    first = f", ids {ids[0]}-{ids[-1]}" if ids else ""
                    click.echo(f"{where}put {len(ids)} jobs into {tube}{first}")
                else:
                    click.echo(f"{where}{ids[0]}")
    if as_json:
        print_json(out)
    run.finish()
