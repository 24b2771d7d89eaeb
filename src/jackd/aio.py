"""The asyncio client: the same API as ``jackd.Client``, as coroutines, on the same core.

``AsyncClient`` drives the sans-I/O protocol core from an ``asyncio.BufferedProtocol``, so the
server's bytes are read straight into the core's buffers and no protocol logic exists twice.

Tasks: many tasks may share one client. Each command is written as soon as it is issued, without
waiting for earlier replies (pipelining), and beanstalkd answers in order, so every task gets its
own reply. Commands issued in the same event-loop iteration go out in one write. A blocking
``reserve()`` delays every command queued behind it on the same connection until a job arrives
(beanstalkd works that way): give consumers a client of their own, or use
``reserve(timeout=...)``.

Cancellation: a cancelled command has usually been sent already; its reply is still read, so the
connection stays in step. If a cancelled ``reserve`` or ``reserve_job`` is later answered with a
job, the client releases that job at once with its priority unchanged. If a cancelled ``use``,
``watch`` or ``ignore`` took effect, the client undoes it, so the used and watched tubes stay as
they were. Cancelling a blocking ``reserve()`` does not end the server's wait: the commands
behind it still wait for a job to arrive (or for ``reserve(timeout=...)`` to run out).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable, Generator, Iterable
from types import TracebackType
from typing import Any, TypeVar

from . import _commands as cmds
from ._address import Address, Endpoint, parse_address
from ._commands import (
    DEFAULT_DELAY,
    DEFAULT_MAX_JOB_SIZE,
    DEFAULT_PRIORITY,
    DEFAULT_TTR,
    DEFAULT_TUBE,
    Body,
    Job,
    Seconds,
)
from ._errors import ConnectionLostError, JackdError, ProtocolError
from ._pipeline import Batch, PipelineBase, outcomes, reserve_batch, reserved_jobs
from ._protocol import Command, Core, Payload
from ._stats import JobStats, ServerStats, TubeStats
from .client import DEFAULT_CONNECT_TIMEOUT, check_timeout

T = TypeVar("T")
R = TypeVar("R")

#: Writes smaller than this are gathered into one ``write`` per event-loop iteration.
_GATHER_BELOW = 1 << 16


class _Protocol(asyncio.BufferedProtocol):
    """Feeds the core from the transport and settles each command's waiter."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.core = client._core
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = client._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            raise TypeError(f"jackd needs a stream transport, got {transport!r}")
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Commands are small and latency-bound; Nagle would hold each one back.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.core.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        core = self.core
        core.buffer_updated(nbytes)
        try:
            while (cmd := core.receive()) is not None:
                self.client._settle(cmd)
        except ProtocolError as exc:
            # The command whose reply made no sense gets the ProtocolError; the rest lose
            # their connection.
            head = core.pending[0].waiter if core.pending else None
            if isinstance(head, asyncio.Future) and not head.done():
                head.set_exception(exc)
            self.client._lose(ConnectionLostError(f"connection closed after {exc}"))
            return
        if core.failure is not None:
            self.client._lose(core.failure)

    def eof_received(self) -> bool:
        self.client._lose(
            ConnectionLostError(f"beanstalkd at {self.client.endpoint} closed the connection")
        )
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc is not None else ""
        self.client._lose(
            ConnectionLostError(f"connection to beanstalkd at {self.client.endpoint} lost{reason}")
        )
        if not self.closed.done():
            self.closed.set_result(None)


