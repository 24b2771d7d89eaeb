"""One constructor per beanstalkd command: argument validation, request bytes, reply meaning.

Every argument is checked before a byte is encoded, so a bad call raises ``ValueError`` or
``TypeError`` and leaves the connection untouched. Tube names are validated against the
server's grammar, which excludes CR, LF, NUL and spaces, and is at most 200 bytes: with the
integer ranges below no request line can exceed beanstalkd's 224-byte limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple, TypeVar, cast

from ._errors import JobTooBigError, error_for
from ._protocol import Command, Kind, Payload, ReplyParser
from ._stats import JobStats, ServerStats, TubeStats, parse_list, parse_mapping

DEFAULT_PRIORITY = 0
"""Priority of a put or release when none is given (0 is the most urgent)."""
DEFAULT_DELAY = 0
"""Delay in seconds of a put or release when none is given."""
DEFAULT_TTR = 60
"""Time to run, in seconds, of a put when none is given."""
DEFAULT_TUBE = "default"
"""The tube every connection uses and watches when it opens."""
DEFAULT_PORT = 11300
"""beanstalkd's port when an address names none."""
DEFAULT_MAX_JOB_SIZE = 65535
"""beanstalkd's default ``max-job-size``: bodies up to this size need no limit lookup."""

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
#: beanstalkd 1.13 rejects larger timeouts, and 1.12 misreads them.
RESERVE_TIMEOUT_MAX = 2**31 - 1

_TUBE = re.compile(r"[A-Za-z0-9+/;.$_()][A-Za-z0-9\-+/;.$_()]{0,199}")

T = TypeVar("T")

Body = bytes | bytearray | memoryview | str
Seconds = int | float | timedelta


class Job(NamedTuple):
    """A job as the server handed it out: its id and its body.

    Unpacks like go-jackd's ``(id, payload)``: ``jid, body = client.reserve()``.
    """

    id: int
    body: bytes


# -- argument validation -------------------------------------------------------------------


def tube_name(name: str) -> bytes:
    """Return the tube name as bytes; ValueError or TypeError if the server would refuse it."""
    if not isinstance(name, str):
        raise TypeError(f"tube name must be str, not {type(name).__name__}")
    if _TUBE.fullmatch(name) is None:
        raise ValueError(
            f"invalid tube name {name[:220]!r}: 1 to 200 characters of A-Z a-z 0-9 and "
            "-+/;.$_(), not starting with '-'"
        )
    return name.encode("ascii")


def integer(value: int, what: str, low: int, high: int) -> int:
    """Validate an int argument (bool is refused) against an inclusive range."""
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int, not {type(value).__name__}")
        value = int(value)
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}, got {value}")
    return value


def priority(value: int) -> int:
    """Validate a priority: an int from 0 (most urgent) to 2**32-1."""
    if type(value) is int and 0 <= value <= U32_MAX:
        return value
    return integer(value, "priority", 0, U32_MAX)


def seconds(value: Seconds, what: str, high: int = U32_MAX) -> int:
    """Validate a duration and round fractional seconds up (0.5 s -> 1 s)."""
    if type(value) is int and 0 <= value <= high:
        return value
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"{what} must not be negative, got {value}")
        whole, rest = divmod(value, timedelta(seconds=1))
        value = whole + (1 if rest else 0)
    elif isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{what} must be a finite, non-negative number, got {value}")
        value = math.ceil(value)
    return integer(value, what, 0, high)


def job_id(job: Job | int) -> int:
    """Return the id of a Job, or validate a bare id (1 to 2**64-1)."""
    if isinstance(job, Job):
        job = job.id
    if type(job) is int and 0 < job <= U64_MAX:
        return job
    if isinstance(job, tuple):
        raise TypeError(f"expected a Job or an int id, not {type(job).__name__}")
    return integer(job, "job id", 1, U64_MAX)


def body_bytes(body: Body) -> bytes | bytearray | memoryview:
    """Return the body as a bytes-like object of unsigned bytes (str is encoded as UTF-8)."""
    if isinstance(body, (bytes, bytearray)):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, memoryview):
        if not body.c_contiguous:
            return body.tobytes()  # sockets take only contiguous buffers
        return body if body.format == "B" and body.ndim == 1 else body.cast("B")
    raise TypeError(
        f"job body must be bytes, bytearray, memoryview or str, not {type(body).__name__}"
    )


