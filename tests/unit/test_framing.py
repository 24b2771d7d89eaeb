"""The sans-I/O core: reply framing however the bytes are split, bodies, limits, garbage."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

import jackd
from jackd import _commands as cmds
from jackd._commands import Job
from jackd._errors import (
    BadFormatError,
    JackdError,
    NotFoundError,
    ProtocolError,
    UnknownCommandError,
)
from jackd._protocol import MAX_CHUNK, MAX_LINE, Command, Core

from .helpers import (
    REPLY_CASES,
    TRAILER,
    ReplyCase,
    check_trailer,
    chunked,
    chunks,
    core_with,
    pump,
    pump_pieces,
    split_at,
    trailer_command,
)

CASE_IDS = [case.name for case in REPLY_CASES]


def feed_all(core: Core, pieces: list[bytes]) -> list[Command[Any]]:
    """Feed each piece in turn with ``Core.feed``; return every command completed."""
    done: list[Command[Any]] = []
    for piece in pieces:
        done += core.feed(piece)
    return done


def _start(case: ReplyCase) -> tuple[Core, Command[Any], Command[Any]]:
    first, second = case.make(), trailer_command()
    return core_with(first, second), first, second


# -- every reply kind, whole, byte by byte, split at every offset --------------------------------


@pytest.mark.parametrize("case", REPLY_CASES, ids=CASE_IDS)
def test_reply_fed_whole_with_trailing_reply(case: ReplyCase) -> None:
    core, first, second = _start(case)
    done = core.feed(case.reply + TRAILER)
    assert done == [first, second]
    case.check(first)
    check_trailer(second)
    assert not core.pending
    assert core.failure is None


@pytest.mark.parametrize("case", REPLY_CASES, ids=CASE_IDS)
def test_reply_fed_one_byte_at_a_time(case: ReplyCase) -> None:
    core, first, second = _start(case)
    data = case.reply + TRAILER
    for i in range(len(data)):
        done = core.feed(data[i : i + 1])
        if i == len(case.reply) - 1:
            assert done == [first], f"reply not complete after its last byte (offset {i})"
        elif i == len(data) - 1:
            assert done == [second]
        else:
            assert done == [], f"a command completed early at offset {i}"
    case.check(first)
    check_trailer(second)
    assert core.receive() is None


@pytest.mark.parametrize("case", REPLY_CASES, ids=CASE_IDS)
def test_reply_split_at_every_offset(case: ReplyCase) -> None:
    for cut in range(len(case.reply) + 1):
        core, first, second = _start(case)
        head = core.feed(case.reply[:cut])
        if cut < len(case.reply):
            assert head == [], f"completed on a truncated reply cut at {cut}"
            assert list(core.pending) == [first, second]
            assert core.receive() is None
            assert core.receive() is None  # asking again changes nothing
            rest = core.feed(case.reply[cut:] + TRAILER)
            assert rest == [first, second], f"cut at {cut}"
        else:
            assert head == [first]
            assert core.feed(TRAILER) == [second]
        case.check(first)
        check_trailer(second)


@pytest.mark.parametrize("case", REPLY_CASES, ids=CASE_IDS)
def test_reply_and_trailer_split_at_every_pair_of_offsets_via_get_buffer(
    case: ReplyCase,
) -> None:
    data = case.reply + TRAILER
    # Every first cut, combined with a second cut a few bytes later: covers a read that ends
    # in the middle of the first reply and another that ends inside the trailer.
    for cut in range(len(data) + 1):
        for gap in (1, 3):
            core, first, second = _start(case)
            done = pump_pieces(core, split_at(data, [cut, cut + gap]))
            assert done == [first, second], f"cuts at {cut}, {cut + gap}"
            case.check(first)
            check_trailer(second)


@pytest.mark.parametrize("max_read", [1, 2, 3, 5, 13, 64, 1000])
def test_all_reply_kinds_pipelined_in_small_reads(max_read: int) -> None:
    core = Core()
    core.pending.extend(case.make() for case in REPLY_CASES)
    expected = list(core.pending)
    data = b"".join(case.reply for case in REPLY_CASES)
    assert pump(core, data, max_read=max_read) == expected
    for case, cmd in zip(REPLY_CASES, expected, strict=True):
        case.check(cmd)
    assert not core.pending


# -- bodies ---------------------------------------------------------------------------------------

TRICKY_BODIES = [
    b"\r\n",
    b"\r",
    b"\n",
    b"\r\n\r\n",
    b"x\r",
    b"\rx",
    b"\x00",
    b"\xff",
    b"\x00\xff\r\n\x00",
    bytes(range(256)),
    b"INSERTED 5\r\n",
    b"RESERVED 1 3\r\nabc\r\n",
    b"OK 5\r\n---\n\r\n",
    b"put 0 0 0 1\r\nX\r\n",
    b"BAD_FORMAT\r\nUNKNOWN_COMMAND\r\n",
    b" " * 300,
    b"\r\n" * 200,
]


@pytest.mark.parametrize("body", TRICKY_BODIES, ids=range(len(TRICKY_BODIES)))
@pytest.mark.parametrize("head", [b"RESERVED 12", b"FOUND 12"])
def test_tricky_body_split_at_every_offset(head: bytes, body: bytes) -> None:
    reply = chunked(head, body)
    for cut in range(len(reply) + 1):
        first, second = cmds.reserve() if head.startswith(b"R") else cmds.peek(12), cmds.peek(9)
        core = core_with(first, second)
        done = core.feed(reply[:cut]) + core.feed(reply[cut:] + TRAILER)
        assert done == [first, second]
        assert first.result == Job(12, body)
        assert type(first.result.body) is bytes
        check_trailer(second)


@pytest.mark.parametrize("head", [b"RESERVED 1 0", b"FOUND 1 0"])
def test_empty_body(head: bytes) -> None:
    reply = head + b"\r\n\r\n"
    for cut in range(len(reply) + 1):
        first = cmds.reserve() if head.startswith(b"R") else cmds.peek(1)
        core = core_with(first, trailer_command())
        assert core.feed(reply[:cut]) == ([] if cut < len(reply) else [first])
        core.feed(reply[cut:] + TRAILER)
        assert first.result == Job(1, b"")
        assert not core.pending


@pytest.mark.parametrize("size", [0, 1, 5, 1000, 32766, 32767, 65534, 65536, 200_000])
def test_body_trailing_crlf_arrives_in_later_reads(size: int) -> None:
    body = bytes(i % 251 for i in range(size))
    cmd = cmds.reserve()
    core = core_with(cmd, trailer_command())
    assert core.feed(b"RESERVED 77 %d\r\n" % size + body) == []
    assert core.receive() is None
    assert core.feed(b"\r") == []
    assert core.receive() is None
    assert core.feed(b"\n") == [cmd]
    assert cmd.result == Job(77, body)
    assert len(core.feed(TRAILER)) == 1


def test_body_trailer_waits_when_only_body_bytes_arrived() -> None:
    cmd = cmds.peek(1)
    core = core_with(cmd)
    # Exactly <bytes> arrived: the reply is not complete until the CRLF follows.
    assert core.feed(b"FOUND 1 4\r\n\r\n\r\n") == []
    assert core.feed(b"\r\n") == [cmd]
    assert cmd.result == Job(1, b"\r\n\r\n")


# -- large bodies ---------------------------------------------------------------------------------


def _pattern(size: int) -> bytes:
    # Not periodic in a way that would hide an offset error, and full of CR/LF/NUL bytes.
    seed = bytes((i * 7 + i // 256) % 256 for i in range(65521)) + b"\r\n\x00RESERVED 1 2\r\n"
    reps = size // len(seed) + 1
    return (seed * reps)[:size]


@pytest.mark.parametrize(
    ("size", "read"),
    [
        (200_000, 7),
        (200_000, 4096),
        (200_000, 65536),
        (200_000, 65537),
        (200_000, 100_003),
        (200_000, 10**9),
        (1 << 20, 997),
        (1 << 20, 65536),
        (1 << 20, 300_000),
        (1 << 20, 10**9),
    ],
)
def test_large_body_in_reads_of_various_sizes(size: int, read: int) -> None:
    body = _pattern(size)
    first, second, third = cmds.reserve(), cmds.delete(3), trailer_command()
    core = core_with(first, second, third)
    data = chunked(b"RESERVED 3", body) + b"DELETED\r\n" + TRAILER
    assert pump(core, data, max_read=read) == [first, second, third]
    assert first.result.id == 3
    assert len(first.result.body) == size
    assert first.result.body == body
    assert second.result is None
    check_trailer(third)


@pytest.mark.parametrize("read", [1, 9, 4096, 10**9])
def test_large_body_through_feed(read: int) -> None:
    body = _pattern(200_000) if read > 1 else _pattern(70_000)
    first, second = cmds.peek(8), trailer_command()
    core = core_with(first, second)
    done = []
    for piece in chunks(chunked(b"FOUND 8", body) + TRAILER, read):
        done += core.feed(piece)
    assert done == [first, second]
    assert first.result == Job(8, body)
    check_trailer(second)


@pytest.mark.parametrize("size", [32766, 32767, 65534, 65536, 65537, 200_000])
def test_bodies_around_buffer_boundaries_after_earlier_replies(size: int) -> None:
    # Earlier replies push the header away from the start of the receive buffer, so the body
    # straddles the buffer's end and forces compaction or a buffer of its own.
    body = _pattern(size)
    lead = b"".join(b"INSERTED %d\r\n" % i for i in range(1, 1801))  # 21 KB of short replies
    data = lead + chunked(b"RESERVED 5", body) + TRAILER
    header_end = len(lead) + len(b"RESERVED 5 %d\r\n" % size)
    interesting = [
        len(lead) - 1,
        len(lead),
        len(lead) + 3,
        header_end - 1,
        header_end,
        header_end + 1,
        header_end + size // 2,
        header_end + size - 1,
        header_end + size,
        header_end + size + 1,
        header_end + size + 2,
        65535,
        65536,
        65537,
    ]
    for cut in interesting:
        puts = [cmds.put(b"x", 0, 0, 60) for _ in range(1800)]
        res, trailer = cmds.reserve(), trailer_command()
        core = core_with(*puts, res, trailer)
        assert pump_pieces(core, split_at(data, [cut])) == [*puts, res, trailer]
        assert [p.result for p in puts] == list(range(1, 1801))
        assert res.result == Job(5, body), f"cut at {cut}"
        check_trailer(trailer)


def test_large_body_buffer_never_reaches_past_the_body() -> None:
    size = 300_000
    body = _pattern(size)
    cmd, trailer = cmds.reserve(), trailer_command()
    core = core_with(cmd, trailer)
    header = b"RESERVED 1 %d\r\n" % size
    pump(core, header + body[:1000])
    # The core now reads the rest of the chunk (body and CRLF) and nothing beyond it.
    assert len(core.get_buffer()) == size + 2 - 1000
    pump(core, body[1000:250_000])
    assert len(core.get_buffer()) == size + 2 - 250_000
    assert pump(core, body[250_000:] + b"\r\n" + TRAILER) == [cmd, trailer]
    assert cmd.result == Job(1, body)
    check_trailer(trailer)


# -- a hostile chunk size -------------------------------------------------------------------------

HOSTILE_HEADER = b"RESERVED 1 1073741824\r\n"  # 1 GiB: the most beanstalkd allows, and 10 bytes
_SMALL = 16 << 20


def _traced(action: Callable[[], object]) -> tuple[int, int]:
    """Run ``action`` under tracemalloc; return (memory still held, peak) it allocated."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()


