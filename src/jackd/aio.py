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
import contextlib
import logging
import os
import socket
import time
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import _commands as cmds
from ._address import Address, Endpoint, parse_address
from ._commands import (
    DEFAULT_DELAY,
    DEFAULT_MAX_JOB_SIZE,
    DEFAULT_PRIORITY,
    DEFAULT_TTR,
    Body,
    Job,
    Seconds,
)
from ._errors import ConnectionLostError, JackdError, ProtocolError
from ._io import connect_error, hung_up, tune
from ._pipeline import Batch, PipelineBase, outcomes, put_batch, reserve_batch, reserved_jobs
from ._protocol import Command, Core, Payload
from ._reconnect import Reconnect, reconnect_policy
from ._session import Session, put_back, unknown_fate
from ._stats import JobStats, ServerStats, TubeStats
from ._tls import stream_options, tls_setup
from .client import DEFAULT_CONNECT_TIMEOUT, check_timeout

if TYPE_CHECKING:
    from ssl import SSLContext

T = TypeVar("T")

log = logging.getLogger("jackd")

#: Writes smaller than this are gathered into one ``write`` per event-loop iteration.
_GATHER_BELOW = 1 << 16

#: Every live AsyncClient, so that a fork can make the child forget its parent's transport.
_CLIENTS: weakref.WeakSet[AsyncClient] = weakref.WeakSet()


class _Protocol(asyncio.BufferedProtocol):
    """Feeds the core from the transport and settles each command.

    Only the client's current protocol may act on it: callbacks of a transport the client
    has already left behind (closed, or replaced by a reconnect) are ignored.
    """

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.core = client._core
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = client._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            raise TypeError(f"jackd needs a stream transport, got {transport!r}")
        self.transport = transport
        client = self.client
        if client._protocol is self:
            # From now on a hang-up or garbage must reach the client, even before connect()
            # resumes: the loop may read the socket first.
            client._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            tune(sock)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.core.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        client = self.client
        if client._protocol is not self:
            return
        core = self.core
        core.buffer_updated(nbytes)
        try:
            core.receive_all(client._settle)
        except ProtocolError as exc:
            # The command whose reply made no sense gets the ProtocolError; the rest lose
            # their connection.
            if core.pending:
                client._answer(core.pending.popleft(), exc)
            client._lose(ConnectionLostError(f"connection closed after {exc}"))
            return
        if core.failure is not None:
            client._lose(core.failure)

    def eof_received(self) -> bool:
        if self.client._protocol is self:
            self.client._lose(
                ConnectionLostError(f"beanstalkd at {self.client.endpoint} closed the connection")
            )
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client._protocol is self:
            reason = f": {exc}" if exc is not None else ""
            where = self.client.endpoint
            lost = ConnectionLostError(f"connection to beanstalkd at {where} lost{reason}")
            self.client._lose(lost)
        if not self.closed.done():
            self.closed.set_result(None)


class _Waiter:
    """What a caller waits on: one future for the replies to its commands (one, or a batch).

    Replies arrive in order, so the commands answered so far are the first ``count - left``.
    ``abandoned`` once the caller was cancelled: replies still to come are then undone as
    they arrive, and those that came are undone at once.
    """

    __slots__ = ("abandoned", "commands", "future", "left", "undo")

    def __init__(self, future: asyncio.Future[None], commands: list[Command[Any]]) -> None:
        self.future = future
        self.commands = commands
        self.left = len(commands)
        self.abandoned = False
        #: What reverts the wanted tubes for tube changes already taken in (see _settle).
        self.undo: list[Callable[[], None]] | None = None

    def answered(self) -> list[Command[Any]]:
        return self.commands[: len(self.commands) - self.left]


