"""Shared helpers for the unit tests: feeding a Core safely, and verbatim server replies."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jackd import _commands as cmds
from jackd._commands import Job
from jackd._errors import (
    BadFormatError,
    BuriedError,
    DeadlineSoonError,
    DrainingError,
    ExpectedCRLFError,
    InternalError,
    JobTooBigError,
    NotFoundError,
    NotIgnoredError,
    OutOfMemoryError,
    ServerError,
    TimedOutError,
    UnknownCommandError,
)
from jackd._protocol import Command, Core
from jackd._stats import JobStats, ServerStats, TubeStats


def pump(core: Core, data: bytes, max_read: int | None = None) -> list[Command[Any]]:
    """Feed ``data`` through ``get_buffer``/``buffer_updated``/``receive``, like a shell would.

    Works like ``Core.feed`` but never loops forever: if the core offers an empty buffer while
    bytes are still waiting, it raises AssertionError (a real shell would stall there). Each read
    takes at most ``max_read`` bytes when given.
    """
    done: list[Command[Any]] = []
    view = memoryview(data)
    while True:
        while (cmd := core.receive()) is not None:
            done.append(cmd)
        if not view:
            return done
        target = core.get_buffer()
        if len(target) == 0:
            raise AssertionError(
                f"Core.get_buffer() offered no room with {len(view)} bytes still to read: "
                "the reader would stall forever"
            )
        n = min(len(target), len(view))
        if max_read is not None:
            n = min(n, max_read)
        target[:n] = view[:n]
        core.buffer_updated(n)
        view = view[n:]


def pump_pieces(core: Core, pieces: Iterable[bytes]) -> list[Command[Any]]:
    """Feed each piece as a separate read; return every command completed on the way."""
    done: list[Command[Any]] = []
    for piece in pieces:
        done.extend(pump(core, piece))
    return done


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets (any order, out-of-range ones are clamped)."""
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    pieces = []
    last = 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return pieces


def chunks(data: bytes, size: int) -> list[bytes]:
    """Cut ``data`` into pieces of ``size`` bytes (the last may be shorter)."""
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def core_with(*commands: Command[Any]) -> Core:
    """A fresh Core with the given commands pending, oldest first."""
    core = Core()
    core.pending.extend(commands)
    return core


def chunked(head: bytes, body: bytes) -> bytes:
    """A reply with a data chunk: ``<head> <len>\\r\\n<body>\\r\\n``."""
    return b"%s %d\r\n%s\r\n" % (head, len(body), body)


# -- verbatim bodies from protocol-notes.md §4 ---------------------------------------------------

STATS_112 = (
    b"---\n"
    b"current-jobs-urgent: 4\n"
    b"current-jobs-ready: 4\n"
    b"current-jobs-reserved: 0\n"
    b"current-jobs-delayed: 0\n"
    b"current-jobs-buried: 0\n"
    b"cmd-put: 4\n"
    b"cmd-peek: 0\n"
    b"cmd-peek-ready: 0\n"
    b"cmd-peek-delayed: 0\n"
    b"cmd-peek-buried: 0\n"
    b"cmd-reserve: 0\n"
    b"cmd-reserve-with-timeout: 0\n"
    b"cmd-delete: 0\n"
    b"cmd-release: 0\n"
    b"cmd-use: 4\n"
    b"cmd-watch: 0\n"
    b"cmd-ignore: 0\n"
    b"cmd-bury: 0\n"
    b"cmd-kick: 0\n"
    b"cmd-touch: 0\n"
    b"cmd-stats: 1\n"
    b"cmd-stats-job: 0\n"
    b"cmd-stats-tube: 0\n"
    b"cmd-list-tubes: 0\n"
    b"cmd-list-tube-used: 0\n"
    b"cmd-list-tubes-watched: 0\n"
    b"cmd-pause-tube: 0\n"
    b"job-timeouts: 0\n"
    b"total-jobs: 4\n"
    b"max-job-size: 2000000\n"
    b"current-tubes: 5\n"
    b"current-connections: 1\n"
    b"current-producers: 1\n"
    b"current-workers: 0\n"
    b"current-waiting: 0\n"
    b"total-connections: 2\n"
    b"pid: 14313\n"
    b'version: "1.12"\n'
    b"rusage-utime: 0.001828\n"
    b"rusage-stime: 0.000000\n"
    b"uptime: 0\n"
    b"binlog-oldest-index: 0\n"
    b"binlog-current-index: 0\n"
    b"binlog-records-migrated: 0\n"
    b"binlog-records-written: 0\n"
    b"binlog-max-size: 10485760\n"
    b"draining: false\n"
    b"id: f2cebdcfbdbb0e9e\n"
    b"hostname: vm\n"
    b"os: #1 SMP PREEMPT_DYNAMIC @0\n"
    b"platform: x86_64\n"
)

