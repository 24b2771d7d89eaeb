"""What each command makes of each reply: Python values, ServerError subclasses, nonsense."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

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
    ProtocolError,
    ServerError,
    TimedOutError,
    UnknownCommandError,
)
from jackd._protocol import Command
from jackd._stats import JobStats, ServerStats, TubeStats

from .helpers import (
    LIST_TUBES_112,
    STATS_112,
    STATS_JOB_112,
    STATS_TUBE_112,
    chunked,
    core_with,
)

Make = Callable[[], Command[Any]]


def answer(cmd: Command[Any], reply: bytes) -> Command[Any]:
    """Hand one complete reply to a core holding only ``cmd``; return it, completed."""
    core = core_with(cmd)
    target = core.get_buffer()
    target[: len(reply)] = reply
    core.buffer_updated(len(reply))
    assert core.receive() is cmd
    assert not core.pending
    return cmd


def result_of(cmd: Command[Any], reply: bytes) -> Any:
    answer(cmd, reply)
    assert cmd.error is None
    return cmd.result


def error_of(cmd: Command[Any], reply: bytes) -> ServerError:
    answer(cmd, reply)
    assert isinstance(cmd.error, ServerError)
    return cmd.error


# Every constructor, with valid arguments.
ALL_COMMANDS: dict[str, Make] = {
    "put": lambda: cmds.put(b"body", 0, 0, 60),
    "put-large": lambda: cmds.put(b"z" * 20_000, 0, 0, 60),
    "use": lambda: cmds.use("foo"),
    "reserve": cmds.reserve,
    "reserve-with-timeout": lambda: cmds.reserve(timeout=5),
    "reserve-job": lambda: cmds.reserve_job(1),
    "delete": lambda: cmds.delete(1),
    "release": lambda: cmds.release(1, 0, 0),
    "bury": lambda: cmds.bury(1, 0),
    "touch": lambda: cmds.touch(1),
    "watch": lambda: cmds.watch("foo"),
    "ignore": lambda: cmds.ignore("foo"),
    "peek": lambda: cmds.peek(1),
    "peek-ready": cmds.peek_ready,
    "peek-delayed": cmds.peek_delayed,
    "peek-buried": cmds.peek_buried,
    "kick": lambda: cmds.kick(5),
    "kick-job": lambda: cmds.kick_job(1),
    "stats": cmds.stats,
    "max-job-size": cmds.max_job_size,
    "stats-job": lambda: cmds.stats_job(1),
    "stats-tube": lambda: cmds.stats_tube("foo"),
    "list-tubes": cmds.list_tubes,
    "list-tube-used": cmds.list_tube_used,
    "list-tubes-watched": cmds.list_tubes_watched,
    "pause-tube": lambda: cmds.pause_tube("foo", 1),
}


# -- success replies ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [ALL_COMMANDS["put"], ALL_COMMANDS["put-large"]])
def test_put_inserted_gives_int_id(make: Make) -> None:
    jid = result_of(make(), b"INSERTED 42\r\n")
    assert jid == 42
    assert type(jid) is int
    assert result_of(make(), b"INSERTED 18446744073709551615\r\n") == 2**64 - 1


@pytest.mark.parametrize(
    "make",
    [
        cmds.reserve,
        lambda: cmds.reserve(timeout=0),
        lambda: cmds.reserve(timeout=2**31 - 1),
        lambda: cmds.reserve_job(7),
    ],
)
def test_reserve_family_gives_job(make: Make) -> None:
    job = result_of(make(), b"RESERVED 7 5\r\nhe\r\no\r\n")
    assert job == Job(7, b"he\r\no")
    assert type(job) is Job
    assert job.id == 7
    assert type(job.body) is bytes
    jid, body = job
    assert (jid, body) == (7, b"he\r\no")


@pytest.mark.parametrize(
    "make", [lambda: cmds.peek(3), cmds.peek_ready, cmds.peek_delayed, cmds.peek_buried]
)
def test_peek_family_gives_job(make: Make) -> None:
    job = result_of(make(), b"FOUND 3 4\r\n\x00\r\n\xff\r\n")
    assert job == Job(3, b"\x00\r\n\xff")
    assert type(job) is Job


@pytest.mark.parametrize("make", [lambda: cmds.watch("x"), lambda: cmds.ignore("x")])
def test_watch_and_ignore_give_watch_count(make: Make) -> None:
    count = result_of(make(), b"WATCHING 3\r\n")
    assert count == 3
    assert type(count) is int


def test_kick_gives_count() -> None:
    assert result_of(cmds.kick(100), b"KICKED 0\r\n") == 0
    assert result_of(cmds.kick(100), b"KICKED 17\r\n") == 17


@pytest.mark.parametrize("make", [lambda: cmds.use("foo"), cmds.list_tube_used])
def test_use_and_list_tube_used_give_str(make: Make) -> None:
    name = result_of(make(), b"USING foo\r\n")
    assert name == "foo"
    assert type(name) is str
    assert result_of(make(), b"USING 123\r\n") == "123"
    odd = "ABCxyz019-+/;.$_()"
    assert result_of(make(), b"USING " + odd.encode() + b"\r\n") == odd


@pytest.mark.parametrize(
    ("make", "reply"),
    [
        (lambda: cmds.delete(1), b"DELETED\r\n"),
        (lambda: cmds.release(1, 0, 0), b"RELEASED\r\n"),
        (lambda: cmds.bury(1, 0), b"BURIED\r\n"),
        (lambda: cmds.touch(1), b"TOUCHED\r\n"),
        (lambda: cmds.kick_job(1), b"KICKED\r\n"),
        (lambda: cmds.pause_tube("foo", 0), b"PAUSED\r\n"),
    ],
)
def test_bare_success_replies_give_none(make: Make, reply: bytes) -> None:
    assert result_of(make(), reply) is None


def test_stats_gives_server_stats() -> None:
    stats = result_of(cmds.stats(), chunked(b"OK", STATS_112))
    assert type(stats) is ServerStats
    assert stats.version == "1.12"
    assert stats.max_job_size == 2000000
    assert stats.os == "#1 SMP PREEMPT_DYNAMIC @0"


def test_max_job_size_reads_the_limit_from_stats() -> None:
    assert result_of(cmds.max_job_size(), chunked(b"OK", STATS_112)) == 2000000
    without = STATS_112.replace(b"max-job-size: 2000000\n", b"")
    assert result_of(cmds.max_job_size(), chunked(b"OK", without)) == 65535


def test_stats_job_gives_job_stats() -> None:
    stats = result_of(cmds.stats_job(2), chunked(b"OK", STATS_JOB_112))
    assert type(stats) is JobStats
    assert (stats.id, stats.tube, stats.state, stats.pri) == (2, "default", "delayed", 2**32 - 1)


def test_stats_tube_gives_tube_stats() -> None:
    stats = result_of(cmds.stats_tube("default"), chunked(b"OK", STATS_TUBE_112))
    assert type(stats) is TubeStats
    assert (stats.name, stats.total_jobs, stats.pause) == ("default", 6, 2)


@pytest.mark.parametrize("make", [cmds.list_tubes, cmds.list_tubes_watched])
def test_list_tubes_gives_list_of_str(make: Make) -> None:
    names = result_of(make(), chunked(b"OK", LIST_TUBES_112))
    assert names == ["default", "foo", "bar", "baz"]
    assert type(names) is list
    odd = result_of(make(), chunked(b"OK", b"---\n- 123\n- true\n- .inf\n- 1e3\n- null\n"))
    assert odd == ["123", "true", ".inf", "1e3", "null"]
    assert all(type(name) is str for name in odd)


# -- error replies --------------------------------------------------------------------------------


def test_buried_with_id_to_put_is_buried_error_with_id() -> None:
    err = error_of(cmds.put(b"x", 0, 0, 60), b"BURIED 7\r\n")
    assert type(err) is BuriedError
    assert isinstance(err, BuriedError)
    assert err.id == 7


def test_buried_to_release_is_buried_error_without_id() -> None:
    err = error_of(cmds.release(3, 0, 0), b"BURIED\r\n")
    assert type(err) is BuriedError
    assert isinstance(err, BuriedError)
    assert err.id is None


SPECIFIC_ERRORS: list[tuple[str, Make, bytes, type[ServerError]]] = [
    ("delete", lambda: cmds.delete(1), b"NOT_FOUND", NotFoundError),
    ("release", lambda: cmds.release(1, 0, 0), b"NOT_FOUND", NotFoundError),
    ("bury", lambda: cmds.bury(1, 0), b"NOT_FOUND", NotFoundError),
    ("touch", lambda: cmds.touch(1), b"NOT_FOUND", NotFoundError),
    ("peek", lambda: cmds.peek(1), b"NOT_FOUND", NotFoundError),
    ("peek-ready", cmds.peek_ready, b"NOT_FOUND", NotFoundError),
    ("peek-delayed", cmds.peek_delayed, b"NOT_FOUND", NotFoundError),
    ("peek-buried", cmds.peek_buried, b"NOT_FOUND", NotFoundError),
    ("kick-job", lambda: cmds.kick_job(1), b"NOT_FOUND", NotFoundError),
    ("reserve-job", lambda: cmds.reserve_job(1), b"NOT_FOUND", NotFoundError),
    ("stats-job", lambda: cmds.stats_job(1), b"NOT_FOUND", NotFoundError),
    ("stats-tube", lambda: cmds.stats_tube("x"), b"NOT_FOUND", NotFoundError),
    ("pause-tube", lambda: cmds.pause_tube("x", 1), b"NOT_FOUND", NotFoundError),
    ("reserve", cmds.reserve, b"DEADLINE_SOON", DeadlineSoonError),
    ("reserve-timeout", lambda: cmds.reserve(timeout=0), b"DEADLINE_SOON", DeadlineSoonError),
    ("reserve-timeout", lambda: cmds.reserve(timeout=0), b"TIMED_OUT", TimedOutError),
    ("reserve", cmds.reserve, b"TIMED_OUT", TimedOutError),
    ("put", lambda: cmds.put(b"x", 0, 0, 1), b"DRAINING", DrainingError),
    ("put", lambda: cmds.put(b"x", 0, 0, 1), b"JOB_TOO_BIG", JobTooBigError),
    ("put", lambda: cmds.put(b"x", 0, 0, 1), b"EXPECTED_CRLF", ExpectedCRLFError),
    ("put", lambda: cmds.put(b"x", 0, 0, 1), b"OUT_OF_MEMORY", OutOfMemoryError),
    ("put", lambda: cmds.put(b"x", 0, 0, 1), b"INTERNAL_ERROR", InternalError),
    ("ignore", lambda: cmds.ignore("x"), b"NOT_IGNORED", NotIgnoredError),
    ("release", lambda: cmds.release(1, 0, 5), b"OUT_OF_MEMORY", OutOfMemoryError),
    ("delete", lambda: cmds.delete(1), b"INTERNAL_ERROR", InternalError),
    ("bury", lambda: cmds.bury(1, 0), b"INTERNAL_ERROR", InternalError),
    ("use", lambda: cmds.use("x"), b"OUT_OF_MEMORY", OutOfMemoryError),
    ("watch", lambda: cmds.watch("x"), b"OUT_OF_MEMORY", OutOfMemoryError),
]


@pytest.mark.parametrize(
    ("make", "status", "cls"),
    [case[1:] for case in SPECIFIC_ERRORS],
    ids=[f"{c[0]}-{c[2].decode()}" for c in SPECIFIC_ERRORS],
)
def test_specific_error_replies(make: Make, status: bytes, cls: type[ServerError]) -> None:
    core = core_with(make(), cmds.delete(9))
    first, second = list(core.pending)
    assert core.feed(status + b"\r\nDELETED\r\n") == [first, second]
    assert type(first.error) is cls
    assert first.error.status == status.decode()
    # The message names the command and its argument, then the status.
    assert str(first.error).startswith(f"{first.describe()}: {status.decode()}")
    assert not hasattr(first, "result")
    assert second.error is None
    assert core.failure is None


GENERAL = [
    (b"BAD_FORMAT", BadFormatError),
    (b"UNKNOWN_COMMAND", UnknownCommandError),
    (b"OUT_OF_MEMORY", OutOfMemoryError),
    (b"INTERNAL_ERROR", InternalError),
]


@pytest.mark.parametrize(("status", "cls"), GENERAL, ids=[g[0].decode() for g in GENERAL])
@pytest.mark.parametrize("name", list(ALL_COMMANDS))
def test_general_error_replies_to_every_command(
    name: str, status: bytes, cls: type[ServerError]
) -> None:
    cmd = ALL_COMMANDS[name]()
    err = error_of(cmd, status + b"\r\n")
    assert type(err) is cls
    assert isinstance(err, ServerError)


# -- nonsense replies -----------------------------------------------------------------------------

NONSENSE: list[tuple[str, Make, bytes]] = [
    ("found-to-delete", lambda: cmds.delete(1), b"FOUND 1 1\r\nx\r\n"),
    ("reserved-to-put", lambda: cmds.put(b"x", 0, 0, 1), b"RESERVED 1 1\r\nx\r\n"),
    ("ok-to-reserve", cmds.reserve, b"OK 1\r\nx\r\n"),
    ("watching-x", lambda: cmds.watch("a"), b"WATCHING x\r\n"),
    ("watching-negative", lambda: cmds.watch("a"), b"WATCHING -1\r\n"),
    ("watching-nothing", lambda: cmds.watch("a"), b"WATCHING\r\n"),
    ("watching-two", lambda: cmds.watch("a"), b"WATCHING 1 2\r\n"),
    ("inserted-abc", lambda: cmds.put(b"x", 0, 0, 1), b"INSERTED abc\r\n"),
    ("inserted-empty", lambda: cmds.put(b"x", 0, 0, 1), b"INSERTED\r\n"),
    ("inserted-double-space", lambda: cmds.put(b"x", 0, 0, 1), b"INSERTED  5\r\n"),
    ("inserted-to-delete", lambda: cmds.delete(1), b"INSERTED 5\r\n"),
    ("hello", lambda: cmds.delete(1), b"HELLO\r\n"),
    ("hello-to-stats", cmds.stats, b"HELLO\r\n"),
    ("empty-line", lambda: cmds.delete(1), b"\r\n"),
    ("lowercase", lambda: cmds.delete(1), b"deleted\r\n"),
    ("trailing-space", lambda: cmds.delete(1), b"DELETED \r\n"),
    ("deleted-to-release", lambda: cmds.release(1, 0, 0), b"DELETED\r\n"),
    ("released-to-delete", lambda: cmds.delete(1), b"RELEASED\r\n"),
    ("kicked-without-count", lambda: cmds.kick(5), b"KICKED\r\n"),
    ("kicked-count-to-kick-job", lambda: cmds.kick_job(1), b"KICKED 5\r\n"),
    ("kicked-x", lambda: cmds.kick(5), b"KICKED x\r\n"),
    ("using-nothing", lambda: cmds.use("a"), b"USING\r\n"),
    ("using-two", cmds.list_tube_used, b"USING a b\r\n"),
    ("using-to-watch", lambda: cmds.watch("a"), b"USING a\r\n"),
    ("reserved-bad-id", cmds.reserve, b"RESERVED x 1\r\nx\r\n"),
    ("reserved-no-id", cmds.reserve, b"RESERVED 1\r\nx\r\n"),
    ("found-extra-field", lambda: cmds.peek(1), b"FOUND 1 2 1\r\nx\r\n"),
    ("ok-extra-field", cmds.stats, b"OK 1 4\r\n---\n\r\n"),
    ("not-found-with-arg", lambda: cmds.delete(1), b"NOT_FOUND 1\r\n"),
    ("bad-format-with-arg", cmds.stats, b"BAD_FORMAT x\r\n"),
    ("buried-x-to-put", lambda: cmds.put(b"x", 0, 0, 1), b"BURIED x\r\n"),
    ("buried-two-args", lambda: cmds.put(b"x", 0, 0, 1), b"BURIED 1 2\r\n"),
    ("paused-to-delete", lambda: cmds.delete(1), b"PAUSED\r\n"),
    ("stats-not-yaml", cmds.stats, b"OK 5\r\nhello\r\n"),
    ("stats-empty-body", cmds.stats, b"OK 0\r\n\r\n"),
    ("list-not-a-list", cmds.list_tubes, b"OK 12\r\n---\na: b\nc\n\r\n"),
    ("stats-job-bad-int", lambda: cmds.stats_job(1), b"OK 13\r\n---\nid: abc\n\r\n"),
    ("stats-bad-bool", cmds.stats, b"OK 18\r\n---\ndraining: 1\n\r\n"),
]


@pytest.mark.parametrize(
    ("make", "reply"), [case[1:] for case in NONSENSE], ids=[case[0] for case in NONSENSE]
)
def test_nonsense_reply_is_protocol_error(make: Make, reply: bytes) -> None:
    cmd = make()
    core = core_with(cmd, cmds.delete(2))
    with pytest.raises(ProtocolError) as info:
        core.feed(reply + b"DELETED\r\n")
    assert core.failure is info.value
    assert cmd.error is None
    with pytest.raises(ProtocolError):
        core.receive()


@pytest.mark.parametrize(
    ("make", "reply"),
    [
        (lambda: cmds.bury(1, 0), b"BURIED 5\r\n"),
        (lambda: cmds.release(1, 0, 0), b"BURIED 5\r\n"),
    ],
    ids=["bury", "release"],
)
def test_buried_with_id_is_nonsense_outside_put(make: Make, reply: bytes) -> None:
    # Only put's BURIED carries an id (protocol-notes §2.7, §2.8, §2.23).
    core = core_with(make())
    with pytest.raises(ProtocolError):
        core.feed(reply)
