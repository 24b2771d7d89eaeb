"""The synchronous client: a thin blocking shell over the sans-I/O protocol core.

Threads: one ``Client`` may be shared by any number of threads. Each command holds the
connection's lock from the first byte written to the last byte of its reply, so commands never
interleave on the wire. A blocking ``reserve()`` holds the lock while it waits, so other threads
sharing that client wait too: give each consumer thread its own client, or use
``reserve(timeout=...)`` to bound the wait.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable
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
from ._errors import ConnectionLostError, JackdError
from ._io import (
    SMALL_BATCH,
    closing_reason,
    exchange,
    exchange_small,
    gather,
    hung_up,
    lost,
    open_socket,
    send_buffers,
)
from ._pipeline import Batch, PipelineBase, outcomes, put_batch, reserve_batch, reserved_jobs
from ._protocol import Command, Core
from ._reconnect import Reconnect, reconnect_policy
from ._session import unknown_fate
from ._stats import JobStats, ServerStats, TubeStats
from ._tls import tls_setup

if TYPE_CHECKING:
    from ssl import SSLContext  # only for annotations: plain TCP never loads ssl

T = TypeVar("T")

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a connection to be established when none is given."""

log = logging.getLogger("jackd")

#: Every live Client, so that a fork can make the child forget its parent's sockets.
_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()
#: Between these checks a reconnect's wait notices close(), even from a signal handler.
_WAIT_SLICE = 0.05