class AsyncClient:
    """An asyncio connection to one beanstalkd server; share it freely between tasks.

    Takes the same arguments as ``jackd.Client``. Open it with ``await jackd.aio.connect(...)``,
    ``async with jackd.aio.connect(...) as client``, ``async with AsyncClient(...)``, or
    ``await client.connect()``. Every method of ``jackd.Client`` exists here as a coroutine
    with the same arguments, defaults, results and errors, and ``reconnect`` works the same
    way: every task whose command was in flight when the connection dropped gets, in order,
    its reply from the new connection (replayable commands) or a ``ConnectionLostError``
    saying the command may or may not have taken effect.
    """

    def __init__(
        self,
        address: Address | None = None,
        *,
        timeout: float | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        ssl: SSLContext | bool | None = None,
        reconnect: bool | Reconnect = False,
    ) -> None:
        self.endpoint: Endpoint
        """Where this client connects."""
        self.ssl: SSLContext | None
        """The TLS context the connection is wrapped in, or None for plain TCP."""
        self.endpoint, self.ssl = tls_setup(parse_address(address), ssl)
        self.timeout: float | None = check_timeout(timeout, "timeout")
        """Read/write timeout in seconds for each command, or None."""
        self.connect_timeout = check_timeout(connect_timeout, "connect_timeout")
        self.reconnect: Reconnect | None = reconnect_policy(reconnect)
        """The reconnect policy, or None when a lost connection stays lost."""
        self.reconnects = 0
        """How many times this client has reconnected after losing its connection."""
        self._protocol: _Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._closed_because: JackdError | None = ConnectionLostError(
            "not connected yet: await client.connect() first"
        )
        self._closing = False  # close() was called: no reconnecting until connect()
        self._connected_before = False
        self._max_job_size: int | None = None
        self._core = Core(label=f"beanstalkd at {self.endpoint}")
        #: The tubes the callers asked for and got; the core's session has what the server
        #: has. They differ only while a cancelled use/watch/ignore is being repaired, or
        #: while a new connection is being brought back to them.
        self._wanted = Session()
        self._outbox: list[bytes] = []
        # Commands not sent yet: a cancelled reserve still holds the line, the client's own
        # repairs are under way, or it is reconnecting; see _issue.
        self._held: deque[Command[Any]] = deque()
        # Set when a caller is cancelled; cleared when _line_blocked finds nothing to wait for.
        self._maybe_blocked = False
        self._fixing = 0  # the client's own repair commands (see _fixup) not yet answered
        self._changing = 0  # use/watch/ignore commands sent and not yet answered
        self._reviving: asyncio.Task[None] | None = None
        # The timeout of the oldest pending command counts from when it became the oldest.
        self._timer: asyncio.TimerHandle | None = None
        self._head_since = 0.0
        _CLIENTS.add(self)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> AsyncClient:
        """Open the connection; a failure raises ``ConnectionLostError`` (a ConnectionError).

        After ``close`` or a lost connection this opens a new one and restores the used tube
        and the watch list before anything else is sent. With a reconnect policy, it makes as
        many attempts as the policy allows.
        """
        if self._transport is not None:
            return self
        self._closing = False
        if self._reviving is None:
            # Opening again after a close or a loss counts as a reconnect; the first time not.
            self._reviving = self._loop.create_task(self._revive([], self._connected_before))
        await asyncio.shield(self._reviving)
        if self._transport is None:
            reason = self._closed_because
            cause = reason.__cause__ if reason is not None else None
            raise ConnectionLostError(f"not connected: {reason}") from cause
        return self

    async def _open(self) -> None:
        """One attempt at a connection; ConnectionLostError if it fails."""
        loop = self._loop
        endpoint = self.endpoint

        def protocol_factory() -> _Protocol:
            protocol = _Protocol(self)
            self._protocol = protocol
            return protocol

        if endpoint.path is not None:
            opening = loop.create_unix_connection(protocol_factory, endpoint.path)
        else:
            opening = loop.create_connection(
                protocol_factory,
                endpoint.host or "localhost",
                endpoint.port,
                **stream_options(endpoint, self.ssl, self.connect_timeout),
            )
        try:
            transport, protocol = await asyncio.wait_for(opening, self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            self._protocol = None
            raise connect_error(endpoint, exc) from exc
        if self._closing:
            self._protocol = None
            transport.abort()
            raise ConnectionLostError("the client was closed")
        if self._protocol is not protocol or self._transport is None:
            # The server hung up, or sent garbage, before this task resumed.
            self._protocol = None
            raise ConnectionLostError(f"{self._closed_because}")
        self._closed_because = None
        self._connected_before = True

    async def _revive(self, unanswered: list[Command[Any]], lost: bool) -> None:
        """Connect within the policy, restore the tubes, then send again what may be replayed.

        ``unanswered`` are the commands that were in flight when the connection was lost, in
        order; those that may not be sent twice get a ConnectionLostError once connected.
        """
        policy = self.reconnect or Reconnect(1)
        attempts = 0
        last: BaseException | None = None
        try:
            for wait in policy.waits():
                if wait:
                    await asyncio.sleep(wait)
                if self._closing:
                    break
                attempts += 1
                try:
                    await self._open()
                except ConnectionLostError as exc:
                    last = exc
                    log.info("attempt %d to connect to %s failed: %s", attempts, self.endpoint, exc)
                    continue
                if lost:
                    self.reconnects += 1
                    log.info("reconnected to %s (attempt %d)", self.endpoint, attempts)
                self._resume(unanswered, started=time.monotonic())
                return
        finally:
            self._reviving = None
        if self._closing:
            error = ConnectionLostError("the client was closed")
        elif self.reconnect is None and isinstance(last, ConnectionLostError):
            # One attempt and no policy, as the sync client makes it: its own error (a failed
            # TLS verification, say, with the ssl error as its cause) says it best.
            error = last
        else:
            error = ConnectionLostError(
                f"cannot connect to beanstalkd at {self.endpoint}: gave up after {attempts} "
                f"attempt{'s' if attempts != 1 else ''}; last error: {last}"
            )
        self._closed_because = error
        for cmd in unanswered:
            # What was sent may have taken effect, whether or not the client came back.
            fate = error if cmd.kind.replayable else None
            self._answer(cmd, fate or unknown_fate(cmd, self._core.label, f"{error}"))
        self._fail_all(list(self._held), error)
        self._held.clear()

    def _resume(self, unanswered: list[Command[Any]], started: float) -> None:
        """On a new connection: restore the tubes, replay, answer the rest, send the held."""
        self._sync_tubes()
        for cmd in unanswered:
            waiter = cmd.waiter
            if not isinstance(waiter, (_Waiter, _Callback)):
                # The client's own repairs: the new connection gets fresh ones from
                # _sync_tubes, and the jobs they would have given back went with the old one.
                continue
            if isinstance(waiter, _Waiter) and waiter.abandoned:
                continue
            if cmd.kind.replayable:
                cmds.rearm(cmd, started - cmd.sent_at)
                self._transmit(cmd)
            else:
                self._answer(cmd, unknown_fate(cmd, self._core.label, "the client has reconnected"))
        self._send_held()

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
        """Close the connection at once; tasks waiting on this client get ConnectionLostError.

        Data not yet sent is dropped: every command it belongs to fails anyway. The client
        does not reconnect after ``close`` until ``connect`` is called.
        """
        self._closing = True
        reviving = self._reviving
        protocol = self._protocol
        self._lose(ConnectionLostError("the client was closed"))
        if reviving is not None:
            reviving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reviving
        if protocol is not None:
            await protocol.closed

    async def quit(self) -> None:
        """Send ``quit`` and close the connection."""
        transport = self._transport
        if transport is not None:
            self._flush()
            transport.write(b"quit\r\n")
            self._closing = True
            protocol = self._protocol
            # With writes still buffered the server is not reading: it would never see the
            # quit, so closing at once is all there is to do.
            stalled = transport.get_write_buffer_size() > 0
            self._lose(ConnectionLostError("the client sent quit"), graceful=not stalled)
            if protocol is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(protocol.closed), self.connect_timeout)
                except asyncio.TimeoutError:
                    transport.abort()
        await self.close()

    def _lose(self, reason: JackdError, graceful: bool = False, renew: bool = False) -> None:
        """The connection is gone: close the transport, then reconnect or fail every waiter.

        The first reason sticks. Unsent data is dropped (``abort``) unless ``graceful``.
        ``renew`` reconnects even without a reconnect policy (once).
        """
        transport, self._transport = self._transport, None
        if transport is None:
            if self._closing and self._reviving is None:
                self._fail_all(list(self._held), reason)
                self._held.clear()
            return
        self._protocol = None
        self._closed_because = reason
        self._outbox.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        unanswered = list(self._core.pending)
        self._core.reset()
        self._fixing = self._changing = 0
        if graceful:
            transport.close()
        else:
            transport.abort()
        if self._reviving is not None:
            return  # lost while connecting: the attempt under way fails, and says why
        if (self.reconnect is not None or renew) and not self._closing:
            log.warning("lost the connection to %s (%s); reconnecting", self.endpoint, reason)
            self._reviving = self._loop.create_task(self._revive(unanswered, True))
            return
        self._fail_all([*unanswered, *self._held], reason)
        self._held.clear()

    def _fail_all(self, commands: list[Command[Any]], reason: JackdError) -> None:
        for cmd in commands:
            self._answer(cmd, reason)

    def _forget_after_fork(self) -> None:
        """In a child process: the transport is the parent's; never touch it again."""
        if self._transport is not None or self._reviving is not None:
            self._transport = self._protocol = None
            self._reviving = self._timer = None
            self._outbox = []
            self._held = deque()
            self._core.reset()
            self._fixing = self._changing = 0
            self._closed_because = ConnectionLostError(
                "this client's connection belongs to the parent process: the client was used "
                "after os.fork(); connect() (or reconnect=True) opens one of the child's own"
            )

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
        """Send a caller's command, or hold it back while the line is not ready for it.

        Three things hold commands back. A reserve whose caller was cancelled may still be
        waiting on the server, which answers nothing behind it: if it is answered with a job,
        a reserve held here can take that job at once. While the client's own repairs
        (releasing a job nobody will take, restoring tubes) are under way, later commands
        must see their effect. And while reconnecting there is no connection to send on.
        """
        cmd.waiter = waiter
        if (
            self.reconnect is not None
            and not cmd.kind.replayable
            and not self._core.pending
            and self._transport is not None
            and self._hung_up()
        ):
            # The server went away while we were idle, and the loop has not seen it yet:
            # nothing is sent on that connection, so this command is not of unknown fate.
            self._lose(ConnectionLostError(f"{self._core.label} closed the connection"))
        if self._transport is None:
            if self._reviving is None:
                if self.reconnect is None or self._closing:
                    raise ConnectionLostError(f"not connected: {self._closed_because}")
                self._reviving = self._loop.create_task(self._revive([], True))
            self._held.append(cmd)
            return
        if cmd.kind.holds_job:
            refused = self._core.session.refuse(cmd)
            if refused is not None:
                self._answer(cmd, refused)
                return
        if self._held or self._fixing or (self._maybe_blocked and self._line_blocked()):
            self._held.append(cmd)
            return
        self._transmit(cmd)

    def _hung_up(self) -> bool:
        """Whether the server has closed the idle connection (the sync shell's check)."""
        assert self._transport is not None  # for mypy: callers check
        sock = self._transport.get_extra_info("socket")
        if sock is None:
            return False
        # A duplicate of the descriptor, as asyncio's socket wrapper allows no recv; peeking
        # on it reads the same stream and consumes nothing.
        with socket.socket(fileno=os.dup(sock.fileno())) as peek:
            return hung_up(peek)

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
        kind = cmd.kind
        if kind.changes:
            self._changing += 1
        if idle and self.timeout is not None:
            self._head_since = self._loop.time()
            if self._timer is None:
                self._arm(self.timeout)
        if kind.reserves:
            cmd.sent_at = time.monotonic()
        self._send(cmd.data, idle)

    def _arm(self, delay: float) -> None:
        self._timer = self._loop.call_later(delay, self._check_timeout)

    def _check_timeout(self) -> None:
        """Time out the oldest pending command if its wait, counted from its turn, is over."""
        self._timer = None
        pending = self._core.pending
        if not pending or self._transport is None:
            return
        head = pending[0]
        wait = cmds.wait_for(head, self.timeout)
        if wait is None:
            return  # a blocking reserve: armed again once it is answered
        left = self._head_since + wait - self._loop.time()
        if left > 0:
            self._arm(left)
            return
        pending.popleft()
        self._answer(
            head,
            TimeoutError(
                f"no reply from beanstalkd at {self.endpoint} within {wait} s; connection closed"
            ),
        )
        self._lose(ConnectionLostError(f"{head.describe()} timed out after {wait} s"))

    def _line_blocked(self) -> bool:
        """Whether a cancelled reserve, use, watch or ignore is still on its way.

        Until it is answered, nobody knows what must be repaired: a reserve may bring a job
        to hand over or release, and the tubes can only be put right once every cancelled
        change to them is known.
        """
        blocked = any(
            (cmd.kind.reserves or cmd.kind.changes) and _abandoned(cmd.waiter)
            for cmd in self._core.pending
        )
        self._maybe_blocked = blocked
        return blocked

    def _hand_over(self, job: Job) -> None:
        """Give a job that a cancelled reserve got to the next held reserve, or release it."""
        held = self._held
        while held and _abandoned(held[0].waiter):
            held.popleft()
        if held and held[0].kind.reserves and held[0].kind is not cmds.RESERVE_JOB:
            taker = held.popleft()
            self._answer(taker, None, job)
            return
        self._put_back(job.id, None)

    def _send_held(self) -> None:
        held = self._held
        while (
            held
            and self._transport is not None
            and not self._fixing
            and not (self._maybe_blocked and self._line_blocked())
        ):
            cmd = held.popleft()
            if not _abandoned(cmd.waiter):
                self._transmit(cmd)

    async def _run(self, cmd: Command[T]) -> T:
        future: asyncio.Future[None] = self._loop.create_future()
        waiter = _Waiter(future, [cmd])
        self._issue(cmd, waiter)
        try:
            await future
        except asyncio.CancelledError:
            self._cancelled(waiter)
            raise
        if cmd.error is not None:
            raise cmd.error
        return cmd.result

    def _cancelled(self, waiter: _Waiter) -> None:
        """The task awaiting ``waiter``'s future was cancelled: undo what its replies did.

        Replies still to come are dealt with when they arrive (see _abandoned_reply); those
        that came are undone at once. Callers await the future themselves and call this on
        ``CancelledError`` (no coroutine of its own per command), then re-raise.
        """
        waiter.abandoned = True
        self._maybe_blocked = True
        for undo in waiter.undo or ():
            undo()
        answered = waiter.answered()
        taken = [c for c in answered if c.error is None and c.kind.reserves]
        if taken and any(c.kind.blocks for c in waiter.commands[len(answered) :]):
            # The batch's own blocking reserve still holds the line: nothing sent now
            # would be read before a job arrives. A new connection gives the jobs back at
            # once (the server releases what a closed connection held).
            self._lose(
                ConnectionLostError("connection renewed to give back a cancelled batch's jobs"),
                renew=True,
            )
        else:
            for cmd in taken:
                self._put_back(cmd.result.id, _prior(waiter, cmd))

    def _answer(self, cmd: Command[Any], error: Exception | None, result: object = None) -> None:
        """Settle a command with an outcome of the client's own (an error, or a job)."""
        if error is None:
            cmd.result, cmd.error = result, None
        else:
            cmd.error = error
        waiter = cmd.waiter
        if isinstance(waiter, _Waiter) and not waiter.abandoned:
            self._taken(cmd, waiter)
        elif isinstance(waiter, _Callback):
            waiter.func(cmd)

    def _send_then(self, cmd: Command[Any], then: Callable[[Command[Any]], None]) -> None:
        """Send ``cmd`` for a caller that wants its outcome as a call, not a future to await.

        ``then(cmd)`` gets the command once it has its result or error, including the error
        of a lost connection. Cheaper than awaiting: the asyncio worker settles jobs this way.
        Raises ConnectionLostError at once if the client is closed for good.
        """
        self._issue(cmd, _Callback(then))

    def _taken(self, cmd: Command[Any], waiter: _Waiter) -> None:
        waiter.left -= 1
        if not waiter.left and not waiter.future.done():
            waiter.future.set_result(None)

    def _settle(self, cmd: Command[Any]) -> None:
        """Called by the protocol for each answered command, in order."""
        waiter = cmd.waiter
        kind = cmd.kind
        if isinstance(waiter, _Waiter):
            if waiter.abandoned or waiter.future.cancelled():
                waiter.abandoned = True
                self._abandoned_reply(cmd, waiter)
            else:
                if kind.changes and cmd.error is None:
                    # The caller has it now; should it be cancelled before it resumes, the
                    # change is undone (see _wait).
                    undo = self._want(cmd)
                    if waiter.undo is None:
                        waiter.undo = [undo]
                    else:
                        waiter.undo.append(undo)
                self._taken(cmd, waiter)
        elif isinstance(waiter, _Callback):
            waiter.func(cmd)
        elif waiter is not None:
            waiter(cmd)
        if kind.changes:
            self._changing -= 1
            if not self._changing:
                self._sync_tubes()
        if self.timeout is not None and self._core.pending:
            self._head_since = self._loop.time()
            if self._timer is None:
                self._arm(self.timeout)

    def _abandoned_reply(self, cmd: Command[Any], waiter: _Waiter) -> None:
        """Deal with the reply to a command whose caller was cancelled."""
        kind = cmd.kind
        if cmd.error is None and kind.reserves:
            if kind is cmds.RESERVE_JOB:
                self._put_back(cmd.result.id, _prior(waiter, cmd))
            else:
                self._hand_over(cmd.result)
        if (kind.reserves or kind.changes) and not self._line_blocked():
            self._sync_tubes()
            self._send_held()

    def _want(self, cmd: Command[Any]) -> Callable[[], None]:
        """Take a caller's tube change into the wanted tubes; return what reverts it."""
        wanted = self._wanted
        if cmd.kind.changes == "use":
            used = wanted.used
            wanted.apply(cmd)

            def revert() -> None:
                wanted.used = used
                self._sync_tubes()

            return revert
        tube = cast(str, cmd.arg)
        was_watched = tube in wanted.watched
        wanted.apply(cmd)

        def rewatch() -> None:
            if was_watched:
                wanted.watched[tube] = None
            else:
                wanted.watched.pop(tube, None)
            self._sync_tubes()

        return rewatch

    def _sync_tubes(self) -> None:
        """Bring the server's tubes back to what the callers asked for, once none is changing.

        The core's session has what the server's replies said; the wanted one, what the
        callers got. Repairs go out at once, and hold back later commands until answered.
        """
        if self._changing or self._transport is None:
            return
        for step in self._core.session.steps_to(self._wanted):
            self._fixup(step, _ignore_reply)

    def _put_back(self, job_id: int, prior: JobStats | None) -> None:
        """Give back a job nobody will get, as it was (read with stats-job when unknown)."""
        if prior is not None:
            self._fixup(put_back(job_id, prior), _ignore_reply)
        else:
            self._fixup(cmds.stats_job(job_id), lambda stats: self._put_back_as(job_id, stats))

    def _put_back_as(self, job_id: int, stats: Command[JobStats]) -> None:
        if stats.error is None:
            self._fixup(put_back(job_id, stats.result), _ignore_reply)

    async def _job_size_limit(self) -> int:
        if self._max_job_size is None:
            self._max_job_size = await self._run(cmds.max_job_size())
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
        data = body if type(body) is bytes else cmds.body_bytes(body)
        if len(data) > DEFAULT_MAX_JOB_SIZE:
            cmds.check_size(len(data), await self._job_size_limit())
        return await self._run(cmds.put(data, priority, delay, ttr))

    async def use(self, tube: str) -> str:
        """Put later jobs into ``tube`` (and peek and kick there); returns the tube's name."""
        return await self._run(cmds.use(tube))

    # -- consuming ---------------------------------------------------------------------------

    async def reserve(self, timeout: Seconds | None = None) -> Job:
        """Reserve a job from the watched tubes, waiting until one is ready.

        Without ``timeout`` this waits as long as it takes. With ``timeout`` (seconds) it
        raises ``TimedOutError`` when no job came in time. See ``jackd.Client.reserve``.
        """
        return await self._run(cmds.reserve(timeout))

    async def reserve_job(self, job: Job | int) -> Job:
        """Reserve a specific job by id, in any tube, if it is ready, delayed or buried."""
        # The job's stats go along in the same write, so that if this task is cancelled the
        # job can go back to the state it was in (buried, or delayed with its time left).
        before, reserving = cmds.stats_job(job), cmds.reserve_job(job)
        future: asyncio.Future[None] = self._loop.create_future()
        waiter = _Waiter(future, [before, reserving])
        self._issue(before, waiter)
        self._issue(reserving, waiter)
        try:
            await future
        except asyncio.CancelledError:
            self._cancelled(waiter)
            raise
        if reserving.error is not None:
            raise reserving.error
        return reserving.result

    async def delete(self, job: Job | int) -> None:
        """Delete a job: one reserved by this connection, or any ready, delayed or buried one."""
        await self._run(cmds.delete(job))

    async def release(
        self,
        job: Job | int,
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
    ) -> None:
        """Put a job reserved by this connection back: ready, or delayed by ``delay`` seconds."""
        await self._run(cmds.release(job, priority, delay))

    async def bury(self, job: Job | int, priority: int = DEFAULT_PRIORITY) -> None:
        """Bury a job reserved by this connection; it waits until kicked."""
        await self._run(cmds.bury(job, priority))

    async def touch(self, job: Job | int) -> None:
        """Ask for more time: restart the TTR of a job reserved by this connection."""
        await self._run(cmds.touch(job))

    async def watch(self, tube: str) -> int:
        """Add ``tube`` to the watch list; returns how many tubes are watched."""
        return await self._run(cmds.watch(tube))

    async def ignore(self, tube: str) -> int:
        """Remove ``tube`` from the watch list; returns how many tubes are watched.

        ``NotIgnoredError`` if it is the only tube watched.
        """
        return await self._run(cmds.ignore(tube))

    # -- inspecting --------------------------------------------------------------------------

    async def peek(self, job: Job | int) -> Job:
        """Return a job by id, in any tube and state, without reserving it."""
        return await self._run(cmds.peek(job))

    async def peek_ready(self) -> Job:
        """Return the next ready job of the used tube; ``NotFoundError`` if there is none."""
        return await self._run(cmds.peek_ready())

    async def peek_delayed(self) -> Job:
        """Return the delayed job of the used tube that is due first."""
        return await self._run(cmds.peek_delayed())

    async def peek_buried(self) -> Job:
        """Return the oldest buried job of the used tube."""
        return await self._run(cmds.peek_buried())

    async def kick(self, bound: int) -> int:
        """Kick up to ``bound`` jobs in the used tube: buried ones if any, else delayed ones.

        Returns how many were kicked.
        """
        return await self._run(cmds.kick(bound))

    async def kick_job(self, job: Job | int) -> None:
        """Kick one buried or delayed job, in any tube, into the ready queue."""
        await self._run(cmds.kick_job(job))

    async def stats(self) -> ServerStats:
        """Return the server's statistics."""
        return await self._run(cmds.stats())

    async def stats_job(self, job: Job | int) -> JobStats:
        """Return a job's statistics."""
        return await self._run(cmds.stats_job(job))

    async def stats_tube(self, tube: str) -> TubeStats:
        """Return a tube's statistics; ``NotFoundError`` if the tube does not exist."""
        return await self._run(cmds.stats_tube(tube))

    async def list_tubes(self) -> list[str]:
        """Return the names of all existing tubes."""
        return await self._run(cmds.list_tubes())

    async def list_tube_used(self) -> str:
        """Return the name of the tube this connection uses."""
        return await self._run(cmds.list_tube_used())

    async def list_tubes_watched(self) -> list[str]:
        """Return the names of the tubes this connection watches."""
        return await self._run(cmds.list_tubes_watched())

    async def pause_tube(self, tube: str, delay: Seconds) -> None:
        """Hand out no jobs from ``tube`` for ``delay`` seconds (0 ends a pause)."""
        await self._run(cmds.pause_tube(tube, delay))

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
        return outcomes(await self._run_batch(put_batch(bodies, priority, delay, ttr)), True)

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
        waiter = _Waiter(future, commands)
        for cmd in commands:
            self._issue(cmd, waiter)
        try:
            await future
        except asyncio.CancelledError:
            self._cancelled(waiter)
            raise
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