def needs_size_limit(size: int, known_limit: int | None) -> bool:
    """Whether a body of ``size`` bytes needs the server's max-job-size looked up first."""
    return size > DEFAULT_MAX_JOB_SIZE and known_limit is None


def check_size(size: int, limit: int | None) -> None:
    """Raise JobTooBigError, before anything is sent, for a body over the server's limit."""
    limit = DEFAULT_MAX_JOB_SIZE if limit is None else limit
    if size > limit:
        raise JobTooBigError(
            f"job body of {size} bytes is larger than the server's max-job-size of {limit} bytes"
        )


# -- reply interpretation -------------------------------------------------------------------
# Each parser gets the reply line split on spaces and the chunk, if the reply had one. A reply
# that is not the command's success reply goes to error_for, which gives the ServerError for a
# known status word and a ProtocolError (the connection is then closed) for anything else.


def _bare(word: bytes, name: str) -> ReplyParser[None]:
    def parse(parts: list[bytes], body: bytes | None) -> None:
        if len(parts) == 1 and parts[0] == word:
            return
        raise error_for(parts, name)

    return parse


def _number(word: bytes, name: str) -> ReplyParser[int]:
    def parse(parts: list[bytes], body: bytes | None) -> int:
        if len(parts) == 2 and parts[0] == word and parts[1].isdigit():
            return int(parts[1])
        raise error_for(parts, name)

    return parse


def _job(word: bytes, name: str) -> ReplyParser[Job]:
    def parse(parts: list[bytes], body: bytes | None) -> Job:
        if len(parts) == 3 and parts[0] == word and body is not None and parts[1].isdigit():
            return Job(int(parts[1]), body)
        raise error_for(parts, name)

    return parse


def _yaml(name: str, convert: Callable[[bytes], T]) -> ReplyParser[T]:
    def parse(parts: list[bytes], body: bytes | None) -> T:
        if len(parts) == 2 and parts[0] == b"OK" and body is not None:
            return convert(body)
        raise error_for(parts, name)

    return parse


def _tube_reply(parts: list[bytes], body: bytes | None) -> str:
    if len(parts) == 2 and parts[0] == b"USING":
        return parts[1].decode("ascii", "replace")
    raise error_for(parts, "use")


_inserted = _number(b"INSERTED", "put")
_reserved = _job(b"RESERVED", "reserve")
_found = _job(b"FOUND", "peek")
_deleted = _bare(b"DELETED", "delete")
_released = _bare(b"RELEASED", "release")
_buried = _bare(b"BURIED", "bury")
_touched = _bare(b"TOUCHED", "touch")
_watching = _number(b"WATCHING", "watch")
_kicked_count = _number(b"KICKED", "kick")
_kicked = _bare(b"KICKED", "kick-job")
_paused = _bare(b"PAUSED", "pause-tube")
_server_stats = _yaml("stats", ServerStats.parse)
_job_stats = _yaml("stats-job", JobStats.parse)
_tube_stats = _yaml("stats-tube", TubeStats.parse)
_tube_list = _yaml("list-tubes", parse_list)


def _limit(body: bytes) -> int:
    raw = parse_mapping(body).get("max-job-size", "")
    return int(raw) if raw.isascii() and raw.isdigit() else DEFAULT_MAX_JOB_SIZE


_max_job_size = _yaml("stats", _limit)

_CRLF = b"\r\n"
#: Below this, header + body + CRLF are joined into one bytes object (cheaper than a vector
#: write); above it they go out as three buffers so the body is never copied.
JOIN_BELOW = 1 << 14


# -- the commands ---------------------------------------------------------------------------
# Each kind states its facts once; see jackd._protocol.Kind. "Replayable" is what may be sent
# again after a reconnect: reads, tube changes (idempotent) and reserves. Anything that
# changes a job or the server (put, delete, release, bury, touch, kick, kick-job, pause-tube)
# is not: it may have taken effect before the connection dropped.

