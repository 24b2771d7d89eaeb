"""Many servers: ``jackd.Pool`` spreads jobs over several beanstalkd servers and fails over.

beanstalkd has no clustering of its own: a client scales it by spreading jobs over several
servers. The pool keeps one connection per server, puts each job on the next live server
(round-robin, random, or by key with rendezvous hashing), and when a server refuses
connections, drops one or drains, marks it down and moves on; it tries it again after a
backoff that grows while it stays down.

What is at most once and what is at least once: a put that was never sent (the connection
was refused, the server drains) goes to the next live server, so it is stored once. A put
whose fate is unknown (the connection dropped after it was sent) raises
``ConnectionLostError``: it was stored at most once. With ``at_least_once=True`` the pool
puts it again on another server instead, so it is stored at least once, and maybe twice.

The decisions (placement, health) are pure (``jackd._placement``); this module and its
asyncio twin ``jackd.aio.Pool`` only do the I/O.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from . import _commands as cmds
from ._address import URL_VARIABLE, parse_address
from ._commands import DEFAULT_DELAY, DEFAULT_PRIORITY, DEFAULT_TTR, DEFAULT_TUBE, Body, Seconds
from ._errors import ConnectionLostError, DrainingError, NotFoundError
from ._pipeline import outcomes, put_batch
from ._placement import Health, JobRef, Placer, Strategy, rank, split_servers
from ._reconnect import Reconnect
from ._stats import ServerStats, TubeStats
from .client import Client

C = TypeVar("C")
_new_tuple = tuple.__new__

#: A pool's connections reconnect once, at once, when they find the server gone; past that,
#: the pool's own health tracking decides when to try a server again.
ONE_TRY = Reconnect(attempts=1, first_delay=0.0, max_delay=0.0)
#: A pool gives up on a server that does not accept a connection in this long.
POOL_CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class ServerState:
    """One server of a pool: its address, whether it is up, and if not, until when and why."""

    address: str
    up: bool
    down_until: float | None = None
    """Seconds (time.monotonic) until the pool tries it again; None while it is up."""
    reason: str = ""


class Member(Generic[C]):
    """One server of a pool: its address, its connection (once made) and its health."""

    __slots__ = ("address", "client", "health")

    def __init__(self, address: str) -> None:
        self.address = address
        self.client: C | None = None
        self.health = Health()


def pool_servers(servers: str | Sequence[str] | None) -> list[str]:
    """The servers of a pool: as given, else ``BEANSTALKD_URL`` (commas), else localhost."""
    if servers is None:
        servers = os.environ.get(URL_VARIABLE, "").strip() or "localhost:11300"
    # Each is named as its endpoint prints, so JobRef.server is the same for any spelling.
    return [str(parse_address(name)) for name in split_servers(servers)]


def sum_tube_stats(found: Sequence[TubeStats]) -> TubeStats:
    """A tube's stats over several servers: counts added up, the longest pause kept."""
    total = found[0]
    for stats in found[1:]:
        changes: dict[str, Any] = {}
        for field in dataclasses.fields(TubeStats):
            if field.name in ("name", "extra"):
                continue
            mine, theirs = getattr(total, field.name), getattr(stats, field.name)
            if field.name in ("pause", "pause_time_left"):
                changes[field.name] = max(mine, theirs)
            else:
                changes[field.name] = mine + theirs
        total = dataclasses.replace(total, **changes)
    return total


