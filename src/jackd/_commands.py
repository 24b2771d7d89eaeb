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
from typing import NamedTuple, TypeVar

from ._errors import JobTooBigError, error_for
from ._protocol import Command, Payload, ReplyParser
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
_JOIN_BELOW = 1 << 14


# -- the commands ---------------------------------------------------------------------------


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
    if size < _JOIN_BELOW:
        # %b takes any buffer, which typeshed does not know.
        data = b"put %d %d %d %d\r\n%b\r\n" % (pri, delay, ttr, size, body)  # type: ignore[str-format]
    else:
        data = (b"put %d %d %d %d\r\n" % (pri, delay, ttr, size), body, _CRLF)
    return Command("put", data, _inserted)


def use(tube: str) -> Command[str]:
    """``use``: later puts, peek-* and kick go to this tube."""
    return Command("use", b"use %s\r\n" % tube_name(tube), _tube_reply)


def reserve(timeout: Seconds | None = None) -> Command[Job]:
    """``reserve``, or ``reserve-with-timeout`` when a timeout is given."""
    if timeout is None:
        return Command("reserve", b"reserve\r\n", _reserved)
    secs = seconds(timeout, "reserve timeout", RESERVE_TIMEOUT_MAX)
    return Command("reserve", b"reserve-with-timeout %d\r\n" % secs, _reserved)


def reserve_waiting(
    timeout: Seconds | None, socket_timeout: float | None
) -> tuple[Command[Job], float | None]:
    """``reserve`` and how long the socket may then stay silent.

    A blocking reserve may wait for ever, whatever the socket timeout; one with a timeout may
    wait that long plus the socket timeout, so it never fails early.
    """
    if timeout is None:
        return reserve(), None
    secs = seconds(timeout, "reserve timeout", RESERVE_TIMEOUT_MAX)
    return reserve(secs), None if socket_timeout is None else secs + socket_timeout


def reserve_job(job: Job | int) -> Command[Job]:
    """``reserve-job``: reserve one job by id, whatever tube or state it is in."""
    return Command("reserve-job", b"reserve-job %d\r\n" % job_id(job), _reserved)


def delete(job: Job | int) -> Command[None]:
    """``delete``."""
    return Command("delete", b"delete %d\r\n" % job_id(job), _deleted)


def release(job: Job | int, pri: int, delay: Seconds) -> Command[None]:
    """``release``: back to ready, or delayed when ``delay`` > 0."""
    line = b"release %d %d %d\r\n" % (job_id(job), priority(pri), seconds(delay, "delay"))
    return Command("release", line, _released)


def bury(job: Job | int, pri: int) -> Command[None]:
    """``bury``."""
    return Command("bury", b"bury %d %d\r\n" % (job_id(job), priority(pri)), _buried)


def touch(job: Job | int) -> Command[None]:
    """``touch``: restart the job's TTR."""
    return Command("touch", b"touch %d\r\n" % job_id(job), _touched)


def watch(tube: str) -> Command[int]:
    """``watch``: returns the size of the watch list."""
    return Command("watch", b"watch %s\r\n" % tube_name(tube), _watching)


def ignore(tube: str) -> Command[int]:
    """``ignore``: returns the size of the watch list."""
    return Command("ignore", b"ignore %s\r\n" % tube_name(tube), _watching)


def peek(job: Job | int) -> Command[Job]:
    """``peek <id>``."""
    return Command("peek", b"peek %d\r\n" % job_id(job), _found)


def peek_ready() -> Command[Job]:
    """``peek-ready`` on the used tube."""
    return Command("peek-ready", b"peek-ready\r\n", _found)


def peek_delayed() -> Command[Job]:
    """``peek-delayed`` on the used tube."""
    return Command("peek-delayed", b"peek-delayed\r\n", _found)


def peek_buried() -> Command[Job]:
    """``peek-buried`` on the used tube."""
    return Command("peek-buried", b"peek-buried\r\n", _found)


def kick(bound: int) -> Command[int]:
    """``kick``: returns how many jobs were kicked."""
    return Command("kick", b"kick %d\r\n" % integer(bound, "kick bound", 0, U32_MAX), _kicked_count)


def kick_job(job: Job | int) -> Command[None]:
    """``kick-job``."""
    return Command("kick-job", b"kick-job %d\r\n" % job_id(job), _kicked)


def stats() -> Command[ServerStats]:
    """``stats``."""
    return Command("stats", b"stats\r\n", _server_stats)


def max_job_size() -> Command[int]:
    """``stats``, for its ``max-job-size`` alone (the default if the server gives none)."""
    return Command("stats", b"stats\r\n", _max_job_size)


def stats_job(job: Job | int) -> Command[JobStats]:
    """``stats-job``."""
    return Command("stats-job", b"stats-job %d\r\n" % job_id(job), _job_stats)


def stats_tube(tube: str) -> Command[TubeStats]:
    """``stats-tube``."""
    return Command("stats-tube", b"stats-tube %s\r\n" % tube_name(tube), _tube_stats)


def list_tubes() -> Command[list[str]]:
    """``list-tubes``."""
    return Command("list-tubes", b"list-tubes\r\n", _tube_list)


def list_tube_used() -> Command[str]:
    """``list-tube-used``."""
    return Command("list-tube-used", b"list-tube-used\r\n", _tube_reply)


def list_tubes_watched() -> Command[list[str]]:
    """``list-tubes-watched``."""
    return Command("list-tubes-watched", b"list-tubes-watched\r\n", _tube_list)


def pause_tube(tube: str, delay: Seconds) -> Command[None]:
    """``pause-tube``: no reservations from the tube for ``delay`` seconds (0 un-pauses)."""
    line = b"pause-tube %s %d\r\n" % (tube_name(tube), seconds(delay, "pause delay"))
    return Command("pause-tube", line, _paused)
