"""``jackd web``: the web console, served by uvicorn (the ``web`` extra).

Safe by default: it listens on 127.0.0.1, and refuses any address that is not a loopback
one unless an auth file gives users (``--auth-file``, lines made by ``jackd web
--hash-password``) or ``--insecure`` says that something else guards it. The refusal is one
line on stderr and exit 2, before anything listens. SIGTERM and SIGINT stop it, exit 0.
"""

from __future__ import annotations

import signal
from types import FrameType

import click

from . import EXIT_USAGE
from ._common import server_options

#: What the command says, alone, when the web extra is missing.
WEB_HINT = "jackd web: the console needs the web extra: pip install 'jackd[web]'"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _usage_exit(message: str) -> None:
    click.echo(f"jackd web: {message}", err=True)
    raise SystemExit(EXIT_USAGE)


def _hash_password() -> None:
    from ..web.security import hash_password

    user = click.prompt("User", err=True).strip()
    if not user or ":" in user or any(c.isspace() for c in user):
        _usage_exit("a user name must be non-empty, without ':' or spaces")
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if not password:
        _usage_exit("the password must not be empty")
    click.echo(f"{user}:{hash_password(password)}")


@click.command(short_help="The web console (and /metrics), on 127.0.0.1:8080 by default.")
@server_options
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="The port."
)
@click.option(
    "--auth-file",
    type=click.Path(dir_okay=False),
    help="Users who may log in: user:hash lines, from jackd web --hash-password.",
)
@click.option("--read-only", is_flag=True, help="Show everything, change nothing: no actions.")
@click.option(
    "--insecure",
    is_flag=True,
    help="Listen on a non-loopback address without an auth file (something else must guard it).",
)
@click.option(
    "--allow-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Without an auth file, also answer requests for this host name (the Host header); "
    "loopback addresses and localhost always are.",
)
@click.option(
    "--hash-password",
    is_flag=True,
    help="Ask for a user and a password and print the auth file line for them.",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
def web(
    servers: list[str],
    debug: bool,
    host: str,
    port: int,
    auth_file: str | None,
    read_only: bool,
    insecure: bool,
    allowed_hosts: tuple[str, ...],
    hash_password: bool,
    log_level: str,
) -> None:
    """Serve the web console for every server given, and their Prometheus metrics at /metrics.

    The overview shows each server and every tube, refreshed live, with an hour's chart;
    a tube's page has its next jobs and the actions; search finds jobs by body.
    """
    try:
        from ..web.security import AuthFileError, is_loopback, load_auth_file
    except ImportError:
        _usage_exit(WEB_HINT.removeprefix("jackd web: "))
    if hash_password:
        _hash_password()
        return
    users = None
    if auth_file is not None:
        try:
            users = load_auth_file(auth_file)
        except AuthFileError as exc:
            _usage_exit(str(exc))
    elif not insecure and not is_loopback(host):
        _usage_exit(
            f"refusing to listen on {host}, which is not a loopback address, without "
            "--auth-file FILE (or --insecure, if something else guards it)"
        )
    try:
        import uvicorn

        from ..web import create_app
    except ImportError:
        _usage_exit(WEB_HINT.removeprefix("jackd web: "))
    # --insecure means something else decides who gets in: the Host check would only be
    # in the way of the names that something else lets through.
    hosts = None if insecure else [host, *allowed_hosts]
    app = create_app(servers, users=users, read_only=read_only, allowed_hosts=hosts)
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"jackd web: the console of {', '.join(servers)} on http://{shown}:{port}/"
        + (" (read-only)" if read_only else ""),
        err=True,
    )
    # uvicorn stops gracefully on SIGTERM or SIGINT, then raises the signal again for the
    # handler it found; this one takes it, so that a stop by signal exits 0 as every jackd
    # command's does, instead of dying of the signal.
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            server_header=False,
            proxy_headers=False,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped(signum: int, frame: FrameType | None) -> None:
    pass
