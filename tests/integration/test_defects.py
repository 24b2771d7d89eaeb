"""Regression tests for defects fixed with the session model, against a real beanstalkd.

Each section names the defect it guards. The sync tests use ``jackd.Client`` directly, the
asyncio ones ``jackd.aio.AsyncClient`` under ``asyncio.run``; tests taking ``connect`` or
``flavor`` run against both. State is waited for on the server (``stats``, ``stats-job``),
never with fixed sleeps.

A few asyncio tests look at ``client._core.pending`` (the commands sent and not yet
answered) to know that a reply has been read by the client, which no public API tells.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import signal
import threading
import time
import traceback
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast

import pytest

import jackd
import jackd.aio
from jackd.testing import BeanstalkdServer

from ..async_adapter import SyncOverAsync
from ._support import Connect, wait_until
from .fakeserver import FakeConnection, FakeServer, Worker

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")

#: The signal the tests send themselves. Not SIGALRM: pytest-timeout uses that one.
SIGNAL = signal.SIGUSR1


def run(main: Callable[[], Awaitable[T]], limit: float = 20) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(main(), limit)

    return asyncio.run(bounded())


async def until(
    probe: Callable[[], Awaitable[bool] | bool], limit: float = 5.0, what: str = ""
) -> None:
    """Poll ``probe`` (a plain or an async predicate) until it holds; fail after ``limit`` s."""
    deadline = time.monotonic() + limit
    while True:
        value = probe()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {limit} s: {what or probe}")
        await asyncio.sleep(0.005)


async def waiting(observer: jackd.aio.AsyncClient, n: int = 1) -> bool:
    return (await observer.stats()).current_waiting >= n


def in_flight(client: jackd.aio.AsyncClient) -> int:
    """How many commands the client has sent whose replies it has not read yet."""
    return len(client._core.pending)


async def job_is(
    observer: jackd.aio.AsyncClient, jid: int, state: str, pri: int, reserves: int | None = None
) -> bool:
    stats = await observer.stats_job(jid)
    return (
        stats.state == state
        and stats.pri == pri
        and (reserves is None or stats.reserves == reserves)
    )


async def all_ready(observer: jackd.aio.AsyncClient, priorities: dict[int, int]) -> bool:
    """Whether each job is ready with its priority, having been reserved exactly once."""
    for jid, pri in priorities.items():
        if not await job_is(observer, jid, "ready", pri, reserves=1):
            return False
    return True


async def all_in(observer: jackd.aio.AsyncClient, jobs: list[int], state: str) -> bool:
    return all([(await observer.stats_job(jid)).state == state for jid in jobs])


@contextlib.contextmanager
def signal_handler(handler: Callable[[int, Any], None]) -> Iterator[None]:
    previous = signal.signal(SIGNAL, handler)
    try:
        yield
    finally:
        signal.signal(SIGNAL, previous)


class DeadlockError(Exception):
    """Raised by a watchdog's second signal into a handler that never returned."""


def signal_main_thread_once_waiting(
    observer: jackd.Client, finished: threading.Event | None = None
) -> Worker:
    """Start a thread that signals the main thread once the server has a reserve waiting.

    With ``finished``, it signals a second time if that is not set within 5 s: the handler
    then raises DeadlockError, which breaks a handler stuck waiting for a lock its own thread holds.
    """
    main = threading.main_thread().ident
    assert main is not None

    def interrupt() -> None:
        wait_until(
            lambda: observer.stats().current_waiting, lambda n: n >= 1, what="a waiting reserve"
        )
        signal.pthread_kill(main, SIGNAL)
        if finished is not None and not finished.wait(5):
            signal.pthread_kill(main, SIGNAL)

    worker = Worker(interrupt, name="signaller")
    worker.start()
    return worker


# -- 1. sync: close() or quit() from a signal handler while reserve() blocks ------------------
# close() took the client's lock, which the interrupted reserve in the same thread held: a
# deadlock. It must make the reserve wake up with ConnectionLostError instead.


