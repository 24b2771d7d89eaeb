"""Request encoding and argument validation of every command constructor."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jackd import _commands as cmds
from jackd._commands import RESERVE_TIMEOUT_MAX, U32_MAX, U64_MAX, Job
from jackd._errors import JobTooBigError
from jackd._protocol import MAX_LINE, Command

TUBE_200 = "t" * 200


def line_of(cmd: Command[Any]) -> bytes:
    """The command line (up to and including the first CRLF) of a request."""
    data = cmd.data
    head = data if isinstance(data, bytes) else bytes(data[0])
    return head[: head.index(b"\r\n") + 2]


def joined(cmd: Command[Any]) -> bytes:
    data = cmd.data
    return data if isinstance(data, bytes) else b"".join(bytes(part) for part in data)


# -- exact request bytes --------------------------------------------------------------------------

EXACT: list[tuple[Callable[[], Command[Any]], bytes]] = [
    (lambda: cmds.put(b"hello", 0, 0, 10), b"put 0 0 10 5\r\nhello\r\n"),
    (lambda: cmds.put(b"", 1, 2, 3), b"put 1 2 3 0\r\n\r\n"),
    (lambda: cmds.put(b"a\r\nb", 1024, 30, 60), b"put 1024 30 60 4\r\na\r\nb\r\n"),
    (
        lambda: cmds.put(b"x", U32_MAX, U32_MAX, U32_MAX),
        b"put 4294967295 4294967295 4294967295 1\r\nx\r\n",
    ),
    (lambda: cmds.put(bytearray(b"ab"), 0, 0.5, 1.01), b"put 0 1 2 2\r\nab\r\n"),
    (lambda: cmds.put(memoryview(b"abc"), 0, timedelta(0), 60), b"put 0 0 60 3\r\nabc\r\n"),
    (lambda: cmds.use("foo"), b"use foo\r\n"),
    (lambda: cmds.use(TUBE_200), b"use " + TUBE_200.encode() + b"\r\n"),
    (cmds.reserve, b"reserve\r\n"),
    (lambda: cmds.reserve(None), b"reserve\r\n"),
    (lambda: cmds.reserve(timeout=0), b"reserve-with-timeout 0\r\n"),
    (lambda: cmds.reserve(timeout=5), b"reserve-with-timeout 5\r\n"),
    (lambda: cmds.reserve(timeout=0.25), b"reserve-with-timeout 1\r\n"),
    (lambda: cmds.reserve(timeout=timedelta(minutes=2)), b"reserve-with-timeout 120\r\n"),
    (lambda: cmds.reserve(timeout=2**31 - 1), b"reserve-with-timeout 2147483647\r\n"),
    (lambda: cmds.reserve_job(7), b"reserve-job 7\r\n"),
    (lambda: cmds.delete(5), b"delete 5\r\n"),
    (lambda: cmds.delete(U64_MAX), b"delete 18446744073709551615\r\n"),
    (lambda: cmds.delete(Job(12, b"body")), b"delete 12\r\n"),
    (lambda: cmds.release(5, 10, 2), b"release 5 10 2\r\n"),
    (lambda: cmds.release(Job(5, b""), 0, 0), b"release 5 0 0\r\n"),
    (lambda: cmds.bury(5, 7), b"bury 5 7\r\n"),
    (lambda: cmds.touch(5), b"touch 5\r\n"),
    (lambda: cmds.watch("foo"), b"watch foo\r\n"),
    (lambda: cmds.ignore("default"), b"ignore default\r\n"),
    (lambda: cmds.peek(3), b"peek 3\r\n"),
    (cmds.peek_ready, b"peek-ready\r\n"),
    (cmds.peek_delayed, b"peek-delayed\r\n"),
    (cmds.peek_buried, b"peek-buried\r\n"),
    (lambda: cmds.kick(0), b"kick 0\r\n"),
    (lambda: cmds.kick(10), b"kick 10\r\n"),
    (lambda: cmds.kick(U32_MAX), b"kick 4294967295\r\n"),
    (lambda: cmds.kick_job(4), b"kick-job 4\r\n"),
    (cmds.stats, b"stats\r\n"),
    (cmds.max_job_size, b"stats\r\n"),
    (lambda: cmds.stats_job(9), b"stats-job 9\r\n"),
    (lambda: cmds.stats_tube("default"), b"stats-tube default\r\n"),
    (cmds.list_tubes, b"list-tubes\r\n"),
    (cmds.list_tube_used, b"list-tube-used\r\n"),
    (cmds.list_tubes_watched, b"list-tubes-watched\r\n"),
    (lambda: cmds.pause_tube("foo", 0), b"pause-tube foo 0\r\n"),
    (lambda: cmds.pause_tube("foo", 30), b"pause-tube foo 30\r\n"),
]


@pytest.mark.parametrize(("make", "expected"), EXACT, ids=[e[1][:30].decode() for e in EXACT])
def test_request_bytes(make: Callable[[], Command[Any]], expected: bytes) -> None:
    cmd = make()
    assert type(cmd.data) is bytes
    assert cmd.data == expected


def test_command_names() -> None:
    assert cmds.put(b"", 0, 0, 1).name == "put"
    assert cmds.reserve().name == "reserve"
    assert cmds.reserve(timeout=1).name == "reserve"
    assert cmds.pause_tube("a", 1).name == "pause-tube"
    assert cmds.list_tubes_watched().name == "list-tubes-watched"


def test_longest_legal_line_is_exactly_224_bytes() -> None:
    cmd = cmds.pause_tube(TUBE_200, U32_MAX)
    assert cmd.data == b"pause-tube " + TUBE_200.encode() + b" 4294967295\r\n"
    assert len(line_of(cmd)) == MAX_LINE == 224


# -- put payloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 100, (1 << 14) - 1])
def test_small_put_is_one_bytes_object(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    cmd = cmds.put(body, 3, 4, 5)
    assert type(cmd.data) is bytes
    assert cmd.data == b"put 3 4 5 %d\r\n" % size + body + b"\r\n"


@pytest.mark.parametrize("size", [1 << 14, (1 << 14) + 1, 200_000, 1 << 20])
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_large_put_is_separate_buffers_sharing_the_body(size: int, kind: type[Any]) -> None:
    raw = b"\r\n\x00\xff" * (size // 4) + b"z" * (size % 4)
    body = kind(raw)
    cmd = cmds.put(body, 1, 2, 3)
    data = cmd.data
    assert not isinstance(data, bytes)
    parts = list(data)
    assert len(parts) == 3
    assert bytes(parts[0]) == b"put 1 2 3 %d\r\n" % size
    assert parts[1] is body  # the body goes out as it is: not copied
    assert bytes(parts[2]) == b"\r\n"
    assert joined(cmd) == b"put 1 2 3 %d\r\n" % size + raw + b"\r\n"


def test_put_body_with_protocol_text_is_sent_verbatim() -> None:
    body = b"put 0 0 0 1\r\nX\r\n\x00\xff\r\n\r\n"
    assert len(body) == 22
    assert cmds.put(body, 0, 0, 60).data == b"put 0 0 60 22\r\n" + body + b"\r\n"


def test_body_bytes() -> None:
    raw = b"abc"
    assert cmds.body_bytes(raw) is raw
    array = bytearray(b"abc")
    assert cmds.body_bytes(array) is array
    view = memoryview(raw)
    assert cmds.body_bytes(view) is view
    assert cmds.body_bytes("café") == "café".encode()
    wide = memoryview(bytearray(8)).cast("I")
    narrowed = cmds.body_bytes(wide)
    assert isinstance(narrowed, memoryview)
    assert len(narrowed) == 8
    assert narrowed.format == "B"
    strided = cmds.body_bytes(memoryview(b"abcdef")[::2])
    assert bytes(strided) == b"ace"
    for bad in (None, 5, ["a"], object()):
        with pytest.raises(TypeError):
            cmds.body_bytes(bad)  # type: ignore[arg-type]


def test_size_limit_checks() -> None:
    cmds.check_size(65535, None)
    with pytest.raises(JobTooBigError):
        cmds.check_size(65536, None)
    cmds.check_size(2_000_000, 2_000_000)
    with pytest.raises(JobTooBigError):
        cmds.check_size(2_000_001, 2_000_000)
    cmds.check_size(0, 0)
    with pytest.raises(JobTooBigError):
        cmds.check_size(1, 0)
    assert not cmds.needs_size_limit(65535, None)
    assert cmds.needs_size_limit(65536, None)
    assert not cmds.needs_size_limit(65536, 2_000_000)


# -- tube names -----------------------------------------------------------------------------------

VALID_TUBES = [
    "t" * 200,
    "ABCxyz019-+/;.$_()",
    "123",
    "foo-",
    "+foo",
    "(foo)",
    "true",
    "1e3",
    ".inf",
    "default",
    "a",
    "$",
    "Foo",
]

INVALID_TUBES = [
    "t" * 201,
    "-foo",
    "-",
    "foo bar",
    " foo",
    "foo ",
    "",
    "foo*",
    "foo#",
    "foo:bar",
    "foo,bar",
    "foo~",
    "foo\tbar",
    "café",
    "foo\r",
    "foo\n",
    "foo\r\nstats",
    "fo\x00o",
    "\x00",
    "foo\u2028",
    "\uff46\uff4f\uff4f",  # full-width letters
]

TUBE_COMMANDS: list[Callable[[str], Command[Any]]] = [
    cmds.use,
    cmds.watch,
    cmds.ignore,
    cmds.stats_tube,
    lambda name: cmds.pause_tube(name, 0),
]


@pytest.mark.parametrize("name", VALID_TUBES)
def test_valid_tube_names(name: str) -> None:
    assert cmds.tube_name(name) == name.encode("ascii")
    assert cmds.use(name).data == b"use " + name.encode() + b"\r\n"
    for make in TUBE_COMMANDS:
        assert name.encode() in joined(make(name))


@pytest.mark.parametrize("name", INVALID_TUBES, ids=[repr(n)[:20] for n in INVALID_TUBES])
def test_invalid_tube_names(name: str) -> None:
    with pytest.raises(ValueError, match="invalid tube name"):
        cmds.tube_name(name)
    for make in TUBE_COMMANDS:
        with pytest.raises(ValueError, match="invalid tube name"):
            make(name)


@pytest.mark.parametrize("name", [b"foo", None, 5, ["foo"]])
def test_tube_name_must_be_str(name: object) -> None:
    for make in TUBE_COMMANDS:
        with pytest.raises(TypeError):
            make(name)  # type: ignore[arg-type]


# -- numbers --------------------------------------------------------------------------------------

PRIORITY_USERS: list[Callable[[Any], Command[Any]]] = [
    lambda pri: cmds.put(b"x", pri, 0, 60),
    lambda pri: cmds.release(1, pri, 0),
    lambda pri: cmds.bury(1, pri),
]


@pytest.mark.parametrize(("pri", "text"), [(0, b"0"), (1024, b"1024"), (U32_MAX, b"4294967295")])
def test_priority_valid(pri: int, text: bytes) -> None:
    assert cmds.priority(pri) == pri
    assert cmds.put(b"x", pri, 0, 60).data == b"put " + text + b" 0 60 1\r\nx\r\n"
    assert cmds.release(1, pri, 0).data == b"release 1 " + text + b" 0\r\n"
    assert cmds.bury(1, pri).data == b"bury 1 " + text + b"\r\n"


@pytest.mark.parametrize(
    ("pri", "exc"),
    [
        (-1, ValueError),
        (U32_MAX + 1, ValueError),
        (2**64, ValueError),
        (True, TypeError),
        (False, TypeError),
        (1.0, TypeError),
        (0.5, TypeError),
        ("1", TypeError),
        (None, TypeError),
    ],
)
def test_priority_invalid(pri: object, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        cmds.priority(pri)  # type: ignore[arg-type]
    for make in PRIORITY_USERS:
        with pytest.raises(exc):
            make(pri)


SECONDS_USERS: list[Callable[[Any], bytes]] = [
    lambda s: joined(cmds.put(b"x", 0, s, 60)).split(b" ")[2],
    lambda s: joined(cmds.put(b"x", 0, 0, s)).split(b" ")[3],
    lambda s: joined(cmds.release(1, 0, s)).split(b" ")[3][:-2],
    lambda s: joined(cmds.pause_tube("a", s)).split(b" ")[2][:-2],
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1, 1),
        (U32_MAX, U32_MAX),
        (0.0, 0),
        (0.5, 1),
        (1.01, 2),
        (1e-9, 1),
        (2.0, 2),
        (59.999, 60),
        (4294967294.5, U32_MAX),
        (float(U32_MAX), U32_MAX),
        (timedelta(0), 0),
        (timedelta(microseconds=1), 1),
        (timedelta(seconds=0.5), 1),
        (timedelta(seconds=1, microseconds=1), 2),
        (timedelta(minutes=1), 60),
        (timedelta(days=1), 86400),
        (timedelta(seconds=U32_MAX), U32_MAX),
    ],
)
def test_seconds_valid_round_up(value: cmds.Seconds, expected: int) -> None:
    assert cmds.seconds(value, "delay") == expected
    assert type(cmds.seconds(value, "delay")) is int
    for use in SECONDS_USERS:
        assert use(value) == b"%d" % expected


@pytest.mark.parametrize(
    ("value", "exc"),
    [
        (-1, ValueError),
        (-1.0, ValueError),
        (-0.5, ValueError),
        (-1e-9, ValueError),
        (timedelta(seconds=-1), ValueError),
        (timedelta(microseconds=-1), ValueError),
        (U32_MAX + 1, ValueError),
        (4294967295.01, ValueError),
        (1e300, ValueError),
        (timedelta(seconds=U32_MAX + 1), ValueError),
        (timedelta(seconds=U32_MAX, microseconds=1), ValueError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (-math.inf, ValueError),
        (True, TypeError),
        (False, TypeError),
        ("1", TypeError),
        (None, TypeError),
        (b"1", TypeError),
    ],
)
def test_seconds_invalid(value: object, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        cmds.seconds(value, "delay")  # type: ignore[arg-type]
    for use in SECONDS_USERS:
        with pytest.raises(exc):
            use(value)


def test_reserve_timeout_range() -> None:
    assert cmds.reserve(timeout=RESERVE_TIMEOUT_MAX).data == b"reserve-with-timeout 2147483647\r\n"
    assert RESERVE_TIMEOUT_MAX == 2**31 - 1
    for bad in (2**31, U32_MAX, -1, -1.5, math.nan, math.inf, timedelta(seconds=2**31)):
        with pytest.raises(ValueError, match="reserve timeout"):
            cmds.reserve(timeout=bad)
    for wrong in (True, "5"):
        with pytest.raises(TypeError):
            cmds.reserve(timeout=wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-0.5, -1e-9, timedelta(microseconds=-1)])
def test_reserve_timeout_negative_fraction_rejected(value: cmds.Seconds) -> None:
    # Rounding up must not turn a negative duration into an accepted 0.
    with pytest.raises(ValueError, match="reserve timeout"):
        cmds.reserve(timeout=value)


JOB_ID_USERS: list[Callable[[Any], Command[Any]]] = [
    cmds.reserve_job,
    cmds.delete,
    lambda j: cmds.release(j, 0, 0),
    lambda j: cmds.bury(j, 0),
    cmds.touch,
    cmds.peek,
    cmds.kick_job,
    cmds.stats_job,
]


@pytest.mark.parametrize(
    ("job", "text"),
    [
        (1, b"1"),
        (U64_MAX, b"18446744073709551615"),
        (Job(42, b"body"), b"42"),
        (Job(U64_MAX, b""), b"18446744073709551615"),
    ],
)
def test_job_id_valid(job: Job | int, text: bytes) -> None:
    for make in JOB_ID_USERS:
        line = line_of(make(job))
        assert line.split(b" ")[1].rstrip(b"\r\n") == text


@pytest.mark.parametrize(
    ("job", "exc"),
    [
        (0, ValueError),
        (-1, ValueError),
        (U64_MAX + 1, ValueError),
        (Job(0, b""), ValueError),
        (True, TypeError),
        (1.0, TypeError),
        ("1", TypeError),
        (None, TypeError),
        ((1, b"body"), TypeError),
        (b"1", TypeError),
    ],
)
def test_job_id_invalid(job: object, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        cmds.job_id(job)  # type: ignore[arg-type]
    for make in JOB_ID_USERS:
        with pytest.raises(exc):
            make(job)


def test_kick_bound() -> None:
    assert cmds.kick(0).data == b"kick 0\r\n"
    assert cmds.kick(U32_MAX).data == b"kick 4294967295\r\n"
    for bad in (-1, U32_MAX + 1):
        with pytest.raises(ValueError, match="kick bound"):
            cmds.kick(bad)
    for wrong in (True, 1.0, "1", None):
        with pytest.raises(TypeError):
            cmds.kick(wrong)  # type: ignore[arg-type]


# -- validation happens before anything is built --------------------------------------------------


INVALID_CALLS: list[tuple[str, Callable[[], object]]] = [
    ("put-ttr", lambda: cmds.put(b"x", 0, 0, -1)),
    ("put-delay", lambda: cmds.put(b"x", 0, math.nan, 1)),
    ("put-pri", lambda: cmds.put(b"x", -1, 0, 1)),
    ("release-delay", lambda: cmds.release(1, 0, -1)),
    ("release-id", lambda: cmds.release(0, 0, 0)),
    ("bury-pri", lambda: cmds.bury(1, 2**32)),
    ("use", lambda: cmds.use("foo bar")),
    ("watch", lambda: cmds.watch("")),
    ("ignore", lambda: cmds.ignore("-x")),
    ("stats-tube", lambda: cmds.stats_tube("a" * 201)),
    ("pause-tube-name", lambda: cmds.pause_tube("a\r\n", 1)),
    ("pause-tube-delay", lambda: cmds.pause_tube("a", math.inf)),
    ("reserve", lambda: cmds.reserve(timeout=2**31)),
    ("kick", lambda: cmds.kick(-1)),
    ("delete", lambda: cmds.delete(0)),
]


@pytest.mark.parametrize("call", [c[1] for c in INVALID_CALLS], ids=[c[0] for c in INVALID_CALLS])
def test_invalid_arguments_build_nothing(
    call: Callable[[], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []

    def spy(*args: object) -> None:
        built.append(args)

    monkeypatch.setattr(cmds, "Command", spy)
    with pytest.raises((ValueError, TypeError)):
        call()
    assert built == []


# -- property: no valid arguments make a line the server would misread ----------------------------

tubes = st.from_regex(r"[A-Za-z0-9+/;.$_()][A-Za-z0-9\-+/;.$_()]{0,199}", fullmatch=True)
ids = st.one_of(
    st.integers(1, U64_MAX),
    st.just(U64_MAX),
    st.builds(Job, st.integers(1, U64_MAX), st.binary(max_size=4)),
)
u32 = st.one_of(st.integers(0, U32_MAX), st.just(U32_MAX))
durations = st.one_of(
    u32,
    st.floats(0, float(U32_MAX)),
    st.timedeltas(timedelta(0), timedelta(seconds=U32_MAX)),
)
timeouts = st.one_of(
    st.integers(0, RESERVE_TIMEOUT_MAX),
    st.floats(0, float(RESERVE_TIMEOUT_MAX)),
    st.timedeltas(timedelta(0), timedelta(seconds=RESERVE_TIMEOUT_MAX)),
    st.none(),
)
bodies = st.binary(max_size=64).map(lambda b: b + b"\r\n")

any_command: st.SearchStrategy[Command[Any]] = st.one_of(
    st.builds(cmds.put, bodies, u32, durations, durations),
    st.builds(cmds.use, tubes),
    st.builds(cmds.reserve, timeouts),
    st.builds(cmds.reserve_job, ids),
    st.builds(cmds.delete, ids),
    st.builds(cmds.release, ids, u32, durations),
    st.builds(cmds.bury, ids, u32),
    st.builds(cmds.touch, ids),
    st.builds(cmds.watch, tubes),
    st.builds(cmds.ignore, tubes),
    st.builds(cmds.peek, ids),
    st.builds(cmds.peek_ready),
    st.builds(cmds.peek_delayed),
    st.builds(cmds.peek_buried),
    st.builds(cmds.kick, u32),
    st.builds(cmds.kick_job, ids),
    st.builds(cmds.stats),
    st.builds(cmds.max_job_size),
    st.builds(cmds.stats_job, ids),
    st.builds(cmds.stats_tube, tubes),
    st.builds(cmds.list_tubes),
    st.builds(cmds.list_tube_used),
    st.builds(cmds.list_tubes_watched),
    st.builds(cmds.pause_tube, tubes, durations),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_command)
def test_every_valid_command_line_fits_the_server(cmd: Command[Any]) -> None:
    line = line_of(cmd)
    assert len(line) <= MAX_LINE
    assert line.endswith(b"\r\n")
    content = line[:-2]
    for forbidden in (b"\r", b"\n", b"\x00"):
        assert forbidden not in content
    assert content.isascii()
    assert b"  " not in content
    assert not content.endswith(b" ")
    words = content.split(b" ")
    assert words[0].decode().startswith(cmd.name)
    # Every numeric argument is a plain decimal within u64.
    for word in words[1:]:
        if word.isdigit():
            assert int(word) <= U64_MAX
    if cmd.name == "put":
        body_len = int(words[4])
        assert len(joined(cmd)) == len(line) + body_len + 2
        assert joined(cmd).endswith(b"\r\n")
