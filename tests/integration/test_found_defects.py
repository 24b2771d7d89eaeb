"""Defects found while building the jackd command and its chaos test, each pinned by a
deterministic reproducer.

Those still open are marked as expected failures (strict); a fix makes them pass, and then
the mark goes and the test stays, as for Worker.address (fixed: now a property).
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

import jackd
import jackd._aio_worker
import jackd.aio
import jackd.worker
from jackd.testing import BeanstalkdServer

from .fakeserver import FakeConnection, FakeServer, in_turn

pytestmark = pytest.mark.timeout(30)


def answer_restore(conn: FakeConnection, count: int) -> None:
    """Answer ``count`` watch/ignore lines as beanstalkd would for one watched tube."""
    for _ in range(count):
        line = conn.read_line()
        if line is None:
            return
        conn.send(b"WATCHING 2\r\n" if line.startswith(b"watch ") else b"WATCHING 1\r\n")


def test_a_loss_while_restoring_the_tubes_does_not_hold_later_commands() -> None:
    hang_up = threading.Event()
    restored = threading.Event()

    def first(conn: FakeConnection) -> None:
        answer_restore(conn, 2)  # the caller's own watch and ignore
        hang_up.wait(5)
        conn.reset()

    def second(conn: FakeConnection) -> None:
        # The restore goes out at once on the new connection; it is lost before any reply.
        conn.read_line()
        conn.read_line()
        conn.reset()

    def third(conn: FakeConnection) -> None:
        # The restore, then the lost connection's restore replayed: four replies.
        answer_restore(conn, 4)
        restored.set()
        while conn.read_line(timeout=10) == b"peek 5":
            conn.send(b"NOT_FOUND\r\n")

    async def main(address: str) -> None:
        policy = jackd.Reconnect(attempts=5, first_delay=0.01, max_delay=0.01)
        async with jackd.aio.connect(address, reconnect=policy) as client:
            await client.watch("jobs")
            await client.ignore("default")
            hang_up.set()
            while not restored.is_set():
                await asyncio.sleep(0.01)
            # Lost twice, then connected for good: commands must be answered. The first
            # may go out before the replayed restore is answered; the second comes after.
            for _ in range(2):
                with pytest.raises(jackd.NotFoundError):
                    await asyncio.wait_for(client.peek(5), 5)

    with FakeServer(in_turn(first, second, third)) as fake:
        asyncio.run(main(fake.address))
        assert len(fake.connections) >= 3


def dead_address() -> str:
    """A loopback address nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


@pytest.mark.parametrize("kind", ["thread", "asyncio"])
def test_setting_a_worker_s_address_moves_it(
    beanstalkd: BeanstalkdServer, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    fast = jackd.Reconnect(attempts=1)
    monkeypatch.setattr(jackd.worker, "STARTING_RECONNECT", fast)
    monkeypatch.setattr(jackd._aio_worker, "STARTING_RECONNECT", fast)
    with jackd.connect(beanstalkd.address) as client:
        client.use("moved")
        client.put(b"found")
    seen: list[bytes] = []
    if kind == "thread":
        worker = jackd.Worker(dead_address())
        worker.handler("moved")(lambda job: seen.append(job.body))
        worker.address = beanstalkd.address
        worker.run(burst=True)
    else:
        aworker = jackd.aio.Worker(dead_address())

        @aworker.handler("moved")
        async def handle(job: jackd.Job) -> None:
            seen.append(job.body)

        aworker.address = beanstalkd.address
        asyncio.run(aworker.run(burst=True))
    assert seen == [b"found"]
