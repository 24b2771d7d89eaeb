"""put and use against a real beanstalkd (protocol-notes §2.1, §2.2, §3; §9 cases 1-28).

Malformed requests the client refuses to build (bad numbers, bad tube names) are in
test_validation.py; here every call is one the server accepts, or a size it must refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

import jackd
from jackd.testing import BeanstalkdServer

from ._support import Connect, assert_usable

U32_MAX = 4294967295


def test_seed_example(client: jackd.Client) -> None:
    jid = client.put(b"Hello!")
    assert jid == 1
    job = client.reserve()
    assert job == jackd.Job(1, b"Hello!")
    jid_again, body = job
    assert (jid_again, body) == (1, b"Hello!")
    client.delete(job)
    with pytest.raises(jackd.NotFoundError):
        client.peek(1)
    stats = client.stats()
    assert stats.current_jobs_ready == 0
    assert stats.current_jobs_reserved == 0
    assert stats.total_jobs == 1
    assert stats.cmd_put == 1
    assert stats.cmd_delete == 1


def test_put_returns_inserted_id(client: jackd.Client) -> None:
    # §9 case 1.
    assert client.put(b"hello", ttr=10) == 1
    assert client.peek(1) == jackd.Job(1, b"hello")


def test_ids_increase_and_are_never_reused(client: jackd.Client, connect: Connect) -> None:
    other = connect()
    ids = [client.put(b"a"), other.put(b"b"), client.put(b"c")]
    assert ids == [1, 2, 3]
    client.delete(3)
    client.delete(2)
    assert client.put(b"d") == 4
    assert other.put(b"e") == 5


def test_put_return_type_is_int(client: jackd.Client) -> None:
    jid = client.put(b"x")
    assert type(jid) is int


def test_defaults(client: jackd.Client) -> None:
    jid = client.put(b"defaults")
    stats = client.stats_job(jid)
    assert stats.id == jid
    assert stats.tube == "default"
    assert stats.state == "ready"
    assert stats.pri == 0
    assert stats.delay == 0
    assert stats.ttr == 60
    assert stats.time_left == 0
    assert stats.file == 0
    assert (stats.reserves, stats.timeouts, stats.releases, stats.buries, stats.kicks) == (
        0,
        0,
        0,
        0,
        0,
    )


def test_ttr_zero_becomes_one(client: jackd.Client) -> None:
    # §9 case 2: the server silently raises ttr 0 to 1.
    jid = client.put(b"x", ttr=0)
    assert client.stats_job(jid).ttr == 1


def test_maximum_values(client: jackd.Client) -> None:
    # §9 case 3.
    jid = client.put(b"x", priority=U32_MAX, delay=U32_MAX, ttr=U32_MAX)
    stats = client.stats_job(jid)
    assert stats.pri == U32_MAX
    assert stats.delay == U32_MAX
    assert stats.ttr == U32_MAX
    assert stats.state == "delayed"
    assert U32_MAX - 3 <= stats.time_left <= U32_MAX


def test_explicit_values(client: jackd.Client) -> None:
    jid = client.put(b"x", priority=1023, delay=30, ttr=7)
    stats = client.stats_job(jid)
    assert (stats.pri, stats.delay, stats.ttr, stats.state) == (1023, 30, 7, "delayed")
    assert stats.time_left in (29, 30)


@pytest.mark.parametrize(
    ("delay", "expected"),
    [
        (0.0, 0),
        (0.001, 1),
        (0.5, 1),
        (1.0, 1),
        (1.0000001, 2),
        (2.5, 3),
        (timedelta(0), 0),
        (timedelta(microseconds=1), 1),
        (timedelta(milliseconds=1500), 2),
        (timedelta(seconds=3), 3),
        (timedelta(minutes=2), 120),
    ],
)
def test_fractional_delay_rounds_up(
    client: jackd.Client, delay: float | timedelta, expected: int
) -> None:
    jid = client.put(b"x", delay=delay)
    stats = client.stats_job(jid)
    assert stats.delay == expected
    assert stats.state == ("delayed" if expected else "ready")


@pytest.mark.parametrize(
    ("ttr", "expected"),
    [(0.2, 1), (1.5, 2), (timedelta(seconds=90), 90), (timedelta(milliseconds=10_001), 11)],
)
def test_fractional_ttr_rounds_up(
    client: jackd.Client, ttr: float | timedelta, expected: int
) -> None:
    jid = client.put(b"x", ttr=ttr)
    assert client.stats_job(jid).ttr == expected


def test_str_body_is_sent_as_utf8(client: jackd.Client) -> None:
    text = "h\u00e9llo \u2713 \U0001f600 \u65e5\u672c"
    jid = client.put(text)
    expected = text.encode("utf-8")
    assert client.peek(jid) == jackd.Job(jid, expected)
    assert client.reserve(timeout=0) == jackd.Job(jid, expected)


def test_bytearray_and_memoryview_bodies(client: jackd.Client) -> None:
    a = client.put(bytearray(b"from a bytearray"))
    b = client.put(memoryview(b"xxfrom a memoryviewxx")[2:-2])
    assert client.peek(a).body == b"from a bytearray"
    assert client.peek(b).body == b"from a memoryview"
    assert type(client.peek(a).body) is bytes


def test_empty_body(client: jackd.Client) -> None:
    # §9 case 9.
    jid = client.put(b"")
    assert client.peek(jid) == jackd.Job(jid, b"")
    assert client.reserve(timeout=0) == jackd.Job(jid, b"")
    client.delete(jid)
    jid = client.put("")
    assert client.peek(jid) == jackd.Job(jid, b"")


TRICKY_BODIES = {
    "notes-example": b"line1\r\nput 0 0 0 1\r\nX\r\n\x00\xff\r\n\r\n",
    "crlf": b"\r\n",
    "crlf-crlf": b"\r\n\r\n",
    "cr": b"\r",
    "lf": b"\n",
    "trailing-cr": b"x\r",
    "nul": b"\x00",
    "nuls": b"\x00" * 100,
    "high-bytes": b"\xff\xfe\xfd",
    "all-bytes": bytes(range(256)) * 3,
    "reply-like": b"RESERVED 1 3\r\nabc\r\n",
    "inserted-like": b"INSERTED 99\r\n",
    "quit": b"quit\r\n",
    "commands": b"delete 1\r\nstats\r\n",
    "ok-like": b"OK 5\r\n---\n\r\n",
    "spaces": b" " * 300,
}


@pytest.mark.parametrize("body", TRICKY_BODIES.values(), ids=TRICKY_BODIES.keys())
def test_bodies_come_back_byte_identical(client: jackd.Client, body: bytes) -> None:
    # §9 case 13.
    jid = client.put(body)
    assert client.peek(jid) == jackd.Job(jid, body)
    client.use("other")
    assert client.peek(jid) == jackd.Job(jid, body)
    assert client.reserve(timeout=0) == jackd.Job(jid, body)
    # Nothing else was created: a body misread as commands would have left traces.
    assert client.list_tube_used() == "other"
    assert client.stats().total_jobs == 1
    client.delete(jid)
    assert client.stats().current_jobs_ready == 0


def test_many_tricky_bodies_in_a_row(client: jackd.Client) -> None:
    bodies = list(TRICKY_BODIES.values())
    ids = [client.put(body) for body in bodies]
    assert ids == list(range(1, len(bodies) + 1))
    got = [client.reserve(timeout=0) for _ in bodies]
    assert got == [jackd.Job(jid, body) for jid, body in zip(ids, bodies, strict=True)]


@pytest.mark.parametrize(
    "size", [1, 2, 4094, 4095, 4096, 4097, 32764, 32765, 32766, 32767, 65533, 65534, 65535]
)
def test_body_sizes_round_trip(client: jackd.Client, size: int) -> None:
    # Sizes around the client's internal buffer boundaries, and reply chunks that end in CRLF.
    body = (bytes(range(256)) * (size // 256 + 1))[: size - 2] + b"\r\n" if size >= 2 else b"\n"
    assert len(body) == size
    jid = client.put(body)
    assert client.peek(jid) == jackd.Job(jid, body)
    assert client.reserve(timeout=0) == jackd.Job(jid, body)
    assert client.stats_job(jid).state == "reserved"


def test_two_megabyte_body(client: jackd.Client) -> None:
    # §9 case 14, on the fixture's -z 2000000 server.
    body = bytes(range(251)) * (2_000_000 // 251) + b"z" * (2_000_000 % 251)
    assert len(body) == 2_000_000
    jid = client.put(body)
    assert jid == 1
    assert client.peek(jid) == jackd.Job(jid, body)
    assert client.reserve(timeout=0) == jackd.Job(jid, body)
    client.delete(jid)


def test_body_over_the_server_limit(client: jackd.Client, connect: Connect) -> None:
    # §9 case 15: 2,000,001 bytes on a -z 2000000 server. The client knows the limit and
    # refuses before sending; the server counts every put it parses, JOB_TOO_BIG included.
    observer = connect()
    with pytest.raises(jackd.JobTooBigError):
        client.put(b"z" * 2_000_001)
    with pytest.raises(jackd.JobTooBigError):
        client.put("\u00e9" * 1_000_001)  # 2,000,002 bytes once encoded
    stats = observer.stats()
    assert stats.cmd_put == 0
    assert stats.total_jobs == 0
    assert client.put(b"z" * 2_000_000) == 1
    assert_usable(client)


def test_str_body_limit_counts_encoded_bytes(client: jackd.Client) -> None:
    # 1,000,000 two-byte characters: exactly the 2,000,000-byte limit.
    text = "\u00e9" * 1_000_000
    jid = client.put(text)
    assert client.peek(jid).body == text.encode("utf-8")


class TestDefaultServer:
    """A server started without ``-z``: max-job-size is beanstalkd's default 65535 (§9 16)."""

    @pytest.fixture
    def server(self, start_server: Callable[..., BeanstalkdServer]) -> BeanstalkdServer:
        return start_server()

    def test_limit_is_65535(self, client: jackd.Client) -> None:
        assert client.stats().max_job_size == 65535

    def test_65535_bytes_fit(self, client: jackd.Client) -> None:
        body = b"\xab" * 65535
        jid = client.put(body)
        assert jid == 1
        assert client.peek(jid) == jackd.Job(jid, body)

    def test_65536_bytes_refused_before_sending(
        self, client: jackd.Client, connect: Connect
    ) -> None:
        observer = connect()
        before = observer.stats()
        with pytest.raises(jackd.JobTooBigError):
            client.put(b"\xab" * 65536)
        after = observer.stats()
        # At most one stats lookup (to learn max-job-size), plus the observer's own stats.
        assert after.cmd_stats - before.cmd_stats - 1 <= 1
        assert after.cmd_put == before.cmd_put == 0
        assert after.total_jobs == 0
        # Refused again (the limit does not change) and still nothing sent.
        with pytest.raises(jackd.JobTooBigError):
            client.put(bytearray(2_000_000))
        with pytest.raises(jackd.JobTooBigError):
            client.put("\u00e9" * 32768)  # 65536 bytes as UTF-8
        assert observer.stats().cmd_put == 0
        # The connection is still in step.
        assert client.put(b"\xab" * 65535) == 1
        assert client.stats().max_job_size == 65535
        assert_usable(client)


