"""Pipelines: commands queued locally, then sent in one write with their replies read in order.

The queuing half is written once here; ``jackd.Pipeline`` and ``jackd.aio.AsyncPipeline`` only
add ``execute``. beanstalkd answers each connection's commands strictly in order, so a batch
is "encode N commands, write them, parse N replies" on the same protocol core.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from . import _commands as cmds
from ._commands import DEFAULT_DELAY, DEFAULT_PRIORITY, DEFAULT_TTR, Body, Job, Seconds
from ._errors import CorruptJobError, DeadlineSoonError, TimedOutError
from ._protocol import Command

P = TypeVar("P", bound="PipelineBase")


class Batch:
    """Commands ready to send: what a shell needs to run them and check them first."""

    __slots__ = ("commands", "extra_wait", "holds_jobs", "largest_body", "waits_forever")

    def __init__(self) -> None:
        self.commands: list[Command[Any]] = []
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


def put_batch(bodies: Iterable[Body], pri: int, delay: Seconds, ttr: Seconds) -> Batch:
    """The batch behind ``put_many``: one put per body, all with the same arguments.

    The same commands a pipeline of puts would make, built faster: the three numbers are
    checked once for the whole batch, not once per body.
    """
    pri = cmds.priority(pri)
    delay = cmds.seconds(delay, "delay")
    ttr = cmds.seconds(ttr, "ttr")
    head = b"put %d %d %d " % (pri, delay, ttr)
    batch = Batch()
    commands = batch.commands
    append = commands.append
    largest = 0
    kind = cmds.PUT
    join_below = cmds.JOIN_BELOW
    for body in bodies:
        data = body if type(body) is bytes else cmds.body_bytes(body)
        size = len(data)
        if size > largest:
            largest = size
        if size < join_below:
            # %b takes any buffer, which typeshed does not know.
            append(Command(kind, b"%b%d\r\n%b\r\n" % (head, size, data)))  # type: ignore[str-format]
        else:
            append(Command(kind, (b"%b%d\r\n" % (head, size), data, b"\r\n")))
    batch.largest_body = largest
    return batch


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
