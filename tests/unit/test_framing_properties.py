"""Property-based tests of the core: arbitrary input never hangs it, valid input survives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jackd import _commands as cmds
from jackd._commands import Job
from jackd._errors import BadFormatError, JackdError, ProtocolError, UnknownCommandError
from jackd._protocol import Command, Core

from .helpers import STATS_JOB_112, chunked, pump, split_at

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEWER = settings(SETTINGS, max_examples=100)

# Commands whose replies come in every framing: lines, numbers, names, chunks of each kind.
MAKERS: list[Callable[[], Command[Any]]] = [
    cmds.reserve,
    lambda: cmds.reserve(timeout=0),
    lambda: cmds.peek(1),
    cmds.stats,
    cmds.max_job_size,
    lambda: cmds.stats_job(1),
    lambda: cmds.stats_tube("a"),
    cmds.list_tubes,
    cmds.list_tube_used,
    lambda: cmds.use("a"),
    lambda: cmds.watch("a"),
    lambda: cmds.kick(1),
    lambda: cmds.kick_job(1),
    lambda: cmds.delete(1),
    lambda: cmds.release(1, 0, 0),
    lambda: cmds.bury(1, 0),
    lambda: cmds.touch(1),
    lambda: cmds.pause_tube("a", 1),
]
PUT: Callable[[], Command[Any]] = lambda: cmds.put(b"x", 0, 0, 60)  # noqa: E731

# Pieces that make arbitrary input look like replies often enough to go deep into the parser.
FRAGMENTS = [
    b"\r\n",
    b"\r",
    b"\n",
    b" ",
    b"0",
    b"1",
    b"3",
    b"12",
    b"300",
    b"-1",
    b"abc",
    b"RESERVED 1 ",
    b"RESERVED ",
    b"FOUND 2 ",
    b"OK ",
    b"OK 4\r\n---\n",
    b"INSERTED ",
    b"BURIED",
    b"USING ",
    b"WATCHING ",
    b"KICKED",
    b"DELETED",
    b"NOT_FOUND",
    b"BAD_FORMAT",
    b"UNKNOWN_COMMAND",
    b"TIMED_OUT",
    b"---\n",
    b"- a\n",
    b"id: 1\n",
    b"draining: true\n",
]

garbage = st.lists(st.one_of(st.binary(max_size=24), st.sampled_from(FRAGMENTS)), max_size=60).map(
    b"".join
)
cuts = st.lists(st.integers(min_value=0, max_value=2000), max_size=12)


def _run_arbitrary(core: Core, commands: list[Command[Any]], pieces: list[bytes]) -> None:
    completed: list[Command[Any]] = []
    raised: JackdError | None = None
    try:
        for piece in pieces:
            completed += pump(core, piece)
    except JackdError as exc:
        raised = exc
    if raised is None:
        assert core.failure is None
        # Whatever is left over is an incomplete reply: asking again gives nothing new.
        assert core.receive() is None
        assert list(core.pending) == commands[len(completed) :]
    else:
        assert core.failure is raised
        if not isinstance(raised, ProtocolError):
            # Only a put whose line the server rejected may end the stream some other way.
            assert any(
                c.name == "put" and isinstance(c.error, (BadFormatError, UnknownCommandError))
                for c in commands
            ), repr(raised)
    # Completed commands came out in order, each holding exactly one outcome.
    assert completed == commands[: len(completed)]
    for cmd in completed:
        if cmd.error is None:
            assert hasattr(cmd, "result")
        else:
            assert not hasattr(cmd, "result")


@SETTINGS
@given(data=garbage, cut_points=cuts, choice=st.lists(st.integers(0, len(MAKERS) - 1)))
def test_arbitrary_bytes_never_hang_or_crash(
    data: bytes, cut_points: list[int], choice: list[int]
) -> None:
    n = len(data) // 2 + 2  # every reply is at least 2 bytes: never more replies than commands
    commands = [MAKERS[choice[i % len(choice)] if choice else i % len(MAKERS)]() for i in range(n)]
    core = Core()
    core.pending.extend(commands)
    _run_arbitrary(core, commands, split_at(data, cut_points))


@SETTINGS
@given(data=garbage, cut_points=cuts)
def test_arbitrary_bytes_with_puts_pending(data: bytes, cut_points: list[int]) -> None:
    commands = [PUT() if i % 2 else MAKERS[i % len(MAKERS)]() for i in range(len(data) // 2 + 2)]
    core = Core()
    core.pending.extend(commands)
    _run_arbitrary(core, commands, split_at(data, cut_points))


@SETTINGS
@given(data=st.binary(max_size=3000), cut_points=cuts)
def test_random_binary_never_hangs_or_crashes(data: bytes, cut_points: list[int]) -> None:
    commands = [MAKERS[i % len(MAKERS)]() for i in range(len(data) // 2 + 2)]
    core = Core()
    core.pending.extend(commands)
    _run_arbitrary(core, commands, split_at(data, cut_points))


# -- valid streams --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    make: Callable[[], Command[Any]]
    reply: bytes
    expected: object


body_pieces = st.one_of(
    st.binary(max_size=16),
    st.sampled_from(
        [b"\r\n", b"\r", b"\n", b"\x00", b"\xff", b"INSERTED 5\r\n", b"RESERVED 1 3\r\n"]
    ),
)
small_bodies = st.lists(body_pieces, max_size=20).map(b"".join)
# Occasionally a body too large for the shared receive buffer.
large_bodies = st.builds(
    lambda size, seed: (bytes([seed, 13, 10, 0, 255]) * (size // 5 + 1))[:size],
    st.integers(32_000, 90_000),
    st.integers(0, 255),
)
bodies = st.one_of(small_bodies, small_bodies, small_bodies, small_bodies, large_bodies)
job_ids = st.integers(1, 2**64 - 1)
tube_names = st.from_regex(r"[A-Za-z0-9+/;.$_()][A-Za-z0-9\-+/;.$_()]{0,199}", fullmatch=True)


def _reserved(jid: int, body: bytes) -> Exchange:
    return Exchange(cmds.reserve, chunked(b"RESERVED %d" % jid, body), Job(jid, body))


def _found(jid: int, body: bytes) -> Exchange:
    return Exchange(lambda: cmds.peek(jid), chunked(b"FOUND %d" % jid, body), Job(jid, body))


def _inserted(jid: int) -> Exchange:
    return Exchange(lambda: cmds.put(b"x", 0, 0, 60), b"INSERTED %d\r\n" % jid, jid)


def _using(name: str) -> Exchange:
    return Exchange(cmds.list_tube_used, b"USING %s\r\n" % name.encode(), name)


def _watching(count: int) -> Exchange:
    return Exchange(lambda: cmds.watch("a"), b"WATCHING %d\r\n" % count, count)


def _tubes(names: list[str]) -> Exchange:
    body = b"---\n" + b"".join(b"- %s\n" % n.encode() for n in names)
    return Exchange(cmds.list_tubes, chunked(b"OK", body), names)


exchanges = st.one_of(
    st.builds(_reserved, job_ids, bodies),
    st.builds(_found, job_ids, bodies),
    st.builds(_inserted, job_ids),
    st.builds(_using, tube_names),
    st.builds(_watching, st.integers(1, 10_000)),
    st.builds(_tubes, st.lists(tube_names, max_size=5)),
    st.just(Exchange(lambda: cmds.delete(1), b"DELETED\r\n", None)),
    st.just(Exchange(lambda: cmds.stats_job(2), chunked(b"OK", STATS_JOB_112), None)),
)


@FEWER
@given(
    stream=st.lists(exchanges, min_size=1, max_size=8),
    cut_points=st.lists(st.integers(min_value=0, max_value=200_000), max_size=10),
    max_read=st.sampled_from([None, 997, 4096, 65536]),
)
def test_valid_replies_come_back_exactly(
    stream: list[Exchange], cut_points: list[int], max_read: int | None
) -> None:
    commands = [ex.make() for ex in stream]
    core = Core()
    core.pending.extend(commands)
    data = b"".join(ex.reply for ex in stream)
    done: list[Command[Any]] = []
    for piece in split_at(data, cut_points):
        done += pump(core, piece, max_read=max_read)
    assert done == commands
    assert core.failure is None
    assert not core.pending
    for ex, cmd in zip(stream, commands, strict=True):
        assert cmd.error is None
        if ex.expected is not None:
            assert cmd.result == ex.expected
            if isinstance(ex.expected, Job):
                assert type(cmd.result.body) is bytes
        elif cmd.name == "stats-job":
            assert cmd.result.id == 2


@FEWER
@given(
    jid=job_ids,
    body=bodies,
    cut_points=st.lists(st.integers(min_value=0, max_value=150_000), min_size=1, max_size=6),
)
def test_body_survives_any_split_with_trailing_reply(
    jid: int, body: bytes, cut_points: list[int]
) -> None:
    first, second = cmds.reserve(), cmds.delete(1)
    core = Core()
    core.pending.extend([first, second])
    data = chunked(b"RESERVED %d" % jid, body) + b"DELETED\r\n"
    done: list[Command[Any]] = []
    for piece in split_at(data, cut_points):
        done += core.feed(piece)
    assert done == [first, second]
    assert first.result == Job(jid, body)
    assert second.error is None
