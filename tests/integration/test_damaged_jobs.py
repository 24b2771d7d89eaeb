"""A job whose stored body the server damaged: one command fails, the connection lives on.

beanstalkd writes a put to its binlog in several writes into a preallocated file; killed
between them, it reads the body back as zeros after the restart, and then sends that body,
without its CRLF, to whoever reserves the job. Here the damage is made on purpose: a job is
put on a server with a binlog, the server is killed, and the body's CRLF in the binlog is
overwritten with zeros before the restart.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import jackd
import jackd.aio
from jackd.testing import BeanstalkdServer

pytestmark = pytest.mark.timeout(60)

MARK = b"the damaged body"


@pytest.fixture
def damaged(tmp_path: Path) -> Iterator[tuple[BeanstalkdServer, list[int]]]:
    """A server holding good job, damaged job, good job in tube "t"; their ids."""
    server = BeanstalkdServer(binlog=tmp_path / "binlog").start()
    try:
        with jackd.connect(server.address) as client:
            client.use("t")
            ids = [client.put(b"good 1"), client.put(MARK, priority=7), client.put(b"good 2")]
        server.kill()
        patched = 0
        for path in (tmp_path / "binlog").glob("binlog.*"):
            data = path.read_bytes()
            if MARK + b"\r\n" in data:
                os.chmod(path, 0o600)
                path.write_bytes(data.replace(MARK + b"\r\n", MARK + b"\0\0"))
                patched += 1
        assert patched == 1
        server.restart()
        yield server, ids
    finally:
        server.stop()


def test_a_reserve_of_it_fails_alone_and_the_job_stays_reserved(
    damaged: tuple[BeanstalkdServer, list[int]],
) -> None:
    server, (good1, bad, good2) = damaged
    with jackd.connect(server.address) as client:
        client.watch("t")
        assert client.reserve(timeout=0).id == good1  # priority 0 first; the damaged has 7
        pipe = client.pipeline().reserve(0).reserve(0).stats_job(bad)
        got, damaged, stats = pipe.execute(raise_on_error=False)
        assert got.id == good2
        assert isinstance(damaged, jackd.CorruptJobError)
        assert damaged.job_id == bad
        assert f"job {bad}" in str(damaged)
        assert stats.state == "reserved"  # the reply after it was read in step
        client.release(bad, 7)
        with pytest.raises(jackd.CorruptJobError):
            client.reserve(timeout=0)
        client.bury(bad, 7)
        client.use("t")
        with pytest.raises(jackd.CorruptJobError):
            client.peek_buried()
        assert client.stats().current_jobs_buried == 1


def test_reserve_many_gives_the_good_jobs_with_the_error(
    damaged: tuple[BeanstalkdServer, list[int]],
) -> None:
    server, (good1, bad, good2) = damaged

    async def main() -> None:
        async with jackd.aio.connect(server.address) as client:
            await client.watch("t")
            with pytest.raises(jackd.CorruptJobError) as info:
                await client.reserve_many(10, timeout=0)
            assert [job.id for job in info.value.jobs] == [good1, good2]
            assert info.value.damaged == [bad]
            assert (await client.stats_job(bad)).state == "reserved"
            assert (await client.stats()).current_jobs_reserved == 3

    asyncio.run(main())


@pytest.mark.parametrize("kind", ["thread", "asyncio"])
def test_the_workers_bury_it_and_run_the_rest(
    damaged: tuple[BeanstalkdServer, list[int]], kind: str
) -> None:
    server, (_, bad, _) = damaged
    seen: list[bytes] = []
    if kind == "thread":
        worker = jackd.Worker(server.address, concurrency=1)

        @worker.handler("t")
        def handle(job: jackd.Job) -> None:
            seen.append(job.body)

        worker.run(burst=True)
        stats = worker.stats()
    else:
        aworker = jackd.aio.Worker(server.address, concurrency=4)

        @aworker.handler("t")
        async def ahandle(job: jackd.Job) -> None:
            seen.append(job.body)

        asyncio.run(aworker.run(burst=True))
        stats = aworker.stats()
    assert sorted(seen) == [b"good 1", b"good 2"]
    assert (stats.succeeded, stats.buried) == (2, 1)
    with jackd.connect(server.address) as client:
        job = client.stats_job(bad)
        assert (job.state, job.pri) == ("buried", 7)
