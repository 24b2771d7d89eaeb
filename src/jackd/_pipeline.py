"""Pipelines: commands queued locally, then sent in one write with their replies read in order.

The queuing half is written once here; ``jackd.Pipeline`` and ``jackd.aio.AsyncPipeline`` only
add ``execute``. beanstalkd answers each connection's commands strictly in order, so a batch
is "encode N commands, write them, parse N replies" on the same protocol core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from . import _commands as cmds
from ._commands import DEFAULT_DELAY, DEFAULT_PRIORITY, DEFAULT_TTR, Body, Job, Seconds
from ._errors import CorruptJobError, DeadlineSoonError, TimedOutError
from ._protocol import Command

P = TypeVar("P", bound="PipelineBase")


Encoder = Callable[[int, int], list[Command[Any]]]
"""Encodes the commands ``start:stop`` of a batch built while it is sent."""

#: A lazily built batch encodes this many commands before its first write (see put_batch).
FIRST_CHUNK = 64


class Batch:
    """Commands ready to send: what a shell needs to run them and check them first.

    A batch may be built while it is sent (``put_many``'s, in the sync client): then
    ``commands`` holds those encoded so far, ``unbuilt`` counts the rest, and each
    ``build_more`` encodes the next chunk.
    """

    __slots__ = (
        "_encode",
        "commands",
        "extra_wait",
        "holds_jobs",
        "largest_body",
        "unbuilt",
        "waits_forever",
    )

    def __init__(self) -> None:
        self.commands: list[Command[Any]] = []
        #: Commands not encoded yet (a lazily built batch).
        self.unbuilt = 0
        self._encode: Encoder | None = None
        #: Size of the largest put body, to check against max-job-size before sending.
        self.largest_body = 0
        #: A blocking reserve is queued: no socket timeout may apply.
        self.waits_forever = False
        #: Seconds of reserve-with-timeout queued, added to the socket timeout.
        self.extra_wait = 0
        #: A touch, release or bury is queued: the shell checks for lost reservations.
        self.holds_jobs = False

    def wait(self, timeout: float | None) -> float | None:
        """How long the socket may stay silent while this batch runs."""
        if timeout is None or self.waits_forever:
            return None
        return timeout + self.extra_wait

    def defer(self, encode: Encoder, count: int) -> None:
        """Build this batch of ``count`` commands while it is sent; encode the first chunk."""
        self._encode = encode
        self.unbuilt = count
        self.build_more()

    def build_more(self) -> list[Command[Any]]:
        """Encode the next chunk (three times as many commands as so far), add it, return it.

        The chunks grow so that the first write goes out at once and the server works on it
        while the client encodes the next, which it does much faster than the server runs
        them.
        """
        if self._encode is None or not self.unbuilt:
            return []
        built = len(self.commands)
        stop = built + min(self.unbuilt, max(FIRST_CHUNK, 3 * built))
        chunk = self._encode(built, stop)
        self.commands.extend(chunk)
        self.unbuilt -= len(chunk)
        return chunk

    def abandon(self, error: Exception) -> None:
        """Give every command never encoded (so never sent) ``error`` as its outcome."""
        while self.unbuilt:
            for cmd in self.build_more():
                cmd.error = error


def outcomes(batch: list[Command[Any]], raise_on_error: bool) -> list[Any]:
    """The results of answered commands, in order; errors raised or returned as instances."""
    results: list[Any] = []
    first_error: Exception | None = None
    for cmd in batch:
        if cmd.error is None:
            results.append(cmd.result)
        else:
            results.append(cmd.error)
            if first_error is None:
                first_error = cmd.error
    if raise_on_error and first_error is not None:
        raise first_error
    return results


def reserved_jobs(batch: list[Command[Any]]) -> list[Job]:
    """The jobs a ``reserve_many`` batch got: a first reserve that waits, then ones that don't.

    TIMED_OUT only means "no job (more)". DEADLINE_SOON means the same after the first; for
    the first it is raised, unless a later reserve got a job after all. Any other error is
    raised.
    """
    jobs: list[Job] = []
    deadline_soon: DeadlineSoonError | None = None
    corrupt: CorruptJobError | None = None
    for i, cmd in enumerate(batch):
        error = cmd.error
        if error is None:
            jobs.append(cmd.result)
        elif isinstance(error, DeadlineSoonError):
            if i == 0:
                deadline_soon = error
        elif isinstance(error, CorruptJobError):
            if corrupt is None:
                corrupt = error
            corrupt.damaged.append(error.job_id)
        elif not isinstance(error, TimedOutError):
            raise error
    if corrupt is not None:
        # Reserved all the same: the caller must settle the damaged jobs, and gets the rest.
        corrupt.jobs = jobs
        raise corrupt
    if deadline_soon is not None and not jobs:
        raise deadline_soon
    return jobs


def put_batch(
    bodies: Iterable[Body], pri: int, delay: Seconds, ttr: Seconds, lazy: bool = False
) -> Batch:
    """The batch behind ``put_many``: one put per body, all with the same arguments.

    The same commands a pipeline of puts would make, built faster: the three numbers are
    checked once for the whole batch, not once per body. Every body is checked before
    anything is sent. With ``lazy``, a batch of more than ``FIRST_CHUNK`` puts is encoded
    while it is sent (see ``Batch.build_more``), so the server starts on the first puts
    instead of waiting, idle, for the client to encode them all.
    """
    pri = cmds.priority(pri)
    delay = cmds.seconds(delay, "delay")
    ttr = cmds.seconds(ttr, "ttr")
    data = [body if type(body) is bytes else cmds.body_bytes(body) for body in bodies]
    batch = Batch()
    batch.largest_body = max(map(len, data), default=0)
    encode = _put_encoder(b"put %d %d %d " % (pri, delay, ttr), data)
    if lazy and len(data) > FIRST_CHUNK:
        batch.defer(encode, len(data))
    else:
        batch.commands = encode(0, len(data))
    return batch


def _put_encoder(head: bytes, data: list[bytes | bytearray | memoryview]) -> Encoder:
    """Encodes the puts of ``data[start:stop]``, each body after ``head`` and its size."""
    kind = cmds.PUT
    join_below = cmds.JOIN_BELOW

    def encode(start: int, stop: int) -> list[Command[Any]]:
        commands: list[Command[Any]] = []
        append = commands.append
        for body in data[start:stop]:
            size = len(body)
            if size < join_below:
                # %b takes any buffer, which typeshed does not know.
                append(Command(kind, b"%b%d\r\n%b\r\n" % (head, size, body)))  # type: ignore[str-format]
            else:
                append(Command(kind, (b"%b%d\r\n" % (head, size), body, b"\r\n")))
        return commands

    return encode


def reserve_batch(count: int, timeout: Seconds | None) -> Batch:
    """The batch behind ``reserve_many``: one reserve that may wait, then ones that don't."""
    count = cmds.integer(count, "count", 1, 1 << 20)
    pipe = PipelineBase()
    pipe.reserve(timeout)
    for _ in range(count - 1):
        pipe.reserve(0)
    return pipe._take()


class PipelineBase:
    """Queues any command of the client's API; each method returns the pipeline itself.

    Arguments are validated as each command is queued, so a bad one raises at once and
    nothing of the pipeline has been sent.
    """

    def __init__(self) -> None:
        self._batch = Batch()

    def __len__(self) -> int:
        return len(self._batch.commands)

    def _add(self: P, cmd: Command[Any]) -> P:
        self._batch.commands.append(cmd)
        return self

    def _take(self) -> Batch:
        batch, self._batch = self._batch, Batch()
        return batch

    def put(
        self: P,
        body: Body,
        priority: int = DEFAULT_PRIORITY,
        delay: Seconds = DEFAULT_DELAY,
        ttr: Seconds = DEFAULT_TTR,
    ) -> P:
        """Queue a ``put``; its result is the new job's id."""
        data = cmds.body_bytes(body)
        batch = self._batch
        batch.largest_body = max(batch.largest_body, len(data))
        return self._add(cmds.put(data, priority, delay, ttr))

    def use(self: P, tube: str) -> P:
        """Queue a ``use``; its result is the tube's name."""
        return self._add(cmds.use(tube))

    def reserve(self: P, timeout: Seconds | None = None) -> P:
        """Queue a ``reserve``; commands behind a blocking one wait for it on the server."""
        if timeout is None:
            self._batch.waits_forever = True
            return self._add(cmds.reserve())
        secs = cmds.seconds(timeout, "reserve timeout", cmds.RESERVE_TIMEOUT_MAX)
        self._batch.extra_wait += secs
        return self._add(cmds.reserve(secs))

    def reserve_job(self: P, job: Job | int) -> P:
        """Queue a ``reserve-job``."""
        return self._add(cmds.reserve_job(job))

    def delete(self: P, job: Job | int) -> P:
        """Queue a ``delete``."""
        return self._add(cmds.delete(job))

    def release(
        self: P, job: Job | int, priority: int = DEFAULT_PRIORITY, delay: Seconds = DEFAULT_DELAY
    ) -> P:
        """Queue a ``release``."""
        self._batch.holds_jobs = True
        return self._add(cmds.release(job, priority, delay))

    def bury(self: P, job: Job | int, priority: int = DEFAULT_PRIORITY) -> P:
        """Queue a ``bury``."""
        self._batch.holds_jobs = True
        return self._add(cmds.bury(job, priority))

    def touch(self: P, job: Job | int) -> P:
        """Queue a ``touch``."""
        self._batch.holds_jobs = True
        return self._add(cmds.touch(job))

    def watch(self: P, tube: str) -> P:
        """Queue a ``watch``; its result is the size of the watch list."""
        return self._add(cmds.watch(tube))

    def ignore(self: P, tube: str) -> P:
        """Queue an ``ignore``; its result is the size of the watch list."""
        return self._add(cmds.ignore(tube))

    def peek(self: P, job: Job | int) -> P:
        """Queue a ``peek``."""
        return self._add(cmds.peek(job))

    def peek_ready(self: P) -> P:
        """Queue a ``peek-ready``."""
        return self._add(cmds.peek_ready())

    def peek_delayed(self: P) -> P:
        """Queue a ``peek-delayed``."""
        return self._add(cmds.peek_delayed())

    def peek_buried(self: P) -> P:
        """Queue a ``peek-buried``."""
        return self._add(cmds.peek_buried())

    def kick(self: P, bound: int) -> P:
        """Queue a ``kick``; its result is how many jobs were kicked."""
        return self._add(cmds.kick(bound))

    def kick_job(self: P, job: Job | int) -> P:
        """Queue a ``kick-job``."""
        return self._add(cmds.kick_job(job))

    def stats(self: P) -> P:
        """Queue a ``stats``."""
        return self._add(cmds.stats())

    def stats_job(self: P, job: Job | int) -> P:
        """Queue a ``stats-job``."""
        return self._add(cmds.stats_job(job))

    def stats_tube(self: P, tube: str) -> P:
        """Queue a ``stats-tube``."""
        return self._add(cmds.stats_tube(tube))

    def list_tubes(self: P) -> P:
        """Queue a ``list-tubes``."""
        return self._add(cmds.list_tubes())

    def list_tube_used(self: P) -> P:
        """Queue a ``list-tube-used``."""
        return self._add(cmds.list_tube_used())

    def list_tubes_watched(self: P) -> P:
        """Queue a ``list-tubes-watched``."""
        return self._add(cmds.list_tubes_watched())

    def pause_tube(self: P, tube: str, delay: Seconds) -> P:
        """Queue a ``pause-tube``."""
        return self._add(cmds.pause_tube(tube, delay))
