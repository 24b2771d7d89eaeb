"""Faults that only the asyncio client can meet: many tasks in flight on one connection.

The blocking facade of tests/async_adapter.py runs one call per thread, so the failure tests of
test_connection_loss.py and test_timeouts.py never have dozens of commands pipelined when the
server hangs up, sends garbage or stalls. These tests do, with ``asyncio.run`` as test_aio.py
does: every task must get an error, none may be left waiting, and the client reports closed.

The tests marked xfail at the end pin known defects of the asyncio client (their reasons are
in fakeserver.py); they are to pass once those are fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest

import jackd
import jackd.aio
from jackd.testing import BeanstalkdServer

from .fakeserver import (
    FakeConnection,
    FakeServer,
    Script,
    connected_to,
    in_turn,
    never_reading,
    stats_then_stop_reading,
    unread_bytes,
    wait_until,
)

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")

#: How many tasks share the client in the pipelining tests, and how many of them get answers.
TASKS = 50
ANSWERED = 20


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` on a fresh loop for at most 20 s, then reap the tasks it spawned."""

    async def bounded() -> T:
        try:
            return await asyncio.wait_for(main(), 20)
        finally:
            tasks = _spawned[:]
            _spawned.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(bounded())


_spawned: list[asyncio.Task[Any]] = []