PUT = Kind("put", _inserted)
USE = Kind("use", _tube_reply, replayable=True, changes="use")
RESERVE = Kind("reserve", _reserved, replayable=True, reserves=True, blocks=True)
RESERVE_WITH_TIMEOUT = Kind("reserve", _reserved, replayable=True, reserves=True)
RESERVE_JOB = Kind("reserve-job", _reserved, replayable=True, reserves=True)
DELETE = Kind("delete", _deleted, settles_job=True)
RELEASE = Kind("release", _released, holds_job=True, settles_job=True)
BURY = Kind("bury", _buried, holds_job=True, settles_job=True)
TOUCH = Kind("touch", _touched, holds_job=True)
WATCH = Kind("watch", _watching, replayable=True, changes="watch")
IGNORE = Kind("ignore", _watching, replayable=True, changes="ignore")
PEEK = Kind("peek", _found, replayable=True)
PEEK_READY = Kind("peek-ready", _found, replayable=True)
PEEK_DELAYED = Kind("peek-delayed", _found, replayable=True)
PEEK_BURIED = Kind("peek-buried", _found, replayable=True)
KICK = Kind("kick", _kicked_count)
KICK_JOB = Kind("kick-job", _kicked)
STATS = Kind("stats", _server_stats, replayable=True)
MAX_JOB_SIZE = Kind("stats", _max_job_size, replayable=True)
STATS_JOB = Kind("stats-job", _job_stats, replayable=True)
STATS_TUBE = Kind("stats-tube", _tube_stats, replayable=True)
LIST_TUBES = Kind("list-tubes", _tube_list, replayable=True)
LIST_TUBE_USED = Kind("list-tube-used", _tube_reply, replayable=True)
LIST_TUBES_WATCHED = Kind("list-tubes-watched", _tube_list, replayable=True)
PAUSE_TUBE = Kind("pause-tube", _paused)

_PREFIX = b"put %d %d %d %d\r\n"


def put(
    body: bytes | bytearray | memoryview, pri: int, delay: Seconds, ttr: Seconds
) -> Command[int]:
    """``put``: the body must already be bytes-like and checked against the size limit."""
    # One check for the usual three plain ints (put is every producer's hot path): OR-ing
    # them is below 2**32 exactly when all are in 0..2**32-1.
    if (
        not (type(pri) is int and type(delay) is int and type(ttr) is int)
        or (pri | delay | ttr) >> 32
    ):
        pri = priority(pri)
        delay = seconds(delay, "delay")
        ttr = seconds(ttr, "ttr")
    size = len(body)
    data: Payload
    if size < JOIN_BELOW:
        # %b takes any buffer, which typeshed does not know.
        data = b"put %d %d %d %d\r\n%b\r\n" % (pri, delay, ttr, size, body)  # type: ignore[str-format]
    else:
        data = (_PREFIX % (pri, delay, ttr, size), body, _CRLF)
    return Command(PUT, data)


def use(tube: str) -> Command[str]:
    """``use``: later puts, peek-* and kick go to this tube."""
    return Command(USE, b"use %s\r\n" % tube_name(tube), tube)


def reserve(timeout: Seconds | None = None) -> Command[Job]:
    """``reserve``, or ``reserve-with-timeout`` when a timeout is given."""
    if timeout is None:
        return Command(RESERVE, b"reserve\r\n")
    secs = seconds(timeout, "reserve timeout", RESERVE_TIMEOUT_MAX)
    return Command(RESERVE_WITH_TIMEOUT, b"reserve-with-timeout %d\r\n" % secs, secs)


def reserve_waiting(
    timeout: Seconds | None, socket_timeout: float | None
) -> tuple[Command[Job], float | None]:
    """``reserve`` and how long the socket may then stay silent (see ``wait_for``)."""
    cmd = reserve(timeout)
    return cmd, wait_for(cmd, socket_timeout)


def wait_for(cmd: Command[Any], socket_timeout: float | None) -> float | None:
    """How long the server may stay silent before ``cmd`` is answered, once it is next.

    A blocking reserve may wait for ever, whatever the socket timeout; one with a timeout may
    wait that long plus the socket timeout, so it never fails early.
    """
    kind = cmd.kind
    if socket_timeout is None or kind.blocks:
        return None
    if kind is RESERVE_WITH_TIMEOUT:
        return socket_timeout + cast(int, cmd.arg)
    return socket_timeout


def reserve_job(job: Job | int) -> Command[Job]:
    """``reserve-job``: reserve one job by id, whatever tube or state it is in."""
    jid = job_id(job)
    return Command(RESERVE_JOB, b"reserve-job %d\r\n" % jid, jid)


def delete(job: Job | int) -> Command[None]:
    """``delete``."""
    jid = job_id(job)
    return Command(DELETE, b"delete %d\r\n" % jid, jid)


