"""``jackd top``: a live, full-screen view of every server and tube, refreshed every second.

The numbers and rates come from ``jackd.observe``; this module reads keys, keeps the view's
state (sort column, filter) and draws it with rich. Keys are read from the terminal in
cbreak mode (no line editing, no echo, but Ctrl-C still interrupts), with ``select`` so
that waiting for a key and waiting for the next refresh are one wait; the terminal's mode
is restored however the command ends.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..observe import Observer, View, filter_tubes, sort_tubes, view
from . import EXIT_ERROR
from ._common import Run, server_options

#: The key that sorts by each column, the column's title, and the observe.SORT_KEYS name.
SORT_BINDINGS: tuple[tuple[str, str, str], ...] = (
    ("n", "tube", "name"),
    ("r", "ready", "ready"),
    ("e", "reserved", "reserved"),
    ("d", "delayed", "delayed"),
    ("b", "buried", "buried"),
    ("w", "waiting", "waiting"),
    ("t", "watching", "watching"),
    ("p", "put/s", "put"),
    ("x", "delete/s", "delete"),
    ("z", "paused", "paused"),
)
_BY_KEY = {key: column for key, _, column in SORT_BINDINGS}

ENTER = "enter"
ESCAPE = "escape"
BACKSPACE = "backspace"


def parse_keys(data: bytes) -> list[str]:
    """The keys in bytes read from a terminal: characters, ``enter``, ``escape``, ``backspace``.

    A lone ESC byte is the Escape key; an ESC followed by ``[`` or ``O`` starts a sequence
    (an arrow key, say), which is skipped whole. Bytes that are not UTF-8 are dropped.
    """
    keys: list[str] = []
    text = data.decode("utf-8", "ignore")
    i = 0
    while i < len(text):
        char = text[i]
        i += 1
        if char == "\x1b":
            if i < len(text) and text[i] in "[O":
                i += 1
                # Parameters and intermediates, then one final byte in @..~.
                while i < len(text) and not ("@" <= text[i] <= "~"):
                    i += 1
                i += 1
                continue
            keys.append(ESCAPE)
        elif char in "\r\n":
            keys.append(ENTER)
        elif char in "\x7f\x08":
            keys.append(BACKSPACE)
        elif char.isprintable():
            keys.append(char)
    return keys


@dataclass
class TopState:
    """What the viewer chose: the sort column and direction, and the tube filter.

    While a filter is being typed (after ``/``), ``editing`` holds it; Enter applies it,
    Escape clears it.
    """

    sort: str = "name"
    descending: bool = False
    filter: str = ""
    editing: str | None = None

    def handle(self, key: str) -> bool:
        """Apply one key; True when it asks to quit."""
        if self.editing is not None:
            if key == ENTER:
                self.filter, self.editing = self.editing, None
            elif key == ESCAPE:
                self.filter, self.editing = "", None
            elif key == BACKSPACE:
                self.editing = self.editing[:-1]
            elif len(key) == 1:
                self.editing += key
            return False
        if key == "q":
            return True
        if key == "/":
            self.editing = ""
        elif key == ESCAPE:
            self.filter = ""
        elif key in _BY_KEY:
            column = _BY_KEY[key]
            if column == self.sort:
                self.descending = not self.descending
            else:
                # Names read best A to Z; numbers biggest first, where the trouble is.
                self.sort, self.descending = column, column != "name"
        return False


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _uptime(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def footer(state: TopState) -> Text:
    """The keys line, and the filter being typed or in force."""
    keys = "  ".join(f"{key} {title}" for key, title, _ in SORT_BINDINGS)
    text = Text(f"sort: {keys}   / filter  Esc clear  q quit", style="dim")
    if state.editing is not None:
        text.append(f"\nfilter: /{state.editing}_  (Enter applies, Esc clears)", style="bold")
    elif state.filter:
        text.append(f"\nfilter: {state.filter}  (Esc clears)", style="bold")
    return text


def render(current: View, state: TopState, interval: float) -> RenderableType:
    """The whole screen: one line per server, one row per tube, the footer."""
    servers = Table(box=None, pad_edge=False, expand=False)
    titles = ("server", "status", "version", "uptime", "conns", "tubes", "put/s", "delete/s")
    for title in titles:
        servers.add_column(title, justify="left" if title in ("server", "status") else "right")
    down = [row for row in current.servers if not row.up]
    if down:
        servers.add_column("error")
    for row in current.servers:
        if not row.up:
            blank = [""] * (len(titles) - 2)
            servers.add_row(row.server, Text("DOWN", style="bold red"), *blank, row.error or "")
            continue
        servers.add_row(
            row.server,
            "up",
            row.version,
            _uptime(row.uptime),
            str(row.connections),
            str(row.tubes),
            _rate(row.rates.put),
            _rate(row.rates.delete),
        )
    tubes = Table(box=None, pad_edge=False, expand=False)
    for _, heading, column in SORT_BINDINGS:
        mark = (" ▼" if state.descending else " ▲") if column == state.sort else ""
        tubes.add_column(heading + mark, justify="left" if column == "name" else "right")
    rows = sort_tubes(filter_tubes(current.tubes, state.filter), state.sort, state.descending)
    for tube in rows:
        tubes.add_row(
            tube.name,
            str(tube.ready),
            str(tube.reserved),
            str(tube.delayed),
            str(tube.buried),
            str(tube.waiting),
            str(tube.watching),
            _rate(tube.rates.put),
            _rate(tube.rates.delete),
            f"{tube.paused}s" if tube.paused else "-",
        )
    up = sum(1 for row in current.servers if row.up)
    banner = Text(
        f"jackd top: {up}/{len(current.servers)} servers up, {len(rows)} of "
        f"{len(current.tubes)} tubes, every {interval:g}s",
        style="bold",
    )
    return Group(banner, servers, Text(""), tubes, Text(""), footer(state))


def read_keys(fd: int, timeout: float) -> list[str] | None:
    """Wait up to ``timeout`` seconds for keys on ``fd``; None once it is at its end."""
    readable, _, _ = select.select([fd], [], [], max(timeout, 0.0))
    if not readable:
        return []
    data = os.read(fd, 1024)
    if not data:
        return None
    return parse_keys(data)


def run_top(
    observer: Observer,
    show: Callable[[RenderableType], None],
    *,
    interval: float,
    key_fd: int | None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Draw, refresh every ``interval`` seconds and answer keys until ``q``.

    ``show`` puts a screen up (rich's ``Live.update``); keys come from ``key_fd`` (the
    terminal; None or its end means none come, and it runs until interrupted). Rates compare
    each snapshot with the one before, so the first screen has none.
    """
    state = TopState()
    snap = observer.snapshot()
    current = view(None, snap)
    show(render(current, state, interval))
    next_tick = clock() + interval
    while True:
        wait = next_tick - clock()
        keys: list[str] = []
        if key_fd is None:
            time.sleep(max(wait, 0.0))
        else:
            got = read_keys(key_fd, wait)
            if got is None:
                key_fd = None  # at its end: no more keys will come
            else:
                keys = got
        for key in keys:
            if state.handle(key):
                return
        if clock() >= next_tick:
            before, snap = snap, observer.snapshot()
            current = view(before, snap)
            # After a slow snapshot, start afresh rather than refresh in a burst.
            next_tick = max(next_tick + interval, clock())
        show(render(current, state, interval))


@click.command(short_help="A live view of every server and tube.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@server_options
def top(interval: float, servers: list[str], debug: bool) -> None:
    """Show every server and tube live, full screen, refreshed every --interval seconds.

    One line per server (version, uptime, connections, jobs put and deleted per second) and
    one row per tube, summed over the servers that have it (jobs by state, waiting and
    watching clients, put/s, delete/s, pause left). Keys: the letter shown for a column
    sorts by it (again: the other way), / types a filter (a regular expression searched in
    tube names; Enter applies it, Esc clears it), q quits. A server that goes away is shown
    as down until it comes back.
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        click.echo("jackd: jackd top needs a terminal (stdin and stdout)", err=True)
        raise SystemExit(EXIT_ERROR)
    run = Run(servers, debug)
    names = {run.name(url): url for url in servers}
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        with (
            Observer(names, timeout=min(max(interval, 0.5), 2.0)) as observer,
            Live(console=Console(), screen=True, auto_refresh=False) as live,
        ):

            def show(screen: RenderableType) -> None:
                live.update(screen, refresh=True)

            run_top(observer, show, interval=interval, key_fd=fd)
    except KeyboardInterrupt:
        pass  # Ctrl-C is a way to quit too
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