@pytest.mark.timeout(15)
@pytest.mark.parametrize("method", ["close", "quit"])
def test_close_from_a_signal_handler_wakes_the_blocked_reserve(
    server: BeanstalkdServer, method: str
) -> None:
    with jackd.connect(server.address) as observer:
        client = jackd.connect(server.address)
        entered: list[int] = []
        returned = threading.Event()
        finished = threading.Event()

        def handler(signum: int, frame: Any) -> None:
            if entered:
                raise DeadlockError(f"{method}() in the signal handler did not return within 5 s")
            entered.append(signum)
            getattr(client, method)()
            returned.set()

        with signal_handler(handler):
            signaller = signal_main_thread_once_waiting(observer, finished)
            try:
                with pytest.raises(jackd.ConnectionLostError, match="closed"):
                    client.reserve()
            finally:
                finished.set()
                signaller.outcome(10)
        assert returned.is_set(), f"{method}() in the signal handler never returned (deadlock)"
        assert client.closed
        wait_until(
            lambda: observer.stats(),
            lambda s: s.current_waiting == 0 and s.current_connections == 1,
            what="the server to see the connection closed",
        )
        with pytest.raises(jackd.ConnectionLostError, match="closed"):
            client.put(b"after close")
        client.close()  # and again: still nothing to wait for


# -- 2. asyncio: a cancelled batch gives back the jobs its answered reserves got --------------
# Only a batch whose every reply had come was undone; one cancelled with some replies in kept
# those jobs reserved until their TTR ran out.


def test_cancelled_pipeline_puts_back_the_jobs_already_reserved(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address) as client,
            jackd.aio.connect(server.address) as observer,
        ):
            first = await observer.put(b"first", priority=5, ttr=120)
            second = await observer.put(b"second", priority=7, ttr=120)
            batch = asyncio.create_task(client.pipeline().reserve(0).reserve(0).reserve().execute())
            # Both jobs reserved and read by the client; the third reserve waits for a job.
            await until(lambda: waiting(observer), what="the blocking reserve")
            await until(lambda: in_flight(client) == 1, what="two replies read")
            assert await job_is(observer, first, "reserved", 5)
            batch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await batch
            # The jobs come back at once; a job put now is not taken by the cancelled reserve
            # (its connection was renewed to give the jobs back), so it stays ready.
            back = functools.partial(all_ready, observer, {first: 5, second: 7})
            await until(back, limit=1.0, what="every job ready again, priority kept")
            third = await observer.put(b"third", priority=9, ttr=120)
            assert await job_is(observer, third, "ready", 9, reserves=0)
            assert await client.list_tube_used() == "default"
            assert (await observer.stats()).current_jobs_reserved == 0

    run(main)


def test_cancelled_pipeline_puts_back_its_jobs_while_its_reserve_still_waits(
    server: BeanstalkdServer,
) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address) as client,
            jackd.aio.connect(server.address) as observer,
        ):
            first = await observer.put(b"first", priority=5, ttr=120)
            second = await observer.put(b"second", priority=7, ttr=120)
            batch = asyncio.create_task(client.pipeline().reserve(0).reserve(0).reserve().execute())
            await until(lambda: waiting(observer), what="the blocking reserve")
            await until(lambda: in_flight(client) == 1, what="two replies read")
            batch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await batch
            back = functools.partial(all_ready, observer, {first: 5, second: 7})
            await until(back, limit=1.0, what="both jobs ready again, priority kept")

    run(main)