def test_sequential_puts_get_consecutive_ids(client: jackd.Client) -> None:
    # §9 case 20, one request at a time.
    ids = [client.put(b"job-%04d" % n) for n in range(1000)]
    assert ids == list(range(1, 1001))
    assert client.stats_tube("default").current_jobs_ready == 1000
    assert client.peek(1000) == jackd.Job(1000, b"job-0999")


def test_use_then_put(client: jackd.Client) -> None:
    # §9 case 21.
    assert client.use("foo") == "foo"
    assert client.list_tube_used() == "foo"
    jid = client.put(b"in foo")
    assert client.stats_job(jid).tube == "foo"
    foo = client.stats_tube("foo")
    assert foo.current_jobs_ready == 1
    assert foo.total_jobs == 1
    assert foo.current_using == 1
    assert client.stats_tube("default").current_jobs_ready == 0
    # use does not change the watch list.
    assert client.list_tubes_watched() == ["default"]
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)


def test_use_is_per_connection(client: jackd.Client, connect: Connect) -> None:
    other = connect()
    client.use("mine")
    assert other.list_tube_used() == "default"
    jid = other.put(b"x")
    assert client.stats_job(jid).tube == "default"


def test_use_back_to_default(client: jackd.Client) -> None:
    client.use("elsewhere")
    assert client.use("default") == "default"
    jid = client.put(b"x")
    assert client.stats_job(jid).tube == "default"