STATS_JOB_112 = (
    b"---\nid: 2\ntube: default\nstate: delayed\npri: 4294967295\nage: 0\ndelay: 4294967295\n"
    b"ttr: 4294967295\ntime-left: 4294967294\nfile: 0\nreserves: 0\ntimeouts: 0\nreleases: 0\n"
    b"buries: 0\nkicks: 0\n"
)

STATS_TUBE_112 = (
    b"---\nname: default\ncurrent-jobs-urgent: 1\ncurrent-jobs-ready: 1\n"
    b"current-jobs-reserved: 1\ncurrent-jobs-delayed: 0\ncurrent-jobs-buried: 0\ntotal-jobs: 6\n"
    b"current-using: 1\ncurrent-watching: 1\ncurrent-waiting: 0\ncmd-delete: 4\n"
    b"cmd-pause-tube: 1\npause: 2\npause-time-left: 1\n"
)

LIST_TUBES_112 = b"---\n- default\n- foo\n- bar\n- baz\n"


# -- one case per reply kind of protocol-notes.md §2.23 ------------------------------------------


@dataclass(frozen=True)
class ReplyCase:
    """A command, a complete reply to it, and what the command must make of that reply."""

    name: str
    make: Callable[[], Command[Any]]
    reply: bytes
    result: object = None
    error: type[ServerError] | None = None
    error_id: int | None = None

    def check(self, cmd: Command[Any]) -> None:
        """Assert that ``cmd`` holds exactly the expected result or error."""
        if self.error is None:
            assert cmd.error is None, f"{self.name}: unexpected error {cmd.error!r}"
            assert type(cmd.result) is type(self.result)
            assert cmd.result == self.result
        else:
            assert type(cmd.error) is self.error
            if isinstance(cmd.error, BuriedError):
                assert cmd.error.id == self.error_id


TUBE_200 = "t" * 200
BODY_TRICKY = b"a\r\nb\x00c\xff\r\nINSERTED 5\r\nRESERVED 1 3\r\nabc\r\n\r\n"

