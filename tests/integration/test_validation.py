"""Bad arguments are refused before anything is sent, and the connection stays in step.

beanstalkd answers malformed requests in ways a client cannot recover from cleanly (§2.1: a
rejected put line makes the server run the body as commands; §3.2: long lines and stray CRs
desynchronise it). So the §9 cases that need malformed bytes (4-8, 10-12, 17-19, 23-28, 37-39,
54-55, 65, 71, 74, 78, 83, 95, 98, 101, 105, 107, 114, 116-121) become: the client raises
ValueError or TypeError, the server saw no command at all, and the same client keeps working.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta
from typing import Any

import pytest

import jackd

from ._support import Connect, assert_usable

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

BAD_TUBE_NAMES: list[tuple[object, type[Exception]]] = [
    ("", ValueError),
    ("t" * 201, ValueError),  # case 23
    ("-foo", ValueError),  # case 24
    ("foo ", ValueError),  # case 25
    (" foo", ValueError),
    ("foo bar", ValueError),
    ("foo*", ValueError),  # case 26
    ("foo#", ValueError),
    ("foo:bar", ValueError),
    ("foo,bar", ValueError),
    ("foo~", ValueError),
    ("foo\tbar", ValueError),
    ("caf\u00e9", ValueError),
    ("foo\r\nstats", ValueError),  # cases 116-121: CR, LF and NUL in a command line
    ("foo\n", ValueError),
    ("foo\r", ValueError),
    ("foo\x00", ValueError),
    ("t" * 219, ValueError),  # would make a 225-byte line (case 120)
    (b"foo", TypeError),
    (123, TypeError),
    (None, TypeError),
]

BAD_JOB_IDS: list[tuple[object, type[Exception]]] = [
    (0, ValueError),  # case 54: the server would answer NOT_FOUND; ids start at 1
    (-1, ValueError),  # case 65
    (U64_MAX + 1, ValueError),  # cases 65, 95
    ("1", TypeError),  # cases 55, 78, 101
    (b"1", TypeError),
    (1.0, TypeError),
    (None, TypeError),
    (True, TypeError),
    ((1, b"x"), TypeError),  # a plain tuple is not a Job
]

BAD_PRIORITIES: list[tuple[object, type[Exception]]] = [
    (U32_MAX + 1, ValueError),  # case 4
    (-1, ValueError),  # case 5
    (1.5, TypeError),
    (1.0, TypeError),
    ("0", TypeError),
    (None, TypeError),
    (True, TypeError),
]

BAD_SECONDS: list[tuple[object, type[Exception]]] = [
    (U32_MAX + 1, ValueError),
    (U32_MAX + 0.5, ValueError),  # rounds up past the limit
    (-1, ValueError),
    (-1.0, ValueError),
    (-0.5, ValueError),  # a negative duration must not round up to 0
    (timedelta(seconds=-1), ValueError),
    (timedelta(microseconds=-1), ValueError),
    (math.nan, ValueError),
    (math.inf, ValueError),
    (-math.inf, ValueError),
    ("1", TypeError),
    (None, TypeError),
    (True, TypeError),
]

BAD_RESERVE_TIMEOUTS: list[tuple[object, type[Exception]]] = [
    (-1, ValueError),
    (-0.5, ValueError),
    (2**31, ValueError),  # over INT_MAX: 1.12 misreads it, 1.13 refuses it (case 38, §1.1)
    (2**31 - 0.5, ValueError),
    (U32_MAX, ValueError),
    (timedelta(seconds=-1), ValueError),
    (math.nan, ValueError),
    (math.inf, ValueError),
    ("abc", TypeError),  # case 39
    ("1", TypeError),
    (True, TypeError),
]

BAD_BODIES: list[tuple[object, type[Exception]]] = [
    (None, TypeError),
    (123, TypeError),
    ([b"a"], TypeError),
    (object(), TypeError),
]


@dataclasses.dataclass
class BadCall:
    """One call the client must refuse: ``client.<method>(*args, **kwargs)``."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    error: type[Exception]

    def __str__(self) -> str:
        shown = [short(a) for a in self.args]
        shown += [f"{k}={short(v)}" for k, v in self.kwargs.items()]
        return f"{self.method}({', '.join(shown)})"


def short(value: object) -> str:
    """A test id for an argument: long strings by length, timedeltas in seconds."""
    if isinstance(value, timedelta):
        return f"timedelta({value.total_seconds()}s)"
    if isinstance(value, (str, bytes)) and len(value) > 12:
        return f"{value[:4]!r}...{len(value)}"
    if type(value) is object:
        return "object()"
    return repr(value)


