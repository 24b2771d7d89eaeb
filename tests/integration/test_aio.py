"""What only the asyncio client has to get right: tasks sharing it, cancellation, its openers.

The rest of its behaviour is covered by the whole integration suite, which runs against
AsyncClient too (see tests/async_adapter.py and the ``client`` fixture).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

import jackd
import jackd.aio
from jackd.testing import BeanstalkdServer

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(main(), 30)

    return asyncio.run(bounded())


async def until(predicate: Callable[[], Awaitable[bool]], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_connect_is_awaitable_and_a_context_manager(server: BeanstalkdServer) -> None:
    async def main() -> None:
        client = await jackd.aio.connect(server.address)
        assert not client.closed
        assert await client.put(b"Hello!") == 1
        await client.close()
        assert client.closed
        with pytest.raises(jackd.ConnectionLostError):
            await client.put(b"after close")

        async with jackd.aio.connect(server.address) as ctx:
            job = await ctx.reserve(timeout=0)
            assert job == jackd.Job(1, b"Hello!")
            await ctx.delete(job)
        assert ctx.closed

        async with jackd.aio.AsyncClient(server.address) as direct:
            assert await direct.list_tube_used() == "default"

    run(main)


def test_unconnected_client_says_so(server: BeanstalkdServer) -> None:
    async def main() -> None:
        client = jackd.aio.AsyncClient(server.address)
        with pytest.raises(jackd.ConnectionLostError, match="connect"):
            await client.stats()

    run(main)


def test_connection_refused_is_a_connection_error() -> None:
    async def main() -> None:
        with BeanstalkdServer() as gone:
            address = gone.address
        with pytest.raises(ConnectionError):
            await jackd.aio.connect(address)

    run(main)


def test_500_tasks_share_one_client(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with jackd.aio.connect(server.address) as client:

            async def producer(n: int) -> tuple[int, int]:
                body = f"task-{n}".encode()
                jid = await client.put(body, priority=n % 7)
                peeked = await client.peek(jid)
                assert peeked.body == body
                stats = await client.stats_job(jid)
                assert stats.pri == n % 7
                return n, jid

            results = await asyncio.gather(*(producer(n) for n in range(500)))
            ids = [jid for _, jid in results]
            assert sorted(ids) == list(range(1, 501))

            async def consumer() -> bytes:
                job = await client.reserve(timeout=0)
                await client.delete(job)
                return job.body

            bodies = await asyncio.gather(*(consumer() for _ in range(500)))
            assert sorted(bodies) == sorted(f"task-{n}".encode() for n in range(500))
            assert (await client.stats()).current_jobs_ready == 0

    run(main)


def test_replies_reach_their_own_tasks_when_mixed(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with jackd.aio.connect(server.address) as client:
            jid = await client.put(b"x")
            outcomes = await asyncio.gather(
                client.stats_tube("default"),
                client.peek(999),
                client.list_tube_used(),
                client.peek(jid),
                client.watch("other"),
                return_exceptions=True,
            )
            assert isinstance(outcomes[0], jackd.TubeStats)
            assert isinstance(outcomes[1], jackd.NotFoundError)
            assert outcomes[2] == "default"
            assert outcomes[3] == jackd.Job(jid, b"x")
            assert outcomes[4] == 2

    run(main)


def test_cancelled_reserve_does_not_strand_the_job(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address) as waiting,
            jackd.aio.connect(server.address) as producer,
            jackd.aio.connect(server.address) as other,
        ):
            task = asyncio.create_task(waiting.reserve())
            await until(lambda: _waiting_count(producer, 1))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

            jid = await producer.put(b"late job", priority=42)
            started = time.monotonic()
            job = await other.reserve(timeout=1)
            assert job == jackd.Job(jid, b"late job")
            assert time.monotonic() - started < 1.0
            stats = await other.stats_job(job)
            assert stats.pri == 42
            assert stats.state == "reserved"

            # The cancelled client still works, and did not keep a reservation.
            assert await waiting.list_tube_used() == "default"
            with pytest.raises(jackd.NotFoundError):
                await waiting.delete(job)

    run(main)


def test_wait_for_on_reserve(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address) as client,
            jackd.aio.connect(server.address) as producer,
        ):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.reserve(timeout=1), 0.1)
            # The server-side wait ends after its 1 s; a job put now is not lost on the way.
            jid = await producer.put(b"after wait_for")
            job = await client.reserve(timeout=5)
            assert job.id == jid
            await client.delete(job)

            with pytest.raises(jackd.TimedOutError):
                await asyncio.wait_for(client.reserve(timeout=0), 5)

    run(main)


def test_cancelled_reserve_with_timeout_releases_a_job_handed_out_later(
    server: BeanstalkdServer,
) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address) as client,
            jackd.aio.connect(server.address) as producer,
        ):
            reserving = asyncio.create_task(client.reserve(timeout=10))
            await until(lambda: _waiting_count(producer, 1))
            reserving.cancel()
            jid = await producer.put(b"handed to a cancelled reserve")

            async def back_in_ready() -> bool:
                stats = await producer.stats_job(jid)
                return stats.state == "ready" and stats.reserves == 1

            await until(back_in_ready, limit=1.0)
            # Commands issued after the cancellation were answered in order meanwhile.
            assert await client.list_tube_used() == "default"

    run(main)


def test_cancelled_use_and_watch_leave_the_tubes_as_they_were(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address) as client,
            jackd.aio.connect(server.address) as producer,
        ):
            # Hold the connection with a blocking reserve so the next commands queue behind it.
            blocker = asyncio.create_task(client.reserve())
            await until(lambda: _waiting_count(producer, 1))
            using = asyncio.create_task(client.use("elsewhere"))
            watching = asyncio.create_task(client.watch("extra"))
            ignoring = asyncio.create_task(client.ignore("default"))
            # All three sent, behind the reserve, before they are cancelled.
            await until(lambda: _pending(client, 4))
            for task in (using, watching, ignoring):
                task.cancel()
            jid = await producer.put(b"unblock")
            job = await blocker
            assert job.id == jid
            await client.delete(job)
            assert await client.list_tube_used() == "default"
            assert await client.list_tubes_watched() == ["default"]

    run(main)


def test_server_killed_while_tasks_wait(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with jackd.aio.connect(server.address) as client:
            await client.put(b"one")
            waiters = [asyncio.create_task(client.reserve()) for _ in range(5)]
            done, _ = await asyncio.wait(waiters, timeout=0.5)
            assert len(done) == 1  # one job, four reserves still blocked on the server
            started = time.monotonic()
            server.kill()
            outcomes = await asyncio.gather(*waiters, return_exceptions=True)
            assert time.monotonic() - started < 1.0
            lost = [o for o in outcomes if isinstance(o, jackd.ConnectionLostError)]
            assert len(lost) == 4
            with pytest.raises(jackd.ConnectionLostError):
                await client.stats()

    run(main)


def test_socket_timeout_closes_and_fails_later_calls(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address, timeout=0.2) as client,
            jackd.aio.connect(server.address) as producer,
        ):
            # reserve(timeout=T) may wait T plus the socket timeout, so it times out cleanly.
            with pytest.raises(jackd.TimedOutError):
                await client.reserve(timeout=1)
            # A blocking reserve ignores the socket timeout.
            later = asyncio.get_running_loop().call_later(
                0.5, lambda: asyncio.ensure_future(producer.put(b"late"))
            )
            job = await client.reserve()
            later.cancel()
            assert job.body == b"late"
            await client.delete(job)

    run(main)


async def _pending(client: jackd.aio.AsyncClient, n: int) -> bool:
    """Whether ``n`` commands are sent and unanswered (private state: nothing public says)."""
    return len(client._core.pending) == n


async def _waiting_count(client: jackd.aio.AsyncClient, n: int) -> bool:
    return (await client.stats()).current_waiting >= n


def test_connect_again_after_close(server: BeanstalkdServer) -> None:
    async def main() -> None:
        client = await jackd.aio.connect(server.address)
        await client.use("elsewhere")
        await client.close()
        with pytest.raises(jackd.ConnectionLostError, match="closed"):
            await client.list_tube_used()
        assert await client.connect() is client
        # The session comes back with the new connection.
        assert await client.list_tube_used() == "elsewhere"
        assert await client.put(b"again") == 1
        await client.close()

    run(main)


def test_server_killed_during_a_batch(server: BeanstalkdServer) -> None:
    async def main() -> None:
        async with (
            jackd.aio.connect(server.address) as client,
            jackd.aio.connect(server.address) as observer,
        ):
            # A blocking reserve first holds every command of the batch on the server.
            batch = asyncio.create_task(client.pipeline().reserve().put(b"x").stats().execute())
            single = asyncio.create_task(client.list_tube_used())
            await until(lambda: _waiting_count(observer, 1))
            assert not batch.done()
            started = time.monotonic()
            server.kill()
            outcomes = await asyncio.gather(batch, single, return_exceptions=True)
            assert time.monotonic() - started < 1.0
            assert all(isinstance(o, jackd.ConnectionLostError) for o in outcomes), outcomes

    run(main)
