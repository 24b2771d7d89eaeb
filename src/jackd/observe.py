"""Snapshots of beanstalkd servers and their tubes, and rates computed from counter deltas.

This is the one source of numbers for ``jackd top`` (and, later, the web console and
``/metrics``). It keeps the data pure: a ``Snapshot`` is what every server said at one
moment; ``view(before, after)`` turns two snapshots into rows with per-second rates. Only
``read_server`` and ``Observer`` talk to servers, through ``jackd.Client``.

Strategy for rates: beanstalkd publishes cumulative counters (``cmd-put``, ``cmd-delete``, a
tube's ``total-jobs`` and ``cmd-delete``), so a rate is the counter's growth divided by the
time between two snapshots. A counter that shrank, or a server whose ``id`` changed, means
the server restarted and its counters started again from zero: the rate is then unknown
(None) for that interval rather than negative or huge. A tube absent from the earlier
snapshot of the same server process was created since, with its counters at zero then, so
its growth counts from zero.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ._errors import JackdError, NotFoundError
from ._stats import ServerStats, TubeStats
from .client import Client

__all__ = [
    "SORT_KEYS",
    "Observer",
    "Rates",
    "ServerRow",
    "ServerSnapshot",
    "Snapshot",
    "TubeRow",
    "View",
    "counter_rate",
    "filter_tubes",
    "read_server",
    "server_rates",
    "sort_tubes",
    "tube_rates",
    "view",
]


@dataclass(frozen=True)
class ServerSnapshot:
    """What one server said at one moment: its stats and every tube's, or why it could not.

    ``server`` names it (the address as the user gave it, or the endpoint); ``at`` is a
    monotonic clock reading. A server that could not be read has ``stats`` None and an
    ``error``.
    """

    server: str
    at: float
    stats: ServerStats | None = None
    tubes: Mapping[str, TubeStats] = field(default_factory=dict)
    error: str | None = None

    @property
    def up(self) -> bool:
        """True when the server answered."""
        return self.stats is not None


@dataclass(frozen=True)
class Snapshot:
    """Every server's snapshot, taken one after the other, at about ``at``."""

    at: float
    servers: tuple[ServerSnapshot, ...]

    def server(self, name: str) -> ServerSnapshot | None:
        """The snapshot of the server called ``name``, or None."""
        for snap in self.servers:
            if snap.server == name:
                return snap
        return None


@dataclass(frozen=True)
class Rates:
    """Jobs per second put and deleted over an interval; None where it cannot be known."""

    put: float | None = None
    delete: float | None = None


def counter_rate(before: int | None, after: int, seconds: float) -> float | None:
    """The per-second growth of a cumulative counter, or None when it is unknown.

    Unknown: no earlier reading, no time elapsed, or a counter that went down (the server
    restarted and counts from zero again).
    """
    if before is None or seconds <= 0 or after < before:
        return None
    return (after - before) / seconds


def _interval(
    before: ServerSnapshot | None, after: ServerSnapshot
) -> tuple[ServerSnapshot, float] | None:
    """The earlier snapshot and the seconds since, when both come from one server process."""
    if before is None or before.stats is None or after.stats is None:
        return None
    if before.stats.id != after.stats.id:
        return None  # restarted in between: its counters began again from zero
    return before, after.at - before.at


def server_rates(before: ServerSnapshot | None, after: ServerSnapshot) -> Rates:
    """The server's put and delete rates between two of its snapshots."""
    interval = _interval(before, after)
    if interval is None or after.stats is None:
        return Rates()
    earlier, seconds = interval
    then = earlier.stats
    if then is None:
        return Rates()
    now = after.stats
    return Rates(
        put=counter_rate(then.cmd_put, now.cmd_put, seconds),
        delete=counter_rate(then.cmd_delete, now.cmd_delete, seconds),
    )


