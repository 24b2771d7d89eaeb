"""jackd.Pool and jackd.aio.Pool, and workers over several servers, against three real servers."""

from __future__ import annotations

import asyncio
import collections
import itertools
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

import jackd
import jackd.aio
import jackd.worker
from jackd._placement import rank
from jackd.testing import BeanstalkdServer

from ._support import bytes_queued_at, wait_until
from .fakeserver import FakeServer, Worker, in_turn, never_reading, unread_bytes

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def three(start_server: Callable[..., BeanstalkdServer]) -> list[BeanstalkdServer]:
    return [start_server(binlog=True) for _ in range(3)]


@pytest.fixture
def pool(three: list[BeanstalkdServer]) -> Iterator[jackd.Pool]:
    with jackd.Pool([s.address for s in three]) as p:
        yield p


def on_server(server: BeanstalkdServer, ref: jackd.JobRef) -> bytes:
    with jackd.connect(server.address) as client:
        return client.peek(ref.id).body


def by_address(three: list[BeanstalkdServer]) -> dict[str, BeanstalkdServer]:
    return {s.address: s for s in three}


def test_round_robin_is_even(pool: jackd.Pool, three: list[BeanstalkdServer]) -> None:
    refs = [pool.put(b"job %d" % i) for i in range(300)]
    counts = collections.Counter(ref.server for ref in refs)
    assert sorted(counts) == sorted(s.address for s in three)
    assert set(counts.values()) == {100}
    servers = by_address(three)
    assert all(on_server(servers[r.server], r) == b"job %d" % i for i, r in enumerate(refs[:9]))


def test_random_strategy_uses_every_server(three: list[BeanstalkdServer]) -> None:
    with jackd.Pool(",".join(s.address for s in three), strategy="random") as pool:
        counts = collections.Counter(pool.put(b"x").server for _ in range(300))
    assert len(counts) == 3
    assert min(counts.values()) > 50


def test_a_key_stays_on_its_server_and_moves_only_when_it_is_down(
    pool: jackd.Pool, three: list[BeanstalkdServer]
) -> None:
    homes = {f"customer-{n}": pool.put(b"x", key=f"customer-{n}").server for n in range(60)}
    assert len(set(homes.values())) == 3
    for key, home in list(homes.items())[:20]:
        assert pool.put(b"again", key=key).server == home
    gone = three[1].address
    three[1].kill()
    moved = {key: pool.put(b"x", key=key).server for key in homes}
    for key, home in homes.items():
        if home == gone:
            assert moved[key] != gone
        else:
            assert moved[key] == home  # only the keys of the removed server moved


def test_rendezvous_moves_only_the_keys_of_a_removed_server() -> None:
    servers = ["q1:11300", "q2:11300", "q3:11300", "q4:11300"]
    keys = [f"key-{n}" for n in range(2000)]
    before = {key: rank(key, servers)[0] for key in keys}
    after = {key: rank(key, servers[:2] + servers[3:])[0] for key in keys}
    for key in keys:
        if before[key] != "q3:11300":
            assert after[key] == before[key]
    assert 300 < sum(1 for k in keys if before[k] == "q3:11300") < 700


def test_a_server_killed_during_30000_puts(pool: jackd.Pool, three: list[BeanstalkdServer]) -> None:
    acknowledged: list[jackd.JobRef] = []
    unknown: list[jackd.ConnectionLostError] = []
    victim = three[2]
    for i in range(30_000):
        if i == 10_000:
            victim.kill()
        try:
            acknowledged.append(pool.put(b"%d" % i))
        except jackd.ConnectionLostError as exc:
            unknown.append(exc)
    # At most the one put in flight when the server died has an unknown fate; a put that
    # was never sent went to another server.
    assert len(unknown) <= 1
    assert all(exc.maybe_applied for exc in unknown)
    after_kill = collections.Counter(r.server for r in acknowledged[10_001:])
    assert victim.address not in after_kill
    assert sum(after_kill.values()) >= 19_998
    # Every acknowledged put is on its server: the victim's come back from its binlog.
    victim.restart()
    servers = by_address(three)
    for server, count in collections.Counter(r.server for r in acknowledged).items():
        with jackd.connect(server) as client:
            assert client.stats().current_jobs_ready == count
    for ref in acknowledged[::997]:
        assert on_server(servers[ref.server], ref).isdigit()
    # The victim rejoins once its backoff is over and it answers.
    wait_until(
        lambda: collections.Counter(pool.put(b"again").server for _ in range(30)),
        lambda counts: victim.address in counts,
        timeout=40,
        what="the restarted server back in rotation",
    )