class ReplyGate:
    """A relay to beanstalkd that hands the server's replies on only as far as allowed.

    Requests go through at once; replies are framed and passed on one by one while fewer than
    ``allowed`` have been passed. That makes "some replies of a batch have arrived" exact.
    """

    def __init__(self, upstream: BeanstalkdServer, allowed: float = math.inf) -> None:
        self.upstream = upstream
        self.allowed = allowed
        self.passed = 0
        self.address = ""
        self._moved = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    def allow(self, count: float = math.inf) -> None:
        self.allowed = count
        self._moved.set()

    async def __aenter__(self) -> ReplyGate:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream.port)
        self._writers += [writer, up_writer]
        self._tasks.append(asyncio.create_task(self._requests(reader, up_writer)))
        self._tasks.append(asyncio.create_task(self._replies(up_reader, writer)))

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _replies(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                reply = await reader.readuntil(b"\r\n")
                if reply.split(b" ", 1)[0] in (b"RESERVED", b"FOUND", b"OK"):
                    reply += await reader.readexactly(int(reply.split()[-1]) + 2)
            except asyncio.IncompleteReadError:
                writer.close()
                return
            while self.passed >= self.allowed:
                self._moved.clear()
                await self._moved.wait()
            writer.write(reply)
            await writer.drain()
            self.passed += 1


def test_cancelled_reserve_many_puts_back_the_jobs_already_reserved(
    server: BeanstalkdServer,
) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address) as observer,
            ReplyGate(server, allowed=0) as gate,
            jackd.aio.connect(gate.address) as client,
        ):
            jobs = [await observer.put(b"job %d" % pri, priority=pri, ttr=120) for pri in (3, 4, 6)]
            gate.allow(1)
            taking = asyncio.create_task(client.reserve_many(3, timeout=0))
            await until(lambda: gate.passed == 1 and in_flight(client) == 2, what="1 reply")
            # The server handed out all three; the client has read one reply of them.
            await until(lambda: all_in(observer, jobs, "reserved"), what="all three reserved")
            taking.cancel()
            with pytest.raises(asyncio.CancelledError):
                await taking
            gate.allow()
            back = functools.partial(all_ready, observer, dict(zip(jobs, (3, 4, 6), strict=True)))
            await until(back, limit=1.0, what="every job ready again, priority kept")
            assert await client.list_tube_used() == "default"

    run(main)


# -- 3. asyncio: a cancelled reserve_job leaves the job as it was ----------------------------
# Its reply came for a cancelled task, and the job was released: a buried job became ready, a
# delayed one ready before its time.


@pytest.mark.parametrize("state", ["buried", "delayed", "ready"])
def test_cancelled_reserve_job_leaves_the_job_as_it_was(
    server: BeanstalkdServer, state: str
) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address) as client,
            jackd.aio.connect(server.address) as observer,
        ):
            # In a tube the client does not watch, so its blocking reserve cannot take it.
            await observer.use("aside")
            delay = 100 if state == "delayed" else 0
            jid = await observer.put(b"aside", priority=11, delay=delay, ttr=120)
            if state == "buried":
                await observer.reserve_job(jid)
                await observer.bury(jid, priority=11)
            before = await observer.stats_job(jid)
            assert before.state == state

            # Hold the line, so that the reserve-job's reply comes after its task is cancelled.
            blocker = asyncio.create_task(client.reserve())
            await until(lambda: waiting(observer), what="the blocking reserve")
            taking = asyncio.create_task(client.reserve_job(jid))
            await until(lambda: in_flight(client) >= 2, what="reserve-job sent")
            taking.cancel()
            with pytest.raises(asyncio.CancelledError):
                await taking

            await observer.use("default")
            unblock = await observer.put(b"unblock")
            job = await blocker
            assert job.id == unblock
            await client.delete(job)

            await until(
                lambda: job_is(observer, jid, state, 11, before.reserves + 1),
                limit=2.0,
                what=f"job back {state}",
            )
            after = await observer.stats_job(jid)
            if state == "delayed":
                assert before.time_left - 5 <= after.time_left <= before.time_left
            assert await client.list_tube_used() == "default"
            assert await client.list_tubes_watched() == ["default"]

    run(main)


# -- 4 and 5. asyncio: close() after a timeout with unsent data, then connect() again ---------
# close() waited for the transport to flush to a server that had stopped reading; and the old
# transport's late callbacks then closed (or fed replies into) the new connection.

BIG = b"b" * 1_900_000  # the server fixture allows 2 MB bodies


@pytest.fixture
def stall(server: BeanstalkdServer) -> Iterator[Callable[[bool], None]]:
    """``stall(True)`` stops the server (SIGSTOP), ``stall(False)`` resumes it; resumed after."""

    def set_stalled(stalled: bool) -> None:
        server.signal(signal.SIGSTOP if stalled else signal.SIGCONT)

    yield set_stalled
    server.signal(signal.SIGCONT)


