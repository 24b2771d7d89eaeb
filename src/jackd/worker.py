"""The worker runtime on threads: ``jackd.Worker`` runs handlers for the jobs of their tubes.

Each of the ``concurrency`` slots is a thread with a connection of its own per tube, so a
reserve never holds up a connection another handler needs, and a job's delete, release, bury
and touches go out on the connection that reserved it (beanstalkd requires that). A slot
serving one tube waits in ``reserve-with-timeout 1``; one serving several takes ready jobs
from each in turn (up to ``STREAK`` in a row) and, when none has one, waits on each for up to
a second. The
tube a job came from is the connection it came on: no extra round trip finds it.

What happens to a job (see ``jackd._work``, where each decision is written once for both
workers): a handler that returns has its job deleted; ``Retry`` releases it with a delay;
``Bury`` buries it; any other exception releases it with the backoff's delay, or buries it
once the server has handed it out ``max_attempts`` times. A job running close to its TTR is
touched. On ``stop()``, SIGTERM or SIGINT the worker stops reserving, lets running handlers
finish for up to ``grace`` seconds, releases what is still unfinished, and returns; a second
signal releases at once.

Delivery is at least once: a job whose outcome cannot be applied (its reservation was lost
with a connection, or its TTR ran out) is counted as ``lost`` and runs again.
"""

from __future__ import annotations

import inspect
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar, cast

from . import _commands as cmds
from ._address import Address, parse_address
from ._commands import DEFAULT_TUBE, Job, tube_name
from ._errors import (
    ConnectionLostError,
    CorruptJobError,
    DeadlineSoonError,
    JackdError,
    NotFoundError,
    ProtocolError,
    TimedOutError,
)
from ._pipeline import Batch, outcomes
from ._placement import Health, split_servers
from ._reconnect import Reconnect
from ._work import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_ATTEMPTS,
    SUCCESS,
    TOUCH_CHECK_AFTER,
    Action,
    Backoff,
    Counters,
    JobContext,
    JobEvent,
    WorkerStats,
    check_concurrency,
    check_grace,
    decide,
    enter_job,
    leave_job,
    next_touch,
    touch_margin,
)
from .client import DEFAULT_CONNECT_TIMEOUT, Client

log = logging.getLogger("jackd.worker")

F = TypeVar("F", bound=Callable[..., Any])

#: Reconnecting once running: for ever, backing off to 5 s between attempts.
RUNNING_RECONNECT = Reconnect(attempts=None, first_delay=0.05, max_delay=5.0)
#: Connecting at start: give up within about 30 seconds.
STARTING_RECONNECT = Reconnect(attempts=8, first_delay=0.25, max_delay=8.0, jitter=0.2)
#: How long a slot waits for a job on one tube before it looks again (beanstalkd's unit).
POLL = 1
#: Jobs a slot takes in a row from one connection while it has them, before the next.
STREAK = 16
#: How often the toucher and the stopping run() look at the running jobs.
_TICK = 0.05

Hook = Callable[[JobEvent], None]

#: With several servers, a connection tries once; the server's health decides the rest.
ONE_TRY = Reconnect(attempts=1, first_delay=0.0, max_delay=0.0)


def worker_servers(address: Address | Sequence[str] | None) -> list[Address]:
    """The servers a worker consumes from: one address, a list, or a string with commas."""
    if isinstance(address, (list, tuple)) and not (
        len(address) == 2 and isinstance(address[1], int)
    ):
        servers: list[Address] = list(split_servers([str(a) for a in address]))
    elif isinstance(address, str) and "," in address:
        servers = list(split_servers(address))
    else:
        servers = [address] if address is not None else [None]  # type: ignore[list-item]
    for server in servers:
        parse_address(server)  # a bad address fails here, not in run()
    return servers


@dataclass(frozen=True)
class Handler:
    """A function serving one tube, with its retry settings."""

    tube: str
    func: Callable[[Job], object]
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: Backoff = DEFAULT_BACKOFF


class _Conn:
    """One of a slot's connections: to which server, for which tube, and the client."""

    __slots__ = ("client", "server", "tube")

    def __init__(self, server: Address, tube: str) -> None:
        self.server = server
        self.tube = tube
        self.client: Client | None = None