def test_hostile_chunk_size_allocates_for_the_bytes_that_came_not_the_claim() -> None:
    cmd = cmds.reserve()
    core = core_with(cmd)
    data = HOSTILE_HEADER + b"0123456789"
    _, peak = _traced(lambda: core.feed(data))
    assert peak < _SMALL, f"{peak} bytes allocated for a header and 10 bytes"
    assert core.pending[0] is cmd  # still waiting for the rest, not failed
    assert core.failure is None
    assert len(core.get_buffer()) < _SMALL  # a read is offered room for a few MiB at most


def test_hostile_chunk_size_memory_follows_what_arrives() -> None:
    core = core_with(cmds.reserve())
    piece = b"y" * (1 << 16)

    def trickle() -> None:
        core.feed(HOSTILE_HEADER + b"0123456789")
        for _ in range(48):  # 3 MiB more of the claimed GiB
            core.feed(piece)

    held, peak = _traced(trickle)
    assert held < _SMALL
    assert peak < _SMALL
    assert core.failure is None


# -- pipelining -----------------------------------------------------------------------------------


def test_thousand_pipelined_replies_in_one_feed() -> None:
    puts = [cmds.put(b"job-%04d" % i, 0, 0, 60) for i in range(1000)]
    core = core_with(*puts)
    data = b"".join(b"INSERTED %d\r\n" % i for i in range(1, 1001))
    assert core.feed(data) == puts
    assert [p.result for p in puts] == list(range(1, 1001))
    assert all(p.error is None for p in puts)
    assert not core.pending