async def time_out_with_unsent_data(
    client: jackd.aio.AsyncClient, stall: Callable[[bool], None]
) -> None:
    """Stop the server, queue more than the socket buffers hold, and let the head time out."""
    await client.put(BIG)  # learns max-job-size while the server still answers
    stall(True)
    puts = [asyncio.create_task(client.put(BIG)) for _ in range(12)]
    transport = client._transport
    assert transport is not None
    await until(lambda: transport.get_write_buffer_size() > 0, what="data left unsent")
    outcomes = await asyncio.gather(*puts, return_exceptions=True)
    assert isinstance(outcomes[0], TimeoutError), outcomes[0]
    assert all(isinstance(o, jackd.ConnectionLostError) for o in outcomes[1:]), outcomes
    assert client.closed


def test_close_after_a_timeout_with_unsent_data_returns_at_once(
    server: BeanstalkdServer, stall: Callable[[bool], None]
) -> None:
    async def main() -> None:
        client = await jackd.aio.connect(server.address, timeout=0.5)
        await time_out_with_unsent_data(client, stall)
        started = time.monotonic()
        await asyncio.wait_for(client.close(), 1.0)
        assert time.monotonic() - started < 1.0
        assert client.closed
        with pytest.raises(jackd.ConnectionLostError):
            await client.stats()

    run(main)


def test_connect_after_that_close_is_not_disturbed_by_the_old_transport(
    server: BeanstalkdServer, stall: Callable[[bool], None]
) -> None:
    async def main() -> None:
        async with jackd.aio.connect(server.address) as observer:
            client = await jackd.aio.connect(server.address, timeout=0.5)
            await client.use("mine")
            await time_out_with_unsent_data(client, stall)
            # How long close takes is the test above's business.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(client.close(), 1.0)
            stall(False)
            assert await client.connect() is client
            # The server has dropped the old connection, whatever it read of it first.
            await until(
                lambda: _connections_at_most(observer, 2), limit=10, what="the old connection gone"
            )
            for round in range(4):
                assert await client.list_tube_used() == "mine"
                jid = await client.put(b"round %d" % round)
                assert await client.peek(jid) == jackd.Job(jid, b"round %d" % round)
                for _ in range(5):
                    await asyncio.sleep(0)  # let any late callback of the old transport run
            assert not client.closed
            assert await _connections_at_most(observer, 2)
            assert (await observer.stats()).current_connections == 2  # the new one lives
            await client.close()

    run(main, limit=25)


async def _connections_at_most(observer: jackd.aio.AsyncClient, n: int) -> bool:
    return (await observer.stats()).current_connections <= n


# -- 6. a command behind a blocking reserve does not time out while the reserve waits --------
# The asyncio client timed every command from when it was issued, so a command pipelined
# behind a reserve waiting for a job closed a healthy connection.


def test_command_behind_a_blocking_reserve_waits_its_turn(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address, timeout=0.5) as client,
            jackd.aio.connect(server.address) as observer,
        ):
            order: list[str] = []

            async def noted(name: str, call: Awaitable[T]) -> T:
                result = await call
                order.append(name)
                return result

            reserving = asyncio.create_task(noted("reserve", client.reserve()))
            await until(lambda: waiting(observer), what="the blocking reserve")
            behind = asyncio.create_task(noted("list-tube-used", client.list_tube_used()))
            started = time.monotonic()
            jid = await observer.put(b"in two seconds", delay=2)
            job = await reserving
            assert await behind == "default"
            assert order == ["reserve", "list-tube-used"]
            assert time.monotonic() - started > 1.5
            assert job.id == jid
            await client.delete(job)
            assert not client.closed

    run(main)


def test_command_behind_a_blocking_reserve_waits_its_turn_both_flavors(connect: Connect) -> None:
    client = connect(timeout=0.5)
    observer = connect()
    reserving = Worker(client.reserve, name="reserving")
    reserving.start()
    wait_until(lambda: observer.stats().current_waiting, lambda n: n >= 1, what="the reserve")

    def behind() -> tuple[str, float]:
        started = time.monotonic()
        used = client.list_tube_used()
        return used, time.monotonic() - started

    asking = Worker(behind, name="behind")
    asking.start()
    jid = observer.put(b"in two seconds", delay=2)
    job = reserving.outcome(10)
    used, waited = cast(tuple[str, float], asking.outcome(10))
    assert job == jackd.Job(jid, b"in two seconds")
    assert used == "default"
    assert waited > 1.0  # well past its 0.5 s timeout, behind the reserve
    client.delete(jid)
    assert not client.closed


