"""A server that dies, hangs up or talks nonsense: ConnectionLostError at once, and ever after.

Every test runs against both clients: those taking ``connect`` through the fixture of
tests/conftest.py, those talking to a FakeServer through ``open_client``; both come in the
sync and the asyncio flavor. Faults only the asyncio client can meet (many tasks in flight)
are in test_aio_faults.py.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jackd
from jackd.testing import BeanstalkdServer

from .fakeserver import (
    FakeConnection,
    FakeServer,
    OpenClient,
    Worker,
    close_from_thread,
    in_turn,
    opened_clients,
    stats_then_stop_reading,
    unread_bytes,
    wait_until,
)

pytestmark = pytest.mark.timeout(30)

Connect = Callable[..., jackd.Client]


@pytest.fixture
def open_client(flavor: str) -> Iterator[OpenClient]:
    """Open ``flavor`` clients to any address (a FakeServer's, say); closed after the test."""
    with opened_clients(flavor) as opener:
        yield opener


Call = Callable[[jackd.Client], object]

#: One call of each kind: plain line, put with a body, chunked replies, blocking and not.
LATER_CALLS: list[Call] = [
    lambda c: c.put(b"x"),
    lambda c: c.reserve(),
    lambda c: c.reserve(timeout=0),
    lambda c: c.delete(1),
    lambda c: c.stats(),
    lambda c: c.peek(1),
    lambda c: c.use("other"),
    lambda c: c.list_tubes(),
]


def assert_every_call_is_lost(client: jackd.Client) -> None:
    for call in LATER_CALLS:
        started = time.monotonic()
        with pytest.raises(jackd.ConnectionLostError):
            call(client)
        assert time.monotonic() - started < 0.5
    assert client.closed


@pytest.mark.parametrize("socket_timeout", [None, 5.0])
def test_server_killed_during_blocking_reserve(
    server: BeanstalkdServer, connect: Connect, socket_timeout: float | None
) -> None:
    client = connect(timeout=socket_timeout)
    observer = connect()
    reserver = Worker(client.reserve, name="reserver")
    reserver.start()
    wait_until(lambda: observer.stats().current_waiting == 1, what="the reserve to block")

    killed_at = time.monotonic()
    server.kill()
    with pytest.raises(jackd.ConnectionLostError):
        reserver.outcome(timeout=5)
    assert reserver.finished_at is not None
    assert reserver.finished_at - killed_at < 1.0
    assert_every_call_is_lost(client)


def test_server_killed_during_reserve_with_timeout(
    server: BeanstalkdServer, connect: Connect
) -> None:
    client = connect(timeout=5)
    observer = connect()
    reserver = Worker(lambda: client.reserve(timeout=30), name="reserver")
    reserver.start()
    wait_until(lambda: observer.stats().current_waiting == 1, what="the reserve to block")
    killed_at = time.monotonic()
    server.kill()
    with pytest.raises(jackd.ConnectionLostError):
        reserver.outcome(timeout=5)
    assert reserver.finished_at is not None
    assert reserver.finished_at - killed_at < 1.0
    assert_every_call_is_lost(client)


@pytest.mark.parametrize(
    "first_call",
    [
        pytest.param(lambda c: c.stats(), id="stats"),
        pytest.param(lambda c: c.put(b"small"), id="put"),
        pytest.param(lambda c: c.put(b"B" * 1_500_000), id="put-1.5MB"),
        pytest.param(lambda c: c.reserve(), id="reserve"),
        pytest.param(lambda c: c.reserve(timeout=10), id="reserve-timeout"),
        pytest.param(lambda c: c.delete(1), id="delete"),
    ],
)
def test_server_killed_between_commands(
    server: BeanstalkdServer, connect: Connect, first_call: Call
) -> None:
    client = connect()  # no socket timeout: a missed EOF would hang, not time out
    jid = client.put(b"before")
    assert client.peek(jid) == jackd.Job(jid, b"before")
    # A big put first makes the client learn max-job-size, so the big put after the kill goes
    # straight to the socket.
    client.delete(client.put(b"A" * 100_000))
    server.kill()

    call = Worker(lambda: first_call(client), name="first-call")
    call.start()
    with pytest.raises(jackd.ConnectionLostError):
        call.outcome(timeout=3)
    assert_every_call_is_lost(client)


def test_server_killed_while_a_large_put_waits_for_its_reply(
    server: BeanstalkdServer, connect: Connect
) -> None:
    client = connect()
    client.delete(client.put(b"A" * 100_000))  # learn max-job-size now
    server.signal(signal.SIGSTOP)  # the put is buffered but never answered
    writer = Worker(lambda: client.put(b"W" * 2_000_000), name="writer")
    writer.start()
    wait_until(lambda: unread_bytes(server.port) > 0, what="the put to reach the frozen server")
    assert writer.is_alive()
    killed_at = time.monotonic()
    server.kill()
    with pytest.raises(jackd.ConnectionLostError):
        writer.outcome(timeout=3)
    assert writer.finished_at is not None
    assert writer.finished_at - killed_at < 1.0
    assert_every_call_is_lost(client)


def test_connection_reset_while_a_put_is_being_written(open_client: OpenClient) -> None:
    hang_up = threading.Event()
    with FakeServer(stats_then_stop_reading(30_000_000, hang_up)) as fake:
        client = open_client(fake.address)  # no timeout: only the reset can end the write
        writer = Worker(lambda: client.put(b"W" * 20_000_000), name="writer")
        writer.start()
        wait_until(lambda: unread_bytes(fake.port) > 0, what="the put to start")
        assert writer.is_alive()
        reset_at = time.monotonic()
        hang_up.set()
        with pytest.raises(jackd.ConnectionLostError):
            writer.outcome(timeout=3)
        assert writer.finished_at is not None
        assert writer.finished_at - reset_at < 1.0
        assert_every_call_is_lost(client)
        assert fake.connection().received == [b"stats"]


def test_close_wakes_a_put_stuck_writing(
    open_client: OpenClient, request: pytest.FixtureRequest
) -> None:
    with FakeServer(stats_then_stop_reading(30_000_000)) as fake:
        client = open_client(fake.address)
        writer = Worker(lambda: client.put(b"W" * 20_000_000), name="writer")
        writer.start()
        wait_until(lambda: unread_bytes(fake.port) > 0, what="the put to start")
        assert writer.is_alive()
        closed_at = time.monotonic()
        close_from_thread(client)
        with pytest.raises(jackd.ConnectionLostError):
            writer.outcome(timeout=3)
        assert writer.finished_at is not None
        assert writer.finished_at - closed_at < 1.0
        assert_every_call_is_lost(client)


def test_server_killed_with_idle_reserved_job(server: BeanstalkdServer, connect: Connect) -> None:
    client = connect(timeout=2)
    client.put(b"held")
    job = client.reserve(timeout=0)
    server.kill()
    with pytest.raises(jackd.ConnectionLostError):
        client.delete(job)
    assert_every_call_is_lost(client)


def test_connection_refused_is_a_connection_error(open_client: OpenClient) -> None:
    # A bound socket that does not listen keeps the port ours and refuses connections.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ConnectionError) as info:
            open_client(f"127.0.0.1:{port}")
        assert isinstance(info.value, jackd.ConnectionLostError)
        assert time.monotonic() - started < 2.0
        with pytest.raises(jackd.ConnectionLostError):
            open_client(("127.0.0.1", port), timeout=1)


def test_missing_unix_socket_is_a_connection_error(open_client: OpenClient, tmp_path: Path) -> None:
    path = tmp_path / "no-such.sock"
    with pytest.raises(ConnectionError) as info:
        open_client(f"unix://{path}")
    assert isinstance(info.value, jackd.ConnectionLostError)


def test_server_hangs_up_between_commands(open_client: OpenClient) -> None:
    def one_answer_then_hang_up(conn: FakeConnection) -> None:
        if conn.read_line() == b"list-tube-used":
            conn.send(b"USING default\r\n")

    with FakeServer(one_answer_then_hang_up) as fake:
        client = open_client(fake.address)
        assert client.list_tube_used() == "default"
        wait_until(fake.connection().finished.is_set, what="the fake to hang up")
        call = Worker(client.list_tube_used, name="second-call")
        call.start()
        with pytest.raises(jackd.ConnectionLostError):
            call.outcome(timeout=2)
        assert_every_call_is_lost(client)


# -- fake servers that misbehave ---------------------------------------------------------------


def answer_first_line_with(reply: bytes, then_close: bool) -> Callable[[FakeConnection], None]:
    def script(conn: FakeConnection) -> None:
        if conn.read_line() is None:
            return
        conn.send(reply)
        if not then_close:
            conn.wait_eof(timeout=10)

    return script


GARBAGE = [
    pytest.param(b"HELLO\r\n", id="unknown-word"),
    pytest.param(b"INSERTED 5\r\n", id="reply-for-another-command"),
    pytest.param(b"FOUND 1 abc\r\nabc\r\n", id="bad-chunk-size"),
    # A job reply without its CRLF is a damaged job (CorruptJobError); any other chunk is garbage.
    pytest.param(b"OK 3\r\nabcXY", id="chunk-without-crlf"),
    pytest.param(b"FOUND 1 3 extra junk\r\nabc\r\n", id="extra-fields"),
    pytest.param(b"X" * 300, id="line-too-long"),
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_reply_is_a_protocol_error_then_connection_lost(
    open_client: OpenClient, garbage: bytes
) -> None:
    with FakeServer(answer_first_line_with(garbage, then_close=False)) as fake:
        client = open_client(fake.address, timeout=3)
        started = time.monotonic()
        with pytest.raises(jackd.ProtocolError):
            client.peek(1)
        assert time.monotonic() - started < 2.0
        assert client.closed
        with pytest.raises(jackd.ConnectionLostError):
            client.peek(1)
        with pytest.raises(jackd.ConnectionLostError):
            client.put(b"x")
        conn = fake.connection()
        wait_until(conn.saw_eof.is_set, what="the client to hang up")
        assert conn.received == [b"peek 1"]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_reply_to_a_batch_is_a_protocol_error_then_connection_lost(
    open_client: OpenClient, garbage: bytes, request: pytest.FixtureRequest
) -> None:
    with FakeServer(answer_first_line_with(garbage, then_close=False)) as fake:
        client = open_client(fake.address, timeout=3)
        started = time.monotonic()
        with pytest.raises(jackd.ProtocolError):
            client.pipeline().peek(1).peek(2).execute()
        assert time.monotonic() - started < 2.0
        assert client.closed
        with pytest.raises(jackd.ConnectionLostError):
            client.peek(1)
        conn = fake.connection()
        wait_until(conn.saw_eof.is_set, what="the client to hang up")
        assert conn.received == [b"peek 1", b"peek 2"]


def test_garbage_before_any_command_is_never_an_answer(
    open_client: OpenClient, flavor: str
) -> None:
    connected = threading.Event()

    def chatty(conn: FakeConnection) -> None:
        # Speaks once the client is connected (garbage arriving while it still connects is
        # test_aio_faults.py's business), before any command: beanstalkd never speaks first.
        if connected.wait(5):
            conn.send(b"HELLO\r\n")
        while (line := conn.read_line(timeout=10)) is not None:
            if line == b"list-tube-used":
                conn.send(b"USING default\r\n")

    with FakeServer(chatty) as fake:
        client = open_client(fake.address, timeout=3)
        connected.set()
        wait_until(lambda: fake.connection().has_sent(b"HELLO\r\n"), what="the garbage")
        if flavor == "sync":
            # The blocking client reads only for a reply: the first one catches the garbage.
            with pytest.raises(jackd.ProtocolError):
                client.list_tube_used()
        else:
            # The asyncio client always reads, and hangs up as soon as the garbage arrives.
            wait_until(lambda: client.closed, what="the client to hang up on the garbage")
        assert client.closed
        with pytest.raises(jackd.ConnectionLostError):
            client.list_tube_used()
        wait_until(fake.connection().saw_eof.is_set, what="the client to hang up")
        assert fake.connection().received == ([b"list-tube-used"] if flavor == "sync" else [])


CUT_SHORT = [
    pytest.param(b"", id="no-reply"),
    pytest.param(b"RESERV", id="mid-line"),
    pytest.param(b"RESERVED 1 10\r\n", id="after-header"),
    pytest.param(b"RESERVED 1 10\r\nabc", id="mid-body"),
    pytest.param(b"RESERVED 1 10\r\n0123456789", id="before-trailer"),
    pytest.param(b"RESERVED 1 10\r\n0123456789\r", id="mid-trailer"),
    pytest.param(b"RESERVED 1 100000\r\n" + b"z" * 70_000, id="mid-large-body"),
]


@pytest.mark.parametrize("partial", CUT_SHORT)
@pytest.mark.parametrize("socket_timeout", [None, 3.0])
def test_server_closing_mid_reply_is_connection_lost(
    open_client: OpenClient, partial: bytes, socket_timeout: float | None
) -> None:
    with FakeServer(answer_first_line_with(partial, then_close=True)) as fake:
        client = open_client(fake.address, timeout=socket_timeout)
        call = Worker(client.reserve, name="reserver")
        call.start()
        with pytest.raises(jackd.ConnectionLostError):
            call.outcome(timeout=2)
        assert client.closed
        with pytest.raises(jackd.ConnectionLostError):
            client.reserve(timeout=0)
        assert fake.connection().received == [b"reserve"]


def test_server_reset_mid_reply_is_connection_lost(open_client: OpenClient) -> None:
    def reset(conn: FakeConnection) -> None:
        if conn.read_line() is None:
            return
        conn.send(b"OK 500\r\n---\n")
        conn.reset()  # RST instead of FIN

    with FakeServer(reset) as fake:
        client = open_client(fake.address)
        call = Worker(client.stats, name="stats")
        call.start()
        with pytest.raises(jackd.ConnectionLostError):
            call.outcome(timeout=2)
        with pytest.raises(jackd.ConnectionLostError):
            client.stats()


# -- interrupted calls -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.reserve(), id="single"),
        pytest.param(lambda c: c.reserve_many(2), id="batch"),
    ],
)
def test_keyboard_interrupt_mid_command_closes_and_says_why(call: Call) -> None:
    # Sync only: a signal interrupts the main thread's socket call; in asyncio the same
    # interrupt cancels a task instead, which test_aio.py covers.
    def silent(conn: FakeConnection) -> None:
        conn.wait_eof(timeout=10)

    main = threading.main_thread().ident
    assert main == threading.get_ident()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with FakeServer(silent) as fake, jackd.connect(fake.address) as client:

            def interrupt() -> None:
                wait_until(lambda: bool(fake.connection().received), what="the reserve")
                assert main is not None
                signal.pthread_kill(main, signal.SIGINT)

            interrupter = Worker(interrupt, name="interrupter")
            interrupter.start()
            with pytest.raises(KeyboardInterrupt):
                call(client)
            interrupter.outcome(timeout=2)
            assert client.closed  # the state of the line is unknown, so it is closed
            with pytest.raises(jackd.ConnectionLostError) as info:
                client.stats()
            assert "interrupt" in str(info.value).lower(), str(info.value)
            wait_until(fake.connection().saw_eof.is_set, what="the client to hang up")
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_batch_lost_with_one_reply_missing_returns_every_outcome(
    open_client: OpenClient,
) -> None:
    # Found in review: the sync client took a batch with one unanswered command for a single
    # command and raised, so a pool that lost the outcomes of the answered puts put them again.
    def answer_two_of_three(conn: FakeConnection) -> None:
        for _ in range(3):
            if conn.read_line() is None or conn.read_bytes(len(b"job\r\n")) is None:
                return
        conn.send(b"INSERTED 1\r\nINSERTED 2\r\n")
        conn.reset()

    def stay(conn: FakeConnection) -> None:
        conn.wait_eof(10)

    with FakeServer(in_turn(answer_two_of_three, stay)) as fake:
        client = open_client(fake.address, reconnect=jackd.Reconnect(attempts=3, first_delay=0.01))
        pipe = client.pipeline()
        for _ in range(3):
            pipe.put(b"job")
        first, second, third = pipe.execute(raise_on_error=False)
        assert (first, second) == (1, 2)
        assert isinstance(third, jackd.ConnectionLostError)
        assert third.maybe_applied
        assert "may or may not have taken effect" in str(third)
        fake.connection(1)  # the client reconnected