def test_a_draining_server_gets_no_more_puts(
    pool: jackd.Pool, three: list[BeanstalkdServer]
) -> None:
    three[0].drain()
    refs = [pool.put(b"x") for _ in range(60)]
    counts = collections.Counter(r.server for r in refs)
    assert three[0].address not in counts
    assert sum(counts.values()) == 60
    state = {s.address: s for s in pool.servers}[three[0].address]
    assert not state.up
    assert state.reason == "draining"


def test_all_down_names_every_server(pool: jackd.Pool, three: list[BeanstalkdServer]) -> None:
    for server in three:
        server.kill()
    with pytest.raises(jackd.ConnectionLostError, match="no beanstalkd server") as info:
        pool.put(b"nowhere")
    for server in three:
        assert server.address in str(info.value)
    assert not any(s.up for s in pool.servers)


@pytest.mark.parametrize("at_least_once", [False, True])
def test_a_put_of_unknown_fate(three: list[BeanstalkdServer], at_least_once: bool) -> None:
    with jackd.Pool([s.address for s in three], at_least_once=at_least_once) as pool:
        # One put on each server connects them all; round-robin then starts over.
        first, *_ = [pool.put(b"warm") for _ in three]
        stalled = by_address(three)[first.server]
        stalled.signal(signal.SIGSTOP)
        outcome: list[Any] = []

        def put() -> None:
            try:
                outcome.append(pool.put(b"fate unknown"))
            except BaseException as exc:
                outcome.append(exc)

        putter = threading.Thread(target=put)
        putter.start()
        wait_until(lambda: bytes_queued_at(stalled.port), bool, what="the put to be sent")
        stalled.kill()
        putter.join(10)
        if at_least_once:
            ref = outcome[0]
            assert isinstance(ref, jackd.JobRef)
            assert ref.server != stalled.address
        else:
            assert isinstance(outcome[0], jackd.ConnectionLostError)
            assert outcome[0].maybe_applied
            assert "may or may not" in str(outcome[0])


def test_put_many_spreads_and_keeps_order(pool: jackd.Pool, three: list[BeanstalkdServer]) -> None:
    bodies = [b"body %d" % i for i in range(3000)]
    refs = pool.put_many(bodies)
    assert len(refs) == 3000
    assert set(collections.Counter(r.server for r in refs).values()) == {1000}
    servers = by_address(three)
    for i in range(0, 3000, 250):
        assert on_server(servers[refs[i].server], refs[i]) == bodies[i]
    three[0].kill()
    refs = pool.put_many(bodies[:600])
    assert three[0].address not in {r.server for r in refs}
    assert len(refs) == 600


def test_use_stats_and_clients(pool: jackd.Pool, three: list[BeanstalkdServer]) -> None:
    pool.use("emails")
    refs = [pool.put(b"x") for _ in range(9)]
    assert pool.stats_tube("emails").current_jobs_ready == 9
    assert pool.stats_tube("emails").name == "emails"
    assert set(pool.stats()) == {s.address for s in three}
    client = pool.client(refs[0].server)
    assert client.stats_job(refs[0].id).tube == "emails"
    with pytest.raises(jackd.NotFoundError):
        pool.stats_tube("nosuch")
    with pytest.raises(KeyError):
        pool.client("elsewhere:1")


