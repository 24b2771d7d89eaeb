"""The worker runtime on asyncio: ``jackd.aio.Worker``, the same API as ``jackd.Worker``.

Handlers are coroutine functions, and up to ``concurrency`` of them run at once as tasks.
Each tube gets one connection per 50 of concurrency; on each, a reserver task takes as many
ready jobs as there are free places in one round trip (``reserve_many``), and when the tube
is empty waits up to a second for the next. Handlers settle their jobs on the connection
that reserved them, and the client pipelines those deletes. The decisions are the same pure
functions as the thread worker's (``jackd._work``).

Stopping cancels the reservers (the client gives back any job that reaches a cancelled
reserve), lets running handlers finish for up to ``grace`` seconds, then releases what is
left and cancels those handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import threading
import time
from collections import deque
from typing import Any

from . import _commands as cmds
from ._commands import DEFAULT_TUBE, Job
from ._errors import (
    ConnectionLostError,
    CorruptJobError,
    JackdError,
    NotFoundError,
    ProtocolError,
    TimedOutError,
)
from ._protocol import Command
from ._reconnect import Reconnect
from ._work import (
    TOUCH_CHECK_AFTER,
    JobContext,
    decide,
    enter_job,
    next_touch,
    touch_margin,
)
from .aio import AsyncClient
from .worker import ONE_TRY, POLL, STARTING_RECONNECT, Handler, WorkerBase, log

#: Handlers one connection serves at most; more concurrency opens more connections.
PER_CONNECTION = 50
_TICK = 0.05


class _Task:
    """A job a handler task is working on now."""

    __slots__ = ("client", "job", "released", "started", "task", "touch_at", "ttr", "tube")

    def __init__(self, client: AsyncClient, job: Job, tube: str) -> None:
        self.client = client
        self.job = job
        self.tube = tube
        self.started = time.monotonic()
        self.ttr = 0
        self.touch_at = self.started + TOUCH_CHECK_AFTER
        self.released = False
        self.task: asyncio.Task[None] | None = None


class _AConn:
    """A reserver's connection: to which server, for which tube, and the client once open."""

    __slots__ = ("client", "server", "tube")

    def __init__(self, server: Any, tube: str) -> None:
        self.server = server
        self.tube = tube
        self.client: AsyncClient | None = None