def _mixed_stream(n: int) -> tuple[list[Command[Any]], bytes, list[object]]:
    commands: list[Command[Any]] = []
    parts: list[bytes] = []
    expected: list[object] = []
    for i in range(1, n + 1):
        kind = i % 4
        if kind == 0:
            body = b"body\r\n%d\x00\xff" % i * (i % 5)
            commands.append(cmds.reserve())
            parts.append(chunked(b"RESERVED %d" % i, body))
            expected.append(Job(i, body))
        elif kind == 1:
            commands.append(cmds.put(b"x", 0, 0, 60))
            parts.append(b"INSERTED %d\r\n" % i)
            expected.append(i)
        elif kind == 2:
            commands.append(cmds.delete(i))
            parts.append(b"NOT_FOUND\r\n")
            expected.append(NotFoundError)
        else:
            commands.append(cmds.list_tubes())
            parts.append(chunked(b"OK", b"---\n- default\n- 123\n"))
            expected.append(["default", "123"])
    return commands, b"".join(parts), expected


def _check_mixed(commands: list[Command[Any]], expected: list[object]) -> None:
    for cmd, want in zip(commands, expected, strict=True):
        if want is NotFoundError:
            assert type(cmd.error) is NotFoundError
        else:
            assert cmd.error is None
            assert cmd.result == want