# -- 7. infinite and NaN timeouts are refused ------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": math.inf},
        {"connect_timeout": math.inf},
        {"timeout": math.nan},
        {"connect_timeout": math.nan},
    ],
    ids=["timeout=inf", "connect_timeout=inf", "timeout=nan", "connect_timeout=nan"],
)
def test_infinite_or_nan_timeout_is_a_value_error(
    server: BeanstalkdServer, flavor: str, kwargs: dict[str, Any]
) -> None:
    (name,) = kwargs
    if flavor == "sync":
        with pytest.raises(ValueError, match=name):
            jackd.connect(server.address, **kwargs)
        with pytest.raises(ValueError, match=name):
            jackd.Client(server.address, **kwargs)
    else:
        with pytest.raises(ValueError, match=name):
            jackd.aio.connect(server.address, **kwargs)
        with pytest.raises(ValueError, match=name):
            jackd.aio.AsyncClient(server.address, **kwargs)


# -- 8. a hostile reply header cannot make the client allocate what it claims ----------------

HOSTILE = b"RESERVED 1 1073741824\r\n0123456789"
SMALL = 16 << 20


def _hostile(conn: FakeConnection) -> None:
    if conn.read_line() is not None:
        conn.send(HOSTILE)
        conn.wait_eof(timeout=10)


def test_hostile_reply_header_keeps_client_memory_small(flavor: str) -> None:
    with FakeServer(_hostile) as fake:
        tracemalloc.start()
        try:
            if flavor == "sync":
                with jackd.connect(fake.address, timeout=1) as client, pytest.raises(TimeoutError):
                    client.reserve(timeout=0)
            else:

                async def main() -> None:
                    async with jackd.aio.connect(fake.address, timeout=1) as aclient:
                        with pytest.raises(TimeoutError):
                            await aclient.reserve(timeout=0)

                run(main)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < SMALL, f"the client allocated {peak} bytes for a header and 10 bytes"


# -- 9. error messages -----------------------------------------------------------------------

NOT_FOUND_MESSAGE = (
    "delete 999999: NOT_FOUND (no such job, or it is reserved by another connection)"
)


def test_not_found_error_names_the_command_and_the_public_class(client: jackd.Client) -> None:
    with pytest.raises(jackd.NotFoundError) as info:
        client.delete(999999)
    assert str(info.value) == NOT_FOUND_MESSAGE
    assert type(info.value) is jackd.NotFoundError
    assert type(info.value).__module__ == "jackd"
    shown = traceback.format_exception_only(info.type, info.value)
    assert shown == [f"jackd.NotFoundError: {NOT_FOUND_MESSAGE}\n"]