class PoolBase(Generic[C]):
    """What both pools share: the members, placement, health and the errors; no I/O."""

    def __init__(
        self,
        servers: str | Sequence[str] | None = None,
        *,
        strategy: Strategy = "round-robin",
        at_least_once: bool = False,
        timeout: float | None = None,
        connect_timeout: float | None = POOL_CONNECT_TIMEOUT,
        ssl: Any = None,
    ) -> None:
        #: What each server's client is made with.
        self._options: dict[str, Any] = {
            "timeout": timeout,
            "connect_timeout": connect_timeout,
            "ssl": ssl,
        }
        names = pool_servers(servers)
        self._members: dict[str, Member[C]] = {name: Member(name) for name in names}
        self._ring = list(self._members.values())
        self._placer = Placer(names, strategy)
        self.at_least_once = at_least_once
        """Whether a put of unknown fate is put again elsewhere (it may then be stored twice)."""
        self._used = DEFAULT_TUBE
        self._lock = threading.Lock()

    @property
    def servers(self) -> list[ServerState]:
        """Every server, up or down (until when, and why)."""
        states = []
        for member in self._members.values():
            health = member.health
            if health.down:
                states.append(ServerState(member.address, False, health.down_until, health.reason))
            else:
                states.append(ServerState(member.address, True))
        return states

    def _order(self, key: str | bytes | None, first: int | None = None) -> list[Member[C]]:
        """The live servers in the order to try them; ``first`` starts the ring's turn there.

        Without the lock or a list of names: a race of two threads on the round-robin
        counter at worst sends two jobs to the same server.
        """
        now = time.monotonic()
        ring = self._ring
        if first is not None:
            ring = [*ring[first:], *ring[:first]]
        live = [m for m in ring if m.health.up(now)]
        if len(live) < 2 or first is not None:
            return live
        if key is not None:
            return [self._members[name] for name in rank(key, [m.address for m in live])]
        first = self._placer.first(len(live))
        return [*live[first:], *live[:first]]

    def _member(self, server: str) -> Member[C]:
        member = self._members.get(server) or self._members.get(str(parse_address(server)))
        if member is None:
            raise KeyError(f"{server!r} is not a server of this pool: {list(self._members)}")
        return member

    def _failed(self, member: Member[C], reason: str) -> None:
        with self._lock:
            member.health.failed(time.monotonic(), reason)

    def _take_answers(
        self,
        member: Member[C],
        indexes: Sequence[int],
        answers: list[Any],
        results: list[Any],
    ) -> tuple[list[int], ConnectionLostError | None]:
        """Place one server's answers to its share of a put_many.

        Returns the indexes to put elsewhere (never sent, or, with ``at_least_once``, of
        unknown fate) and the connection error, if the connection was lost.
        """
        again: list[int] = []
        lost: ConnectionLostError | None = None
        address = member.address
        new = _new_tuple
        if isinstance(indexes, range) and all(type(answer) is int for answer in answers):
            # The usual first round, every put acknowledged: one slice assignment.
            refs = [new(JobRef, (address, answer)) for answer in answers]
            results[indexes.start : indexes.stop : indexes.step] = refs
            return again, lost
        for i, answer in zip(indexes, answers, strict=True):
            if type(answer) is int:
                # JobRef(address, answer) without NamedTuple's __new__, three times as dear.
                results[i] = new(JobRef, (address, answer))
            elif isinstance(answer, DrainingError):
                again.append(i)
            elif isinstance(answer, ConnectionLostError):
                lost = answer
                if answer.maybe_applied and not self.at_least_once:
                    results[i] = answer
                else:
                    again.append(i)
            else:
                results[i] = answer
        return again, lost

    @staticmethod
    def _shares(todo: Sequence[int], members: int) -> dict[int, Sequence[int]]:
        """Deal the jobs of a put_many round-robin to ``members`` servers (none empty).

        A first round deals ``range(n)``, so each share is a range too: a slice of the bodies.
        """
        return {slot: todo[slot::members] for slot in range(min(members, len(todo)))}

    def _none_live(self, errors: dict[str, str]) -> ConnectionLostError:
        parts = []
        for member in self._members.values():
            why = errors.get(member.address) or member.health.reason or "down"
            parts.append(f"{member.address} ({why})")
        return ConnectionLostError("no beanstalkd server of the pool is live: " + "; ".join(parts))


#: A put_many of at least this many jobs talks to its servers at once, a thread each: while
#: one server answers, another is busy, instead of each waiting its turn.
CONCURRENT_FROM = 512

S = TypeVar("S")
R = TypeVar("R")