def tube_rates(before: ServerSnapshot | None, after: ServerSnapshot, tube: str) -> Rates:
    """A tube's put and delete rates on one server between two snapshots of that server.

    Puts are counted by the tube's ``total-jobs``, deletes by its ``cmd-delete``.
    """
    now = after.tubes.get(tube)
    interval = _interval(before, after)
    if now is None or interval is None:
        return Rates()
    earlier, seconds = interval
    then = earlier.tubes.get(tube)
    # Created since the last snapshot: its counters were zero when it appeared.
    put_before = then.total_jobs if then is not None else 0
    delete_before = then.cmd_delete if then is not None else 0
    return Rates(
        put=counter_rate(put_before, now.total_jobs, seconds),
        delete=counter_rate(delete_before, now.cmd_delete, seconds),
    )


def _sum(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


@dataclass(frozen=True)
class ServerRow:
    """One server's line in a view: identity, load and rates, or why it is down."""

    server: str
    up: bool
    error: str | None = None
    version: str = ""
    uptime: int = 0
    connections: int = 0
    ready: int = 0
    reserved: int = 0
    delayed: int = 0
    buried: int = 0
    tubes: int = 0
    rates: Rates = Rates()


@dataclass(frozen=True)
class TubeRow:
    """One tube across every server that has it: counts summed, rates summed, pause at most."""

    name: str
    servers: int = 0
    ready: int = 0
    reserved: int = 0
    delayed: int = 0
    buried: int = 0
    urgent: int = 0
    waiting: int = 0
    watching: int = 0
    using: int = 0
    total: int = 0
    paused: int = 0
    """The longest pause left on any server, in seconds; 0 when the tube is paused nowhere."""
    rates: Rates = Rates()


@dataclass(frozen=True)
class View:
    """A snapshot turned into rows, with rates against the snapshot before it."""

    at: float
    servers: tuple[ServerRow, ...]
    tubes: tuple[TubeRow, ...]


def view(before: Snapshot | None, after: Snapshot) -> View:
    """Rows for every server and every tube of ``after``, with rates since ``before``.

    Tubes of the same name on several servers make one row; a server that is down has a
    row saying so and adds nothing to the tubes.
    """
    server_rows: list[ServerRow] = []
    per_tube: dict[str, list[tuple[TubeStats, Rates]]] = {}
    for snap in after.servers:
        earlier = before.server(snap.server) if before is not None else None
        stats = snap.stats
        if stats is None:
            server_rows.append(ServerRow(snap.server, up=False, error=snap.error))
            continue
        server_rows.append(
            ServerRow(
                snap.server,
                up=True,
                version=stats.version,
                uptime=stats.uptime,
                connections=stats.current_connections,
                ready=stats.current_jobs_ready,
                reserved=stats.current_jobs_reserved,
                delayed=stats.current_jobs_delayed,
                buried=stats.current_jobs_buried,
                tubes=len(snap.tubes),
                rates=server_rates(earlier, snap),
            )
        )
        for name, tube in snap.tubes.items():
            per_tube.setdefault(name, []).append((tube, tube_rates(earlier, snap, name)))
    tube_rows = tuple(
        TubeRow(
            name,
            servers=len(entries),
            ready=sum(t.current_jobs_ready for t, _ in entries),
            reserved=sum(t.current_jobs_reserved for t, _ in entries),
            delayed=sum(t.current_jobs_delayed for t, _ in entries),
            buried=sum(t.current_jobs_buried for t, _ in entries),
            urgent=sum(t.current_jobs_urgent for t, _ in entries),
            waiting=sum(t.current_waiting for t, _ in entries),
            watching=sum(t.current_watching for t, _ in entries),
            using=sum(t.current_using for t, _ in entries),
            total=sum(t.total_jobs for t, _ in entries),
            paused=max(max(t.pause_time_left, 0) if t.pause else 0 for t, _ in entries),
            rates=Rates(
                put=_sum(r.put for _, r in entries), delete=_sum(r.delete for _, r in entries)
            ),
        )
        for name, entries in sorted(per_tube.items())
    )
    return View(after.at, tuple(server_rows), tube_rows)


SORT_KEYS: Mapping[str, Callable[[TubeRow], float | str]] = {
    "name": lambda row: row.name,
    "ready": lambda row: row.ready,
    "reserved": lambda row: row.reserved,
    "delayed": lambda row: row.delayed,
    "buried": lambda row: row.buried,
    "waiting": lambda row: row.waiting,
    "watching": lambda row: row.watching,
    "put": lambda row: row.rates.put or 0.0,
    "delete": lambda row: row.rates.delete or 0.0,
    "paused": lambda row: row.paused,
}
"""The columns ``sort_tubes`` sorts by, and what each one reads from a row."""


def sort_tubes(rows: Iterable[TubeRow], key: str, descending: bool) -> list[TubeRow]:
    """Rows sorted by the column ``key`` names (one of ``SORT_KEYS``), ties by name."""
    column = SORT_KEYS[key]
    by_name = sorted(rows, key=lambda row: row.name)
    # A stable sort on the column keeps the name order among equal values either way.
    return sorted(by_name, key=column, reverse=descending)


def filter_tubes(rows: Iterable[TubeRow], pattern: str) -> list[TubeRow]:
    """The rows whose name contains a match of ``pattern`` (a regular expression).

    A pattern that is not a valid expression is looked for as plain text, so a half-typed
    ``(`` filters instead of failing.
    """
    if not pattern:
        return list(rows)
    try:
        compiled = re.compile(pattern)
    except re.error:
        compiled = re.compile(re.escape(pattern))
    return [row for row in rows if compiled.search(row.name)]


def read_server(client: Client) -> tuple[ServerStats, dict[str, TubeStats]]:
    """Read a server's stats and every tube's, in two round trips.

    A tube that disappears between ``list-tubes`` and its ``stats-tube`` is left out.
    """
    names = client.list_tubes()
    pipe = client.pipeline().stats()
    for name in names:
        pipe.stats_tube(name)
    results = pipe.execute(raise_on_error=False)
    stats = results[0]
    if isinstance(stats, BaseException):
        raise stats
    tubes: dict[str, TubeStats] = {}
    for result in results[1:]:
        if isinstance(result, NotFoundError):
            continue
        if isinstance(result, BaseException):
            raise result
        tubes[result.name] = result
    return stats, tubes


def _connect(address: str, timeout: float) -> Client:
    return Client(address, timeout=timeout, connect_timeout=timeout)


class Observer:
    """Keeps a connection to each server and takes snapshots of all of them.

    A server that cannot be reached, or stops answering, is shown as down in that snapshot;
    the next snapshot tries to connect again, so a server that comes back reappears.
    ``servers`` maps each server's display name to its address; ``timeout`` bounds the
    connection and each reply, so one stuck server cannot hold the others' snapshots up for
    long. ``connect`` and ``clock`` are there for tests.
    """

    def __init__(
        self,
        servers: Mapping[str, str] | Sequence[str],
        *,
        timeout: float = 2.0,
        connect: Callable[[str, float], Client] = _connect,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.servers: dict[str, str] = (
            dict(servers) if isinstance(servers, Mapping) else {s: s for s in servers}
        )
        """Display name to address, for every server observed."""
        self.timeout = timeout
        """Seconds allowed for connecting to a server and for each of its replies."""
        self._connect = connect
        self._clock = clock
        self._clients: dict[str, Client] = {}

    def snapshot(self) -> Snapshot:
        """Read every server once and return what each said (or why it could not)."""
        taken = []
        for name, address in self.servers.items():
            taken.append(self._read(name, address))
        return Snapshot(self._clock(), tuple(taken))

    def _read(self, name: str, address: str) -> ServerSnapshot:
        try:
            client = self._clients.get(name)
            if client is None:
                client = self._clients[name] = self._connect(address, self.timeout)
            stats, tubes = read_server(client)
        except (JackdError, OSError, ValueError) as exc:
            # The connection's state is unknown after a failure: start afresh next time.
            dropped = self._clients.pop(name, None)
            if dropped is not None:
                dropped.close()
            return ServerSnapshot(name, self._clock(), error=str(exc) or type(exc).__name__)
        return ServerSnapshot(name, self._clock(), stats=stats, tubes=tubes)

    def close(self) -> None:
        """Close every connection."""
        clients, self._clients = self._clients, {}
        for client in clients.values():
            client.close()

    def __enter__(self) -> Observer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