REPLY_CASES: list[ReplyCase] = [
    ReplyCase("put-inserted", lambda: cmds.put(b"x", 0, 0, 60), b"INSERTED 5\r\n", 5),
    ReplyCase(
        "put-buried-id",
        lambda: cmds.put(b"x", 0, 0, 60),
        b"BURIED 7\r\n",
        error=BuriedError,
        error_id=7,
    ),
    ReplyCase("release-buried", lambda: cmds.release(5, 0, 0), b"BURIED\r\n", error=BuriedError),
    ReplyCase("bury-buried", lambda: cmds.bury(5, 0), b"BURIED\r\n", None),
    ReplyCase("kick-count", lambda: cmds.kick(10), b"KICKED 3\r\n", 3),
    ReplyCase("kick-job", lambda: cmds.kick_job(4), b"KICKED\r\n", None),
    ReplyCase("use", lambda: cmds.use("foo"), b"USING foo\r\n", "foo"),
    ReplyCase(
        "list-tube-used-longest-line",
        cmds.list_tube_used,
        b"USING " + TUBE_200.encode() + b"\r\n",
        TUBE_200,
    ),
    ReplyCase("watch", lambda: cmds.watch("foo"), b"WATCHING 2\r\n", 2),
    ReplyCase("ignore", lambda: cmds.ignore("default"), b"WATCHING 1\r\n", 1),
    ReplyCase("reserve", cmds.reserve, chunked(b"RESERVED 1", b"hello"), Job(1, b"hello")),
    ReplyCase(
        "reserve-with-timeout-max-id",
        lambda: cmds.reserve(timeout=0),
        chunked(b"RESERVED 18446744073709551615", BODY_TRICKY),
        Job(2**64 - 1, BODY_TRICKY),
    ),
    ReplyCase(
        "reserve-job-empty", lambda: cmds.reserve_job(3), b"RESERVED 3 0\r\n\r\n", Job(3, b"")
    ),
    ReplyCase("peek", lambda: cmds.peek(3), chunked(b"FOUND 3", b"\r\n"), Job(3, b"\r\n")),
    ReplyCase("peek-ready", cmds.peek_ready, chunked(b"FOUND 4", b"ready"), Job(4, b"ready")),
    ReplyCase("peek-delayed", cmds.peek_delayed, chunked(b"FOUND 5", b"\x00"), Job(5, b"\x00")),
    ReplyCase("peek-buried", cmds.peek_buried, chunked(b"FOUND 6", b"\xff"), Job(6, b"\xff")),
    ReplyCase("stats", cmds.stats, chunked(b"OK", STATS_112), ServerStats.parse(STATS_112)),
    ReplyCase("max-job-size", cmds.max_job_size, chunked(b"OK", STATS_112), 2000000),
    ReplyCase(
        "stats-job",
        lambda: cmds.stats_job(2),
        chunked(b"OK", STATS_JOB_112),
        JobStats.parse(STATS_JOB_112),
    ),
    ReplyCase(
        "stats-tube",
        lambda: cmds.stats_tube("default"),
        chunked(b"OK", STATS_TUBE_112),
        TubeStats.parse(STATS_TUBE_112),
    ),
    ReplyCase(
        "list-tubes",
        cmds.list_tubes,
        chunked(b"OK", LIST_TUBES_112),
        ["default", "foo", "bar", "baz"],
    ),
    ReplyCase(
        "list-tubes-watched",
        cmds.list_tubes_watched,
        b"OK 14\r\n---\n- default\n\r\n",
        ["default"],
    ),
    ReplyCase("deadline-soon", cmds.reserve, b"DEADLINE_SOON\r\n", error=DeadlineSoonError),
    ReplyCase("timed-out", lambda: cmds.reserve(timeout=1), b"TIMED_OUT\r\n", error=TimedOutError),
    ReplyCase("deleted", lambda: cmds.delete(1), b"DELETED\r\n", None),
    ReplyCase("released", lambda: cmds.release(1, 0, 0), b"RELEASED\r\n", None),
    ReplyCase("touched", lambda: cmds.touch(1), b"TOUCHED\r\n", None),
    ReplyCase("not-found", lambda: cmds.delete(1), b"NOT_FOUND\r\n", error=NotFoundError),
    ReplyCase("not-ignored", lambda: cmds.ignore("foo"), b"NOT_IGNORED\r\n", error=NotIgnoredError),
    ReplyCase("paused", lambda: cmds.pause_tube("default", 10), b"PAUSED\r\n", None),
    ReplyCase(
        "expected-crlf",
        lambda: cmds.put(b"x", 0, 0, 60),
        b"EXPECTED_CRLF\r\n",
        error=ExpectedCRLFError,
    ),
    ReplyCase(
        "job-too-big", lambda: cmds.put(b"x", 0, 0, 60), b"JOB_TOO_BIG\r\n", error=JobTooBigError
    ),
    ReplyCase("draining", lambda: cmds.put(b"x", 0, 0, 60), b"DRAINING\r\n", error=DrainingError),
    ReplyCase(
        "out-of-memory", lambda: cmds.use("foo"), b"OUT_OF_MEMORY\r\n", error=OutOfMemoryError
    ),
    ReplyCase("internal-error", lambda: cmds.delete(1), b"INTERNAL_ERROR\r\n", error=InternalError),
    ReplyCase("bad-format", cmds.stats, b"BAD_FORMAT\r\n", error=BadFormatError),
    ReplyCase(
        "unknown-command",
        lambda: cmds.delete(1),
        b"UNKNOWN_COMMAND\r\n",
        error=UnknownCommandError,
    ),
]

#: A second reply sent after each case's: its body holds CRLF and reply-like text.
TRAILER_BODY = b"\r\nINSERTED 1\r\n"
TRAILER = chunked(b"FOUND 9", TRAILER_BODY)


def trailer_command() -> Command[Any]:
    """The command the TRAILER reply answers."""
    return cmds.peek(9)


def check_trailer(cmd: Command[Any]) -> None:
    """Assert that the trailing reply came through intact."""
    assert cmd.error is None
    assert cmd.result == Job(9, TRAILER_BODY)