def _each_at_once(
    work: Callable[[Member[Client], S], R], shares: list[tuple[Member[Client], S]], threads: bool
) -> list[R]:
    """``work`` on every share, in helper threads when ``threads`` (one share on this one).

    Returns the results in the order of ``shares``; the first exception raised by any share
    is raised here, once every share is done.
    """
    if not threads or len(shares) < 2:
        return [work(member, share) for member, share in shares]
    results: list[Any] = [None] * len(shares)
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            results[n] = work(*shares[n])
        except BaseException as exc:  # raised on the caller's thread below
            failures.append(exc)

    helpers = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(1, len(shares))]
    for helper in helpers:
        helper.start()
    try:
        run(0)
    finally:
        for helper in helpers:
            helper.join()
    if failures:
        raise failures[0]
    return results


class Pool(PoolBase[Client]):
    """Several beanstalkd servers used as one, for producers; see the module documentation.

    ``servers`` is a list of addresses, or one string with commas (``"q1,q2,q3"``); None reads
    ``BEANSTALKD_URL`` (commas allowed), else localhost:11300. ``strategy`` is
    ``"round-robin"`` (the default) or ``"random"``. ``timeout``, ``connect_timeout`` and
    ``ssl`` go to each server's ``jackd.Client``. Safe to share between threads.
    """

    def __enter__(self) -> Pool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<jackd.Pool {list(self._members)}>"

    def close(self) -> None:
        """Close every connection."""
        for member in self._members.values():
            client, member.client = member.client, None
            if client is not None:
                client.close()

    def client(self, server: str) -> Client:
        """The ``jackd.Client`` for one server of the pool (connecting it if need be)."""
        return self._connect(self._member(server))

    def _connect(self, member: Member[Client]) -> Client:
        client = member.client
        if client is None:
            client = Client(member.address, reconnect=ONE_TRY, **self._options)
            if self._used != DEFAULT_TUBE:
                client.use(self._used)
            member.client = client
        return client

    def _lost(self, member: Member[Client], error: Exception) -> None:
        self._failed(member, str(error))
        client, member.client = member.client, None
        if client is not None:
            client.close()

    # -- producing ---------------------------------------------------------------------------

    def put(
        self,
        body: Body,
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
        ttr: Seconds = DEFAULT_TTR,
        *,
        key: str | bytes | None = None,
    ) -> JobRef:
        """Put a job on the next live server (with ``key``: the key's server) and name it.

        A put that was never sent goes to the next live server. One whose fate is unknown
        raises ``ConnectionLostError``, unless ``at_least_once`` (then it goes elsewhere too).
        """
        data = body if type(body) is bytes else cmds.body_bytes(body)
        errors: dict[str, str] = {}
        tried = None
        first: int | None = None
        if key is None:
            # The usual case, the next server is up, without listing the others.
            ring = self._ring
            first = self._placer.first(len(ring))
            member = ring[first]
            client = member.client
            if client is not None and not member.health.failures:
                # Connected and healthy: nothing to connect or mark, the put alone.
                try:
                    return JobRef(member.address, client.put(data, priority, delay, ttr))
                except (DrainingError, ConnectionLostError) as exc:
                    self._put_failed(member, exc, errors)
                tried = member
            elif member.health.up(time.monotonic()):
                ref = self._put_on(member, data, priority, delay, ttr, errors)
                if ref is not None:
                    return ref
                tried = member
        # After the usual case, the same turn: the rest of the ring from that server on.
        for member in self._order(key, first):
            if member is not tried:
                ref = self._put_on(member, data, priority, delay, ttr, errors)
                if ref is not None:
                    return ref
        raise self._none_live(errors)

    def _put_on(
        self,
        member: Member[Client],
        data: bytes | bytearray | memoryview,
        priority: int,
        delay: Seconds,
        ttr: Seconds,
        errors: dict[str, str],
    ) -> JobRef | None:
        """Put on one server: its JobRef, or None to try the next (raises if of unknown fate)."""
        try:
            jid = self._connect(member).put(data, priority, delay, ttr)
        except (DrainingError, ConnectionLostError) as exc:
            self._put_failed(member, exc, errors)
            return None
        if member.health.failures:
            with self._lock:
                member.health.answered()
        return JobRef(member.address, jid)

    def _put_failed(
        self,
        member: Member[Client],
        exc: DrainingError | ConnectionLostError,
        errors: dict[str, str],
    ) -> None:
        """Mark the server of a failed put; re-raise when the put's fate is unknown."""
        errors[member.address] = str(exc)
        if isinstance(exc, DrainingError):
            self._failed(member, "draining")
            return
        self._lost(member, exc)
        if exc.maybe_applied and not self.at_least_once:
            raise exc

    def put_many(
        self,
        bodies: Iterable[Body],
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
        ttr: Seconds = DEFAULT_TTR,
        *,
        raise_on_error: bool = True,
    ) -> list[Any]:
        """Put many jobs, spread round-robin over the live servers, pipelined per server.

        Returns their JobRefs in the order of ``bodies``. Jobs for a server that turns out to
        be down go to the others; with ``raise_on_error=False`` a job whose put failed (fate
        unknown, and not ``at_least_once``) has its error in its place instead.
        """
        data = [cmds.body_bytes(body) for body in bodies]
        results: list[Any] = [None] * len(data)
        todo: Sequence[int] = range(len(data))
        errors: dict[str, str] = {}
        while todo:
            members = self._order(None)
            if not members:
                error = self._none_live(errors)
                for i in todo:
                    results[i] = error
                break
            shares = [
                (members[slot], indexes)
                for slot, indexes in self._shares(todo, len(members)).items()
            ]
            retry: list[int] = []
            for again in _each_at_once(
                lambda member, indexes: self._put_share(
                    member, indexes, data, results, errors, priority, delay, ttr
                ),
                shares,
                len(data) >= CONCURRENT_FROM,
            ):
                retry.extend(again)
            todo = retry
        if raise_on_error:
            for outcome in results:
                if isinstance(outcome, Exception):
                    raise outcome
        return results

    def _put_share(
        self,
        member: Member[Client],
        indexes: Sequence[int],
        data: list[Any],
        results: list[Any],
        errors: dict[str, str],
        priority: int,
        delay: Seconds,
        ttr: Seconds,
    ) -> list[int]:
        """Put one server's share; return the indexes to put elsewhere."""
        try:
            client = self._connect(member)
            if isinstance(indexes, range):
                bodies = data[indexes.start : indexes.stop : indexes.step]
            else:
                bodies = [data[i] for i in indexes]
            batch = put_batch(bodies, priority, delay, ttr, lazy=True)
            answers = outcomes(client._run_batch(batch), False)
        except ConnectionLostError as exc:  # could not even connect: nothing was sent
            self._lost(member, exc)
            errors[member.address] = str(exc)
            return list(indexes)
        again, lost = self._take_answers(member, indexes, answers, results)
        if lost is not None:
            self._lost(member, lost)
            errors[member.address] = str(lost)
        elif again:
            self._failed(member, "draining")
        else:
            with self._lock:
                member.health.answered()
        return again

    def use(self, tube: str) -> str:
        """Put later jobs into ``tube``, on every server."""
        cmds.tube_name(tube)
        self._used = tube
        for member in self._members.values():
            if member.client is not None:
                try:
                    member.client.use(tube)
                except ConnectionLostError as exc:
                    self._lost(member, exc)
        return tube

    # -- inspecting --------------------------------------------------------------------------

    def _each_live(self) -> list[tuple[Member[Client], Client]]:
        found = []
        for member in self._order(None):
            try:
                found.append((member, self._connect(member)))
            except ConnectionLostError as exc:
                self._lost(member, exc)
        return found

    def stats(self) -> dict[str, ServerStats]:
        """Each live server's statistics, by address."""
        out: dict[str, ServerStats] = {}
        for member, client in self._each_live():
            try:
                out[member.address] = client.stats()
            except ConnectionLostError as exc:
                self._lost(member, exc)
        return out

    def stats_tube(self, tube: str) -> TubeStats:
        """A tube's statistics summed over the live servers; NotFoundError if none has it."""
        found: list[TubeStats] = []
        for member, client in self._each_live():
            try:
                found.append(client.stats_tube(tube))
            except NotFoundError:
                continue
            except ConnectionLostError as exc:
                self._lost(member, exc)
        if not found:
            raise NotFoundError(f"stats-tube {tube}: NOT_FOUND on every live server")
        return sum_tube_stats(found)