def test_pool_reads_beanstalkd_url(
    three: list[BeanstalkdServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", ",".join(s.address for s in three))
    with jackd.Pool() as pool:
        assert [s.address for s in pool.servers] == [s.address for s in three]


def test_aio_pool(three: list[BeanstalkdServer]) -> None:
    async def main() -> None:
        async with jackd.aio.Pool([s.address for s in three]) as pool:
            await pool.use("t")
            refs = [await pool.put(b"x") for _ in range(30)]
            assert set(collections.Counter(r.server for r in refs).values()) == {10}
            many = await pool.put_many([b"y"] * 300)
            assert set(collections.Counter(r.server for r in many).values()) == {100}
            assert (await pool.stats_tube("t")).current_jobs_ready == 330
            key = {(await pool.put(b"k", key="same")).server for _ in range(5)}
            assert len(key) == 1
            three[0].kill()
            after = [await pool.put(b"z") for _ in range(20)]
            assert three[0].address not in {r.server for r in after}
            for server in three[1:]:
                server.kill()
            with pytest.raises(jackd.ConnectionLostError, match="no beanstalkd server"):
                await pool.put(b"nowhere")

    asyncio.run(asyncio.wait_for(main(), 60))


# -- workers over several servers -----------------------------------------------------------


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_worker_over_three_servers_with_jobs_on_one(
    three: list[BeanstalkdServer], flavor: str
) -> None:
    seen: list[tuple[float, bytes]] = []
    came_from: list[str] = []
    addresses = [s.address for s in three]
    worker: jackd.Worker | jackd.aio.Worker
    if flavor == "sync":
        worker = jackd.Worker(addresses, concurrency=4)

        def handle(job: jackd.Job) -> None:
            came_from.append(jackd.current_job().server)
            seen.append((time.monotonic(), job.body))

        worker.handler("t")(handle)
        runner = threading.Thread(target=worker.run, daemon=True)
    else:
        aworker = jackd.aio.Worker(addresses, concurrency=20)

        async def ahandle(job: jackd.Job) -> None:
            came_from.append(jackd.current_job().ref.server)
            seen.append((time.monotonic(), job.body))

        aworker.handler("t")(ahandle)
        runner = threading.Thread(target=lambda: asyncio.run(aworker.run()), daemon=True)
        worker = aworker
    runner.start()
    with jackd.connect(three[2].address) as producer:
        producer.use("t")
        wait_until(lambda: producer.stats_tube("t").current_watching, lambda n: n > 0)
    # Every slot (or reserver) is waiting somewhere; most of them on another server.
    waiting = [jackd.connect(s.address) for s in three]
    try:
        wait_until(
            lambda: sum(c.stats().current_waiting for c in waiting),
            lambda n: n >= 3,
            what="the worker waiting on the servers",
        )
    finally:
        for c in waiting:
            c.close()
    with jackd.connect(three[2].address) as producer:
        producer.use("t")
        put_at = time.monotonic()
        for i in range(5):
            producer.put(b"only here %d" % i)
        wait_until(lambda: len(seen), lambda n: n == 5, what="the jobs on one server")
    assert max(at for at, _ in seen) - put_at < 1.5  # taken within a second or so
    three[0].kill()  # a down server does not slow the others
    with jackd.connect(three[1].address) as producer:
        producer.use("t")
        started = time.monotonic()
        for i in range(20):
            producer.put(b"after %d" % i)
        wait_until(lambda: len(seen), lambda n: n == 25, timeout=10, what="jobs on server 2")
        assert time.monotonic() - started < 3
    worker.stop()
    runner.join(10)
    assert not runner.is_alive()
    assert worker.stats().succeeded == 25
    # The handler learns which server each job came from.
    assert came_from == [three[2].address] * 5 + [three[1].address] * 20
    with pytest.raises(LookupError):
        jackd.current_job()
    for server in three[1:]:
        with jackd.connect(server.address) as client:
            assert client.stats().current_jobs_reserved == 0


def test_put_many_moves_the_puts_it_never_sent_off_a_server_that_hung_up(
    beanstalkd: BeanstalkdServer,
) -> None:
    # A put_many share is encoded while it is sent; a share whose server stops reading stalls
    # in its first chunk, so when that server hangs up, the puts not encoded yet were
    # certainly never sent: they go to the other server, and only the rest are of unknown fate.
    hang_up = threading.Event()
    body = b"b" * 60_000
    with (
        FakeServer(in_turn(never_reading(hang_up), never_reading())) as fake,
        jackd.Pool([fake.address, beanstalkd.address]) as pool,
    ):
        putter = Worker(lambda: pool.put_many([body] * 2000, raise_on_error=False), "put_many")
        putter.start()
        wait_until(lambda: unread_bytes(fake.port), lambda n: n > 0, what="the fake share sent")
        hang_up.set()
        results = cast(list[object], putter.outcome(timeout=60))
    refs = [r for r in results if isinstance(r, jackd.JobRef)]
    unknown = [r for r in results if isinstance(r, jackd.ConnectionLostError)]
    assert len(refs) + len(unknown) == 2000
    assert all(ref.server == beanstalkd.address for ref in refs)
    assert all(error.maybe_applied for error in unknown)
    assert 0 < len(unknown) < 1000  # some of the fake's share was never sent
    with jackd.connect(beanstalkd.address) as client:
        assert client.stats_tube("default").current_jobs_ready == len(refs)


def test_a_worker_slot_takes_a_streak_of_jobs_from_a_server_before_the_next(
    three: list[BeanstalkdServer],
) -> None:
    # Staying keeps a job's delete in the same write as the next reserve; the streak's bound
    # keeps the servers taken in turn.
    addresses = [three[0].address, three[1].address]
    for address in addresses:
        with jackd.connect(address) as producer:
            producer.use("t")
            producer.put_many([b"x"] * 40)
    came_from: list[str] = []
    worker = jackd.Worker(addresses, concurrency=1)
    worker.handler("t")(lambda job: came_from.append(jackd.current_job().server))
    worker.run(burst=True)
    runs = [len(list(group)) for _, group in itertools.groupby(came_from)]
    assert collections.Counter(came_from) == {addresses[0]: 40, addresses[1]: 40}
    assert runs == [jackd.worker.STREAK] * 4 + [8, 8]