@pytest.mark.parametrize("read", [None, 1, 3, 100, 4095, 65536])
def test_many_mixed_pipelined_replies_larger_than_the_buffer(read: int | None) -> None:
    commands, data, expected = _mixed_stream(4000 if read != 1 else 600)
    if read is None:
        assert len(data) > 1 << 16
    core = core_with(*commands)
    assert pump(core, data, max_read=read) == commands
    _check_mixed(commands, expected)
    assert not core.pending


def test_mixed_pipelined_replies_in_one_feed_call() -> None:
    commands, data, expected = _mixed_stream(3000)
    core = core_with(*commands)
    assert core.feed(data) == commands
    _check_mixed(commands, expected)


# -- garbage and truncated input ------------------------------------------------------------------


def test_line_limit_constant() -> None:
    assert MAX_LINE == 224


@pytest.mark.parametrize("tail", [b"a", b"\r"])
def test_partial_line_below_limit_waits(tail: bytes) -> None:
    # 223 bytes without a CRLF may still be a legal 224-byte line.
    cmd = cmds.delete(1)
    core = core_with(cmd)
    assert core.feed(b"a" * (MAX_LINE - 2) + tail) == []
    assert core.receive() is None
    assert core.failure is None
    assert list(core.pending) == [cmd]


@pytest.mark.parametrize("tail", [b"a", b"\r"])
def test_partial_line_at_limit_is_protocol_error(tail: bytes) -> None:
    # 224 bytes and still no CRLF: the line is longer than any legal one.
    core = core_with(cmds.delete(1))
    assert core.feed(b"a" * (MAX_LINE - 2)) == []
    with pytest.raises(ProtocolError):
        core.feed(b"a" + tail)


@pytest.mark.parametrize("read", [1, 50, MAX_LINE, 1000])
def test_line_without_crlf_over_limit_is_protocol_error(read: int) -> None:
    core = core_with(cmds.delete(1))
    with pytest.raises(ProtocolError):
        feed_all(core, chunks(b"X" * 1000, read))
    assert isinstance(core.failure, ProtocolError)


def test_bare_lf_terminated_replies_are_not_lines() -> None:
    core = core_with(*[cmds.put(b"x", 0, 0, 60) for _ in range(30)])
    with pytest.raises(ProtocolError):
        feed_all(core, [b"INSERTED 5\n"] * 30)


def test_longest_legal_reply_line_byte_by_byte_is_accepted() -> None:
    line = b"USING " + b"t" * 200 + b"\r\n"
    assert len(line) == 208
    cmd = cmds.list_tube_used()
    core = core_with(cmd)
    done = []
    for i in range(len(line)):
        done += core.feed(line[i : i + 1])
    assert done == [cmd]
    assert cmd.result == "t" * 200