@pytest.mark.parametrize(
    "name",
    [
        "t" * 200,  # §9 case 22: the longest name
        "ABCxyz019-+/;.$_()",  # §9 case 27: every allowed character class
        "a",
        "foo-",
        "+foo",
        "(foo)",
        "$",
        "a/b;c",
        "123",
        "true",
        "1e3",
        ".inf",
        "null",
        "0x1F",
        "007",
    ],
)
def test_use_accepts_every_legal_name(client: jackd.Client, name: str) -> None:
    used = client.use(name)
    assert used == name
    assert type(used) is str
    assert client.list_tube_used() == name
    jid = client.put(b"named")
    tube = client.stats_job(jid).tube
    assert tube == name
    assert type(tube) is str
    assert name in client.list_tubes()


def test_tube_names_are_case_sensitive(client: jackd.Client) -> None:
    client.use("Foo")
    a = client.put(b"upper")
    client.use("foo")
    b = client.put(b"lower")
    assert client.stats_job(a).tube == "Foo"
    assert client.stats_job(b).tube == "foo"
    assert set(client.list_tubes()) == {"default", "Foo", "foo"}


@pytest.mark.parametrize("size", [6, 100_000], ids=["small", "large"])
def test_strided_memoryview_body(client: jackd.Client, size: int) -> None:
    # A memoryview need not be contiguous. The client may send its bytes, or refuse it with
    # TypeError/ValueError before sending; either way the connection must stay usable.
    view = memoryview(bytes(range(256)) * (size // 256 + 1))[:size][::2]
    try:
        jid = client.put(view)
    except (TypeError, ValueError):
        assert client.stats().cmd_put == 0
    else:
        assert client.peek(jid) == jackd.Job(jid, view.tobytes())
    assert_usable(client)


def test_multidimensional_memoryview_body(client: jackd.Client) -> None:
    view = memoryview(bytes(range(12))).cast("B", (3, 4))
    jid = client.put(view)
    assert client.peek(jid) == jackd.Job(jid, bytes(range(12)))


def test_mixed_sequence(client: jackd.Client) -> None:
    # §9 case 124, one request at a time.
    assert client.use("a") == "a"
    assert client.use("b") == "b"
    assert client.list_tube_used() == "b"
    assert client.put(b"hi", ttr=10) == 1
    assert client.peek_ready() == jackd.Job(1, b"hi")
    assert client.stats_job(1).tube == "b"
    assert set(client.list_tubes()) == {"default", "b"}