class Worker(WorkerBase):
    """Runs coroutine handlers for the jobs of their tubes, ``concurrency`` at once.

    The asyncio twin of ``jackd.Worker``: the same arguments, ``handler`` decorator, hooks,
    ``stats`` and ``stop``; ``run`` is a coroutine.
    """

    async_handlers = True

    def __init__(
        self,
        address: Any = None,
        *,
        concurrency: int = 200,
        grace: float = 30.0,
        timeout: float | None = None,
        connect_timeout: float | None = 10.0,
        reconnect: Reconnect | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {} if reconnect is None else {"reconnect": reconnect}
        super().__init__(
            address,
            concurrency=concurrency,
            grace=grace,
            timeout=timeout,
            connect_timeout=connect_timeout,
            **kwargs,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._tasks: dict[int, _Task] = {}
        self._reservers: list[asyncio.Task[None]] = []
        self._aclients: list[AsyncClient] = []
        self._free = 0
        self._share = 1  # places a waiting reserver holds (see _reserve_loop)
        self._waiting: deque[tuple[asyncio.Future[int], int]] = deque()
        self._stop_event: asyncio.Event | None = None

    # -- running -----------------------------------------------------------------------------

    async def run(self, burst: bool = False) -> None:
        """Run until stopped: ``stop()``, or SIGTERM/SIGINT on the main thread's loop.

        With ``burst=True``, return once the tubes have no ready job left. Raises
        ``ConnectionLostError`` if no server can be reached at start (within about 30 s).
        """
        if not self._handlers:
            raise RuntimeError("the worker has no handlers: register one with @worker.handler")
        loop = asyncio.get_running_loop()
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._stopping.clear()
        self._forced = False
        self._signals = 0
        self._free = self.concurrency
        self._waiting = deque()
        self._stop_event = asyncio.Event()
        signals = self._install_signals(loop)
        toucher = loop.create_task(self._touch_loop())
        try:
            conns = await self._connect_all()
            log.info(
                "worker started: %d at once on %s, tubes %s%s",
                self.concurrency,
                ", ".join(str(server) for server in self._servers),
                ", ".join(self._handlers),
                " (burst)" if burst else "",
            )
            self._share = max(1, math.ceil(self.concurrency / len(conns)))
            for conn in conns:
                self._reservers.append(loop.create_task(self._reserve_loop(conn, burst)))
            await self._supervise()
        finally:
            self._stopping.set()
            for reserver in self._reservers:
                reserver.cancel()
            await asyncio.gather(*self._reservers, return_exceptions=True)
            self._reservers = []
            toucher.cancel()
            await asyncio.gather(toucher, return_exceptions=True)
            for client in self._aclients:
                await client.close()
            self._aclients = []
            for signum in signals:
                loop.remove_signal_handler(signum)
        log.info("worker stopped: %s", self.stats())

    def stop(self) -> None:
        """Stop gracefully; a second call releases unfinished jobs at once.

        A plain method: call it from a handler, a signal handler, or any thread.
        """
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() != self._loop_thread:
            # A loop that has closed raises: the worker has stopped already.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stop_now)
        else:
            self._stop_now()

    def _stop_now(self) -> None:
        if self._stopping.is_set():
            self._forced = True
        self._stopping.set()
        if self._stop_event is not None:
            self._stop_event.set()
        for reserver in self._reservers:
            reserver.cancel()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        if threading.current_thread() is not threading.main_thread():
            return []
        installed: list[int] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not on this loop
                continue
            installed.append(signum)
        return installed

    async def _open(self, conn: _AConn, reconnect: Reconnect) -> AsyncClient:
        """Connect one reserver's connection and make it watch only its tube."""
        client = AsyncClient(
            conn.server,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            reconnect=reconnect,
        )
        await client.connect()
        # As in the thread worker: one server reconnects per the policy; several try once
        # and let each server's health decide when to try again.
        client.reconnect = self.reconnect if not self._several else ONE_TRY
        self._aclients.append(client)
        if conn.tube != DEFAULT_TUBE:
            await client.watch(conn.tube)
            await client.ignore(DEFAULT_TUBE)
        conn.client = client
        return client

    async def _connect_all(self) -> list[_AConn]:
        """The reservers' connections: per tube and server, one per 50 of concurrency."""
        per_tube = max(1, math.ceil(self.concurrency / PER_CONNECTION))
        conns = [
            _AConn(server, tube)
            for server in self._servers
            for tube in self._handlers
            for _ in range(per_tube)
        ]
        if not self._several:
            await self._open(conns[0], STARTING_RECONNECT)
            for conn in conns[1:]:
                await self._open(conn, self.reconnect)
            return conns
        last: Exception | None = None
        for wait in STARTING_RECONNECT.waits():
            await asyncio.sleep(wait)
            for conn in conns:
                if conn.client is None and self._health[conn.server].up(time.monotonic()):
                    try:
                        await self._open(conn, ONE_TRY)
                    except ConnectionLostError as exc:
                        self._health[conn.server].failed(time.monotonic(), str(exc))
                        last = exc
            if any(conn.client is not None for conn in conns):
                return conns
        raise ConnectionLostError(
            f"no server of {self._servers} can be reached; last error: {last}"
        )

    async def _supervise(self) -> None:
        assert self._stop_event is not None  # for mypy: set by run()
        reservers: asyncio.Future[Any] = asyncio.gather(*self._reservers, return_exceptions=True)
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self._stop_event.wait())
        await asyncio.wait({reservers, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        # Burst: the reservers are done once the tubes are empty; the handlers finish.
        deadline = None if not self._stopping.is_set() else time.monotonic() + self.grace
        while self._tasks:
            if self._stopping.is_set() and deadline is None:
                deadline = time.monotonic() + self.grace
            if self._forced or (deadline is not None and time.monotonic() >= deadline):
                await self._release_running()
                break
            await asyncio.sleep(_TICK)
        await asyncio.gather(reservers, return_exceptions=True)

    async def _release_running(self) -> None:
        running = [t for t in self._tasks.values() if not t.released]
        for entry in running:
            entry.released = True
        for entry in running:
            outcome = "released_on_stop"
            try:
                pri = (await entry.client.stats_job(entry.job)).pri
                await entry.client.release(entry.job, pri, 0)
            except (JackdError, TimeoutError) as exc:
                log.warning("could not release job %d on stop: %s", entry.job.id, exc)
                outcome = "lost"
            if entry.task is not None:
                entry.task.cancel()
            self._counted(entry.tube, outcome)
            self._notify(entry, outcome, "release", None, time.monotonic() - entry.started)

    # -- reserving ---------------------------------------------------------------------------

    async def _places(self, most: int) -> int:
        """Wait for free places to run handlers in; take up to ``most`` of them.

        First come, first served: a reserver that gives places back cannot take them again
        before the others waiting, so none of them starves.
        """
        if self._free and not self._waiting:
            taken = min(self._free, most)
            self._free -= taken
            return taken
        waiting: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((waiting, most))
        try:
            return await waiting
        except asyncio.CancelledError:
            if waiting.done() and not waiting.cancelled():
                self._give_back(waiting.result())
            raise

    def _give_back(self, places: int) -> None:
        self._free += places
        while self._free and self._waiting:
            waiting, most = self._waiting.popleft()
            if waiting.done():
                continue
            taken = min(self._free, most)
            self._free -= taken
            waiting.set_result(taken)

    async def _reserve_loop(self, conn: _AConn, burst: bool) -> None:
        loop = asyncio.get_running_loop()
        tube = conn.tube
        while not self._stopping.is_set():
            client = conn.client
            if client is None:
                # Several servers, this one down: try again once its backoff is over.
                health = self._health[conn.server]
                if burst and health.down:
                    return
                await asyncio.sleep(max(_TICK, health.down_until - time.monotonic()))
                try:
                    client = await self._open(conn, ONE_TRY)
                except ConnectionLostError as exc:
                    health.failed(time.monotonic(), str(exc))
                    continue
                health.answered()
            count = await self._places(PER_CONNECTION)
            try:
                jobs = await client.reserve_many(count, timeout=0)
                if not jobs and not burst:
                    # Waiting, hold only a share of the places, so that every reserver can
                    # wait at once and a job on any server or tube is taken at once.
                    self._give_back(count)
                    count = await self._places(self._share)
                    jobs = await client.reserve_many(count, timeout=POLL)
            except asyncio.CancelledError:
                self._give_back(count)
                raise
            except CorruptJobError as exc:
                jobs = exc.jobs
                for job_id in exc.damaged:
                    await self._bury_damaged(client, tube, job_id)
            except (TimedOutError, JackdError, TimeoutError) as exc:
                jobs = []
                if isinstance(exc, (ConnectionLostError, ProtocolError, TimeoutError)):
                    log.warning("reserving on %s: %s", client.endpoint, exc)
                    if self._several and isinstance(exc, ConnectionLostError):
                        self._health[conn.server].failed(time.monotonic(), str(exc))
                        conn.client = None
                        await client.close()
                    else:
                        await asyncio.sleep(0.1)
            self._give_back(count - len(jobs))
            for job in jobs:
                entry = _Task(client, job, tube)
                entry.task = loop.create_task(self._handle(entry))
            if burst and not jobs:
                if not any(t.client is client for t in self._tasks.values()):
                    return
                # A running job may come back (retried now); the tube is empty once none runs.
                await asyncio.sleep(_TICK)

    async def _bury_damaged(self, client: AsyncClient, tube: str, job_id: int) -> None:
        """Bury a job the server holds with a damaged body, so that no handler ever runs it."""
        self._log_damaged(job_id, tube)
        try:
            await client.bury(job_id, (await client.stats_job(job_id)).pri)
        except (JackdError, TimeoutError) as exc:
            log.warning("could not bury damaged job %d: %s", job_id, exc)
            return
        self._counted(tube, "buried")

    # -- handling ----------------------------------------------------------------------------

    async def _handle(self, entry: _Task) -> None:
        key = id(entry)
        self._tasks[key] = entry
        handler = self._handlers[entry.tube]
        with self._lock:
            counters = self._counters[entry.tube]
            counters.reserved += 1  # type: ignore[attr-defined]
            counters.in_flight += 1  # type: ignore[attr-defined]
        error: BaseException | None = None
        settling = False
        # A task runs in a copy of the context: setting it here is for this job alone.
        enter_job(JobContext(str(entry.client.endpoint), entry.tube, entry.job))
        try:
            try:
                await handler.func(entry.job)  # type: ignore[misc]
            except asyncio.CancelledError:
                if not entry.released:
                    raise
                return
            except Exception as exc:  # a handler's failure never stops the worker
                error = exc
            finally:
                with self._lock:
                    counters.in_flight -= 1  # type: ignore[attr-defined]
                self._give_back(1)
            if entry.released:
                return
            seconds = time.monotonic() - entry.started
            if error is None:
                # The success path awaits nothing: the delete's reply settles it later, and
                # the entry stays in _tasks until then (a burst or a stop waits for it).
                settling = self._delete_later(key, entry, seconds)
            else:
                await self._settle(entry, handler, error, seconds)
        finally:
            if not settling:
                del self._tasks[key]

    def _delete_later(self, key: int, entry: _Task, seconds: float) -> bool:
        def deleted(cmd: Command[Any]) -> None:
            del self._tasks[key]
            if cmd.error is None:
                self._counted(entry.tube, "succeeded")
                self._notify(entry, "succeeded", "delete", None, seconds)
            else:
                self._settle_failed(entry, cmd.error, None, seconds)

        try:
            entry.client._send_then(cmds.delete(entry.job), deleted)
        except ConnectionLostError as exc:
            self._settle_failed(entry, exc, None, seconds)
            return False
        return True

    def _settle_failed(
        self, entry: _Task, exc: BaseException, error: BaseException | None, seconds: float
    ) -> None:
        log.warning(
            "job %d from %r: its reservation was lost before it could be settled (%s); "
            "it will run again",
            entry.job.id,
            entry.tube,
            exc,
        )
        self._counted(entry.tube, "lost")
        self._notify(entry, "lost", "none", error, seconds)

    async def _settle(
        self, entry: _Task, handler: Handler, error: BaseException | None, seconds: float
    ) -> None:
        client, job, tube = entry.client, entry.job, entry.tube
        try:
            if error is None:
                action = decide(None, 0, handler.max_attempts, handler.backoff)
                await client.delete(job)
            else:
                stats = await client.stats_job(job)
                action = decide(error, stats.reserves, handler.max_attempts, handler.backoff)
                self._log_failure(job, tube, action, error)
                if action.verb == "release":
                    await client.release(job, stats.pri, action.delay)
                else:
                    await client.bury(job, stats.pri)
        except (NotFoundError, ConnectionLostError, ProtocolError, TimeoutError) as exc:
            self._settle_failed(entry, exc, error, seconds)
            return
        with self._lock:
            self._counters[tube].count(action)
        self._notify(entry, action.outcome, action.verb, error, seconds)

    # -- touching long jobs ------------------------------------------------------------------

    async def _touch_loop(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            now = time.monotonic()
            for entry in list(self._tasks.values()):
                if not entry.released and now >= entry.touch_at:
                    await self._touch(entry, now)

    async def _touch(self, entry: _Task, now: float) -> None:
        try:
            if not entry.ttr:
                stats = await entry.client.stats_job(entry.job)
                entry.ttr = stats.ttr
                entry.touch_at = now + next_touch(stats.ttr, stats.time_left)
                if entry.touch_at > now:
                    return
            await entry.client.touch(entry.job)
            entry.touch_at = time.monotonic() + entry.ttr - touch_margin(entry.ttr)
        except (JackdError, TimeoutError) as exc:
            entry.touch_at = now + 1.0
            log.debug("touching job %d: %s", entry.job.id, exc)