@pytest.mark.parametrize("read", [1, 7, 1000])
def test_line_of_exactly_224_bytes_is_framed(read: int) -> None:
    line = b"USING " + b"t" * 216 + b"\r\n"
    assert len(line) == MAX_LINE
    cmd = cmds.list_tube_used()
    core = core_with(cmd)
    assert feed_all(core, chunks(line, read)) == [cmd]
    assert cmd.result == "t" * 216


@pytest.mark.parametrize("read", [1, 7, 1000])
@pytest.mark.parametrize("length", [MAX_LINE + 1, 302])
def test_line_over_limit_is_protocol_error_however_it_is_split(length: int, read: int) -> None:
    # A reply line longer than 224 bytes is longer than anything beanstalkd sends. The same
    # bytes must get the same verdict whether they arrive in one read or many.
    line = b"USING " + b"t" * (length - 8) + b"\r\n"
    assert len(line) == length
    core = core_with(cmds.list_tube_used())
    with pytest.raises(ProtocolError):
        feed_all(core, chunks(line, read))


def test_overlong_chunk_header_does_not_stall_the_reader() -> None:
    # A garbage header far over the line limit, complete in one read, announcing a chunk small
    # enough for the shared buffer: the core must reject it, not wait for room it never frees.
    data = b"OK " + b"a" * 40_000 + b" 30000\r\n" + b"x" * 30_002
    core = core_with(cmds.stats())
    with pytest.raises(ProtocolError):
        pump(core, data)


@pytest.mark.parametrize(
    "header",
    [
        b"RESERVED 1 abc",
        b"RESERVED 1 -1",
        b"RESERVED 1 +1",
        b"RESERVED 1 ",
        b"RESERVED 1 0x10",
        b"RESERVED 1 1.5",
        b"RESERVED 1 \xef\xbc\x95",  # a full-width digit
        b"RESERVED 1 99999999999",
        b"RESERVED 1 %d" % (MAX_CHUNK + 1),
        b"RESERVED",
        b"FOUND",
        b"OK",
        b"OK abc",
        b"FOUND 1 5 ",
    ],
)
def test_bad_chunk_size_is_protocol_error(header: bytes) -> None:
    core = core_with(cmds.reserve(), cmds.peek(1), cmds.stats())
    with pytest.raises(ProtocolError):
        core.feed(header + b"\r\nhello\r\n")
    assert isinstance(core.failure, ProtocolError)


@pytest.mark.parametrize(
    "reply",
    [
        b"RESERVED 1 3\r\nabcde",
        b"RESERVED 1 3\r\nabc\n\r",
        b"RESERVED 1 3\r\nabc\rX",
        b"RESERVED 1 3\r\nabcXY",
        b"RESERVED 1 0\r\nXY",
        b"FOUND 1 3\r\nab\r\n\r",
        b"RESERVED 1 200000\r\n" + b"z" * 200_000 + b"XY",
        b"RESERVED 1 200000\r\n" + b"z" * 200_000 + b"\n\r",
        b"RESERVED 1 200000\r\n" + b"z" * 200_000 + b"X\n",
        b"RESERVED 1 200000\r\n" + b"z" * 200_000 + b"\rX",
        b"RESERVED 1 3\r\nabcX\n",
        b"RESERVED 1 40000\r\n" + b"z" * 40_000 + b"\r\r",
        b"RESERVED 1 5\r\n\0\0\0\0\0\0\0",  # a body a damaged binlog read back as zeros
    ],
    ids=lambda r: r[:20].decode("latin-1"),
)
@pytest.mark.parametrize("read", [1, 7, 1 << 16])
def test_job_whose_body_does_not_end_in_crlf_is_corrupt_and_the_stream_stays_in_step(
    reply: bytes, read: int
) -> None:
    # beanstalkd sends exactly the size it announced, CRLF included: a damaged stored body
    # fails its own command only, and the next reply is read as it should be.
    first = cmds.peek(1) if reply.startswith(b"FOUND") else cmds.reserve()
    core = core_with(first, trailer_command())
    eol = reply.index(b"\r\n")
    chunk_end = eol + 2 + int(reply[:eol].split()[-1])
    # Nothing is wrong until the two bytes after the chunk are in.
    assert core.feed(reply[:chunk_end]) == []
    assert core.feed(reply[chunk_end : chunk_end + 1]) == []
    done = feed_all(core, chunks(reply[chunk_end + 1 :] + TRAILER, read))
    assert done[0] is first
    assert isinstance(first.error, jackd.CorruptJobError)
    assert first.error.job_id == 1
    assert "damaged" in str(first.error)
    check_trailer(done[1])
    assert core.failure is None
    if first.kind.reserves:
        assert 1 in core.session.reserved  # the server holds it reserved for this connection