class AsyncClient:
    """An asyncio connection to one beanstalkd server; share it freely between tasks.

    Takes the same arguments as ``jackd.Client``. Open it with ``await jackd.aio.connect(...)``,
    ``async with jackd.aio.connect(...) as client``, ``async with AsyncClient(...)``, or
    ``await client.connect()``. Every method of ``jackd.Client`` exists here as a coroutine
    with the same arguments, defaults, results and errors.
    """

    def __init__(
        self,
        address: Address | None = None,
        *,
        timeout: float | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        self.endpoint: Endpoint = parse_address(address)
        """Where this client connects."""
        self.timeout: float | None = check_timeout(timeout, "timeout")
        """Read/write timeout in seconds for each command, or None."""
        self.connect_timeout = check_timeout(connect_timeout, "connect_timeout")
        self._protocol: _Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._closed_because: JackdError | None = ConnectionLostError(
            "not connected yet: await client.connect() first"
        )
        self._max_job_size: int | None = None
        self._reset()

    def _reset(self) -> None:
        """Start from a new connection's state: nothing buffered or pending, default tubes."""
        self._core = Core()
        self._outbox: list[bytes] = []
        # The used and watched tubes the callers asked for, and what the server has now; they
        # differ only after a cancelled use/watch/ignore took effect (see _sync_tubes).
        self._used = self._server_used = DEFAULT_TUBE
        self._watched = {DEFAULT_TUBE}
        self._server_watched = {DEFAULT_TUBE}
        # Commands not sent yet because a cancelled reserve still holds the line; see _issue.
        self._held: deque[Command[Any]] = deque()
        # Set when a caller is cancelled; cleared when _line_blocked finds nothing to wait for.
        self._maybe_blocked = False
        self._fixing = 0  # the client's own repair commands (see _fixup) not yet answered

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> AsyncClient:
        """Open the connection; a failure raises ``ConnectionLostError`` (a ConnectionError).

        After ``close`` or a lost connection this opens a new one, which uses and watches
        only the default tube again.
        """
        if self._transport is not None:
            return self
        self._reset()
        loop = self._loop
        endpoint = self.endpoint
        if endpoint.path is not None:
            opening = loop.create_unix_connection(lambda: _Protocol(self), endpoint.path)
        else:
            opening = loop.create_connection(
                lambda: _Protocol(self), endpoint.host or "localhost", endpoint.port
            )
        try:
            _, protocol = await asyncio.wait_for(opening, self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectionLostError(
                f"cannot connect to beanstalkd at {endpoint}: {exc or 'timed out'}"
            ) from exc
        self._transport, self._protocol = protocol.transport, protocol
        self._closed_because = None
        return self

    async def __aenter__(self) -> AsyncClient:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "open" if self._transport is not None else "closed"
        return f"<jackd.aio.AsyncClient {self.endpoint} {state}>"

    @property
    def closed(self) -> bool:
        """True unless connected: before ``connect``, after ``close``, or once lost."""
        return self._transport is None

    async def close(self) -> None:
        """Close the connection; tasks waiting on this client get ``ConnectionLostError``."""
        protocol = self._protocol
        self._lose(ConnectionLostError("the client was closed"))
        if protocol is not None:
            await protocol.closed

    async def quit(self) -> None:
        """Send ``quit`` and close the connection."""
        if self._transport is not None:
            self._send(b"quit\r\n", idle=False)
            self._flush()
        await self.close()

    def _lose(self, reason: JackdError) -> None:
        """Fail every waiting command and close the transport; the first reason sticks."""
        transport, self._transport = self._transport, None
        if transport is None:
            return
        self._closed_because = reason
        self._outbox.clear()
        pending = [*self._core.pending, *self._held]
        self._core.pending.clear()
        self._held.clear()
        for cmd in pending:
            waiter = cmd.waiter
            if isinstance(waiter, _Batch):
                waiter = waiter.future
            if isinstance(waiter, asyncio.Future) and not waiter.done():
                waiter.set_exception(reason)
        if self._core.failure is not None:
            transport.abort()
        else:
            transport.close()

    # -- running commands --------------------------------------------------------------------

    def _send(self, data: Payload, idle: bool) -> None:
        """Write a command's bytes, gathering small writes of one loop iteration into one.

        A command issued while nothing else is in flight goes out at once: gathering would
        only add a trip around the event loop to a request/response exchange.
        """
        outbox = self._outbox
        transport = self._transport
        if transport is None:
            return
        if isinstance(data, bytes):
            if idle and not outbox:
                transport.write(data)
                return
            if len(data) < _GATHER_BELOW:
                if not outbox:
                    self._loop.call_soon(self._flush)
                outbox.append(data)
                return
        self._flush()
        if isinstance(data, bytes):
            transport.write(data)
        else:
            for part in data:
                transport.write(part)

    def _flush(self) -> None:
        outbox = self._outbox
        if outbox and self._transport is not None:
            self._transport.write(outbox[0] if len(outbox) == 1 else b"".join(outbox))
        outbox.clear()

    def _issue(self, cmd: Command[Any], waiter: object) -> None:
        """Send a caller's command, or hold it back while the line is being repaired.

        Two things hold commands back. A reserve whose caller was cancelled may still be
        waiting on the server, which answers nothing behind it: if it is answered with a job,
        a reserve held here can take that job at once. And while the client's own repairs
        (releasing a job nobody will take, restoring tubes) are under way, later commands
        must see their effect.
        """
        if self._transport is None:
            raise ConnectionLostError(f"not connected: {self._closed_because}")
        cmd.waiter = waiter
        if self._held or self._fixing or (self._maybe_blocked and self._line_blocked()):
            self._held.append(cmd)
            return
        self._transmit(cmd)

    def _fixup(self, cmd: Command[Any], then: Callable[[Command[Any]], None]) -> None:
        """Send a repair command of the client's own at once; ``then`` gets its reply."""
        if self._transport is None:
            return

        def done(reply: Command[Any]) -> None:
            then(reply)
            self._fixing -= 1
            self._send_held()

        self._fixing += 1
        cmd.waiter = done
        self._transmit(cmd)

    def _transmit(self, cmd: Command[Any]) -> None:
        pending = self._core.pending
        idle = not pending
        pending.append(cmd)
        self._send(cmd.data, idle)

    def _line_blocked(self) -> bool:
        """Whether a cancelled reserve, use, watch or ignore is still on its way.

        Until it is answered, nobody knows what must be repaired: a reserve may bring a job
        to hand over or release, and the tubes can only be put right once every cancelled
        change to them is known.
        """
        blocked = any(
            cmd.name in _SENSITIVE and _cancelled(cmd.waiter) for cmd in self._core.pending
        )
        self._maybe_blocked = blocked
        return blocked

    def _hand_over(self, job: Job) -> None:
        """Give a job that a cancelled reserve got to the next held reserve, or release it."""
        held = self._held
        while held and _cancelled(held[0].waiter):
            held.popleft()
        if held and held[0].name == "reserve" and isinstance(held[0].waiter, asyncio.Future):
            taker = held.popleft()
            taker.result, taker.error = job, None
            taker.waiter.set_result(self._compensation(taker))
            return
        self._release_later(job.id)

    def _send_held(self) -> None:
        held = self._held
        while held and not self._fixing and not (self._maybe_blocked and self._line_blocked()):
            cmd = held.popleft()
            if not _cancelled(cmd.waiter):
                self._transmit(cmd)

    async def _run(self, cmd: Command[T], wait: float | None) -> T:
        future: asyncio.Future[Callable[[], None] | None] = self._loop.create_future()
        self._issue(cmd, future)
        await self._wait(future, wait, _call)
        if cmd.error is not None:
            raise cmd.error
        return cmd.result

    async def _wait(
        self, future: asyncio.Future[R], wait: float | None, undo: Callable[[R], None]
    ) -> None:
        """Wait for the reply (or replies) a future stands for, bounded by ``wait``.

        If this task is cancelled meanwhile, the reply still to come is dealt with when it
        arrives (see _abandoned); one that already came is undone at once with ``undo``.
        """
        timer = None if wait is None else self._loop.call_later(wait, self._timed_out, future, wait)
        try:
            await future
        except asyncio.CancelledError:
            if future.cancelled():
                self._maybe_blocked = True
            elif future.done():
                undo(future.result())
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _timed_out(self, future: asyncio.Future[Any], wait: float) -> None:
        if future.done():
            return
        future.set_exception(
            TimeoutError(
                f"no reply from beanstalkd at {self.endpoint} within {wait} s; connection closed"
            )
        )
        self._lose(ConnectionLostError(f"a command timed out after {wait} s"))

    def _settle(self, cmd: Command[Any]) -> None:
        """Called by the protocol for each answered command, in order."""
        waiter = cmd.waiter
        name = cmd.name
        if isinstance(waiter, asyncio.Future):
            if not waiter.done():
                # The undo goes along in case the task is cancelled before it resumes.
                waiter.set_result(self._compensation(cmd))
                if name in _TUBE_COMMANDS:
                    self._track_tubes(cmd, wanted=True)
            elif waiter.cancelled():
                self._abandoned(cmd)
        elif isinstance(waiter, _Batch):
            if waiter.future.cancelled():
                self._abandoned(cmd)
            else:
                if name in _TUBE_COMMANDS:
                    self._track_tubes(cmd, wanted=True)
                waiter.answered()
        elif waiter is not None:
            waiter(cmd)

    def _abandoned(self, cmd: Command[Any]) -> None:
        """Deal with the reply to a command whose caller was cancelled."""
        name = cmd.name
        if name in _TUBE_COMMANDS:
            self._track_tubes(cmd, wanted=False)
        elif cmd.error is None and name == "reserve":
            self._hand_over(cmd.result)
        elif cmd.error is None and name == "reserve-job":
            self._release_later(cmd.result.id)
        if name in _SENSITIVE and not self._line_blocked():
            self._sync_tubes()
            self._send_held()

    def _track_tubes(self, cmd: Command[Any], wanted: bool) -> None:
        """Apply a use/watch/ignore reply to the server's tubes, and to the wanted ones."""
        if cmd.error is not None:
            return
        if cmd.name == "use":
            self._server_used = cmd.result
            if wanted:
                self._used = cmd.result
            return
        tube = _tube_of(cmd)
        for tubes in (self._server_watched, self._watched) if wanted else (self._server_watched,):
            if cmd.name == "watch":
                tubes.add(tube)
            else:
                tubes.discard(tube)

    def _sync_tubes(self) -> None:
        """Bring the server's used and watched tubes back to what the callers asked for.

        Watches go before ignores so that no ignore can hit NOT_IGNORED.
        """
        if self._server_used != self._used:
            self._fixup(cmds.use(self._used), _ignore_reply)
            self._server_used = self._used
        for tube in sorted(self._watched - self._server_watched):
            self._fixup(cmds.watch(tube), _ignore_reply)
            self._server_watched.add(tube)
        for tube in sorted(self._server_watched - self._watched):
            self._fixup(cmds.ignore(tube), _ignore_reply)
            self._server_watched.discard(tube)

    def _compensation(self, cmd: Command[Any]) -> Callable[[], None] | None:
        """What undoes ``cmd`` should its task be cancelled after the reply came."""
        if cmd.error is not None:
            return None
        name = cmd.name
        if name == "reserve" or name == "reserve-job":
            job_id: int = cmd.result.id
            return lambda: self._release_later(job_id)
        if name == "use":
            used = self._used
            return lambda: self._want(used=used)
        if name == "watch" or name == "ignore":
            tube = _tube_of(cmd)
            watched = tube in self._watched
            return lambda: self._want(tube=tube, watched=watched)
        return None

    def _want(self, used: str | None = None, tube: str = "", watched: bool = False) -> None:
        if used is not None:
            self._used = used
        elif watched:
            self._watched.add(tube)
        else:
            self._watched.discard(tube)
        self._sync_tubes()

    def _release_later(self, job_id: int) -> None:
        """Release a job nobody will get, keeping its priority (read with stats-job)."""
        self._fixup(cmds.stats_job(job_id), lambda stats: self._release(job_id, stats))

    def _release_all(self, commands: list[Command[Any]]) -> None:
        """Release the jobs a batch reserved, its task having been cancelled after all."""
        for cmd in commands:
            if cmd.error is None and cmd.name in ("reserve", "reserve-job"):
                self._release_later(cmd.result.id)

    def _release(self, job_id: int, stats: Command[JobStats]) -> None:
        if stats.error is None:
            self._fixup(cmds.release(job_id, stats.result.pri, 0), _ignore_reply)

    async def _job_size_limit(self) -> int:
        if self._max_job_size is None:
            self._max_job_size = await self._run(cmds.max_job_size(), self.timeout)
        return self._max_job_size

    # -- producing ---------------------------------------------------------------------------

    async def put(
        self,
        body: Body,
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
        ttr: Seconds = DEFAULT_TTR,
    ) -> int:
        """Put a job into the used tube and return its id (see ``jackd.Client.put``)."""
        data = cmds.body_bytes(body)
        if len(data) > DEFAULT_MAX_JOB_SIZE:
            cmds.check_size(len(data), await self._job_size_limit())
        return await self._run(cmds.put(data, priority, delay, ttr), self.timeout)

    async def use(self, tube: str) -> str:
        """Put later jobs into ``tube`` (and peek and kick there); returns the tube's name."""
        return await self._run(cmds.use(tube), self.timeout)

    # -- consuming ---------------------------------------------------------------------------

    async def reserve(self, timeout: Seconds | None = None) -> Job:
        """Reserve a job from the watched tubes, waiting until one is ready.

        Without ``timeout`` this waits as long as it takes. With ``timeout`` (seconds) it
        raises ``TimedOutError`` when no job came in time. See ``jackd.Client.reserve``.
        """
        cmd, wait = cmds.reserve_waiting(timeout, self.timeout)
        return await self._run(cmd, wait)

    async def reserve_job(self, job: Job | int) -> Job:
        """Reserve a specific job by id, in any tube, if it is ready, delayed or buried."""
        return await self._run(cmds.reserve_job(job), self.timeout)

    async def delete(self, job: Job | int) -> None:
        """Delete a job: one reserved by this connection, or any ready, delayed or buried one."""
        await self._run(cmds.delete(job), self.timeout)

    async def release(
        self,
        job: Job | int,
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
    ) -> None:
        """Put a job reserved by this connection back: ready, or delayed by ``delay`` seconds."""
        await self._run(cmds.release(job, priority, delay), self.timeout)

    async def bury(self, job: Job | int, priority: int = DEFAULT_PRIORITY) -> None:
        """Bury a job reserved by this connection; it waits until kicked."""
        await self._run(cmds.bury(job, priority), self.timeout)

    async def touch(self, job: Job | int) -> None:
        """Ask for more time: restart the TTR of a job reserved by this connection."""
        await self._run(cmds.touch(job), self.timeout)

    async def watch(self, tube: str) -> int:
        """Add ``tube`` to the watch list; returns how many tubes are watched."""
        return await self._run(cmds.watch(tube), self.timeout)

    async def ignore(self, tube: str) -> int:
        """Remove ``tube`` from the watch list; returns how many tubes are watched.

        ``NotIgnoredError`` if it is the only tube watched.
        """
        return await self._run(cmds.ignore(tube), self.timeout)

    # -- inspecting --------------------------------------------------------------------------

    async def peek(self, job: Job | int) -> Job:
        """Return a job by id, in any tube and state, without reserving it."""
        return await self._run(cmds.peek(job), self.timeout)

    async def peek_ready(self) -> Job:
        """Return the next ready job of the used tube; ``NotFoundError`` if there is none."""
        return await self._run(cmds.peek_ready(), self.timeout)

    async def peek_delayed(self) -> Job:
        """Return the delayed job of the used tube that is due first."""
        return await self._run(cmds.peek_delayed(), self.timeout)

    async def peek_buried(self) -> Job:
        """Return the oldest buried job of the used tube."""
        return await self._run(cmds.peek_buried(), self.timeout)

    async def kick(self, bound: int) -> int:
        """Kick up to ``bound`` jobs in the used tube: buried ones if any, else delayed ones.

        Returns how many were kicked.
        """
        return await self._run(cmds.kick(bound), self.timeout)

    async def kick_job(self, job: Job | int) -> None:
        """Kick one buried or delayed job, in any tube, into the ready queue."""
        await self._run(cmds.kick_job(job), self.timeout)

    async def stats(self) -> ServerStats:
        """Return the server's statistics."""
        return await self._run(cmds.stats(), self.timeout)

    async def stats_job(self, job: Job | int) -> JobStats:
        """Return a job's statistics."""
        return await self._run(cmds.stats_job(job), self.timeout)

    async def stats_tube(self, tube: str) -> TubeStats:
        """Return a tube's statistics; ``NotFoundError`` if the tube does not exist."""
        return await self._run(cmds.stats_tube(tube), self.timeout)

    async def list_tubes(self) -> list[str]:
        """Return the names of all existing tubes."""
        return await self._run(cmds.list_tubes(), self.timeout)

    async def list_tube_used(self) -> str:
        """Return the name of the tube this connection uses."""
        return await self._run(cmds.list_tube_used(), self.timeout)

    async def list_tubes_watched(self) -> list[str]:
        """Return the names of the tubes this connection watches."""
        return await self._run(cmds.list_tubes_watched(), self.timeout)

    async def pause_tube(self, tube: str, delay: Seconds) -> None:
        """Hand out no jobs from ``tube`` for ``delay`` seconds (0 ends a pause)."""
        await self._run(cmds.pause_tube(tube, delay), self.timeout)

    # -- batches -----------------------------------------------------------------------------

    def pipeline(self) -> AsyncPipeline:
        """Return an AsyncPipeline: queue commands on it, then ``await pipe.execute()``."""
        return AsyncPipeline(self)

    async def put_many(
        self,
        bodies: Iterable[Body],
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
        ttr: Seconds = DEFAULT_TTR,
    ) -> list[int]:
        """Put many jobs in one pipelined batch; returns their ids in order."""
        pipe = self.pipeline()
        for body in bodies:
            pipe.put(body, priority, delay, ttr)
        return await pipe.execute()

    async def reserve_many(self, count: int, timeout: Seconds | None = None) -> list[Job]:
        """Reserve up to ``count`` jobs in one round trip; may return fewer, or none."""
        return reserved_jobs(await self._run_batch(reserve_batch(count, timeout)))

    async def delete_many(self, jobs: Iterable[Job | int]) -> None:
        """Delete many jobs in one pipelined batch (the first error is raised at the end)."""
        pipe = self.pipeline()
        for job in jobs:
            pipe.delete(job)
        await pipe.execute()

    async def _run_batch(self, batch: Batch) -> list[Command[Any]]:
        commands = batch.commands
        if batch.largest_body > DEFAULT_MAX_JOB_SIZE:
            cmds.check_size(batch.largest_body, await self._job_size_limit())
        if not commands:
            return commands
        future: asyncio.Future[None] = self._loop.create_future()
        tracker = _Batch(future, len(commands))
        for cmd in commands:
            self._issue(cmd, tracker)
        await self._wait(future, batch.wait(self.timeout), lambda _: self._release_all(commands))
        return commands


class AsyncPipeline(PipelineBase):
    """Commands queued on an AsyncClient, sent together by ``await execute()``.

    The asyncio twin of ``jackd.Pipeline``: the same methods, queuing their commands.
    """

    def __init__(self, client: AsyncClient) -> None:
        super().__init__()
        self._client = client

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command and return their results in order.

        All replies are read before any error is raised. With ``raise_on_error=False`` a
        server error takes its command's place in the list as an exception instance.
        """
        return outcomes(await self._client._run_batch(self._take()), raise_on_error)


_TUBE_COMMANDS = frozenset(("use", "watch", "ignore"))
_SENSITIVE = _TUBE_COMMANDS | {"reserve"}


def _tube_of(cmd: Command[Any]) -> str:
    """The tube name a ``watch``/``ignore`` command was sent with (always one line)."""
    data = cmd.data
    line = data if isinstance(data, bytes) else b"".join(data)
    return line[len(cmd.name) + 1 : -2].decode("ascii")


def _call(undo: Callable[[], None] | None) -> None:
    if undo is not None:
        undo()


def _cancelled(waiter: object) -> bool:
    if isinstance(waiter, _Batch):
        return waiter.future.cancelled()
    return isinstance(waiter, asyncio.Future) and waiter.cancelled()


class _Batch:
    """The waiter shared by the commands of one batch: one future for all their replies."""

    __slots__ = ("future", "left")

    def __init__(self, future: asyncio.Future[None], count: int) -> None:
        self.future = future
        self.left = count

    def answered(self) -> None:
        self.left -= 1
        if not self.left and not self.future.done():
            self.future.set_result(None)


def _ignore_reply(cmd: Command[Any]) -> None:
    """The reply to a command nobody waits for, such as the release of a stranded job."""


class _Connect:
    """What ``connect`` returns: await it, or use it as an async context manager."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    def __await__(self) -> Generator[Any, None, AsyncClient]:
        return self.client.connect().__await__()

    async def __aenter__(self) -> AsyncClient:
        return await self.client.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.close()


def connect(
    address: Address | None = None,
    *,
    timeout: float | None = None,
    connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
) -> _Connect:
    """Open an AsyncClient; await the result, or use it with ``async with ... as client``."""
    return _Connect(AsyncClient(address, timeout=timeout, connect_timeout=connect_timeout))


__all__ = ["AsyncClient", "AsyncPipeline", "connect"]
