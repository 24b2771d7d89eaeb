"""Drain mode, and what closing a connection (``close``, ``with``) does to the server."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import pytest

import jackd
from jackd.testing import BeanstalkdServer

from .fakeserver import Worker, close_from_thread, wait_until

pytestmark = pytest.mark.timeout(30)

Connect = Callable[..., jackd.Client]


@pytest.fixture
def observer(server: BeanstalkdServer, connect: Connect) -> Iterator[jackd.Client]:
    """A client for watching the server. At teardown it kills the server before the clients
    are closed, so that a thread a failing test left blocked on it wakes up instead of hanging.
    """
    yield connect()
    server.kill()


def enter_drain_mode(server: BeanstalkdServer, client: jackd.Client) -> None:
    assert client.stats().draining is False
    server.signal(signal.SIGUSR1)
    wait_until(lambda: client.stats().draining, what="drain mode")


def test_drain_mode_refuses_puts_and_serves_everything_else(
    server: BeanstalkdServer, connect: Connect
) -> None:
    client = connect(timeout=5)
    first = client.put(b"before the drain")
    second = client.put(b"also before", delay=3600)
    enter_drain_mode(server, client)

    with pytest.raises(jackd.DrainingError) as info:
        client.put(b"refused")
    assert isinstance(info.value, jackd.ServerError)
    assert not client.closed
    # A body above 64 KiB goes through the size lookup and a vectored write; the server reads
    # all of it before refusing, and the connection stays in step.
    with pytest.raises(jackd.DrainingError):
        client.put(b"L" * 300_000)
    with pytest.raises(jackd.DrainingError):
        client.put(b"")
    assert client.list_tube_used() == "default"

    job = client.reserve(timeout=0)
    assert job == jackd.Job(first, b"before the drain")
    client.release(job, priority=5)
    job = client.reserve(timeout=1)
    assert job.id == first
    client.delete(job)
    assert client.peek(second).body == b"also before"
    client.kick_job(second)
    assert client.reserve(timeout=0).id == second
    client.delete(second)
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)

    stats = client.stats()
    assert stats.draining is True
    assert stats.current_jobs_ready == stats.current_jobs_delayed == 0
    # A second client sees the same, and is refused the same way.
    other = connect()
    assert other.stats().draining is True
    with pytest.raises(jackd.DrainingError):
        other.put(b"refused too")
    # Still usable after all of that.
    assert client.list_tubes() == ["default"]


def test_drain_mode_does_not_end(server: BeanstalkdServer, connect: Connect) -> None:
    client = connect(timeout=5)
    enter_drain_mode(server, client)
    server.signal(signal.SIGUSR1)
    assert client.stats().draining is True
    with pytest.raises(jackd.DrainingError):
        client.put(b"still refused")


@pytest.mark.usefixtures("observer")
def test_blocked_reserve_survives_drain_mode(server: BeanstalkdServer, connect: Connect) -> None:
    producer = connect()
    jid = producer.put(b"first")
    worker = connect()
    assert worker.reserve(timeout=0).id == jid
    worker.delete(jid)
    reserver = Worker(worker.reserve, name="reserver")
    reserver.start()
    wait_until(lambda: producer.stats().current_waiting == 1, what="the reserve to block")
    enter_drain_mode(server, producer)
    assert reserver.is_alive()
    worker_close = time.monotonic()
    close_from_thread(worker)
    with pytest.raises(jackd.ConnectionLostError):
        reserver.outcome(timeout=5)
    assert reserver.finished_at is not None
    assert reserver.finished_at - worker_close < 1.0


def test_reserved_jobs_return_to_ready_when_client_closes(
    connect: Connect, observer: jackd.Client
) -> None:
    worker = connect()
    jid = observer.put(b"hold me", ttr=60)
    held = worker.reserve(timeout=0)
    assert held.id == jid
    assert observer.stats_job(jid).state == "reserved"
    with pytest.raises(jackd.TimedOutError):
        observer.reserve(timeout=0)

    worker.close()
    wait_until(lambda: observer.stats_job(jid).state == "ready", timeout=2, what="the job back")
    job_stats = observer.stats_job(jid)
    assert job_stats.reserves == 1
    assert job_stats.timeouts == 0  # released by the close, not by its TTR
    assert observer.reserve(timeout=0) == jackd.Job(jid, b"hold me")


def test_closing_a_blocked_worker_returns_its_other_jobs(
    connect: Connect, observer: jackd.Client
) -> None:
    worker = connect()
    jid = observer.put(b"held while blocked")
    assert worker.reserve(timeout=0).id == jid
    reserver = Worker(worker.reserve, name="reserver")
    reserver.start()
    wait_until(lambda: observer.stats().current_waiting == 1, what="the reserve to block")
    close_from_thread(worker)
    with pytest.raises(jackd.ConnectionLostError):
        reserver.outcome(timeout=5)
    assert observer.reserve(timeout=2) == jackd.Job(jid, b"held while blocked")


def test_with_block_closes_the_connection(
    server: BeanstalkdServer, connect: Connect, observer: jackd.Client
) -> None:
    base = observer.stats().current_connections
    with jackd.connect(server.address) as client:
        assert not client.closed
        jid = client.put(b"inside")
        assert client.reserve(timeout=0).id == jid
        # The server has answered this connection, so it counts it.
        assert observer.stats().current_connections == base + 1
    assert client.closed
    with pytest.raises(jackd.ConnectionLostError):
        client.stats()
    wait_until(
        lambda: observer.stats().current_connections == base, what="the server to see the close"
    )
    assert observer.stats_job(jid).state == "ready"


def test_with_block_closes_on_exception(
    server: BeanstalkdServer, connect: Connect, observer: jackd.Client
) -> None:
    base = observer.stats().current_connections

    class BoomError(Exception):
        pass

    def use_and_fail() -> jackd.Client:
        with jackd.Client(server.address) as client:
            client.put(b"x")
            raise BoomError(client)

    with pytest.raises(BoomError) as info:
        use_and_fail()
    client = info.value.args[0]
    assert isinstance(client, jackd.Client)
    assert client.closed
    wait_until(
        lambda: observer.stats().current_connections == base, what="the server to see the close"
    )


# quit(), and calls after quit()/close(), are covered by test_quit.py.
