"""Pipelines and batches (put_many, reserve_many, delete_many) against a real server."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

import jackd
from jackd.testing import BeanstalkdServer


def test_put_many_20000_items_in_order(client: jackd.Client) -> None:
    bodies = [f"job-{i}".encode() for i in range(20_000)]
    ids = client.put_many(bodies, priority=3, ttr=30)
    assert ids == list(range(1, 20_001))
    assert client.peek(ids[0]).body == b"job-0"
    assert client.peek(ids[-1]).body == b"job-19999"
    stats = client.stats_job(ids[12_345])
    assert (stats.pri, stats.ttr) == (3, 30)
    assert client.stats().current_jobs_ready == 20_000


def test_forty_bodies_of_one_megabyte_in_one_batch(client: jackd.Client) -> None:
    bodies = [bytes([i]) * 1_000_000 for i in range(40)]
    ids = client.put_many(bodies)
    assert len(ids) == 40
    jobs = client.reserve_many(40, timeout=0)
    assert [job.body for job in jobs] == bodies
    client.delete_many(jobs)
    assert client.stats().current_jobs_reserved == 0


def test_mixed_pipeline_of_large_puts_and_peeks_does_not_deadlock(client: jackd.Client) -> None:
    # Big requests and big replies in flight together: both socket buffers fill up unless the
    # client writes and reads at the same time.
    body = b"\r\n" + b"z" * 1_500_000 + b"\r\n"
    first = client.put(body)
    pipe = client.pipeline()
    for _ in range(20):
        pipe.put(body).peek(first)
    results = pipe.execute()
    assert len(results) == 40
    assert all(r == jackd.Job(first, body) for r in results[1::2])
    assert results[0::2] == list(range(first + 1, first + 21))


def test_pipeline_with_an_error_in_the_middle(client: jackd.Client) -> None:
    pipe = client.pipeline()
    pipe.use("t").put(b"a").delete(999).stats_tube("t").list_tube_used()
    assert len(pipe) == 5
    with pytest.raises(jackd.NotFoundError):
        pipe.execute()
    # Every reply was read: the connection is in step and the use stayed in effect.
    assert client.list_tube_used() == "t"
    assert client.peek_ready().body == b"a"
    assert len(pipe) == 0

    results = (
        client.pipeline()
        .put(b"b")
        .delete(999)
        .stats_tube("t")
        .peek(12345)
        .list_tube_used()
        .execute(raise_on_error=False)
    )
    assert results[0] == 2
    assert isinstance(results[1], jackd.NotFoundError)
    assert isinstance(results[2], jackd.TubeStats)
    assert results[2].current_jobs_ready == 2
    assert isinstance(results[3], jackd.NotFoundError)
    assert results[4] == "t"


def test_pipeline_keeps_watch_changes(client: jackd.Client) -> None:
    results = client.pipeline().watch("a").watch("b").ignore("default").execute()
    assert results == [2, 3, 2]
    assert set(client.list_tubes_watched()) == {"a", "b"}


def test_empty_pipeline_and_batches(client: jackd.Client) -> None:
    assert client.pipeline().execute() == []
    assert client.put_many([]) == []
    client.delete_many([])
    assert client.stats().cmd_put == 0


def test_reserve_many_drains_a_tube_with_delete_many(client: jackd.Client) -> None:
    client.use("work")
    client.watch("work")
    client.ignore("default")
    client.put_many(f"item-{i}".encode() for i in range(2_500))
    seen: list[bytes] = []
    while True:
        jobs = client.reserve_many(1000, timeout=0)
        if not jobs:
            break
        assert len(jobs) <= 1000
        seen.extend(job.body for job in jobs)
        client.delete_many(jobs)
    assert sorted(seen) == sorted(f"item-{i}".encode() for i in range(2_500))
    stats = client.stats_tube("work")
    assert stats.current_jobs_ready == stats.current_jobs_reserved == 0
    assert stats.cmd_delete == 2_500


def test_reserve_many_waits_for_the_first_job_only(
    client: jackd.Client, connect: Callable[..., jackd.Client]
) -> None:
    assert client.reserve_many(10, timeout=0) == []
    assert client.reserve_many(10, timeout=1) == []  # after about a second
    producer = connect()
    producer.put_many([b"1", b"2", b"3"])
    jobs = client.reserve_many(10, timeout=5)
    assert [job.body for job in jobs] == [b"1", b"2", b"3"]
    assert client.stats().current_jobs_reserved == 3


def test_reserve_many_raises_deadline_soon_when_it_got_nothing(client: jackd.Client) -> None:
    client.put(b"short", ttr=1)
    held = client.reserve()
    with pytest.raises(jackd.DeadlineSoonError):
        client.reserve_many(5, timeout=0)
    client.delete(held)


def test_put_many_validates_every_item_before_sending(client: jackd.Client) -> None:
    with pytest.raises(TypeError):
        client.put_many([b"ok", b"fine", 42])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="priority"):
        client.put_many([b"ok"], priority=-1)
    with pytest.raises(ValueError, match="tube"):
        client.pipeline().put(b"ok").use("-bad")
    assert client.stats().cmd_put == 0
    assert client.put_many([b"after"]) == [1]


def test_put_many_checks_max_job_size_before_sending(
    start_server: Callable[..., BeanstalkdServer],
) -> None:
    server = start_server()  # default max-job-size, 65535
    with jackd.connect(server.address) as client:
        with pytest.raises(jackd.JobTooBigError):
            client.put_many([b"small", b"x" * 65_536])
        assert client.stats().cmd_put == 0
        assert client.put_many([b"x" * 65_535]) == [1]


def test_delete_many_reports_a_missing_job_after_deleting_the_rest(client: jackd.Client) -> None:
    ids = client.put_many([b"a", b"b", b"c"])
    with pytest.raises(jackd.NotFoundError):
        client.delete_many([ids[0], 999, ids[2]])
    assert client.peek(ids[1]).body == b"b"
    for jid in (ids[0], ids[2]):
        with pytest.raises(jackd.NotFoundError):
            client.peek(jid)


def test_put_many_in_drain_mode_raises_after_reading_every_reply(
    client: jackd.Client, server: BeanstalkdServer
) -> None:
    server.signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while not client.stats().draining:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(jackd.DrainingError):
        client.put_many([b"a", b"b"])
    results = client.pipeline().put(b"c").list_tube_used().execute(raise_on_error=False)
    assert isinstance(results[0], jackd.DrainingError)
    assert results[1] == "default"