class _Callback:
    """The waiter of a command whose outcome goes to a function (see _send_then)."""

    __slots__ = ("func",)

    def __init__(self, func: Callable[[Command[Any]], None]) -> None:
        self.func = func


def _abandoned(waiter: object) -> bool:
    if isinstance(waiter, _Waiter):
        return waiter.abandoned or waiter.future.cancelled()
    return False


def _prior(waiter: _Waiter, cmd: Command[Any]) -> JobStats | None:
    """For a reserve-job, the job's stats read just before it (see AsyncClient.reserve_job)."""
    if cmd.kind is not cmds.RESERVE_JOB:
        return None
    commands = waiter.commands
    i = commands.index(cmd)
    before = commands[i - 1] if i else None
    if before is not None and before.kind is cmds.STATS_JOB and before.error is None:
        stats: JobStats = before.result
        return stats
    return None


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
    ssl: SSLContext | bool | None = None,
    reconnect: bool | Reconnect = False,
) -> _Connect:
    """Open an AsyncClient; await the result, or use it with ``async with ... as client``.

    With no address, ``BEANSTALKD_URL`` is used when set, else localhost:11300. ``ssl``
    works as in ``jackd.Client``.
    """
    client = AsyncClient(
        address, timeout=timeout, connect_timeout=connect_timeout, ssl=ssl, reconnect=reconnect
    )
    return _Connect(client)


def _forget_transports_after_fork() -> None:
    for client in list(_CLIENTS):
        client._forget_after_fork()


os.register_at_fork(after_in_child=_forget_transports_after_fork)


if TYPE_CHECKING:
    from ._aio_pool import Pool
    from ._aio_worker import Worker


def __getattr__(name: str) -> Any:
    # The asyncio worker and pool are built on AsyncClient: importing them here, on first
    # use, lets either module be imported first without a circular import.
    if name == "Worker":
        from ._aio_worker import Worker

        return Worker
    if name == "Pool":
        from ._aio_pool import Pool

        return Pool
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AsyncClient", "AsyncPipeline", "Pool", "Worker", "connect"]