class _Running:
    """A job a slot is handling now: what the toucher and a stop need to know of it."""

    __slots__ = ("client", "job", "released", "slot", "started", "touch_at", "ttr", "tube")

    def __init__(self, client: Client, job: Job, tube: str, slot: _Slot) -> None:
        self.client = client
        self.job = job
        self.tube = tube
        self.slot = slot
        self.started = time.monotonic()
        self.ttr = 0  # read with stats-job once the job has run TOUCH_CHECK_AFTER seconds
        self.touch_at = self.started + TOUCH_CHECK_AFTER
        #: Released by a stop that could not wait: the handler's outcome is then ignored.
        self.released = False


class _Slot:
    """One slot thread's job in hand and its counters, under a lock of its own.

    The slot takes its lock a few times per job; the toucher, a stop and ``stats()`` only
    to look. With one lock for every slot, eight slots waited on each other for each job,
    and a wait on a lock is a sleep and a wake-up: the worker ran 10-15% slower.
    """

    __slots__ = ("counters", "lock", "running")

    def __init__(self, tubes: Iterable[str]) -> None:
        self.lock = threading.Lock()
        self.counters = {tube: Counters() for tube in tubes}
        self.running: _Running | None = None


class _Done:
    """A job its handler finished: what deleting it and reporting it need."""

    __slots__ = ("entry", "handler", "seconds")

    def __init__(self, entry: _Running, handler: Handler, seconds: float) -> None:
        self.entry = entry
        self.handler = handler
        self.seconds = seconds