def release(job: Job | int, pri: int, delay: Seconds) -> Command[None]:
    """``release``: back to ready, or delayed when ``delay`` > 0."""
    jid = job_id(job)
    line = b"release %d %d %d\r\n" % (jid, priority(pri), seconds(delay, "delay"))
    return Command(RELEASE, line, jid)


def bury(job: Job | int, pri: int) -> Command[None]:
    """``bury``."""
    jid = job_id(job)
    return Command(BURY, b"bury %d %d\r\n" % (jid, priority(pri)), jid)


def touch(job: Job | int) -> Command[None]:
    """``touch``: restart the job's TTR."""
    jid = job_id(job)
    return Command(TOUCH, b"touch %d\r\n" % jid, jid)


def watch(tube: str) -> Command[int]:
    """``watch``: returns the size of the watch list."""
    return Command(WATCH, b"watch %s\r\n" % tube_name(tube), tube)


def ignore(tube: str) -> Command[int]:
    """``ignore``: returns the size of the watch list."""
    return Command(IGNORE, b"ignore %s\r\n" % tube_name(tube), tube)


def peek(job: Job | int) -> Command[Job]:
    """``peek <id>``."""
    jid = job_id(job)
    return Command(PEEK, b"peek %d\r\n" % jid, jid)


def peek_ready() -> Command[Job]:
    """``peek-ready`` on the used tube."""
    return Command(PEEK_READY, b"peek-ready\r\n")


def peek_delayed() -> Command[Job]:
    """``peek-delayed`` on the used tube."""
    return Command(PEEK_DELAYED, b"peek-delayed\r\n")


def peek_buried() -> Command[Job]:
    """``peek-buried`` on the used tube."""
    return Command(PEEK_BURIED, b"peek-buried\r\n")


def kick(bound: int) -> Command[int]:
    """``kick``: returns how many jobs were kicked."""
    bound = integer(bound, "kick bound", 0, U32_MAX)
    return Command(KICK, b"kick %d\r\n" % bound, bound)


def kick_job(job: Job | int) -> Command[None]:
    """``kick-job``."""
    jid = job_id(job)
    return Command(KICK_JOB, b"kick-job %d\r\n" % jid, jid)


def stats() -> Command[ServerStats]:
    """``stats``."""
    return Command(STATS, b"stats\r\n")


def max_job_size() -> Command[int]:
    """``stats``, for its ``max-job-size`` alone (the default if the server gives none)."""
    return Command(MAX_JOB_SIZE, b"stats\r\n")


def stats_job(job: Job | int) -> Command[JobStats]:
    """``stats-job``."""
    jid = job_id(job)
    return Command(STATS_JOB, b"stats-job %d\r\n" % jid, jid)


def stats_tube(tube: str) -> Command[TubeStats]:
    """``stats-tube``."""
    return Command(STATS_TUBE, b"stats-tube %s\r\n" % tube_name(tube), tube)


def list_tubes() -> Command[list[str]]:
    """``list-tubes``."""
    return Command(LIST_TUBES, b"list-tubes\r\n")


def list_tube_used() -> Command[str]:
    """``list-tube-used``."""
    return Command(LIST_TUBE_USED, b"list-tube-used\r\n")


def list_tubes_watched() -> Command[list[str]]:
    """``list-tubes-watched``."""
    return Command(LIST_TUBES_WATCHED, b"list-tubes-watched\r\n")


def pause_tube(tube: str, delay: Seconds) -> Command[None]:
    """``pause-tube``: no reservations from the tube for ``delay`` seconds (0 un-pauses)."""
    line = b"pause-tube %s %d\r\n" % (tube_name(tube), seconds(delay, "pause delay"))
    return Command(PAUSE_TUBE, line, tube)


def rearm(cmd: Command[Any], elapsed: float) -> None:
    """Make ``cmd`` ready to be sent again on a new connection, ``elapsed`` s after the first.

    Only for replayable kinds. A reserve-with-timeout asks for the time it has left; every
    other kind is sent as it was.
    """
    cmd.error = None
    if cmd.kind is RESERVE_WITH_TIMEOUT:
        left = max(0, cast(int, cmd.arg) - int(elapsed))
        cmd.arg = left
        cmd.data = b"reserve-with-timeout %d\r\n" % left
