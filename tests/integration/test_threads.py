"""One client shared by many threads: commands are atomic and replies never go astray."""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

import jackd
from jackd.testing import BeanstalkdServer

from .fakeserver import Worker, close_from_thread, wait_until

pytestmark = pytest.mark.timeout(30)

Connect = Callable[..., jackd.Client]


@pytest.fixture
def flavor() -> str:
    """These tests are about the blocking ``jackd.Client``: its lock and its threads."""
    return "sync"


@pytest.fixture
def observer(server: BeanstalkdServer, connect: Connect) -> Iterator[jackd.Client]:
    """A client for watching the server. At teardown it kills the server before the clients
    are closed, so that a thread a failing test left blocked on it wakes up instead of hanging.
    """
    yield connect()
    server.kill()


THREADS = 16
ROUNDS = 60


def waiting_workers(observer: jackd.Client) -> int:
    return observer.stats().current_waiting


def test_sixteen_threads_share_one_client(client: jackd.Client) -> None:
    ready_bodies: dict[int, bytes] = {}  # put ready: some thread reserves each exactly once
    delayed_bodies: dict[int, bytes] = {}  # put delayed: nobody can reserve them
    taken: list[jackd.Job] = []
    peeked = Counter[str]()
    record = threading.Lock()
    start = threading.Barrier(THREADS)

    def work(n: int) -> None:
        start.wait(timeout=5)
        ready: dict[int, bytes] = {}
        delayed: dict[int, bytes] = {}
        for i in range(ROUNDS):
            body = f"thread-{n}-job-{i}-".encode() + bytes([n]) * (i % 7 + n * 37)
            if i % 4 == 3:
                jid = client.put(body, delay=3600)
                delayed[jid] = body
                # Nobody can take a delayed job, so it must be there, with this body.
                assert client.peek(jid) == jackd.Job(jid, body)
                assert client.stats_job(jid).state == "delayed"
            else:
                jid = client.put(body, priority=i % 3)
                ready[jid] = body
                try:
                    job = client.peek(jid)
                except jackd.NotFoundError:
                    outcome = "gone"  # another thread reserved and deleted it already
                else:
                    assert job == jackd.Job(jid, body)
                    outcome = "found"
                with record:
                    peeked[outcome] += 1
            if i % 5 == 0:
                stats = client.stats()
                assert isinstance(stats, jackd.ServerStats)
                assert stats.cmd_put >= len(ready) + len(delayed)
                assert client.list_tube_used() == "default"
            try:
                job = client.reserve(timeout=0)
            except jackd.TimedOutError:
                continue  # other threads took every ready job
            assert isinstance(job, jackd.Job)
            with record:
                taken.append(job)
            assert client.stats_job(job).state == "reserved"
            client.delete(job)
        with record:
            for mine, everyone in ((ready, ready_bodies), (delayed, delayed_bodies)):
                overlap = (ready_bodies.keys() | delayed_bodies.keys()) & mine.keys()
                assert not overlap, f"ids handed to two puts: {sorted(overlap)[:5]}"
                everyone.update(mine)

    workers = [Worker(functools.partial(work, n), name=f"sharer-{n}") for n in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.outcome(timeout=25)

    # Whatever the threads left ready is drained here.
    while True:
        try:
            job = client.reserve(timeout=0)
        except jackd.TimedOutError:
            break
        taken.append(job)
        client.delete(job)

    total = THREADS * ROUNDS
    assert len(ready_bodies) + len(delayed_bodies) == total
    assert len(delayed_bodies) == THREADS * (ROUNDS // 4)
    counts = Counter(job.id for job in taken)
    assert [jid for jid, n in counts.items() if n > 1] == []
    assert set(counts) == set(ready_bodies)
    for job in taken:
        assert job.body == ready_bodies[job.id]
    assert peeked["found"] > 0
    for jid, body in delayed_bodies.items():
        assert client.peek(jid) == jackd.Job(jid, body)
        client.delete(jid)
    stats = client.stats()
    assert stats.cmd_put == total
    assert stats.cmd_delete == total
    assert stats.total_jobs == total
    assert stats.current_jobs_ready == stats.current_jobs_reserved == 0
    assert stats.current_jobs_delayed == 0


def test_large_bodies_from_many_threads_stay_whole(
    start_server: Callable[..., BeanstalkdServer],
) -> None:
    # Bodies above 64 KiB make put look up max-job-size and use vectored writes; neither may
    # let another thread's bytes in between a header and its body.
    server = start_server("-z", "2000000")
    with jackd.connect(server.address) as client:

        def work(n: int) -> list[int]:
            ids = []
            for i in range(4):
                body = bytes([n, i]) * (40_000 + 1_000 * n)
                jid = client.put(body)
                assert client.peek(jid).body == body
                ids.append(jid)
            return ids

        workers = [Worker(functools.partial(work, n), name=f"big-{n}") for n in range(8)]
        for worker in workers:
            worker.start()
        all_ids = []
        for worker in workers:
            ids = worker.outcome(timeout=25)
            assert isinstance(ids, list)
            all_ids.extend(ids)
        assert len(set(all_ids)) == 32
        assert client.stats().current_jobs_ready == 32


def test_command_waits_for_blocked_reserve_then_runs(
    connect: Connect, observer: jackd.Client
) -> None:
    shared = connect()
    producer = connect()

    reserver = Worker(shared.reserve, name="reserver")
    reserver.start()
    wait_until(lambda: waiting_workers(observer) == 1, what="the reserve to block")

    # This command needs the lock the blocked reserve holds, so it cannot run yet.
    stats_caller = Worker(shared.stats, name="stats-caller")
    stats_caller.start()
    time.sleep(0.3)
    assert stats_caller.is_alive(), "a command ran while reserve held the connection"
    assert reserver.is_alive()

    jid = producer.put(b"wake up")
    job = reserver.outcome(timeout=5)
    stats = stats_caller.outcome(timeout=5)
    assert job == jackd.Job(jid, b"wake up")
    assert isinstance(stats, jackd.ServerStats)
    # It ran after the reserve finished, on the same connection.
    assert stats.current_jobs_reserved == 1
    assert stats.current_waiting == 0
    assert reserver.finished_at is not None
    assert stats_caller.finished_at is not None
    assert reserver.finished_at <= stats_caller.finished_at
    shared.delete(job)
    assert shared.stats().current_jobs_reserved == 0


def test_close_from_another_thread_wakes_blocked_reserve(
    connect: Connect, observer: jackd.Client
) -> None:
    shared = connect()
    reserver = Worker(shared.reserve, name="reserver")
    reserver.start()
    wait_until(lambda: waiting_workers(observer) == 1, what="the reserve to block")

    closed_at = time.monotonic()
    close_from_thread(shared)
    with pytest.raises(jackd.ConnectionLostError):
        reserver.outcome(timeout=5)
    assert reserver.finished_at is not None
    assert reserver.finished_at - closed_at < 1.0
    assert shared.closed
    with pytest.raises(jackd.ConnectionLostError):
        shared.put(b"after close")
    # The server saw the connection go: nobody is waiting any more.
    wait_until(lambda: waiting_workers(observer) == 0, what="the server to drop the waiter")


def test_quit_from_another_thread_does_not_wait_for_blocked_reserve(
    connect: Connect, observer: jackd.Client
) -> None:
    shared = connect()
    reserver = Worker(shared.reserve, name="reserver")
    reserver.start()
    wait_until(lambda: waiting_workers(observer) == 1, what="the reserve to block")
    quitter = Worker(shared.quit, name="quitter")
    quitter.start_and_wait(timeout=2)
    with pytest.raises(jackd.ConnectionLostError):
        reserver.outcome(timeout=2)
    assert shared.closed
    wait_until(lambda: waiting_workers(observer) == 0, what="the server to drop the waiter")


def test_close_wakes_reserve_and_the_commands_queued_behind_it(
    connect: Connect, observer: jackd.Client
) -> None:
    shared = connect()
    reserver = Worker(shared.reserve, name="reserver")
    reserver.start()
    wait_until(lambda: waiting_workers(observer) == 1, what="the reserve to block")
    queued = [Worker(shared.list_tube_used, name=f"queued-{i}") for i in range(4)]
    for worker in queued:
        worker.start()
    time.sleep(0.1)

    close_from_thread(shared)
    for worker in [reserver, *queued]:
        with pytest.raises(jackd.ConnectionLostError):
            worker.outcome(timeout=5)


def test_close_while_threads_are_busy_ends_every_call_cleanly(connect: Connect) -> None:
    shared = connect()
    outcomes: Counter[str] = Counter()
    record = threading.Lock()

    def hammer() -> None:
        while True:
            try:
                jid = shared.put(b"x")
                shared.delete(jid)
                outcome = "ok"
            except jackd.ConnectionLostError:
                outcome = "lost"
            with record:
                outcomes[outcome] += 1
            if outcome == "lost":
                return

    workers = [Worker(hammer, name=f"hammer-{n}") for n in range(8)]
    for worker in workers:
        worker.start()
    wait_until(lambda: outcomes["ok"] >= 200, what="some commands to succeed")
    close_from_thread(shared)
    for worker in workers:
        worker.outcome(timeout=5)  # each stops with ConnectionLostError, none hangs
    assert outcomes["lost"] == len(workers)