@pytest.mark.parametrize("reply", [b"OK 3\r\nabcXY", b"OK 3\r\nabc\n\r"])
def test_other_chunk_not_followed_by_crlf_is_protocol_error(reply: bytes) -> None:
    core = core_with(cmds.stats(), trailer_command())
    with pytest.raises(ProtocolError):
        core.feed(reply + TRAILER)
    assert isinstance(core.failure, ProtocolError)


@pytest.mark.parametrize(
    "reply", [b"INSERTED 1\r\n", b"RESERVED 1 3\r\nabc\r\n", b"OK 4\r\n---\n\r\n", b"\r\n"]
)
def test_reply_with_no_pending_command_is_protocol_error(reply: bytes) -> None:
    core = Core()
    with pytest.raises(ProtocolError):
        core.feed(reply)
    assert isinstance(core.failure, ProtocolError)


def test_more_replies_than_commands_is_protocol_error() -> None:
    cmd = cmds.delete(1)
    core = core_with(cmd)
    with pytest.raises(ProtocolError):
        core.feed(b"DELETED\r\nDELETED\r\n")
    assert cmd.error is None
    assert not core.pending


def test_failure_is_sticky() -> None:
    first, second = cmds.delete(1), cmds.delete(2)
    core = core_with(first, second)
    with pytest.raises(ProtocolError) as info:
        core.feed(b"RESERVED 1 abc\r\n")
    failure = info.value
    assert core.failure is failure
    for _ in range(3):
        with pytest.raises(ProtocolError) as again:
            core.receive()
        assert again.value is failure
    with pytest.raises(ProtocolError):
        core.feed(b"")
    with pytest.raises(ProtocolError):
        core.feed(b"DELETED\r\n")
    assert core.failure is failure
    assert not hasattr(second, "result")


def test_failure_from_a_nonsense_reply_is_sticky() -> None:
    core = core_with(cmds.delete(1), cmds.delete(2))
    with pytest.raises(ProtocolError) as info:
        core.feed(b"HELLO\r\nDELETED\r\n")
    assert core.failure is info.value
    with pytest.raises(ProtocolError):
        core.receive()


def _write(core: Core, data: bytes) -> None:
    target = core.get_buffer()
    target[: len(data)] = data
    core.buffer_updated(len(data))


@pytest.mark.parametrize("reply", [b"BAD_FORMAT\r\n", b"UNKNOWN_COMMAND\r\n"])
def test_put_line_rejected_poisons_the_connection(reply: bytes) -> None:
    put, after = cmds.put(b"delete 1", 0, 0, 60), cmds.stats()
    core = core_with(put, after)
    # What the server sends next (here: it ran the body as a command) cannot be trusted.
    _write(core, reply + b"NOT_FOUND\r\n")
    assert core.receive() is put
    expected = BadFormatError if reply.startswith(b"BAD") else UnknownCommandError
    assert type(put.error) is expected
    assert isinstance(core.failure, JackdError)
    failure = core.failure
    for _ in range(2):
        with pytest.raises(JackdError) as info:
            core.receive()
        assert info.value is failure
    with pytest.raises(JackdError):
        core.feed(b"")
    assert not hasattr(after, "result")
    assert after.error is None


@pytest.mark.parametrize(
    "make",
    [cmds.stats, lambda: cmds.use("foo"), lambda: cmds.delete(1), cmds.reserve],
)
def test_bad_format_to_other_commands_keeps_the_connection(make: Any) -> None:
    first, second = make(), cmds.delete(2)
    core = core_with(first, second)
    assert core.feed(b"BAD_FORMAT\r\nDELETED\r\n") == [first, second]
    assert type(first.error) is BadFormatError
    assert second.error is None
    assert core.failure is None


def test_command_repr_and_fields() -> None:
    cmd = cmds.delete(5)
    assert repr(cmd) == "<Command delete 5>"
    assert cmd.arg == 5
    assert cmd.name == "delete"
    assert cmd.error is None
    assert cmd.waiter is None