def spawn(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """``asyncio.create_task``, with the task reaped (cancelled, awaited) when ``run`` ends.

    Reaping matters when a test fails midway: a task whose exception nobody fetched is logged
    when garbage collection finds it, and on Python 3.11 such a log, formatting its traceback
    while pytest formats the failure's, breaks pytest's own ast.parse (an INTERNALERROR).
    """
    task = asyncio.create_task(coro)
    _spawned.append(task)
    return task


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` while the event loop runs; AssertionError if it stays false."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        await asyncio.sleep(0.005)


async def settle(tasks: list[asyncio.Task[Any]], timeout: float = 3.0) -> list[object]:
    """Each task's result or exception, in order; fails if any is still waiting."""
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    assert not pending, f"{len(pending)} of {len(tasks)} tasks still waiting after {timeout} s"
    return [task.exception() or task.result() for task in tasks]


def job(job_id: int) -> jackd.Job:
    return jackd.Job(job_id, b"job-%d" % job_id)


def found(job_id: int) -> bytes:
    body = job(job_id).body
    return b"FOUND %d %d\r\n%s\r\n" % (job_id, len(body), body)


# -- a fault while many commands are pipelined -------------------------------------------------


def answer_some_then(fault: bytes, then: str, answered: int, go: threading.Event | None) -> Script:
    """Read ``TASKS`` peeks, answer the first ``answered``, then send ``fault`` and ``then``.

    ``then`` is "close" (FIN), "reset" (RST) or "stall" (read on, answer nothing). With ``go``
    the fault waits for the test to set it (once the answered tasks are done); without, it
    goes out in the same write as the answers.
    """

    def script(conn: FakeConnection) -> None:
        lines = [conn.read_line() for _ in range(TASKS)]
        if None in lines:
            return
        answers = b"".join(found(n) for n in range(1, answered + 1))
        if go is None:
            conn.send(answers + fault)
        else:
            conn.send(answers)
            while not go.wait(0.02):
                if conn.stopped():
                    return
            conn.send(fault)
        if then == "reset":
            conn.reset()
        elif then == "stall":
            conn.wait_eof(timeout=10)

    return script


PARTIAL = b"FOUND 21 10\r\njob"

#: fault id: what the server sends, what it does then, the client's socket timeout, what the
#: first unanswered task must get (the ones after it get ConnectionLostError).
FAULTS: dict[str, tuple[bytes, str, float | None, type[BaseException]]] = {
    "hang-up": (b"", "close", None, jackd.ConnectionLostError),
    "reset": (b"", "reset", None, jackd.ConnectionLostError),
    "cut-mid-reply": (PARTIAL, "close", None, jackd.ConnectionLostError),
    "reset-mid-reply": (PARTIAL, "reset", None, jackd.ConnectionLostError),
    "garbage": (b"HELLO\r\n", "stall", None, jackd.ProtocolError),
    # A job reply without its CRLF is a damaged job (CorruptJobError); any other chunk is garbage.
    "garbage-chunk": (b"OK 3\r\nabcXY", "stall", None, jackd.ProtocolError),
    "stall-mid-reply": (PARTIAL, "stall", 0.5, TimeoutError),
    "stall-mid-reply-then-close": (PARTIAL, "stall", None, jackd.ConnectionLostError),
}

#: How the answers and the fault arrive: how many are answered, and whether in one write.
SHAPES = {
    "none-answered": (0, False),
    "some-answered-then-fault": (ANSWERED, False),
    "answers-and-fault-in-one-write": (ANSWERED, True),
}


@pytest.mark.parametrize(
    ("fault", "answered", "same_write"),
    [
        pytest.param(fault, answered, same_write, id=f"{fault}-{shape}")
        for fault, (_, then, _, _) in FAULTS.items()
        for shape, (answered, same_write) in SHAPES.items()
        # A reset right behind the answers may discard them before the client reads them.
        if not (same_write and then == "reset")
    ],
)
def test_fault_fails_every_pipelined_task(fault: str, answered: int, same_write: bool) -> None:
    data, then, timeout, first_error = FAULTS[fault]
    go = None if same_write else threading.Event()

    async def main() -> None:
        with FakeServer(answer_some_then(data, then, answered, go)) as fake:
            client = await jackd.aio.connect(fake.address, timeout=timeout)
            tasks = [spawn(client.peek(n)) for n in range(1, TASKS + 1)]
            await until(lambda: all(t.done() for t in tasks[:answered]), what="the answers")
            if go is not None:
                go.set()
            if fault == "stall-mid-reply-then-close":
                conn = fake.connection()
                await until(lambda: conn.has_sent(data), what="the partial reply")
                await asyncio.wait_for(client.close(), 1.0)
            outcomes = await settle(tasks)
            assert outcomes[:answered] == [job(n) for n in range(1, answered + 1)]
            head = outcomes[answered]
            assert type(head) is first_error, outcomes  # a TimeoutError is a plain one
            rest = outcomes[answered + 1 :]
            assert all(isinstance(o, jackd.ConnectionLostError) for o in rest), rest
            assert client.closed
            with pytest.raises(jackd.ConnectionLostError):
                await client.peek(1)
            await asyncio.wait_for(client.close(), 1.0)

    run(main)


def read_until(go: threading.Event, then: str = "close") -> Script:
    """Read (never answering) until ``go`` is set, then hang up (FIN) or reset (RST)."""

    def script(conn: FakeConnection) -> None:
        while not go.is_set() and not conn.stopped():
            conn.read_line(timeout=0.02)
        if then == "reset":
            conn.reset()

    return script


@pytest.mark.parametrize("then", ["close", "reset"])
def test_hang_up_fails_batches_and_single_commands_alike(then: str) -> None:
    go = threading.Event()

    async def main() -> None:
        with FakeServer(read_until(go, then)) as fake:
            client = await jackd.aio.connect(fake.address)
            tasks: list[asyncio.Task[Any]] = [
                spawn(client.peek(1)),
                spawn(client.pipeline().peek(1).stats().execute()),
                spawn(client.put_many([b"a", b"b", b"c"])),
                spawn(client.list_tube_used()),
                spawn(client.reserve_many(3, timeout=0)),
                spawn(client.delete_many([1, 2])),
                spawn(client.reserve()),
            ]
            # 1 + 2 + 3 puts of 2 lines each + 1 + 3 + 2 + 1 lines
            conn = fake.connection()
            await until(lambda: len(conn.received) == 16, what="every command to arrive")
            go.set()
            outcomes = await settle(tasks)
            assert all(isinstance(o, jackd.ConnectionLostError) for o in outcomes), outcomes
            assert client.closed
            with pytest.raises(jackd.ConnectionLostError):
                await client.put_many([b"x"])

    run(main)


def test_hang_up_fails_commands_held_behind_a_cancelled_reserve() -> None:
    # A cancelled blocking reserve may still be answered with a job, so the client holds the
    # commands issued after it until it is; the hang-up must fail those too.
    go = threading.Event()

    async def main() -> None:
        with FakeServer(read_until(go)) as fake:
            client = await jackd.aio.connect(fake.address)
            reserving = spawn(client.reserve())
            conn = fake.connection()
            await until(lambda: conn.received == [b"reserve"], what="the reserve")
            reserving.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reserving
            tasks: list[asyncio.Task[Any]] = [
                spawn(client.list_tube_used()),
                spawn(client.use("elsewhere")),
                spawn(client.reserve(timeout=1)),
                spawn(client.put_many([b"a", b"b"])),
            ]
            await asyncio.sleep(0)  # let each task issue its command
            assert not any(t.done() for t in tasks)
            go.set()
            outcomes = await settle(tasks)
            assert all(isinstance(o, jackd.ConnectionLostError) for o in outcomes), outcomes
            assert client.closed

    run(main)


# -- writes that stall -------------------------------------------------------------------------

BODY = b"w" * 60_000  # under the default max-job-size: no stats needed first
PUTS = 200  # 12 MB in all, more than the socket buffers take


def test_stalled_writes_time_out_every_task() -> None:
    hang_up = threading.Event()

    async def main() -> None:
        with FakeServer(never_reading(hang_up)) as fake:
            client = await jackd.aio.connect(fake.address, timeout=0.3)
            started = time.monotonic()
            tasks = [spawn(client.put(BODY)) for _ in range(PUTS)]
            outcomes = await settle(tasks)
            assert time.monotonic() - started < 2.0
            assert type(outcomes[0]) is TimeoutError, outcomes[0]
            rest = outcomes[1:]
            assert all(isinstance(o, jackd.ConnectionLostError) for o in rest), rest
            assert client.closed
            with pytest.raises(jackd.ConnectionLostError):
                await client.put(b"small")
            assert fake.connection().received == []
            hang_up.set()  # only now can the transport, with its unsent data, go away
            await asyncio.wait_for(client.close(), 5)

    run(main)


def test_close_while_writes_stall_fails_every_task_at_once() -> None:
    hang_up = threading.Event()

    async def main() -> None:
        with FakeServer(never_reading(hang_up)) as fake:
            client = await jackd.aio.connect(fake.address)  # no timeout: only close ends it
            tasks = [spawn(client.put(BODY)) for _ in range(PUTS)]
            await until(lambda: unread_bytes(fake.port) > 0, what="the puts to start")
            closing = spawn(client.close())
            outcomes = await settle(tasks, timeout=1.0)
            assert all(isinstance(o, jackd.ConnectionLostError) for o in outcomes), outcomes
            assert client.closed
            hang_up.set()
            await asyncio.wait_for(closing, 5)

    run(main)


@pytest.mark.parametrize("timeout", [None, 0.3], ids=["closed-while-stalled", "after-timeout"])
def test_close_returns_at_once_with_unsent_data_queued(timeout: float | None) -> None:
    hang_up = threading.Event()

    async def main() -> None:
        with FakeServer(never_reading(hang_up)) as fake:
            client = await jackd.aio.connect(fake.address, timeout=timeout)
            tasks = [spawn(client.put(BODY)) for _ in range(PUTS)]
            await until(lambda: unread_bytes(fake.port) > 0, what="the puts to start")
            if timeout is not None:
                await settle(tasks)
                assert client.closed
            try:
                await asyncio.wait_for(client.close(), 1.0)
            except asyncio.TimeoutError:
                pytest.fail("close() was still waiting for the stalled server after 1 s")
            finally:
                hang_up.set()  # lets a close that waits for the server end, pass or fail
            await settle(tasks, timeout=1.0)

    run(main)


# -- a fault while connecting ------------------------------------------------------------------

#: What the fake does as soon as it accepts: what it sends, then "close", "reset" or "stall".
EARLY_FAULTS = {
    "garbage": (b"HELLO\r\n", "stall"),
    "hang-up": (b"", "close"),
    "reset": (b"", "reset"),
}


def send_then(data: bytes, then: str) -> Script:
    def script(conn: FakeConnection) -> None:
        conn.send(data)
        if then == "reset":
            conn.reset()
        elif then == "stall":
            conn.wait_eof(timeout=10)

    return script


@pytest.mark.parametrize(
    "fault",
    [
        "garbage",
        "hang-up",
        # A reset this early fails the connect call itself (so connect raises).
        "reset",
    ],
)
def test_fault_while_connecting_is_not_missed(fault: str) -> None:
    data, then = EARLY_FAULTS[fault]

    def acted(fake: FakeServer) -> bool:
        if not fake.connections:
            return False
        conn = fake.connections[0]
        return conn.has_sent(data) if then == "stall" else conn.finished.is_set()

    async def main() -> None:
        accept = threading.Event()
        with FakeServer(send_then(data, then), hold_accept=accept) as fake:
            client = jackd.aio.AsyncClient(fake.address)
            connecting = spawn(client.connect())
            # One loop iteration at a time until the kernel has the connection, then hold the
            # loop, on purpose, in a blocking wait while the fake accepts and acts: so its
            # bytes or its FIN are there before the loop first looks at the new connection,
            # as a fast server's can be.
            while not connected_to(fake.port):
                await asyncio.sleep(0)
            accept.set()
            wait_until(lambda: acted(fake), what="the fake to act")
            with contextlib.suppress(jackd.ConnectionLostError):
                await connecting  # refusing to connect would be a fine answer too
            await until(lambda: client.closed, timeout=2, what="the client to notice")
            with pytest.raises(jackd.ConnectionLostError):
                await asyncio.wait_for(client.list_tube_used(), 2)

    run(main)


# -- connecting again --------------------------------------------------------------------------


def answer_list_tube_used(conn: FakeConnection) -> None:
    while (line := conn.read_line(timeout=10)) is not None:
        if line == b"list-tube-used":
            conn.send(b"USING default\r\n")


@pytest.mark.parametrize("close_first", [False, True], ids=["connect", "close-then-connect"])
def test_connect_after_a_timed_out_write_survives_the_old_transport(close_first: bool) -> None:
    hang_up = threading.Event()

    async def main() -> None:
        script = in_turn(stats_then_stop_reading(30_000_000, hang_up), answer_list_tube_used)
        with FakeServer(script) as fake:
            client = await jackd.aio.connect(fake.address, timeout=0.3)
            with pytest.raises(TimeoutError):
                await client.put(b"W" * 20_000_000)  # leaves most of it unsent
            assert client.closed
            if close_first:
                # Whether close waits for the old transport is another test's business.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(client.close(), 0.5)
            assert await client.connect() is client
            # The old connection ends only now, after the new one is open.
            hang_up.set()
            await until(fake.connections[0].finished.is_set, what="the old connection's reset")
            await until(lambda: len(fake.connections) == 2, what="the new connection")
            assert await client.list_tube_used() == "default"
            assert not client.closed
            await asyncio.wait_for(client.close(), 1.0)

    run(main)


# -- timeouts of queued commands ---------------------------------------------------------------


def test_commands_queued_behind_a_blocking_reserve_outlast_the_socket_timeout(
    server: BeanstalkdServer,
) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address, timeout=0.2) as client,
            jackd.aio.connect(server.address) as producer,
        ):
            reserving = spawn(client.reserve())

            async def waiting() -> bool:
                return (await producer.stats()).current_waiting == 1

            deadline = time.monotonic() + 5
            while not await waiting():
                assert time.monotonic() < deadline, "the reserve did not block"
                await asyncio.sleep(0.01)
            behind = [spawn(client.stats_tube("default")) for _ in range(20)]
            await asyncio.sleep(1.0)  # five socket timeouts, which they must outlast
            assert not reserving.done()
            jid = await producer.put(b"at last")
            assert await reserving == jackd.Job(jid, b"at last")
            outcomes = await settle(behind)
            assert all(isinstance(o, jackd.TubeStats) for o in outcomes), outcomes
            assert not client.closed

    run(main)
