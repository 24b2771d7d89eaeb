"""reserve, reserve-with-timeout and reserve-job against a real beanstalkd.

protocol-notes §2.3-§2.5, §5.1, §5.2, §5.8; §9 cases 34-59. Blocking reserves woken by other
threads, and half-closed or killed connections, are covered elsewhere.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

import jackd

from ._support import Connect, job_state, wait_until


def test_reserve_timeout_zero_on_empty_server(client: jackd.Client) -> None:
    # §9 case 34.
    start = time.monotonic()
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)
    assert time.monotonic() - start < 0.5
    assert client.stats().cmd_reserve_with_timeout == 1


@pytest.mark.parametrize("timeout", [1, 0.5], ids=["int", "float-rounds-up"])
def test_reserve_timeout_one_second(client: jackd.Client, timeout: float) -> None:
    # §9 case 35; a fraction of a second is rounded up to 1, never down to 0.
    start = time.monotonic()
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=timeout)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3.0
    assert client.list_tube_used() == "default"


def test_reserve_returns_ready_job(client: jackd.Client) -> None:
    # §9 case 36.
    jid = client.put(b"body")
    job = client.reserve()
    assert job == jackd.Job(jid, b"body")
    assert (job.id, job.body) == (jid, b"body")
    assert client.stats_job(jid).state == "reserved"
    assert client.stats_job(jid).reserves == 1
    stats = client.stats()
    assert (stats.cmd_reserve, stats.cmd_reserve_with_timeout) == (1, 0)
    assert stats.current_jobs_reserved == 1


@pytest.mark.parametrize(
    "timeout", [0, 1, 0.25, timedelta(seconds=5), timedelta(0), 2**31 - 1], ids=repr
)
def test_reserve_with_timeout_takes_ready_job_at_once(
    client: jackd.Client, timeout: int | float | timedelta
) -> None:
    jid = client.put(b"ready")
    start = time.monotonic()
    assert client.reserve(timeout=timeout) == jackd.Job(jid, b"ready")
    assert time.monotonic() - start < 0.5
    assert client.stats().cmd_reserve_with_timeout == 1


def test_reserved_job_is_invisible_to_others(client: jackd.Client, connect: Connect) -> None:
    other = connect()
    client.put(b"only one")
    client.reserve(timeout=0)
    with pytest.raises(jackd.TimedOutError):
        other.reserve(timeout=0)


def test_priority_order_then_release_order(client: jackd.Client) -> None:
    # §9 case 40.
    a = client.put(b"A", priority=100)
    b = client.put(b"B", priority=50)
    c = client.put(b"C", priority=100)
    got = [client.reserve(timeout=0) for _ in range(3)]
    assert got == [jackd.Job(b, b"B"), jackd.Job(a, b"A"), jackd.Job(c, b"C")]
    # Released with equal priority, the oldest id goes first, whatever the release order.
    for job in reversed(got):
        client.release(job, priority=100)
    got = [client.reserve(timeout=0) for _ in range(3)]
    assert got == [jackd.Job(a, b"A"), jackd.Job(b, b"B"), jackd.Job(c, b"C")]


def test_released_job_goes_ahead_of_newer_jobs(client: jackd.Client) -> None:
    first = client.put(b"first", priority=5)
    job = client.reserve(timeout=0)
    newer = client.put(b"newer", priority=5)
    client.release(job, priority=5)
    assert client.reserve(timeout=0).id == first
    assert client.reserve(timeout=0).id == newer


def test_priority_extremes(client: jackd.Client) -> None:
    low = client.put(b"low", priority=2**32 - 1)
    mid = client.put(b"mid", priority=1024)
    urgent = client.put(b"urgent", priority=0)
    assert [client.reserve(timeout=0).id for _ in range(3)] == [urgent, mid, low]


def test_watched_tubes_priority_across_tubes(client: jackd.Client) -> None:
    # §9 case 41.
    client.use("t1")
    j1 = client.put(b"one", priority=50)
    client.use("t2")
    j2 = client.put(b"two", priority=10)
    client.use("t3")
    client.put(b"three", priority=1)
    assert client.watch("t1") == 2
    assert client.watch("t2") == 3
    assert client.ignore("default") == 2
    assert client.reserve(timeout=0) == jackd.Job(j2, b"two")
    assert client.reserve(timeout=0) == jackd.Job(j1, b"one")
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)


def test_delayed_job_is_not_reserved_until_due(client: jackd.Client) -> None:
    jid = client.put(b"later", delay=1)
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)
    start = time.monotonic()
    assert client.reserve(timeout=5) == jackd.Job(jid, b"later")
    assert time.monotonic() - start < 2.5
    assert client.stats_job(jid).reserves == 1


# -- DEADLINE_SOON (§5.1; §9 cases 45-49) ----------------------------------------------------


def test_deadline_soon_at_once_with_ttr_one(client: jackd.Client) -> None:
    # §9 case 45: with ttr=1 the safety margin starts at once.
    jid = client.put(b"short", ttr=1)
    assert client.reserve() == jackd.Job(jid, b"short")
    start = time.monotonic()
    with pytest.raises(jackd.DeadlineSoonError):
        client.reserve()
    assert time.monotonic() - start < 0.5
    # DEADLINE_SOON changes nothing: the job is still ours and can be deleted.
    client.delete(jid)
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)


def test_deadline_soon_beats_timed_out(client: jackd.Client) -> None:
    # §9 case 46.
    jid = client.put(b"short", ttr=1)
    client.reserve(timeout=0)
    with pytest.raises(jackd.DeadlineSoonError):
        client.reserve(timeout=0)
    with pytest.raises(jackd.DeadlineSoonError):
        client.reserve(timeout=0)
    client.release(jid)
    assert client.reserve(timeout=0) == jackd.Job(jid, b"short")


def test_deadline_soon_ends_a_blocking_reserve(client: jackd.Client) -> None:
    # §9 case 47, with ttr=2 so the margin arrives after about 1 s instead of 2.
    jid = client.put(b"x", ttr=2)
    client.reserve()
    start = time.monotonic()
    with pytest.raises(jackd.DeadlineSoonError):
        client.reserve()
    elapsed = time.monotonic() - start
    assert 0.5 <= elapsed < 1.9
    assert client.stats_job(jid).state == "reserved"
    client.touch(jid)
    assert client.stats_job(jid).time_left == 1
    client.delete(jid)


def test_ready_job_wins_over_deadline_soon(client: jackd.Client) -> None:
    # §9 case 48.
    first = client.put(b"first", ttr=1)
    client.reserve(timeout=0)
    second = client.put(b"second", ttr=60)
    assert client.reserve() == jackd.Job(second, b"second")
    with pytest.raises(jackd.DeadlineSoonError):
        client.reserve(timeout=0)
    client.delete(first)
    client.delete(second)


def test_short_timeout_expires_before_the_margin(client: jackd.Client) -> None:
    # §9 case 49: ttr=3 leaves 2 s before the margin; a 1 s timeout runs out first.
    client.put(b"x", ttr=3)
    client.reserve(timeout=0)
    start = time.monotonic()
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=1)
    assert 0.9 <= time.monotonic() - start < 1.9


def test_ttr_expiry_returns_job_to_ready(client: jackd.Client, connect: Connect) -> None:
    # §9 case 50. The reserving connection is poked while waiting (§5.5), else the server may
    # never notice the deadline.
    observer = connect()
    jid = client.put(b"slow worker", ttr=1)
    client.reserve(timeout=0)

    def poke_and_look() -> str:
        client.list_tube_used()
        return job_state(observer, jid)

    wait_until(poke_and_look, lambda state: state == "ready", what="TTR expiry")
    stats = observer.stats_job(jid)
    assert (stats.state, stats.reserves, stats.timeouts) == ("ready", 1, 1)
    assert observer.stats().job_timeouts == 1
    # The worker lost the job: release and touch fail; another connection may take it.
    with pytest.raises(jackd.NotFoundError):
        client.release(jid)
    with pytest.raises(jackd.NotFoundError):
        client.touch(jid)
    assert observer.reserve(timeout=0) == jackd.Job(jid, b"slow worker")
    assert observer.stats_job(jid).reserves == 2


# -- reserve-job (§2.5; §9 cases 52-59) -------------------------------------------------------


def test_reserve_job_picks_a_specific_ready_job(client: jackd.Client) -> None:
    # §9 case 52.
    client.put(b"one")
    two = client.put(b"two")
    assert client.reserve_job(two) == jackd.Job(two, b"two")
    stats = client.stats_job(two)
    assert (stats.state, stats.reserves) == ("reserved", 1)
    assert client.stats_job(1).state == "ready"


def test_reserve_job_accepts_a_job(client: jackd.Client) -> None:
    jid = client.put(b"x")
    job = client.peek(jid)
    assert client.reserve_job(job) == job


def test_reserve_job_of_own_reserved_job(client: jackd.Client) -> None:
    # §9 case 53.
    jid = client.put(b"x")
    client.reserve_job(jid)
    with pytest.raises(jackd.NotFoundError):
        client.reserve_job(jid)
    assert client.stats_job(jid).reserves == 1


def test_reserve_job_of_job_reserved_elsewhere(client: jackd.Client, connect: Connect) -> None:
    other = connect()
    jid = client.put(b"x")
    other.reserve(timeout=0)
    with pytest.raises(jackd.NotFoundError):
        client.reserve_job(jid)
    other.delete(jid)


@pytest.mark.parametrize("jid", [999, 2**64 - 1])
def test_reserve_job_of_missing_job(client: jackd.Client, jid: int) -> None:
    # §9 case 54 (the id 0 is refused by the client, see test_validation.py).
    client.put(b"x")
    with pytest.raises(jackd.NotFoundError):
        client.reserve_job(jid)


def test_reserve_job_of_deleted_job(client: jackd.Client) -> None:
    jid = client.put(b"x")
    client.delete(jid)
    with pytest.raises(jackd.NotFoundError):
        client.reserve_job(jid)


def test_reserve_job_of_delayed_job(client: jackd.Client) -> None:
    # §9 case 56.
    jid = client.put(b"delayed", delay=100)
    assert client.reserve_job(jid) == jackd.Job(jid, b"delayed")
    assert client.stats_job(jid).state == "reserved"
    client.release(jid)
    stats = client.stats_job(jid)
    assert (stats.state, stats.releases) == ("ready", 1)


def test_reserve_job_of_buried_job(client: jackd.Client) -> None:
    # §9 case 57.
    jid = client.put(b"buried")
    client.reserve(timeout=0)
    client.bury(jid)
    assert client.reserve_job(jid) == jackd.Job(jid, b"buried")
    assert client.stats_job(jid).state == "reserved"
    assert client.stats_tube("default").current_jobs_buried == 0


def test_reserve_job_ignores_the_watch_list(client: jackd.Client, connect: Connect) -> None:
    # §9 case 58.
    producer = connect()
    producer.use("other")
    jid = producer.put(b"elsewhere")
    assert client.list_tubes_watched() == ["default"]
    assert client.reserve_job(jid) == jackd.Job(jid, b"elsewhere")
    assert client.stats_job(jid).tube == "other"


def test_reserve_job_ignores_a_pause(client: jackd.Client) -> None:
    # §9 case 111.
    jid = client.put(b"paused")
    client.pause_tube("default", 100)
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)
    assert client.reserve_job(jid) == jackd.Job(jid, b"paused")


def test_reserve_job_never_deadline_soon(client: jackd.Client) -> None:
    # §9 case 59.
    a = client.put(b"A", ttr=1)
    b = client.put(b"B", ttr=60)
    assert client.reserve_job(a) == jackd.Job(a, b"A")
    assert client.reserve_job(b) == jackd.Job(b, b"B")
    # A plain reserve now gets DEADLINE_SOON for the ttr=1 job.
    with pytest.raises(jackd.DeadlineSoonError):
        client.reserve(timeout=0)


def test_job_reserved_by_reserve_job_times_out_like_any(
    client: jackd.Client, connect: Connect
) -> None:
    # §5.1: after TTR expiry even a job taken from the delayed state goes back to ready.
    observer = connect()
    jid = client.put(b"x", delay=100, ttr=1)
    client.reserve_job(jid)

    def poke_and_look() -> str:
        client.list_tube_used()
        return job_state(observer, jid)

    wait_until(poke_and_look, lambda state: state == "ready", what="TTR expiry")
    assert observer.stats_job(jid).timeouts == 1