class WorkerBase:
    """What both workers share: handlers, hooks, counters and logging; no I/O."""

    #: Whether handlers are coroutine functions (the asyncio worker) or plain ones.
    async_handlers = False

    def __init__(
        self,
        address: Address | Sequence[str] | None = None,
        *,
        concurrency: int = 8,
        grace: float = 30.0,
        timeout: float | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        reconnect: Reconnect = RUNNING_RECONNECT,
    ) -> None:
        self.address = address
        self.concurrency = check_concurrency(concurrency)
        """How many handlers run at once, at most."""
        self.grace = check_grace(grace)
        """Seconds running handlers get to finish once the worker is stopped."""
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.reconnect = reconnect
        """How the worker's connections reconnect once running (by default, for ever)."""
        self._handlers: dict[str, Handler] = {}
        self._hooks: list[Hook] = []
        # Reentrant: stop() may run in a signal handler on a thread that holds it.
        self._lock = threading.RLock()
        self._counters: dict[str, Counters] = {}
        # The thread worker's slots, each counting for itself; stats() adds them up.
        self._slots: list[_Slot] = []
        self._clients: list[Client] = []
        self._reserving: set[Client] = set()
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._forced = False
        self._signals = 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.address!r} tubes={list(self._handlers)}>"

    @property
    def address(self) -> Address | Sequence[str] | None:
        """Where the worker's connections go: one server, or a list (or ``"q1,q2"``).

        May be changed before ``run`` (``jackd worker --server`` does).
        """
        return self._address

    @address.setter
    def address(self, address: Address | Sequence[str] | None) -> None:
        self._servers: list[Address] = worker_servers(address)
        self._address = address
        self._several = len(self._servers) > 1
        self._health: dict[Address, Health] = {server: Health() for server in self._servers}

    # -- configuring -------------------------------------------------------------------------

    def handler(
        self, tube: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, backoff: Backoff | None = None
    ) -> Callable[[F], F]:
        """Decorate the function that handles the jobs of ``tube``.

        It gets the ``jackd.Job`` and returns normally when done (the job is deleted), or
        raises ``jackd.Retry``, ``jackd.Bury`` or any other exception (see the module doc).
        ``max_attempts`` (default 3) counts the server's reserves of the job.
        """
        tube_name(tube)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
            raise TypeError("max_attempts must be an int")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if tube in self._handlers:
            raise ValueError(f"tube {tube!r} has a handler already")

        def register(func: F) -> F:
            self._check_handler(func)
            self._handlers[tube] = Handler(tube, func, max_attempts, backoff or DEFAULT_BACKOFF)
            self._counters[tube] = Counters()
            return func

        return register

    def _check_handler(self, func: Callable[..., Any]) -> None:
        if not callable(func):
            raise TypeError(f"a handler must be callable, not {type(func).__name__}")
        if inspect.iscoroutinefunction(func) and not self.async_handlers:
            raise TypeError(
                f"{func.__qualname__} is a coroutine function: jackd.Worker runs plain "
                "functions on threads; use jackd.aio.Worker for async handlers"
            )
        if self.async_handlers and not inspect.iscoroutinefunction(func):
            raise TypeError(
                f"{func.__qualname__} is not a coroutine function: jackd.aio.Worker awaits "
                "its handlers; use jackd.Worker for plain functions"
            )

    def hook(self, func: Hook) -> Hook:
        """Register ``func`` to be called after every job with a ``jackd.JobEvent``.

        For metrics and tracing. It runs on the worker's threads; what it raises is logged.
        """
        self._hooks.append(func)
        return func

    @property
    def tubes(self) -> list[str]:
        """The tubes this worker serves, in the order their handlers were registered."""
        return list(self._handlers)

    def stats(self, tube: str | None = None) -> WorkerStats:
        """What the worker did so far: overall, or for one tube."""
        if tube is not None and tube not in self._counters:
            raise KeyError(f"no handler for tube {tube!r}")
        total = WorkerStats()
        with self._lock:
            for name, counters in self._counters.items():
                if tube is None or name == tube:
                    total = total + counters.snapshot()
            for slot in self._slots:
                with slot.lock:
                    for name, counters in slot.counters.items():
                        if tube is None or name == tube:
                            total = total + counters.snapshot()
        return total

    def _new_slots(self) -> None:
        """Fresh slots for a run; what the last run's slots counted joins the worker's."""
        with self._lock:
            for slot in self._slots:
                with slot.lock:
                    for name, counters in slot.counters.items():
                        self._counters[name].add(counters)
            self._slots = [_Slot(self._handlers) for _ in range(self.concurrency)]

    def _on_signal(self, signum: int, frame: FrameType | None = None) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals == 1:
            log.info("%s: stopping; running jobs get %s s to finish", name, self.grace)
        else:
            log.warning("%s again: releasing unfinished jobs now", name)
        self.stop()

    def stop(self) -> None:
        """Stop gracefully (see the subclasses)."""
        raise NotImplementedError

    def _counted(self, tube: str, field: str) -> None:
        with self._lock:
            counters = self._counters[tube]
            setattr(counters, field, getattr(counters, field) + 1)

    def _log_failure(self, job: Job, tube: str, action: Action, error: BaseException) -> None:
        if action.outcome == "retried":
            log.info("job %d from %r: retry in %d s (%s)", job.id, tube, action.delay, error)
        elif action.outcome == "buried":
            log.warning("job %d from %r: buried by its handler (%s)", job.id, tube, error)
        elif action.verb == "bury":
            log.error(
                "job %d from %r: buried after its last attempt: %s",
                job.id,
                tube,
                action.reason,
                exc_info=error,
            )
        else:
            log.warning(
                "job %d from %r failed; retry in %d s: %s",
                job.id,
                tube,
                action.delay,
                action.reason,
                exc_info=error,
            )

    def _log_damaged(self, job_id: int, tube: str) -> None:
        log.error(
            "job %d from %r: the server's copy of its body is damaged (no CRLF at its end: a "
            "binlog written by a server killed mid-put); burying it",
            job_id,
            tube,
        )

    def _notify(
        self,
        entry: Any,
        outcome: str,
        verb: str,
        error: BaseException | None,
        seconds: float,
    ) -> None:
        if not self._hooks:
            return
        event = JobEvent(
            entry.tube, entry.job, outcome, verb, seconds, error, str(entry.client.endpoint)
        )
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                log.error("worker hook %r failed:\n%s", hook, traceback.format_exc())


