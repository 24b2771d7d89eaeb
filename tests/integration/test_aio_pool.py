"""jackd.aio.Pool's failover, against three real servers: the twin of test_pool's sync tests.

test_pool.test_aio_pool covers the happy path; these cover what the pool does when servers
drain, die, stall with a put in flight, or have no such tube, so that the asyncio pool is held
to the same promises as jackd.Pool.
"""

from __future__ import annotations

import asyncio
import collections
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

import jackd
import jackd.aio
from jackd.testing import BeanstalkdServer

from ._support import bytes_queued_at

pytestmark = pytest.mark.timeout(90)

T = TypeVar("T")


@pytest.fixture
def three(start_server: Callable[..., BeanstalkdServer]) -> list[BeanstalkdServer]:
    return [start_server(binlog=True) for _ in range(3)]


def run(
    three: list[BeanstalkdServer],
    test: Callable[[jackd.aio.Pool], Coroutine[Any, Any, None]],
    **options: Any,
) -> None:
    async def main() -> None:
        async with jackd.aio.Pool([s.address for s in three], **options) as pool:
            await test(pool)

    asyncio.run(asyncio.wait_for(main(), 60))


async def eventually(probe: Callable[[], T], what: str, timeout: float = 5.0) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := probe()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
    return value


def test_a_draining_server_gets_no_more_puts(three: list[BeanstalkdServer]) -> None:
    async def test(pool: jackd.aio.Pool) -> None:
        three[0].drain()
        refs = [await pool.put(b"x") for _ in range(30)]
        refs += await pool.put_many([b"y"] * 30)
        counts = collections.Counter(r.server for r in refs)
        assert three[0].address not in counts
        assert sum(counts.values()) == 60
        state = {s.address: s for s in pool.servers}[three[0].address]
        assert not state.up
        assert state.reason == "draining"

    run(three, test)


def test_a_server_that_drains_after_connecting_gets_its_share_moved(
    three: list[BeanstalkdServer],
) -> None:
    async def test(pool: jackd.aio.Pool) -> None:
        await pool.put_many([b"x"] * 3)  # every server connected
        three[0].drain()
        refs = await pool.put_many([b"y"] * 300)
        counts = collections.Counter(r.server for r in refs)
        assert three[0].address not in counts
        assert sum(counts.values()) == 300
        assert {s.address: s for s in pool.servers}[three[0].address].reason == "draining"

    run(three, test)


def test_a_server_dead_from_the_start_is_left_out(three: list[BeanstalkdServer]) -> None:
    async def test(pool: jackd.aio.Pool) -> None:
        three[0].kill()
        refs = await pool.put_many([b"x"] * 60)
        assert three[0].address not in {r.server for r in refs}
        assert len(refs) == 60

    async def stats(pool: jackd.aio.Pool) -> None:
        three[1].kill()
        assert set(await pool.stats()) == {three[2].address}
        assert (await pool.stats_tube("default")).current_jobs_ready == 60 // 2

    run(three, test)
    run(three[1:], stats)  # a fresh pool, one of whose servers is dead before it connects


def test_a_server_that_dies_between_calls_drops_out_of_stats(
    three: list[BeanstalkdServer],
) -> None:
    async def test(pool: jackd.aio.Pool) -> None:
        await pool.put_many([b"x"] * 3)  # every server connected
        three[0].kill()
        assert three[0].address not in await pool.stats()
        three[1].kill()
        assert (await pool.stats_tube("default")).current_jobs_ready == 1

    run(three, test)


def test_put_many_skips_a_dead_server_and_reports_when_none_is_left(
    three: list[BeanstalkdServer],
) -> None:
    async def test(pool: jackd.aio.Pool) -> None:
        bodies = [b"body %d" % i for i in range(600)]
        assert len(await pool.put_many(bodies)) == 600  # connects every server
        three[0].kill()
        refs = await pool.put_many(bodies)
        assert three[0].address not in {r.server for r in refs}
        assert len(refs) == 600
        for server in three[1:]:
            server.kill()
        outcomes = await pool.put_many(bodies[:10], raise_on_error=False)
        assert all(isinstance(o, jackd.ConnectionLostError) for o in outcomes)
        with pytest.raises(jackd.ConnectionLostError, match="no beanstalkd server") as info:
            await pool.put_many(bodies[:10])
        for server in three:
            assert server.address in str(info.value)

    run(three, test)


@pytest.mark.parametrize(
    "at_least_once",
    [
        False,
        True,
    ],
)
def test_a_put_of_unknown_fate(three: list[BeanstalkdServer], at_least_once: bool) -> None:
    async def test(pool: jackd.aio.Pool) -> None:
        # One put on each server connects them all; round-robin then starts over.
        first, *_ = [await pool.put(b"warm") for _ in three]
        stalled = {s.address: s for s in three}[first.server]
        stalled.signal(signal.SIGSTOP)
        putting = asyncio.ensure_future(pool.put(b"fate unknown"))
        await eventually(lambda: bytes_queued_at(stalled.port), "the put to be sent")
        stalled.kill()
        outcome: Any
        try:
            outcome = await asyncio.wait_for(putting, 10)
        except jackd.ConnectionLostError as exc:
            outcome = exc
        if at_least_once:
            assert isinstance(outcome, jackd.JobRef)
            assert outcome.server != stalled.address
        else:
            assert isinstance(outcome, jackd.ConnectionLostError)
            assert outcome.maybe_applied
            assert "may or may not" in str(outcome)

    run(three, test, at_least_once=at_least_once)


def test_use_stats_and_clients(three: list[BeanstalkdServer]) -> None:
    async def test(pool: jackd.aio.Pool) -> None:
        assert "jackd.aio.Pool" in repr(pool)
        await pool.put(b"connects the first server")
        await pool.use("emails")
        refs = [await pool.put(b"x") for _ in range(9)]
        tube = await pool.stats_tube("emails")
        assert (tube.name, tube.current_jobs_ready) == ("emails", 9)
        assert set(await pool.stats()) == {s.address for s in three}
        client = await pool.client(refs[0].server)
        assert (await client.stats_job(refs[0].id)).tube == "emails"
        with pytest.raises(jackd.NotFoundError):
            await pool.stats_tube("nosuch")
        with pytest.raises(KeyError):
            await pool.client("elsewhere:1")

        # A dead server drops out of use, stats and stats_tube instead of failing them.
        three[0].kill()
        await pool.use("sms")
        await pool.put(b"y")
        assert three[0].address not in await pool.stats()
        assert (await pool.stats_tube("sms")).current_jobs_ready == 1
        assert not {s.address: s for s in pool.servers}[three[0].address].up

    run(three, test)
