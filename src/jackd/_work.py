"""The worker runtime's decisions, written once for both workers: pure, no I/O, no clock.

What a handler's outcome means for its job (delete, release with a delay, or bury), how long
a failed job waits before its next attempt, when a long job must be touched, and the counters
a worker keeps. ``jackd.Worker`` and ``jackd.aio.Worker`` only do the I/O these call for.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Literal, NamedTuple

from ._commands import Job, Seconds, seconds
from ._placement import JobRef
from ._reconnect import JITTER


class Retry(Exception):  # noqa: N818 - raised by handlers to ask for something, not an error
    """Raise in a handler to release its job now, ready again after ``delay`` seconds.

    The priority is kept. A retry asked for this way does not count against ``max_attempts``
    until the job is reserved again (attempts are the server's count of reserves).
    """

    def __init__(self, delay: Seconds = 0, reason: str = "") -> None:
        self.delay = seconds(delay, "retry delay")
        self.reason = reason
        super().__init__(reason or f"retry in {self.delay} s")


class Bury(Exception):  # noqa: N818 - raised by handlers to ask for something, not an error
    """Raise in a handler to bury its job now (priority kept) until someone kicks it."""

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        super().__init__(reason or "buried by its handler")


@dataclass(frozen=True)
class Backoff:
    """How long a failed job waits before its next attempt: exponential, with jitter.

    Attempt ``n`` (1 for the first failure) waits ``first * factor ** (n - 1)`` seconds, at
    most ``max``, changed by a random part of up to ``jitter`` either way (0.2: +-20%), so
    jobs that failed together do not all come back together. beanstalkd counts delays in
    whole seconds; the result is rounded to the nearest one.
    """

    first: float = 1.0
    factor: float = 2.0
    max: float = 600.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        for name in ("first", "factor", "max", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"backoff {name} must be a number, not {type(value).__name__}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"backoff {name} must be a finite number >= 0, got {value!r}")
        if self.factor < 1:
            raise ValueError(f"backoff factor must be at least 1, got {self.factor!r}")
        if self.jitter > 1:
            raise ValueError(f"backoff jitter must be between 0 and 1, got {self.jitter!r}")

    def delay(self, attempt: int, rand: Callable[[], float] = JITTER.random) -> int:
        """Seconds to wait after failed attempt number ``attempt`` (1 is the first)."""
        exponent = max(0, attempt - 1)
        # factor ** exponent overflows float for absurd attempt counts; the cap comes first.
        if self.factor > 1 and exponent * math.log(self.factor) > math.log(self.max + 1) + 1:
            base = self.max
        else:
            base = min(self.max, self.first * self.factor**exponent)
        spread = base * self.jitter * (2 * rand() - 1)
        return max(0, min(2**32 - 1, round(base + spread)))


DEFAULT_BACKOFF = Backoff()
"""The backoff of a handler that names none."""
DEFAULT_MAX_ATTEMPTS = 3
"""How many times a job is tried (reserved) before a failure buries it."""


Verb = Literal["delete", "release", "bury"]
Outcome = Literal["succeeded", "retried", "buried", "failed"]


class Action(NamedTuple):
    """What to do with a job once its handler is done."""

    #: ``succeeded`` (returned), ``retried`` (raised Retry), ``buried`` (raised Bury) or
    #: ``failed`` (raised anything else).
    outcome: Outcome
    #: ``delete``, ``release`` or ``bury``.
    verb: Verb
    #: Seconds of delay, for a release.
    delay: int = 0
    #: Why, for the log: the Retry or Bury reason, or the failure.
    reason: str = ""


SUCCESS = Action("succeeded", "delete")


def decide(
    error: BaseException | None,
    attempts: int,
    max_attempts: int,
    backoff: Backoff,
    rand: Callable[[], float] = JITTER.random,
) -> Action:
    """What a handler's outcome means for its job.

    ``error`` is what the handler raised (None: it returned). ``attempts`` is how many times
    the server has handed the job out, its ``reserves`` count, this time included, so it
    survives worker restarts. A failure buries the job once ``attempts`` reaches
    ``max_attempts``, and releases it with the backoff's delay for this attempt before that.
    """
    if error is None:
        return SUCCESS
    if isinstance(error, Retry):
        return Action("retried", "release", error.delay, error.reason)
    if isinstance(error, Bury):
        return Action("buried", "bury", 0, error.reason)
    reason = f"{type(error).__name__}: {error}"
    if attempts >= max_attempts:
        return Action("failed", "bury", 0, f"{reason} (attempt {attempts} of {max_attempts})")
    return Action("failed", "release", backoff.delay(attempts, rand), reason)


#: A job shorter than this is never looked at for touching: its TTR is read (stats-job) only
#: once it has run this long, so short jobs cost nothing.
TOUCH_CHECK_AFTER = 0.5


def touch_margin(ttr: int) -> float:
    """How long before its TTR runs out a running job is touched.

    A quarter of the TTR, at least half a second and at most five: a 60 s job is touched
    every 55 s, a 1 s job every half second.
    """
    return min(5.0, max(0.5, ttr / 4))


def next_touch(ttr: int, time_left: float) -> float:
    """Seconds from now until the job must be touched, given its TTR and the time it has left."""
    return max(0.0, time_left - touch_margin(ttr))


def check_concurrency(value: int) -> int:
    """Validate a worker's concurrency: a positive int."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"concurrency must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"concurrency must be at least 1, got {value}")
    return value


def check_grace(value: float) -> float:
    """Validate a worker's grace period: a finite number of seconds >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"grace must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"grace must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class WorkerStats:
    """What a worker did, overall or for one tube. All counters are ints."""

    reserved: int = 0
    """Jobs reserved and handed to a handler."""
    succeeded: int = 0
    """Jobs whose handler returned normally (and that were deleted)."""
    failed: int = 0
    """Jobs whose handler raised anything but Retry or Bury."""
    retried: int = 0
    """Jobs released for another attempt: by Retry, or by a failure with attempts left."""
    buried: int = 0
    """Jobs buried: by Bury, or by a failure at max_attempts."""
    released_on_stop: int = 0
    """Jobs released unfinished because the worker stopped."""
    lost: int = 0
    """Jobs whose reservation was lost before their outcome could be applied (they run again)."""
    in_flight: int = 0
    """Handlers running now."""

    def __add__(self, other: WorkerStats) -> WorkerStats:
        return WorkerStats(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


class Counters:
    """The mutable counters behind WorkerStats, for one tube. Not thread-safe: the shells lock."""

    __slots__ = tuple(f.name for f in fields(WorkerStats))

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def snapshot(self) -> WorkerStats:
        """The counters as a frozen WorkerStats."""
        return WorkerStats(**{name: getattr(self, name) for name in self.__slots__})

    def add(self, other: Counters) -> None:
        """Add what ``other`` counted to these counters."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def count(self, action: Action) -> None:
        """Count a job's outcome once the action it called for was taken."""
        if action.outcome == "succeeded":
            self.succeeded += 1  # type: ignore[attr-defined]
        elif action.outcome == "failed":
            self.failed += 1  # type: ignore[attr-defined]
        if action.verb == "release":
            self.retried += 1  # type: ignore[attr-defined]
        elif action.verb == "bury":
            self.buried += 1  # type: ignore[attr-defined]


@dataclass(frozen=True)
class JobEvent:
    """What a worker hook is told after each job: for metrics, tracing or logs."""

    tube: str
    """The tube the job was reserved from."""
    job: Job
    """The job as its handler got it."""
    outcome: str
    """``succeeded``, ``retried``, ``buried``, ``failed``, ``released_on_stop`` or ``lost``."""
    action: str
    """What was done with the job: ``delete``, ``release``, ``bury``, or ``none`` if nothing
    could be (the reservation was lost).
    """
    seconds: float
    """Seconds the handler ran."""
    error: BaseException | None = None
    """What the handler raised, if anything."""
    server: str = ""
    """Which server the job came from (``host:port``)."""


@dataclass(frozen=True)
class JobContext:
    """What a handler can learn about the job it runs: where it came from."""

    server: str
    """The server the job was reserved from (``host:port``)."""
    tube: str
    """The tube it was reserved from."""
    job: Job
    """The job."""

    @property
    def ref(self) -> JobRef:
        """The job's name across a pool: its server and id."""
        return JobRef(self.server, self.job.id)


_CURRENT: contextvars.ContextVar[JobContext] = contextvars.ContextVar("jackd_job")


def current_job() -> JobContext:
    """In a worker's handler: the job it runs, its server and tube. LookupError elsewhere."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise LookupError("jackd.current_job() is only known inside a worker's handler") from None


def enter_job(context: JobContext) -> contextvars.Token[JobContext]:
    """Make ``context`` the current job (the workers call this around each handler)."""
    return _CURRENT.set(context)


def leave_job(token: contextvars.Token[JobContext]) -> None:
    """Undo ``enter_job``."""
    _CURRENT.reset(token)
