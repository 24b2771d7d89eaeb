"""Socket timeouts: TimeoutError, then a closed connection; reserve waits are never cut short.

Every test runs against both clients, the sync one and the asyncio one behind SyncOverAsync:
through the ``connect`` fixture for a real beanstalkd, through ``open_client`` for a FakeServer.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import pytest

import jackd
from jackd.testing import BeanstalkdServer

from .fakeserver import (
    FakeConnection,
    FakeServer,
    OpenClient,
    Worker,
    close_from_thread,
    opened_clients,
    stats_then_stop_reading,
    wait_until,
    xfail_if,
)

pytestmark = pytest.mark.timeout(30)

Connect = Callable[..., jackd.Client]


@pytest.fixture
def open_client(flavor: str) -> Iterator[OpenClient]:
    """Open ``flavor`` clients to any address (a FakeServer's, say); closed after the test."""
    with opened_clients(flavor) as opener:
        yield opener


@pytest.fixture
def observer(server: BeanstalkdServer, connect: Connect) -> Iterator[jackd.Client]:
    """A client for watching the server. At teardown it kills the server before the clients
    are closed, so that a thread a failing test left blocked on it wakes up instead of hanging.
    """
    yield connect()
    server.kill()


def silent(conn: FakeConnection) -> None:
    """Read whatever comes and never answer, until the client hangs up."""
    conn.wait_eof(timeout=10)


def assert_plain_timeout(exc: BaseException) -> None:
    assert isinstance(exc, TimeoutError)
    assert not isinstance(exc, jackd.JackdError)


def test_silent_server_times_out_then_connection_is_closed(open_client: OpenClient) -> None:
    with FakeServer(silent) as fake:
        client = open_client(fake.address, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            client.list_tube_used()
        elapsed = time.monotonic() - started
        assert_plain_timeout(info.value)
        assert 0.25 <= elapsed < 2.0
        assert client.closed

        started = time.monotonic()
        with pytest.raises(jackd.ConnectionLostError):
            client.list_tube_used()
        with pytest.raises(jackd.ConnectionLostError):
            client.put(b"job")
        assert time.monotonic() - started < 0.2  # no second wait on the socket
        # The client really hung up: the fake sees EOF.
        wait_until(lambda: fake.connection().saw_eof.is_set(), what="the client to hang up")
        assert fake.connection().received == [b"list-tube-used"]


def test_silent_server_times_out_a_put(open_client: OpenClient) -> None:
    with FakeServer(silent) as fake:
        client = open_client(fake.address, timeout=0.3)
        with pytest.raises(TimeoutError) as info:
            client.put(b"payload")
        assert_plain_timeout(info.value)
        with pytest.raises(jackd.ConnectionLostError):
            client.stats()


def test_frozen_beanstalkd_times_out(server: BeanstalkdServer, connect: Connect) -> None:
    client = connect(timeout=0.3)
    jid = client.put(b"before the freeze")
    server.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            client.peek(jid)
        assert_plain_timeout(info.value)
        assert 0.25 <= time.monotonic() - started < 2.0
    finally:
        server.signal(signal.SIGCONT)
    # The server answers the peek now, but nobody is there to read it as another reply.
    with pytest.raises(jackd.ConnectionLostError):
        client.peek(jid)
    other = connect(timeout=2)
    assert other.peek(jid) == jackd.Job(jid, b"before the freeze")
    wait_until(lambda: other.stats().current_connections == 1, what="the server to see the close")


def test_put_stuck_writing_times_out(open_client: OpenClient) -> None:
    # The fake reads nothing after stats, so a 20 MB put blocks partway through its write.
    with FakeServer(stats_then_stop_reading(30_000_000)) as fake:
        client = open_client(fake.address, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            client.put(b"W" * 20_000_000)
        assert_plain_timeout(info.value)
        assert 0.25 <= time.monotonic() - started < 2.5
        with pytest.raises(jackd.ConnectionLostError):
            client.put(b"small")
        assert fake.connection().received == [b"stats"]


def test_close_after_a_write_timed_out_returns_at_once(
    open_client: OpenClient, request: pytest.FixtureRequest
) -> None:
    # Unsent data is still queued when the put gives up, and the fake never reads it.
    with FakeServer(stats_then_stop_reading(30_000_000)) as fake:
        client = open_client(fake.address, timeout=0.3)
        with pytest.raises(TimeoutError):
            client.put(b"W" * 20_000_000)
        assert client.closed
        close_from_thread(client, timeout=1.0)
        with pytest.raises(jackd.ConnectionLostError):
            client.stats()
        assert fake.connection().received == [b"stats"]


@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(b"RESERV", id="mid-line"),
        pytest.param(b"RESERVED 1 10\r\nabc", id="mid-body"),
        pytest.param(b"RESERVED 1 10\r\n0123456789", id="before-trailer"),
        pytest.param(b"RESERVED 1 100000\r\n" + b"z" * 70_000, id="mid-large-body"),
    ],
)
def test_reply_stalling_midway_times_out(open_client: OpenClient, partial: bytes) -> None:
    def stall(conn: FakeConnection) -> None:
        if conn.read_line() is not None:
            conn.send(partial)
            conn.wait_eof(timeout=10)

    with FakeServer(stall) as fake:
        client = open_client(fake.address, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            client.reserve(timeout=0)  # waits 0 s + the socket timeout
        assert_plain_timeout(info.value)
        assert 0.25 <= time.monotonic() - started < 2.0
        with pytest.raises(jackd.ConnectionLostError):
            client.reserve(timeout=0)
        wait_until(fake.connection().saw_eof.is_set, what="the client to hang up")
        assert fake.connection().received == [b"reserve-with-timeout 0"]


def test_late_reply_is_never_taken_for_the_next_answer(open_client: OpenClient) -> None:
    def late(conn: FakeConnection) -> None:
        # Answer every command, but the first one only after the client gave up on it.
        first = True
        while (line := conn.read_line(timeout=10)) is not None:
            if first:
                conn.sleep(0.8)
                first = False
            if line == b"list-tube-used":
                conn.send(b"USING stale\r\n")
            elif line == b"stats-job 1":
                conn.send(b"NOT_FOUND\r\n")

    with FakeServer(late) as fake:
        client = open_client(fake.address, timeout=0.3)
        with pytest.raises(TimeoutError):
            client.list_tube_used()
        # Even once the stale reply is out (the script ends after sending it), it is not read
        # as this command's answer.
        wait_until(fake.connection().finished.is_set, what="the fake to send the stale reply")
        with pytest.raises(jackd.ConnectionLostError):
            client.list_tube_used()
        with pytest.raises(jackd.ConnectionLostError):
            client.stats_job(1)
        wait_until(lambda: fake.connection().saw_eof.is_set(), what="the client to hang up")
        assert fake.connection().received == [b"list-tube-used"]
        assert len(fake.connections) == 1  # no silent reconnect either


@pytest.mark.parametrize("gap", [0.0, 0.1], ids=["same-packet", "arriving-later"])
def test_extra_reply_is_never_taken_for_the_next_answer(
    open_client: OpenClient, gap: float, request: pytest.FixtureRequest
) -> None:
    if gap:
        xfail_if(
            "sync",
            request,
            "the blocking client does not look for bytes the server sends unasked between two "
            "commands: that costs a system call per command, and beanstalkd never sends any "
            "(bytes after a reply, in the same read, are caught)",
        )

    # beanstalkd answers each command exactly once (protocol-notes §1); a server or proxy that
    # answers twice must not shift every later answer onto the wrong command.
    def answers_twice(conn: FakeConnection) -> None:
        first = True
        while conn.read_line(timeout=10) is not None:
            if first:
                conn.send(b"USING default\r\n" if gap else b"USING default\r\nUSING stale\r\n")
                if gap:
                    conn.sleep(gap)
                    conn.send(b"USING stale\r\n")
                first = False
            else:
                conn.send(b"USING default\r\n")

    with FakeServer(answers_twice) as fake:
        client = open_client(fake.address, timeout=2)
        extra = b"USING stale\r\n"
        outcomes: list[object] = []
        for call in range(3):
            try:
                outcomes.append(client.list_tube_used())
            except (jackd.ProtocolError, jackd.ConnectionLostError) as exc:
                outcomes.append(type(exc))
            if call == 0:  # the next command goes out once the extra reply is on its way
                wait_until(lambda: fake.connection().has_sent(extra), what="the extra reply")
        assert "stale" not in outcomes, outcomes
        assert outcomes[-1] is jackd.ConnectionLostError, outcomes


def test_reserve_timeout_is_not_cut_short_by_socket_timeout(connect: Connect) -> None:
    client = connect(timeout=0.2)
    started = time.monotonic()
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=1)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0
    # A server-side TIMED_OUT leaves the connection usable.
    assert not client.closed
    jid = client.put(b"after")
    assert client.reserve(timeout=0) == jackd.Job(jid, b"after")


def test_reserve_timeout_waits_for_the_reserve_plus_socket_timeout(open_client: OpenClient) -> None:
    # The server never answers: the wait is the reserve timeout plus the socket timeout.
    with FakeServer(silent) as fake:
        client = open_client(fake.address, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            client.reserve(timeout=1)
        elapsed = time.monotonic() - started
        assert_plain_timeout(info.value)
        assert 1.2 <= elapsed < 3.5
        assert fake.connection().received == [b"reserve-with-timeout 1"]
        with pytest.raises(jackd.ConnectionLostError):
            client.reserve(timeout=0)


def test_late_timed_out_within_the_allowance_is_a_timed_out_error(open_client: OpenClient) -> None:
    def slow_timed_out(conn: FakeConnection) -> None:
        if conn.read_line() == b"reserve-with-timeout 1":
            conn.sleep(1.15)  # later than the reserve timeout, within its socket allowance
            conn.send(b"TIMED_OUT\r\n")
        if conn.read_line() == b"list-tube-used":
            conn.send(b"USING default\r\n")
        conn.wait_eof()

    with FakeServer(slow_timed_out) as fake:
        client = open_client(fake.address, timeout=0.5)
        with pytest.raises(jackd.TimedOutError):
            client.reserve(timeout=1)
        assert client.list_tube_used() == "default"
        client.close()


def test_blocking_reserve_ignores_socket_timeout(connect: Connect, observer: jackd.Client) -> None:
    client = connect(timeout=0.2)
    producer = connect()
    reserver = Worker(client.reserve, name="reserver")
    reserver.start()
    wait_until(lambda: observer.stats().current_waiting == 1, what="the reserve to block")
    time.sleep(1.0)  # five socket timeouts
    assert reserver.is_alive()
    jid = producer.put(b"worth the wait")
    assert reserver.outcome(timeout=5) == jackd.Job(jid, b"worth the wait")
    # The socket timeout applies again to the next command.
    client.delete(jid)
    assert client.stats().current_jobs_reserved == 0


def test_blocking_reserve_then_socket_timeout_is_restored(open_client: OpenClient) -> None:
    def reserve_then_silence(conn: FakeConnection) -> None:
        if conn.read_line() == b"reserve":
            conn.sleep(0.8)
            conn.send(b"RESERVED 7 4\r\nlate\r\n")
        conn.wait_eof(timeout=10)  # answers nothing more

    with FakeServer(reserve_then_silence) as fake:
        client = open_client(fake.address, timeout=0.2)
        assert client.reserve() == jackd.Job(7, b"late")
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.delete(7)
        assert time.monotonic() - started < 1.5
        assert fake.connection().received == [b"reserve", b"delete 7"]


def test_blocking_reserve_on_silent_server_waits_until_closed(open_client: OpenClient) -> None:
    with FakeServer(silent) as fake:
        client = open_client(fake.address, timeout=0.2)
        reserver = Worker(client.reserve, name="reserver")
        reserver.start()
        wait_until(lambda: fake.connection().received == [b"reserve"], what="the reserve")
        time.sleep(0.8)
        assert reserver.is_alive(), "a blocking reserve gave up after the socket timeout"
        close_from_thread(client)
        with pytest.raises(jackd.ConnectionLostError):
            reserver.outcome(timeout=2)


def test_command_queued_behind_a_blocking_reserve_waits_for_it(
    connect: Connect, observer: jackd.Client, request: pytest.FixtureRequest
) -> None:
    client = connect(timeout=0.2)
    producer = connect()
    reserver = Worker(client.reserve, name="reserver")
    reserver.start()
    wait_until(lambda: observer.stats().current_waiting == 1, what="the reserve to block")
    behind = Worker(client.list_tube_used, name="behind")
    behind.start()
    time.sleep(1.0)  # five socket timeouts, which the queued command must outlast
    assert reserver.is_alive(), reserver.error
    assert behind.is_alive(), behind.error
    jid = producer.put(b"for the reserve")
    assert reserver.outcome(timeout=5) == jackd.Job(jid, b"for the reserve")
    assert behind.outcome(timeout=5) == "default"
    assert not client.closed


def test_command_queued_behind_a_blocking_reserve_is_timed_from_its_reply(
    open_client: OpenClient, request: pytest.FixtureRequest
) -> None:
    answered: list[float] = []

    def slow_reserve_then_silence(conn: FakeConnection) -> None:
        if conn.read_line() == b"reserve":
            conn.sleep(1.0)  # five socket timeouts
            answered.append(time.monotonic())
            conn.send(b"RESERVED 7 4\r\nlate\r\n")
        conn.wait_eof(timeout=10)  # answers nothing more

    with FakeServer(slow_reserve_then_silence) as fake:
        client = open_client(fake.address, timeout=0.2)
        reserver = Worker(client.reserve, name="reserver")
        reserver.start()
        wait_until(lambda: fake.connection().received == [b"reserve"], what="the reserve")
        behind = Worker(client.list_tube_used, name="behind")
        behind.start()
        assert reserver.outcome(timeout=5) == jackd.Job(7, b"late")
        # Its own wait starts once the reserve is answered, and then it does run out.
        with pytest.raises(TimeoutError) as info:
            behind.outcome(timeout=5)
        assert_plain_timeout(info.value)
        assert behind.finished_at is not None
        assert 0.15 <= behind.finished_at - answered[0] < 1.5
        assert client.closed
        wait_until(fake.connection().saw_eof.is_set, what="the client to hang up")
        assert fake.connection().received == [b"reserve", b"list-tube-used"]