def bad_calls() -> list[BadCall]:
    calls: list[BadCall] = []

    def add(method: str, *args: Any, error: type[Exception], **kwargs: Any) -> None:
        calls.append(BadCall(method, args, kwargs, error))

    for name, error in BAD_TUBE_NAMES:
        for method in ("use", "watch", "ignore", "stats_tube"):
            add(method, name, error=error)
        add("pause_tube", name, 10, error=error)
    for jid, error in BAD_JOB_IDS:
        for method in ("peek", "reserve_job", "delete", "touch", "kick_job", "stats_job"):
            add(method, jid, error=error)
        add("release", jid, 0, 0, error=error)
        add("bury", jid, 0, error=error)
    for pri, error in BAD_PRIORITIES:
        add("put", b"x", error=error, priority=pri)
        add("release", 1, error=error, priority=pri)
        add("bury", 1, pri, error=error)
    for secs, error in BAD_SECONDS:
        add("put", b"x", error=error, delay=secs)
        add("put", b"x", error=error, ttr=secs)
        add("release", 1, 0, secs, error=error)
        add("pause_tube", "default", secs, error=error)
    for timeout, error in BAD_RESERVE_TIMEOUTS:
        add("reserve", error=error, timeout=timeout)
    for body, error in BAD_BODIES:
        add("put", body, error=error)
    for bound, error in [
        (-1, ValueError),  # case 98: the server would kick everything
        (U32_MAX + 1, ValueError),  # the server would truncate it to 0
        (U64_MAX + 1, ValueError),
        (1.5, TypeError),
        ("1", TypeError),
        (None, TypeError),
        (True, TypeError),
    ]:
        add("kick", bound, error=error)
    return calls


BAD_CALLS = bad_calls()


def command_counters(stats: jackd.ServerStats) -> dict[str, int]:
    """Every cmd-* counter except cmd-stats (the observer's own requests bump that one)."""
    return {
        f.name: getattr(stats, f.name)
        for f in dataclasses.fields(stats)
        if f.name.startswith("cmd_") and f.name != "cmd_stats"
    }


@pytest.mark.parametrize("call", BAD_CALLS, ids=str)
def test_bad_argument_is_refused_before_sending(
    client: jackd.Client, connect: Connect, call: BadCall
) -> None:
    observer = connect()
    # A job reserved by this client, so release/bury/touch of id 1 would succeed if sent.
    client.put(b"held")
    client.reserve(timeout=0)
    before = observer.stats()
    with pytest.raises(call.error):
        getattr(client, call.method)(*call.args, **call.kwargs)
    after = observer.stats()
    assert command_counters(after) == command_counters(before)
    assert after.cmd_stats == before.cmd_stats + 1
    assert after.total_jobs == 1
    assert set(observer.list_tubes()) == {"default"}
    assert client.stats_job(1).state == "reserved"
    assert client.stats_tube("default").pause == 0
    assert_usable(client)


def test_many_bad_calls_in_a_row_then_work(client: jackd.Client) -> None:
    for call in BAD_CALLS:
        with pytest.raises(call.error):
            getattr(client, call.method)(*call.args, **call.kwargs)
    stats = client.stats()
    assert stats.total_jobs == 0
    assert stats.cmd_stats == 1
    assert_usable(client)


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("use", ("t" * 200,)),
        ("watch", ("t" * 200,)),
        ("put", (b"x", U32_MAX, U32_MAX, U32_MAX)),
        ("put", (b"x", 0, U32_MAX - 0.5, 0.1)),
        ("kick", (U32_MAX,)),
        ("kick", (0,)),
        ("peek", (U64_MAX,)),
        ("reserve", (2**31 - 1,)),
        ("reserve", (0,)),
        ("reserve", (0.0,)),
    ],
    ids=short,
)
def test_boundary_values_are_sent(client: jackd.Client, method: str, args: tuple[Any, ...]) -> None:
    # The largest and smallest legal values reach the server and get a normal reply.
    if method == "reserve":
        client.put(b"ready")
    try:
        getattr(client, method)(*args)
    except jackd.NotFoundError:
        assert method == "peek"
    assert_usable(client, tube="t" * 200 if method == "use" else "default")


def test_job_too_big_keeps_connection(client: jackd.Client) -> None:
    with pytest.raises(jackd.JobTooBigError):
        client.put(b"x" * 2_000_001)
    assert client.stats().cmd_put == 0
    assert_usable(client)


def test_server_errors_leave_connection_usable(client: jackd.Client) -> None:
    # Each well-formed error reply is an exception on its own; the next call works.
    with pytest.raises(jackd.NotFoundError):
        client.delete(42)
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)
    with pytest.raises(jackd.NotIgnoredError):
        client.ignore("default")
    client.put(b"x", ttr=1)
    client.reserve(timeout=0)
    with pytest.raises(jackd.DeadlineSoonError):
        client.reserve(timeout=0)
    client.delete(1)
    assert_usable(client)


def test_error_classes() -> None:
    for cls in (
        jackd.NotFoundError,
        jackd.TimedOutError,
        jackd.DeadlineSoonError,
        jackd.BuriedError,
        jackd.DrainingError,
        jackd.JobTooBigError,
        jackd.NotIgnoredError,
        jackd.BadFormatError,
    ):
        assert issubclass(cls, jackd.ServerError)
        assert issubclass(cls, jackd.JackdError)
    assert issubclass(jackd.ConnectionLostError, jackd.JackdError)
    assert issubclass(jackd.ConnectionLostError, ConnectionError)
