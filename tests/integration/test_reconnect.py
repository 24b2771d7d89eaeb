"""Reconnect: a real beanstalkd killed with SIGKILL and restarted on the same port and binlog.

What must hold, for both clients: the session comes back before anything else is sent (a
reserve gets a job from the watched tube, not ``default``); commands that cannot change the
server twice are sent again; the others raise ConnectionLostError saying they may or may not
have taken effect; no acknowledged put is lost; jobs reserved before the loss are lost
reservations.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

import jackd
import jackd.aio
from jackd.testing import BeanstalkdServer

from ._support import bytes_queued_at, wait_until

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")

FAST = jackd.Reconnect(attempts=200, first_delay=0.01, max_delay=0.1)


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(main(), 45)

    return asyncio.run(bounded())


def restart(server: BeanstalkdServer) -> None:
    server.kill()
    server.restart()


@pytest.fixture
def durable(start_server: Callable[..., BeanstalkdServer]) -> BeanstalkdServer:
    """A beanstalkd with a binlog, so jobs survive SIGKILL and a restart."""
    return start_server("-z", "2000000", binlog=True)


# -- sync ------------------------------------------------------------------------------------


def test_blocking_reserve_survives_a_restart_and_keeps_the_watch_list(
    durable: BeanstalkdServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jackd")
    client = jackd.connect(durable.address, reconnect=FAST)
    client.watch("work")
    client.ignore("default")
    client.use("work")
    outcome: list[Any] = []
    reserver = threading.Thread(target=lambda: outcome.append(client.reserve()))
    with jackd.connect(durable.address) as observer:
        reserver.start()
        wait_until(lambda: observer.stats().current_waiting, lambda n: n == 1, what="reserve")
    restart(durable)
    with jackd.connect(durable.address) as producer:
        producer.put(b"in default")  # must not reach the reserve: default is not watched
        producer.use("work")
        jid = producer.put(b"in work")
        reserver.join(10)
    assert outcome == [jackd.Job(jid, b"in work")]
    assert client.reconnects == 1
    assert client.list_tube_used() == "work"
    assert client.list_tubes_watched() == ["work"]
    client.delete(jid)
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "jackd"]
    assert any(level == logging.WARNING and "lost" in m for level, m in messages)
    assert any(level == logging.INFO and "reconnected" in m for level, m in messages)
    client.close()


def test_replayable_command_in_flight_is_sent_again(durable: BeanstalkdServer) -> None:
    client = jackd.connect(durable.address, reconnect=FAST)
    client.use("kept")
    jid = client.put(b"survives")
    durable.signal(signal.SIGSTOP)
    outcome: list[Any] = []
    asker = threading.Thread(target=lambda: outcome.append(client.peek(jid)))
    asker.start()
    wait_until(lambda: bytes_queued_at(durable.port), bool, what="the peek to be sent")
    restart(durable)
    asker.join(10)
    assert outcome == [jackd.Job(jid, b"survives")]
    assert client.list_tube_used() == "kept"
    client.close()


def test_put_in_flight_raises_and_the_client_is_connected_for_the_next_call(
    durable: BeanstalkdServer,
) -> None:
    client = jackd.connect(durable.address, reconnect=FAST)
    durable.signal(signal.SIGSTOP)
    outcome: list[BaseException] = []

    def put() -> None:
        try:
            client.put(b"fate unknown")
        except BaseException as exc:
            outcome.append(exc)

    putter = threading.Thread(target=put)
    putter.start()
    wait_until(lambda: bytes_queued_at(durable.port), bool, what="the put to be sent")
    restart(durable)
    putter.join(10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], jackd.ConnectionLostError)
    assert "may or may not have taken effect" in str(outcome[0])
    assert not client.closed
    assert client.put(b"next") > 0
    client.close()


def test_put_many_in_flight_loses_no_acknowledged_put(durable: BeanstalkdServer) -> None:
    client = jackd.connect(durable.address, reconnect=FAST)
    body = b"x" * 2000
    results: list[Any] = []
    pipe = client.pipeline()
    for _ in range(10_000):
        pipe.put(body)
    putter = threading.Thread(target=lambda: results.extend(pipe.execute(raise_on_error=False)))
    with jackd.connect(durable.address) as observer:
        putter.start()
        wait_until(lambda: observer.stats().total_jobs, lambda n: n >= 500, what="some puts")
    restart(durable)
    putter.join(30)
    assert len(results) == 10_000
    acknowledged = [r for r in results if isinstance(r, int)]
    unknown = [r for r in results if isinstance(r, jackd.ConnectionLostError)]
    assert len(acknowledged) + len(unknown) == 10_000
    assert acknowledged
    assert unknown
    with jackd.connect(durable.address) as checker:
        # Every acknowledged put is on the server; nothing else claims to be.
        assert checker.stats().current_jobs_ready >= len(acknowledged)
        for jid in acknowledged[:: max(1, len(acknowledged) // 200)] + acknowledged[-1:]:
            assert checker.peek(jid).body == body
    client.close()


def test_attempts_running_out_raise_with_how_many(durable: BeanstalkdServer) -> None:
    client = jackd.connect(
        durable.address, reconnect=jackd.Reconnect(attempts=3, first_delay=0.01, max_delay=0.02)
    )
    durable.kill()
    with pytest.raises(jackd.ConnectionLostError, match=r"gave up after 3 attempts; last error"):
        client.stats()
    assert client.closed
    durable.restart()
    # The next call tries again.
    assert client.stats().pid == durable.pid
    client.close()


def test_jobs_reserved_before_the_loss_are_lost_reservations(durable: BeanstalkdServer) -> None:
    client = jackd.connect(durable.address, reconnect=FAST)
    first = client.put(b"first")
    second = client.put(b"second")
    third = client.put(b"third")
    held = [client.reserve(timeout=0) for _ in range(3)]
    assert [job.id for job in held] == [first, second, third]
    restart(durable)
    with jackd.connect(durable.address) as other:
        before = other.stats()
        with pytest.raises(jackd.ReservationLostError):
            client.touch(first)  # reconnects, then refuses without sending
        with pytest.raises(jackd.ReservationLostError):
            client.release(first)
        with pytest.raises(jackd.ReservationLostError):
            client.bury(second, 5)
        after = other.stats()
        assert (after.cmd_touch, after.cmd_release, after.cmd_bury) == (
            before.cmd_touch,
            before.cmd_release,
            before.cmd_bury,
        )
        # delete is sent: it works when nobody took the job (the restart made it ready), and
        # is a lost reservation when another connection holds the job now.
        client.delete(second)
        assert other.reserve_job(third).id == third
        with pytest.raises(jackd.ReservationLostError) as info:
            client.delete(third)
        assert isinstance(info.value, jackd.NotFoundError)
        assert other.stats().cmd_delete == before.cmd_delete + 2
    client.close()


def test_connect_reopens_after_close_with_the_session(server: BeanstalkdServer) -> None:
    client = jackd.connect(server.address)
    client.use("back")
    client.watch("also")
    client.close()
    with pytest.raises(jackd.ConnectionLostError, match="closed"):
        client.stats()
    assert client.connect() is client
    assert client.list_tube_used() == "back"
    assert sorted(client.list_tubes_watched()) == ["also", "default"]
    client.close()


def test_close_stops_a_reconnect_under_way(durable: BeanstalkdServer) -> None:
    client = jackd.connect(durable.address, reconnect=jackd.Reconnect(attempts=None))
    durable.kill()
    failure: list[BaseException] = []

    def call() -> None:
        try:
            client.stats()
        except BaseException as exc:
            failure.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: client.closed, bool, what="the loss")
    client.close()
    caller.join(5)
    assert not caller.is_alive()
    assert isinstance(failure[0], jackd.ConnectionLostError)
    assert "closed" in str(failure[0])


# -- asyncio ---------------------------------------------------------------------------------


def test_aio_200_tasks_mid_command_across_a_restart(durable: BeanstalkdServer) -> None:
    async def main() -> None:
        client = await jackd.aio.connect(durable.address, reconnect=FAST)
        await client.use("work")
        await client.watch("work")
        await client.ignore("default")
        known = await client.put(b"known")
        durable.signal(signal.SIGSTOP)
        tasks: list[asyncio.Task[Any]] = []
        for i in range(200):
            if i % 4 == 0:
                tasks.append(asyncio.create_task(client.put(b"task %d" % i)))
            elif i % 4 == 1:
                tasks.append(asyncio.create_task(client.peek(known)))
            elif i % 4 == 2:
                tasks.append(asyncio.create_task(client.list_tube_used()))
            else:
                tasks.append(asyncio.create_task(client.stats_tube("work")))
        while not bytes_queued_at(durable.port):
            await asyncio.sleep(0.005)
        restart(durable)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for i, outcome in enumerate(outcomes):
            if i % 4 == 0:
                # Sent before the loss: it may or may not have taken effect.
                assert isinstance(outcome, jackd.ConnectionLostError), outcome
                assert "may or may not" in str(outcome)
            elif i % 4 == 1:
                assert outcome == jackd.Job(known, b"known")
            elif i % 4 == 2:
                assert outcome == "work"
            else:
                assert isinstance(outcome, jackd.TubeStats)
        assert client.reconnects == 1
        async with jackd.aio.connect(durable.address) as producer:
            await producer.put(b"in default")
            await producer.use("work")
            jid = await producer.put(b"in work")
        # The watch list came back: the job from "work" first, then "known" (also in work).
        got = {(await client.reserve(timeout=1)).id, (await client.reserve(timeout=1)).id}
        assert got == {known, jid}
        with pytest.raises(jackd.TimedOutError):
            await client.reserve(timeout=0)  # "in default" is not watched
        await client.close()

    run(main)


def test_aio_blocking_reserve_survives_a_restart(durable: BeanstalkdServer) -> None:
    async def main() -> None:
        client = await jackd.aio.connect(durable.address, reconnect=FAST)
        await client.watch("work")
        await client.ignore("default")
        reserving = asyncio.create_task(client.reserve())
        async with jackd.aio.connect(durable.address) as observer:
            while (await observer.stats()).current_waiting != 1:
                await asyncio.sleep(0.005)
        restart(durable)
        async with jackd.aio.connect(durable.address) as producer:
            await producer.put(b"default job")
            await producer.use("work")
            jid = await producer.put(b"work job")
            job = await asyncio.wait_for(reserving, 10)
        assert job == jackd.Job(jid, b"work job")
        await client.close()

    run(main)


def test_aio_put_many_in_flight_loses_no_acknowledged_put(durable: BeanstalkdServer) -> None:
    async def main() -> None:
        client = await jackd.aio.connect(durable.address, reconnect=FAST)
        body = b"y" * 2000
        pipe = client.pipeline()
        for _ in range(10_000):
            pipe.put(body)
        putting = asyncio.create_task(pipe.execute(raise_on_error=False))
        async with jackd.aio.connect(durable.address) as observer:
            while (await observer.stats()).total_jobs < 500:
                await asyncio.sleep(0)
        restart(durable)
        results = await putting
        acknowledged = [r for r in results if isinstance(r, int)]
        unknown = [r for r in results if isinstance(r, jackd.ConnectionLostError)]
        assert len(acknowledged) + len(unknown) == 10_000
        assert acknowledged
        assert unknown
        async with jackd.aio.connect(durable.address) as checker:
            for jid in acknowledged[:: max(1, len(acknowledged) // 200)] + acknowledged[-1:]:
                assert (await checker.peek(jid)).body == body
        await client.close()

    run(main)


def test_aio_attempts_running_out_fail_every_task(durable: BeanstalkdServer) -> None:
    async def main() -> None:
        policy = jackd.Reconnect(attempts=3, first_delay=0.01, max_delay=0.02)
        client = await jackd.aio.connect(durable.address, reconnect=policy)
        durable.signal(signal.SIGSTOP)
        tasks = [asyncio.create_task(client.stats()) for _ in range(20)]
        while not bytes_queued_at(durable.port):
            await asyncio.sleep(0.005)
        durable.kill()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            assert isinstance(outcome, jackd.ConnectionLostError)
            assert "gave up after 3 attempts" in str(outcome)
        await client.close()

    run(main)


def test_aio_lost_reservation(durable: BeanstalkdServer) -> None:
    async def main() -> None:
        client = await jackd.aio.connect(durable.address, reconnect=FAST)
        jid = await client.put(b"held")
        job = await client.reserve(timeout=0)
        restart(durable)
        # The loop sees the server hang up and reconnects on its own, with nothing pending.
        while client.reconnects == 0:
            await asyncio.sleep(0.005)
        with pytest.raises(jackd.ReservationLostError):
            await client.touch(job)
        async with jackd.aio.connect(durable.address) as other:
            assert (await other.reserve(timeout=1)).id == jid
            with pytest.raises(jackd.ReservationLostError):
                await client.delete(job)
        await client.close()

    run(main)