def check_timeout(value: float | None, what: str) -> float | None:
    """Validate a socket timeout: None (wait forever) or a finite positive number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{what} must be a finite positive number of seconds or None, got {value}")
    return float(value)


class Client:
    """A connection to one beanstalkd server.

    ``address`` takes ``"host:port"``, ``"host"``, ``"[::1]:11300"``, ``("host", port)``,
    ``"beanstalk://host[:port]"``, ``"beanstalks://host[:port]"`` (TLS, port 11400 unless
    given) or ``"unix:///path/to.sock"``; None means the ``BEANSTALKD_URL`` environment
    variable, or localhost:11300 when it is not set.
    ``timeout`` bounds every wait on the socket (None waits forever): when it runs out the call
    raises ``TimeoutError`` and the connection is closed, since the reply may still come.
    ``connect_timeout`` bounds establishing the connection.

    ``ssl`` wraps the connection in TLS: an ``ssl.SSLContext``, or True for
    ``ssl.create_default_context()`` (the system's CAs); the certificate must be valid for the
    address's host. A ``beanstalks://`` address uses TLS even without ``ssl``. A certificate
    that fails verification raises ``ConnectionLostError`` saying so.

    ``reconnect`` (True, or a ``jackd.Reconnect`` policy) makes the client reconnect when the
    connection is lost, restoring the used tube and the watch list before anything else is
    sent; see the docs' page on connection loss for what is sent again and what is not.
    Without it, a lost connection stays lost: every later call raises ``ConnectionLostError``.

    The client connects at once; a failure raises ``ConnectionLostError``, a ``ConnectionError``.
    It is safe to share between threads (see the module documentation about ``reserve``).
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
        """Where this client is connected."""
        self.ssl: SSLContext | None
        """The TLS context the connection is wrapped in, or None for plain TCP."""
        self.endpoint, self.ssl = tls_setup(parse_address(address), ssl)
        self.timeout: float | None = check_timeout(timeout, "timeout")
        """Socket read/write timeout in seconds, or None."""
        self.connect_timeout = check_timeout(connect_timeout, "connect_timeout")
        self.reconnect: Reconnect | None = reconnect_policy(reconnect)
        """The reconnect policy, or None when a lost connection stays lost."""
        self.reconnects = 0
        """How many times this client has reconnected after losing its connection."""
        self._lock = threading.Lock()
        self._owner = 0  # the thread running a command, so close() can tell it is that thread
        self._core = Core(label=f"beanstalkd at {self.endpoint}")
        self._max_job_size: int | None = None
        self._closed_because: JackdError | None = None
        self._closing = False  # close() was called: say so, and reconnect no more
        self._sock_timeout: float | None = None
        self._sock: socket.socket | None = None
        _CLIENTS.add(self)
        with self._lock:
            self._owner = threading.get_ident()
            try:
                if self.reconnect is None:
                    self._sock = self._open()
                else:
                    self._reconnect(None)
            finally:
                self._owner = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._sock is not None else "closed"
        return f"<jackd.Client {self.endpoint} {state}>"

    @property
    def closed(self) -> bool:
        """True while not connected: after ``close``/``quit``, or once lost (until reconnected)."""
        return self._sock is None

    def connect(self) -> Client:
        """Open the connection again after ``close`` or a loss, restoring the session.

        The used tube and the watch list are set up as they were; jobs reserved on the old
        connection were released by the server and count as lost (``ReservationLostError``).
        Does nothing if the client is connected. Uses the reconnect policy, if any, for
        its attempts; without one it tries once.
        """
        with self._lock:
            self._owner = threading.get_ident()
            try:
                if self._sock is None:
                    self._closing = False
                    self._reconnect(self._closed_because, self.reconnect or Reconnect(1))
            finally:
                self._owner = 0
        return self

    def close(self) -> None:
        """Close the connection. Safe to call from any thread, a signal handler, and twice.

        A call blocked on this client (say, in ``reserve``) wakes up with
        ``ConnectionLostError``; jobs it had reserved go back to the ready queue at once. The
        client does not reconnect after ``close`` until ``connect`` is called.
        """
        # A call blocked in reserve wakes up with an error of its own; this makes it, and
        # every later call, say why, and stops any reconnect under way.
        self._closing = True
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                # Wakes a thread blocked in recv on this socket; closing alone would not.
                sock.shutdown(socket.SHUT_RDWR)
        if self._owner == threading.get_ident():
            # Called from a signal handler (or a hook) inside this thread's own call, which
            # holds the lock: that call wakes from the shutdown and closes the socket itself.
            return
        with self._lock:
            self._drop(ConnectionLostError("the client was closed"))

    def quit(self) -> None:
        """Send ``quit`` and close the connection.

        If another thread holds the connection (say, blocked in ``reserve``), the server would
        not read the ``quit`` anyway, so this just closes, as ``close`` does.
        """
        if self._owner == threading.get_ident() or not self._lock.acquire(blocking=False):
            self.close()
            return
        try:
            self._closing = True
            sock = self._sock
            if sock is None:
                return
            with contextlib.suppress(OSError):
                sock.sendall(b"quit\r\n")
            self._drop(ConnectionLostError("the client sent quit"))
        finally:
            self._lock.release()

    def _drop(self, reason: JackdError) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            self._closed_because = reason
            sock.close()
        self._core.pending.clear()

    def _open(self) -> socket.socket:
        sock = open_socket(self.endpoint, self.connect_timeout, self.ssl)
        sock.settimeout(self.timeout)
        self._sock_timeout = self.timeout
        return sock

    def _reconnect(self, reason: JackdError | None, policy: Reconnect | None = None) -> None:
        """Connect again within the policy's attempts and restore the session's tubes.

        Called with the lock held and no socket. Raises ConnectionLostError, saying how many
        attempts were made and the last error, when they run out or ``close`` is called.
        """
        policy = policy or self.reconnect
        assert policy is not None  # for mypy: callers only come here with a policy
        core = self._core
        target = core.reset() if reason is not None else core.session.tubes()
        if reason is not None:
            log.warning("lost the connection to %s (%s); reconnecting", self.endpoint, reason)
        attempts = 0
        last: BaseException | None = None
        for wait in policy.waits():
            if not self._pause(wait):
                break
            attempts += 1
            try:
                sock = self._open()
            except ConnectionLostError as exc:
                last = exc
                log.info("attempt %d to connect to %s failed: %s", attempts, self.endpoint, exc)
                continue
            try:
                steps = core.session.steps_to(target)
                if steps:
                    core.pending.extend(steps)
                    patience = self.timeout or self.connect_timeout
                    exchange(sock, core, gather(c.data for c in steps), len(steps), patience)
                    for step in steps:
                        if step.error is not None:
                            raise step.error
            except (OSError, JackdError) as exc:
                sock.close()
                core.reset()
                last = exc
                continue
            self._sock = sock
            self._closed_because = None
            if reason is not None:
                self.reconnects += 1
                log.info("reconnected to %s (attempt %d)", self.endpoint, attempts)
            return
        if self._closing:
            raise ConnectionLostError("the client was closed")
        error = ConnectionLostError(
            f"cannot connect to beanstalkd at {self.endpoint}: gave up after {attempts} "
            f"attempt{'s' if attempts != 1 else ''}; last error: {last}"
        )
        self._closed_because = error
        raise error from last

    def _pause(self, seconds: float) -> bool:
        """Wait before an attempt; False as soon as close() is called."""
        deadline = time.monotonic() + seconds
        while not self._closing:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            # Short sleeps, not an Event: close() may come from a signal handler in this
            # very thread, which must not wait for a lock this thread holds.
            time.sleep(min(left, _WAIT_SLICE))
        return False

    def _socket(self) -> socket.socket:
        """The connected socket; reconnects first if the policy says so (lock held)."""
        sock = self._sock
        if sock is not None:
            return sock
        if self.reconnect is None or self._closing:
            raise ConnectionLostError(f"not connected: {self._closed_because}")
        self._reconnect(self._closed_because)
        assert self._sock is not None  # for mypy: _reconnect returns only once connected
        return self._sock

    def _forget_after_fork(self) -> None:
        """In a child process: the socket is the parent's; never touch it again."""
        self._lock = threading.Lock()
        self._owner = 0
        sock, self._sock = self._sock, None
        if sock is not None:
            # Closing our copy of the descriptor leaves the parent's connection as it was;
            # shutdown would end it for both processes.
            sock.close()
            # The session stays: a connection of the child's own gets the same tubes.
            self._closed_because = ConnectionLostError(
                "this client's connection belongs to the parent process: the client was used "
                "after os.fork(); connect() (or reconnect=True) opens one of the child's own"
            )

    # -- running commands --------------------------------------------------------------------

    def _run(self, cmd: Command[T], wait: float | None) -> T:
        with self._lock:
            self._owner = threading.get_ident()
            try:
                core = self._core
                started = 0.0
                while True:
                    sock = self._sock or self._socket()
                    if self.reconnect is not None and not cmd.kind.replayable and hung_up(sock):
                        # The server went away while we were idle: nothing was sent yet.
                        self._drop(ConnectionLostError(f"{self._core.label} closed the connection"))
                        continue
                    if cmd.kind.holds_job:
                        refused = core.session.refuse(cmd)
                        if refused is not None:
                            raise refused
                    try:
                        if wait != self._sock_timeout:
                            sock.settimeout(wait)
                            self._sock_timeout = wait
                        if cmd.kind is cmds.RESERVE_WITH_TIMEOUT:
                            started = time.monotonic()
                        data = cmd.data
                        if isinstance(data, bytes):
                            sock.sendall(data)
                        else:
                            send_buffers(sock, data)
                        # One command in flight and nothing buffered between commands (each
                        # reads its reply to the end), so the pending FIFO has nothing to do.
                        parts, body = core.read_reply(sock.recv_into)
                        break
                    except BaseException as exc:
                        self._recover(exc, wait, [cmd], started, single=True)
                try:
                    core.deliver(cmd, parts, body)
                    core.check_drained()
                finally:
                    if core.failure is not None:
                        self._drop(core.failure)
                if cmd.error is not None:
                    raise cmd.error
                return cmd.result
            finally:
                self._owner = 0

    def _run_batch(self, batch: Batch, look: bool = True) -> list[Command[Any]]:
        """Run a batch; ``look=False`` skips the look for a hang-up (see the worker)."""
        commands = batch.commands
        if batch.largest_body > DEFAULT_MAX_JOB_SIZE:
            cmds.check_size(batch.largest_body, self._job_size_limit())
        if not commands:
            return commands
        wait = batch.wait(self.timeout)
        with self._lock:
            self._owner = threading.get_ident()
            try:
                core = self._core
                todo = commands
                while todo:
                    sock = self._sock or self._socket()
                    if (
                        look
                        and self.reconnect is not None
                        and not all(cmd.kind.replayable for cmd in todo)
                        and hung_up(sock)
                    ):
                        self._drop(ConnectionLostError(f"{self._core.label} closed the connection"))
                        continue
                    if batch.holds_jobs:
                        todo = [cmd for cmd in todo if not self._refused(cmd)]
                    started = time.monotonic()
                    try:
                        core.pending.extend(todo)
                        blocks = gather(cmd.data for cmd in todo)
                        if batch.unbuilt:
                            more = _encoding(batch, core)
                            exchange(sock, core, blocks, len(todo) + batch.unbuilt, wait, more)
                        elif len(blocks) == 1 and len(blocks[0]) <= SMALL_BATCH:
                            exchange_small(sock, core, blocks, len(todo), wait)
                        else:
                            exchange(sock, core, blocks, len(todo), wait)
                        break
                    except BaseException as exc:
                        todo = self._recover(exc, wait, list(core.pending), started)
                if core.failure is not None:
                    self._drop(core.failure)
                if batch.unbuilt:
                    batch.abandon(
                        ConnectionLostError(
                            f"put: not sent, as the connection to {core.label} was lost first"
                        )
                    )
            finally:
                self._owner = 0
        return commands

    def _refused(self, cmd: Command[Any]) -> bool:
        if cmd.kind.holds_job:
            cmd.error = self._core.session.refuse(cmd)
        return cmd.error is not None

    def _recover(
        self,
        exc: BaseException,
        wait: float | None,
        unanswered: list[Command[Any]],
        started: float,
        single: bool = False,
    ) -> list[Command[Any]]:
        """Deal with ``exc``, raised mid-command; return the commands to send again.

        The connection's state is unknown after it, so it is closed. With a reconnect policy,
        and when the connection was lost (not timed out or interrupted), the client
        reconnects; commands that are safe to replay are returned to be sent again, and the
        rest get a ConnectionLostError saying they may or may not have taken effect. Without
        a policy, this raises; so it does for a ``single`` command (not a batch's) that is
        not sent again.
        """
        err = lost(exc, self.endpoint, wait)
        if self._closing:
            err = ConnectionLostError("the client was closed")
        command = unanswered[0].describe() if unanswered else "a command"
        self._drop(closing_reason(err, self.endpoint, command))
        if self._closing:
            raise ConnectionLostError("the client was closed") from exc
        if self.reconnect is None or not isinstance(err, ConnectionLostError):
            if err is exc:
                raise exc
            raise err from exc
        failed: ConnectionLostError | None = None
        try:
            self._reconnect(cast(JackdError, self._closed_because))
            why = "the client has reconnected"
        except ConnectionLostError as reconnecting:
            failed = reconnecting
            why = f"reconnecting failed: {reconnecting}"
        elapsed = time.monotonic() - started
        again: list[Command[Any]] = []
        for cmd in unanswered:
            if not cmd.kind.replayable:
                # What was sent may have taken effect, whether or not the client is back.
                cmd.error = unknown_fate(cmd, self._core.label, why)
            elif failed is not None:
                cmd.error = failed
            else:
                cmds.rearm(cmd, elapsed)
                again.append(cmd)
        if single and not again:
            # A batch's caller reads every command's outcome; a single command's gets it now.
            raise cast(JackdError, unanswered[0].error) from exc
        return again

    def _job_size_limit(self) -> int:
        if self._max_job_size is None:
            self._max_job_size = self._run(cmds.max_job_size(), self.timeout)
        return self._max_job_size

    # -- producing ---------------------------------------------------------------------------

    def put(
        self,
        body: Body,
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
        ttr: Seconds = DEFAULT_TTR,
    ) -> int:
        """Put a job into the used tube and return its id.

        ``body`` is bytes, bytearray, memoryview or str (sent as UTF-8). ``priority`` runs
        from 0 (most urgent) to 2**32-1. ``delay`` and ``ttr`` are seconds (int, float or
        timedelta; fractions round up). A body over the server's ``max-job-size`` raises
        ``JobTooBigError`` without being sent. ``BuriedError`` (with ``.id``) means the server
        stored the job buried because it ran out of memory; ``DrainingError`` that it takes
        no new jobs.
        """
        data = body if type(body) is bytes else cmds.body_bytes(body)
        if len(data) > DEFAULT_MAX_JOB_SIZE:
            cmds.check_size(len(data), self._job_size_limit())
        return self._run(cmds.put(data, priority, delay, ttr), self.timeout)

    def use(self, tube: str) -> str:
        """Put later jobs into ``tube`` (and peek and kick there); returns the tube's name."""
        return self._run(cmds.use(tube), self.timeout)

    # -- consuming ---------------------------------------------------------------------------

    def reserve(self, timeout: Seconds | None = None) -> Job:
        """Reserve a job from the watched tubes, waiting until one is ready.

        Without ``timeout`` this waits as long as it takes, whatever the client's socket
        timeout. With ``timeout`` (seconds) it raises ``TimedOutError`` when no job came in
        time; 0 only takes a job that is ready now. ``DeadlineSoonError`` means a job this
        connection holds is within a second of its TTR.
        """
        cmd, wait = cmds.reserve_waiting(timeout, self.timeout)
        return self._run(cmd, wait)

    def reserve_job(self, job: Job | int) -> Job:
        """Reserve a specific job by id, in any tube, if it is ready, delayed or buried."""
        return self._run(cmds.reserve_job(job), self.timeout)

    def delete(self, job: Job | int) -> None:
        """Delete a job: one reserved by this connection, or any ready, delayed or buried one."""
        self._run(cmds.delete(job), self.timeout)

    def release(
        self,
        job: Job | int,
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
    ) -> None:
        """Put a job reserved by this connection back: ready, or delayed by ``delay`` seconds."""
        self._run(cmds.release(job, priority, delay), self.timeout)

    def bury(self, job: Job | int, priority: int = DEFAULT_PRIORITY) -> None:
        """Bury a job reserved by this connection; it waits until kicked."""
        self._run(cmds.bury(job, priority), self.timeout)

    def touch(self, job: Job | int) -> None:
        """Ask for more time: restart the TTR of a job reserved by this connection."""
        self._run(cmds.touch(job), self.timeout)

    def watch(self, tube: str) -> int:
        """Add ``tube`` to the watch list; returns how many tubes are watched."""
        return self._run(cmds.watch(tube), self.timeout)

    def ignore(self, tube: str) -> int:
        """Remove ``tube`` from the watch list; returns how many tubes are watched.

        ``NotIgnoredError`` if it is the only tube watched.
        """
        return self._run(cmds.ignore(tube), self.timeout)

    # -- inspecting --------------------------------------------------------------------------

    def peek(self, job: Job | int) -> Job:
        """Return a job by id, in any tube and state, without reserving it."""
        return self._run(cmds.peek(job), self.timeout)

    def peek_ready(self) -> Job:
        """Return the next ready job of the used tube; ``NotFoundError`` if there is none."""
        return self._run(cmds.peek_ready(), self.timeout)

    def peek_delayed(self) -> Job:
        """Return the delayed job of the used tube that is due first."""
        return self._run(cmds.peek_delayed(), self.timeout)

    def peek_buried(self) -> Job:
        """Return the oldest buried job of the used tube."""
        return self._run(cmds.peek_buried(), self.timeout)

    def kick(self, bound: int) -> int:
        """Kick up to ``bound`` jobs in the used tube: buried ones if any, else delayed ones.

        Returns how many were kicked.
        """
        return self._run(cmds.kick(bound), self.timeout)

    def kick_job(self, job: Job | int) -> None:
        """Kick one buried or delayed job, in any tube, into the ready queue."""
        self._run(cmds.kick_job(job), self.timeout)

    def stats(self) -> ServerStats:
        """Return the server's statistics."""
        return self._run(cmds.stats(), self.timeout)

    def stats_job(self, job: Job | int) -> JobStats:
        """Return a job's statistics."""
        return self._run(cmds.stats_job(job), self.timeout)

    def stats_tube(self, tube: str) -> TubeStats:
        """Return a tube's statistics; ``NotFoundError`` if the tube does not exist."""
        return self._run(cmds.stats_tube(tube), self.timeout)

    def list_tubes(self) -> list[str]:
        """Return the names of all existing tubes."""
        return self._run(cmds.list_tubes(), self.timeout)

    def list_tube_used(self) -> str:
        """Return the name of the tube this connection uses."""
        return self._run(cmds.list_tube_used(), self.timeout)

    def list_tubes_watched(self) -> list[str]:
        """Return the names of the tubes this connection watches."""
        return self._run(cmds.list_tubes_watched(), self.timeout)

    def pause_tube(self, tube: str, delay: Seconds) -> None:
        """Hand out no jobs from ``tube`` for ``delay`` seconds (0 ends a pause)."""
        self._run(cmds.pause_tube(tube, delay), self.timeout)

    # -- batches -----------------------------------------------------------------------------

    def pipeline(self) -> Pipeline:
        """Return a Pipeline: queue commands on it, then ``execute()`` them in one write."""
        return Pipeline(self)

    def put_many(
        self,
        bodies: Iterable[Body],
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
        ttr: Seconds = DEFAULT_TTR,
    ) -> list[int]:
        """Put many jobs in one pipelined batch; returns their ids in order.

        Every body and argument is checked before anything is sent. If the server refuses
        some (``DrainingError``, say), the first error is raised after all replies are read;
        use ``pipeline().execute(raise_on_error=False)`` to see each outcome.
        """
        batch = put_batch(bodies, priority, delay, ttr, lazy=True)
        return outcomes(self._run_batch(batch), True)

    def reserve_many(self, count: int, timeout: Seconds | None = None) -> list[Job]:
        """Reserve up to ``count`` jobs in one round trip; may return fewer, or none.

        Waits up to ``timeout`` seconds (None: as long as it takes) for the first job, then
        takes up to ``count - 1`` more that are ready at that moment.
        """
        return reserved_jobs(self._run_batch(reserve_batch(count, timeout)))

    def delete_many(self, jobs: Iterable[Job | int]) -> None:
        """Delete many jobs in one pipelined batch (the first error is raised at the end)."""
        pipe = self.pipeline()
        for job in jobs:
            pipe.delete(job)
        pipe.execute()


class Pipeline(PipelineBase):
    """Commands queued on a Client, sent in one write by ``execute``.

    Every method of the client's API is here, queuing its command and returning the
    pipeline (so calls chain). State changes such as ``use`` and ``watch`` stay in effect
    after the pipeline ran. A blocking ``reserve`` in a pipeline holds up the commands after
    it until a job arrives, as on any connection.
    """

    def __init__(self, client: Client) -> None:
        super().__init__()
        self._client = client

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command and return their results in order.

        All replies are read before any error is raised, so the connection stays in step.
        With ``raise_on_error=False`` a server error takes its command's place in the list
        as an exception instance. The pipeline is empty again afterwards.
        """
        return outcomes(self._client._run_batch(self._take()), raise_on_error)


def connect(
    address: Address | None = None,
    *,
    timeout: float | None = None,
    connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
    ssl: SSLContext | bool | None = None,
    reconnect: bool | Reconnect = False,
) -> Client:
    """Connect to beanstalkd and return a Client (usable as a context manager).

    With no address, ``BEANSTALKD_URL`` is used when set, else localhost:11300. ``ssl``
    works as in ``Client``.
    """
    return Client(
        address, timeout=timeout, connect_timeout=connect_timeout, ssl=ssl, reconnect=reconnect
    )


def _encoding(batch: Batch, core: Core) -> Callable[[], list[bytes | bytearray | memoryview]]:
    """``exchange``'s source of a lazily built batch's next blocks, each chunk pending first."""

    def more() -> list[bytes | bytearray | memoryview]:
        chunk = batch.build_more()
        core.pending.extend(chunk)
        return gather(cmd.data for cmd in chunk)

    return more


def _forget_sockets_after_fork() -> None:
    for client in list(_CLIENTS):
        client._forget_after_fork()


os.register_at_fork(after_in_child=_forget_sockets_after_fork)