class Worker(WorkerBase):
    """Runs handlers for the jobs of their tubes, on ``concurrency`` threads.

    ``address`` is any form ``jackd.connect`` takes (None: ``BEANSTALKD_URL``, else
    localhost:11300). Register handlers with the ``handler`` decorator, then call ``run``.
    """

    # -- running -----------------------------------------------------------------------------

    def run(self, burst: bool = False) -> None:
        """Run until stopped (``stop()``, SIGTERM or SIGINT when run on the main thread).

        With ``burst=True``, return once the tubes have no ready job left. Raises
        ``ConnectionLostError`` if no server can be reached at start (within about 30 s).
        """
        if not self._handlers:
            raise RuntimeError("the worker has no handlers: register one with @worker.handler")
        self._stopping.clear()
        self._done.clear()
        self._forced = False
        self._signals = 0
        # Looked up once: two debug lines per job cost more than the rest of the bookkeeping.
        self._debug = log.isEnabledFor(logging.DEBUG)
        self._names: dict[Client, str] = {}
        self._new_slots()
        previous = self._install_signals()
        try:
            slots = self._connect_all()
            log.info(
                "worker started: %d slot(s) on %s, tubes %s%s",
                self.concurrency,
                ", ".join(str(parse_address(server)) for server in self._servers),
                ", ".join(self._handlers),
                " (burst)" if burst else "",
            )
            threads = [
                threading.Thread(
                    target=self._slot,
                    args=(n, clients, burst),
                    name=f"jackd-worker-{n}",
                    daemon=True,
                )
                for n, clients in enumerate(slots)
            ]
            toucher = threading.Thread(target=self._touch_loop, name="jackd-toucher", daemon=True)
            for thread in threads:
                thread.start()
            toucher.start()
            self._supervise(threads)
        finally:
            self._stopping.set()
            self._done.set()
            self._close_all()
            self._restore_signals(previous)
        log.info("worker stopped: %s", self.stats())

    def stop(self) -> None:
        """Stop gracefully: no more reserving, running handlers get ``grace`` seconds.

        A plain method: call it from any thread, a signal handler, or a handler. A second call
        while stopping releases the unfinished jobs at once.
        """
        if self._stopping.is_set():
            self._forced = True
            return
        self._stopping.set()
        # Wake the slots waiting in reserve: closing a connection that holds no job loses
        # nothing, and a job the server hands it meanwhile goes back to ready.
        with self._lock:
            reserving = list(self._reserving)
        for client in reserving:
            client.close()

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _open(self, conn: _Conn, reconnect: Reconnect) -> Client:
        """Connect one slot's connection to its server and make it watch only its tube."""
        client = Client(
            conn.server,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            reconnect=reconnect,
        )
        # One server: reconnect for as long as the policy says. Several: try once, and let
        # the server's health decide when to try again, so a down server slows no other.
        client.reconnect = self.reconnect if not self._several else ONE_TRY
        with self._lock:
            self._clients.append(client)
        try:
            if conn.tube != DEFAULT_TUBE:
                client.watch(conn.tube)
                client.ignore(DEFAULT_TUBE)
        except BaseException:
            client.close()
            raise
        conn.client = client
        return client

    def _connect_all(self) -> list[list[_Conn]]:
        """A connection per tube and server for each slot, each watching only its tube.

        With one server, it is connected at start (within the starting policy); with
        several, at least one must answer at start, and the rest connect when their turn
        comes and they are up.
        """
        servers = self._servers
        tubes = list(self._handlers)
        slots = [
            [
                # Each slot starts at a different tube and server, so idle waits spread.
                _Conn(servers[(n + i // len(tubes)) % len(servers)], tubes[(n + i) % len(tubes)])
                for i in range(len(tubes) * len(servers))
            ]
            for n in range(self.concurrency)
        ]
        if not self._several:
            self._open(slots[0][0], STARTING_RECONNECT)
            for conn in (c for slot in slots for c in slot if c.client is None):
                self._open(conn, self.reconnect)
            return slots
        last: Exception | None = None
        for wait in STARTING_RECONNECT.waits():
            time.sleep(wait)
            for conn in slots[0]:
                try:
                    self._open(conn, ONE_TRY)
                except ConnectionLostError as exc:
                    self._health[conn.server].failed(time.monotonic(), str(exc))
                    last = exc
            if any(conn.client is not None for conn in slots[0]):
                return slots
        raise ConnectionLostError(f"no server of {servers} can be reached; last error: {last}")

    def _close_all(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def _supervise(self, threads: list[threading.Thread]) -> None:
        """Wait for the slots; once stopping, give running handlers ``grace`` seconds."""
        while any(t.is_alive() for t in threads) and not self._stopping.is_set():
            self._stopping.wait(_TICK)
        if all(not t.is_alive() for t in threads):
            return
        deadline = time.monotonic() + self.grace
        while any(t.is_alive() for t in threads):
            if self._forced or time.monotonic() >= deadline:
                self._release_running()
                break
            time.sleep(_TICK)

    def _release_running(self) -> None:
        """Release every job whose handler is still running; its outcome will be ignored."""
        running = []
        for slot in self._slots:
            with slot.lock:
                entry = slot.running
                if entry is not None and not entry.released:
                    entry.released = True
                    running.append(entry)
        for entry in running:
            try:
                pri = entry.client.stats_job(entry.job).pri
                entry.client.release(entry.job, pri, 0)
                outcome = "released_on_stop"
            except JackdError as exc:
                # Its connection closes next, which releases it all the same.
                log.warning("could not release job %d on stop: %s", entry.job.id, exc)
                outcome = "lost"
            with self._lock:
                counters = self._counters[entry.tube]
                if outcome == "released_on_stop":
                    counters.released_on_stop += 1  # type: ignore[attr-defined]
                else:
                    counters.lost += 1  # type: ignore[attr-defined]
            self._notify(entry, outcome, "release", None, time.monotonic() - entry.started)

    # -- a slot ------------------------------------------------------------------------------

    def _slot(self, n: int, conns: list[_Conn], burst: bool) -> None:
        done: list[_Done] = []  # a job handled successfully, its delete not yet sent
        try:
            for conn, job in self._jobs(conns, burst, done):
                assert conn.client is not None  # for mypy: a job came on it
                finished = self._handle(n, conn.client, conn.tube, job)
                if finished is not None:
                    done.append(finished)
        except BaseException:  # pragma: no cover - a bug in the runtime itself
            log.exception("worker slot %d failed", n)
            raise
        finally:
            # Stopping (or out of jobs in a burst): the last delete goes out alone.
            for finished in done:
                self._settle(finished.entry, finished.handler, None, finished.seconds)

    def _jobs(
        self, conns: list[_Conn], burst: bool, done: list[_Done]
    ) -> Iterator[tuple[_Conn, Job]]:
        """The jobs a slot gets, in turn from each of its connections, until it stops.

        A connection that has a job is asked again, up to ``STREAK`` jobs in a row, before
        the slot moves on: a job's delete goes out with the next reserve on the same
        connection, and moving to another costs the delete a round trip of its own. When
        every connection came up empty, the slot waits for a job on one of them for up
        to a second, the next one each time, so a job anywhere is taken within a second or
        so, and no wait holds a connection another handler needs.

        ``done`` holds the slot's last successful job, if its delete is still to be sent:
        it goes out in one write with the next reserve on the same connection (one round
        trip per job instead of two), or alone before a reserve on another connection.
        """
        several = len(conns) > 1
        turn = 0
        streak = 0  # jobs in a row from conns[turn]
        empty = 0  # connections found empty in a row
        while not self._stopping.is_set():
            conn = conns[turn % len(conns)]
            wait = 0 if burst or (several and empty < len(conns)) else POLL
            job: Job | None = None
            if done:
                finished = done.pop()
                if finished.entry.client is conn.client and self._up(conn):
                    job = self._delete_and_reserve(finished, conn)
                    if job is None and wait:
                        job = self._reserve(conn, wait)
                else:
                    self._settle(finished.entry, finished.handler, None, finished.seconds)
                    job = self._reserve(conn, wait)
            else:
                job = self._reserve(conn, wait)
            if job is None:
                turn += 1
                streak = 0
                empty += 1
                if burst and empty >= len(conns):
                    return
                if empty >= len(conns) and not any(self._up(c) for c in conns):
                    time.sleep(_TICK)  # every server is down: wait for one to be due
                continue
            empty = 0
            streak += 1
            if streak >= STREAK:
                turn += 1
                streak = 0
            if self._stopping.is_set():
                return  # closed under it by stop(): the server has the job back already
            yield conn, job

    def _up(self, conn: _Conn) -> bool:
        return not self._several or self._health[conn.server].up(time.monotonic())

    def _reserve(self, conn: _Conn, wait: int) -> Job | None:
        if not self._up(conn):
            return None
        client = conn.client
        if client is None:
            try:
                client = self._open(conn, ONE_TRY)
            except ConnectionLostError as exc:
                self._server_down(conn, exc)
                return None
        with self._lock:
            if self._stopping.is_set():
                return None
            self._reserving.add(client)
        try:
            job = client.reserve(timeout=wait)
        except (JackdError, TimeoutError) as exc:
            self._reserve_failed(conn, client, exc)
            return None
        finally:
            with self._lock:
                self._reserving.discard(client)
        self._answered(conn)
        return job

    def _answered(self, conn: _Conn) -> None:
        if self._several:
            with self._lock:
                self._health[conn.server].answered()

    def _reserve_failed(self, conn: _Conn, client: Client, exc: Exception) -> None:
        """What a reserve that did not bring a job means for the slot and the server."""
        if isinstance(exc, TimedOutError):
            pass
        elif isinstance(exc, CorruptJobError):
            self._bury_damaged(client, conn.tube, exc.job_id)
        elif isinstance(exc, (TimeoutError, ProtocolError)):
            # The connection was closed; the next reserve reconnects.
            log.warning("reserving on %s: %s", client.endpoint, exc)
            return
        elif isinstance(exc, DeadlineSoonError):
            # This slot holds no other job; a job whose outcome could not be applied may
            # still be reserved here until its TTR. Wait it out; never hand it to a handler.
            time.sleep(0.5)
            return
        elif isinstance(exc, ConnectionLostError):
            if self._stopping.is_set():
                return
            if self._several:
                self._server_down(conn, exc)
                return
            log.error("giving up on a connection: %s", exc)
            self.stop()
            return
        else:
            raise exc
        self._answered(conn)

    def _bury_damaged(self, client: Client, tube: str, job_id: int) -> None:
        """Bury a job the server holds with a damaged body, so that no handler ever runs it."""
        self._log_damaged(job_id, tube)
        try:
            client.bury(job_id, client.stats_job(job_id).pri)
        except (JackdError, TimeoutError) as exc:
            log.warning("could not bury damaged job %d: %s", job_id, exc)
            return
        self._counted(tube, "buried")

    def _delete_and_reserve(self, finished: _Done, conn: _Conn) -> Job | None:
        """Delete a finished job and reserve the next one (without waiting), in one write.

        Not a wait ``stop()`` needs to cut short, so the slot is not marked as reserving
        and nothing closes the connection while the delete's reply is on its way.
        """
        client = finished.entry.client
        batch = Batch()
        batch.commands += (cmds.delete(finished.entry.job), cmds.reserve(0))
        try:
            # No look for a hang-up first (a system call, and a GIL hand-off, per job): had
            # the server hung up, the job's reservation went with the connection anyway.
            deleted, job = outcomes(client._run_batch(batch, look=False), False)
        except (JackdError, TimeoutError) as exc:
            self._settled(finished.entry, None, finished.seconds, exc)
            self._reserve_failed(conn, client, exc)
            return None
        self._settled(finished.entry, None, finished.seconds, deleted)
        if isinstance(job, Exception):
            self._reserve_failed(conn, client, job)
            return None
        self._answered(conn)
        return cast(Job, job)

    def _server_down(self, conn: _Conn, error: Exception) -> None:
        with self._lock:
            health = self._health[conn.server]
            if not health.down:
                log.warning("server %s is down: %s", conn.server, error)
            health.failed(time.monotonic(), str(error))
        client, conn.client = conn.client, None
        if client is not None:
            client.close()

    def _handle(self, n: int, client: Client, tube: str, job: Job) -> _Done | None:
        handler = self._handlers[tube]
        slot = self._slots[n]
        entry = _Running(client, job, tube, slot)
        with slot.lock:
            slot.running = entry
            counters = slot.counters[tube]
            counters.reserved += 1  # type: ignore[attr-defined]
            counters.in_flight += 1  # type: ignore[attr-defined]
        if self._debug:
            log.debug("job %d from %r: running %s", job.id, tube, handler.func.__qualname__)
        error: BaseException | None = None
        name = self._names.get(client)
        if name is None:
            name = self._names[client] = str(client.endpoint)
        token = enter_job(JobContext(name, tube, job))
        try:
            handler.func(job)
        except BaseException as exc:  # a handler's failure never stops the worker
            error = exc
        finally:
            leave_job(token)
            with slot.lock:
                slot.running = None
                counters.in_flight -= 1  # type: ignore[attr-defined]
        seconds = time.monotonic() - entry.started
        if entry.released:
            log.info("job %d finished after it was released on stop; outcome ignored", job.id)
            return None
        if error is None:
            return _Done(entry, handler, seconds)  # deleted with the slot's next reserve
        self._settle(entry, handler, error, seconds)
        return None

    def _settle(
        self, entry: _Running, handler: Handler, error: BaseException | None, seconds: float
    ) -> None:
        client, job, tube = entry.client, entry.job, entry.tube
        try:
            if error is None:
                action = SUCCESS
                client.delete(job)
            else:
                # Only a failure pays for stats-job: the attempt count and the priority.
                stats = client.stats_job(job)
                action = decide(error, stats.reserves, handler.max_attempts, handler.backoff)
                self._log_failure(job, tube, action, error)
                if action.verb == "release":
                    client.release(job, stats.pri, action.delay)
                else:
                    client.bury(job, stats.pri)
        except (NotFoundError, ConnectionLostError, ProtocolError, TimeoutError) as exc:
            self._settled(entry, error, seconds, exc)
            return
        self._settled(entry, error, seconds, action)

    def _settled(
        self,
        entry: _Running,
        error: BaseException | None,
        seconds: float,
        outcome: Action | Exception | None,
    ) -> None:
        """Count and report how a job ended.

        ``outcome`` is the action the server took (None: the delete), or the error that kept
        it from being applied.
        """
        job, tube = entry.job, entry.tube
        if isinstance(outcome, Exception):
            log.warning(
                "job %d from %r: its reservation was lost before it could be settled (%s); "
                "it will run again",
                job.id,
                tube,
                outcome,
            )
            with self._lock:
                self._counters[tube].lost += 1  # type: ignore[attr-defined]
            self._notify(entry, "lost", "none", error, seconds)
            return
        action = SUCCESS if outcome is None else outcome
        slot = entry.slot
        with slot.lock:
            slot.counters[tube].count(action)
        if self._debug:
            log.debug("job %d from %r: %s (%s)", job.id, tube, action.outcome, action.verb)
        self._notify(entry, action.outcome, action.verb, error, seconds)

    # -- touching long jobs ------------------------------------------------------------------

    def _touch_loop(self) -> None:
        while not self._done.wait(_TICK):
            running = [
                entry
                for entry in (slot.running for slot in self._slots)
                if entry is not None and not entry.released
            ]
            now = time.monotonic()
            for entry in running:
                if now >= entry.touch_at:
                    self._touch(entry, now)

    def _touch(self, entry: _Running, now: float) -> None:
        """Touch a long job before its TTR runs out (its TTR is read the first time)."""
        try:
            if not entry.ttr:
                stats = entry.client.stats_job(entry.job)
                entry.ttr = stats.ttr
                entry.touch_at = now + next_touch(stats.ttr, stats.time_left)
                if entry.touch_at > now:
                    return
            entry.client.touch(entry.job)
            entry.touch_at = time.monotonic() + entry.ttr - touch_margin(entry.ttr)
            log.debug("job %d touched after %.1f s", entry.job.id, now - entry.started)
        except JackdError as exc:
            # The handler finished meanwhile, or the reservation is gone: its settling says so.
            entry.touch_at = now + 1.0
            log.debug("touching job %d: %s", entry.job.id, exc)