@pytest.mark.timeout(15)
def test_call_after_a_keyboard_interrupt_says_what_was_interrupted(
    server: BeanstalkdServer,
) -> None:
    with jackd.connect(server.address) as observer, jackd.connect(server.address) as client:

        def handler(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        with signal_handler(handler):
            signaller = signal_main_thread_once_waiting(observer)
            try:
                with pytest.raises(KeyboardInterrupt):
                    client.reserve()
            finally:
                signaller.outcome(5)
        assert client.closed
        with pytest.raises(jackd.ConnectionLostError) as info:
            client.put(b"after ^C")
        message = str(info.value)
        assert "KeyboardInterrupt" in message
        assert "reserve" in message


def _http(conn: FakeConnection) -> None:
    if conn.read_line() is not None:
        conn.send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n")
        conn.wait_eof(timeout=5)


def test_http_server_gives_a_protocol_error_naming_the_endpoint(flavor: str) -> None:
    with FakeServer(_http) as fake:
        client: Any = (
            jackd.connect(fake.address) if flavor == "sync" else SyncOverAsync(fake.address)
        )
        try:
            with pytest.raises(jackd.ProtocolError) as info:
                client.list_tube_used()
        finally:
            client.shutdown() if flavor == "async" else client.close()
    message = str(info.value)
    assert f"127.0.0.1:{fake.port}" in message
    assert "HTTP/1.1 400" in message


# -- 10. fork: a child never uses its parent's connection ------------------------------------


def in_child(work: Callable[[], object]) -> dict[str, Any]:
    """Run ``work`` in a forked child; return what it returned or raised, as a dict."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and never return into pytest
        os.close(read_end)
        try:
            try:
                outcome: dict[str, Any] = {"result": work()}
            except BaseException as exc:
                outcome = {"error": type(exc).__name__, "message": str(exc)}
            os.write(write_end, json.dumps(outcome, default=repr).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    result: dict[str, Any] = json.loads(data)
    return result


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_client_used_after_fork_refuses_in_the_child(server: BeanstalkdServer) -> None:
    with jackd.connect(server.address) as client, jackd.connect(server.address) as observer:
        client.use("parent")
        jid = client.put(b"parent's job")

        def child() -> list[object]:
            return [client.list_tube_used(), client.peek(jid).body.decode()]

        outcome = in_child(child)
        assert outcome.get("error") == "ConnectionLostError", outcome
        assert "fork" in outcome["message"]
        # The parent's connection is as it was, and in step: each command its own reply.
        assert client.list_tube_used() == "parent"
        assert client.peek(jid) == jackd.Job(jid, b"parent's job")
        second = client.put(b"second")
        assert second == jid + 1
        assert client.stats_job(second).tube == "parent"
        assert observer.stats().current_connections == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_client_with_reconnect_opens_its_own_connection_in_the_child(
    server: BeanstalkdServer,
) -> None:
    with (
        jackd.connect(server.address, reconnect=True) as client,
        jackd.connect(server.address) as observer,
    ):
        client.use("parent")
        jid = client.put(b"parent's job")

        def child() -> dict[str, object]:
            # Counted on the child's connection: the parent's two and its own.
            connections = client.stats().current_connections
            return {"connections": connections, "jid": client.put(b"child's job")}

        outcome = in_child(child)
        assert "error" not in outcome, outcome
        result = outcome["result"]
        assert result["connections"] == 3
        # The parent's connection is untouched and in step.
        assert client.list_tube_used() == "parent"
        assert client.peek(jid) == jackd.Job(jid, b"parent's job")
        assert client.peek(result["jid"]).body == b"child's job"
        assert client.reconnects == 0
        wait_until(
            lambda: observer.stats().current_connections,
            lambda n: n == 2,
            what="the child's connection to close",
        )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
@pytest.mark.parametrize("how", ["reconnect=True", "connect()"])
def test_child_connection_gets_the_parents_tubes(server: BeanstalkdServer, how: str) -> None:
    with jackd.connect(server.address, reconnect=how == "reconnect=True") as client:
        client.use("parent")
        client.watch("parent")

        def child() -> list[object]:
            if how == "connect()":
                client.connect()
            return [client.list_tube_used(), client.list_tubes_watched()]

        outcome = in_child(child)
        assert outcome.get("result") == ["parent", ["default", "parent"]], outcome
        assert client.list_tube_used() == "parent"


# -- more of the session model at work: lost reservations after a reconnect ------------------


def test_reservation_from_a_lost_connection_is_refused_or_reported(
    connect: Connect,
) -> None:
    from jackd._errors import ReservationLostError  # here: the rest of the file runs without it

    client = connect()
    other = connect()
    first = other.put(b"first", ttr=120)
    second = other.put(b"second", ttr=120)
    assert client.reserve(0).id == first
    assert client.reserve(0).id == second
    client.close()
    client.connect()
    touches = other.stats().cmd_touch
    with pytest.raises(ReservationLostError, match="not sent"):
        client.touch(first)
    assert other.stats().cmd_touch == touches  # refused without a byte sent
    # The server released both with the old connection; a delete works if nobody took it,
    assert other.stats_job(first).state == "ready"
    client.delete(first)
    # and says why it failed if somebody did.
    assert other.reserve(0).id == second
    with pytest.raises(ReservationLostError, match="delete") as info:
        client.delete(second)
    assert isinstance(info.value, jackd.NotFoundError)
    other.delete(second)
