"""delete, release, bury, touch, peek*, kick and kick-job against a real beanstalkd.

protocol-notes §2.6-§2.14 and the state x command matrix of §2.22; §9 cases 60-101.
Argument validation (bad ids, out-of-range numbers) is in test_validation.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import jackd

from ._support import Connect, wait_until

U32_MAX = 4294967295
U64_MAX = 2**64 - 1


def make_buried(client: jackd.Client, body: bytes, priority: int = 0) -> int:
    """Put a job into the used tube, reserve it by id and bury it with ``priority``."""
    jid = client.put(body)
    client.reserve_job(jid)
    client.bury(jid, priority)
    return jid


# -- delete (§9 cases 60-64) ------------------------------------------------------------------


def test_delete_ready_job_twice(client: jackd.Client) -> None:
    # §9 case 60.
    jid = client.put(b"x")
    client.delete(jid)
    with pytest.raises(jackd.NotFoundError):
        client.delete(jid)
    with pytest.raises(jackd.NotFoundError):
        client.peek(jid)
    assert client.stats().cmd_delete == 2


def test_delete_delayed_job(client: jackd.Client) -> None:
    # §9 case 61.
    jid = client.put(b"x", delay=100)
    client.delete(jid)
    assert client.stats().current_jobs_delayed == 0


def test_delete_buried_job_from_another_connection(client: jackd.Client, connect: Connect) -> None:
    # §9 case 62.
    jid = make_buried(client, b"x")
    connect().delete(jid)
    assert client.stats().current_jobs_buried == 0


def test_delete_own_reserved_job(client: jackd.Client) -> None:
    jid = client.put(b"x")
    job = client.reserve(timeout=0)
    client.delete(job)
    stats = client.stats()
    assert (stats.current_jobs_reserved, stats.current_jobs_ready) == (0, 0)
    assert client.stats_tube("default").cmd_delete == 1
    with pytest.raises(jackd.NotFoundError):
        client.stats_job(jid)


def test_delete_job_reserved_elsewhere(client: jackd.Client, connect: Connect) -> None:
    # §9 case 63.
    worker = connect()
    jid = client.put(b"x")
    assert worker.reserve(timeout=0).id == jid
    with pytest.raises(jackd.NotFoundError):
        client.delete(jid)
    assert client.stats_job(jid).state == "reserved"
    worker.delete(jid)


@pytest.mark.parametrize("jid", [1, 999, U64_MAX])
def test_delete_missing_job(client: jackd.Client, jid: int) -> None:
    # §9 case 64.
    with pytest.raises(jackd.NotFoundError):
        client.delete(jid)


# -- release (§9 cases 67-70) ----------------------------------------------------------------


def test_release_with_priority_and_delay(client: jackd.Client) -> None:
    # §9 case 67.
    jid = client.put(b"x")
    job = client.reserve(timeout=0)
    client.release(job, 10, 5)
    stats = client.stats_job(jid)
    assert (stats.state, stats.pri, stats.delay, stats.releases) == ("delayed", 10, 5, 1)
    assert stats.time_left in (4, 5)
    assert client.peek_delayed() == jackd.Job(jid, b"x")
    assert client.stats().cmd_release == 1


def test_release_to_ready(client: jackd.Client) -> None:
    # §9 case 68; the defaults are priority 0 and no delay.
    jid = client.put(b"x", priority=77, delay=0)
    client.reserve(timeout=0)
    client.release(jid)
    stats = client.stats_job(jid)
    assert (stats.state, stats.pri, stats.delay, stats.releases) == ("ready", 0, 0, 1)
    assert client.reserve(timeout=0) == jackd.Job(jid, b"x")


def test_release_keyword_arguments(client: jackd.Client) -> None:
    jid = client.put(b"x")
    client.reserve(timeout=0)
    client.release(jid, priority=U32_MAX, delay=U32_MAX)
    stats = client.stats_job(jid)
    assert (stats.state, stats.pri, stats.delay) == ("delayed", U32_MAX, U32_MAX)


@pytest.mark.parametrize(
    ("delay", "expected"),
    [(0.1, 1), (1.5, 2), (timedelta(milliseconds=2001), 3), (timedelta(seconds=4), 4)],
)
def test_release_delay_rounds_up(
    client: jackd.Client, delay: float | timedelta, expected: int
) -> None:
    jid = client.put(b"x")
    client.reserve(timeout=0)
    client.release(jid, delay=delay)
    stats = client.stats_job(jid)
    assert (stats.state, stats.delay) == ("delayed", expected)


def test_released_delayed_job_becomes_ready(client: jackd.Client) -> None:
    jid = client.put(b"x")
    client.reserve(timeout=0)
    client.release(jid, delay=1)
    assert client.reserve(timeout=5) == jackd.Job(jid, b"x")
    stats = client.stats_job(jid)
    # The delay field keeps the last delay after the job became ready (§4.2).
    assert (stats.reserves, stats.releases, stats.delay) == (2, 1, 1)


@pytest.mark.parametrize("state", ["ready", "delayed", "buried", "missing"])
def test_release_of_job_not_reserved(client: jackd.Client, state: str) -> None:
    # §9 case 69 and the §2.22 matrix.
    jid = setup_state(client, state)
    with pytest.raises(jackd.NotFoundError):
        client.release(jid)
    if state != "missing":
        assert client.stats_job(jid).state == state


def test_release_of_job_reserved_elsewhere(client: jackd.Client, connect: Connect) -> None:
    # §9 case 70.
    worker = connect()
    jid = client.put(b"x")
    worker.reserve(timeout=0)
    with pytest.raises(jackd.NotFoundError):
        client.release(jid)
    assert client.stats_job(jid).state == "reserved"


# -- bury (§9 cases 72-75) -------------------------------------------------------------------


def test_bury(client: jackd.Client) -> None:
    # §9 case 72.
    jid = client.put(b"x", priority=3)
    job = client.reserve(timeout=0)
    client.bury(job, 7)
    stats = client.stats_job(jid)
    assert (stats.state, stats.pri, stats.buries) == ("buried", 7, 1)
    assert client.peek_buried() == jackd.Job(jid, b"x")
    assert client.stats().cmd_bury == 1
    assert client.stats_tube("default").current_jobs_buried == 1
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)


def test_bury_default_priority_is_zero(client: jackd.Client) -> None:
    jid = client.put(b"x", priority=500)
    client.reserve(timeout=0)
    client.bury(jid)
    assert client.stats_job(jid).pri == 0


def test_bury_maximum_priority(client: jackd.Client) -> None:
    jid = client.put(b"x")
    client.reserve(timeout=0)
    client.bury(jid, priority=U32_MAX)
    assert client.stats_job(jid).pri == U32_MAX


@pytest.mark.parametrize("state", ["ready", "delayed", "buried", "missing"])
def test_bury_of_job_not_reserved(client: jackd.Client, state: str) -> None:
    # §9 cases 73 and 75.
    jid = setup_state(client, state)
    with pytest.raises(jackd.NotFoundError):
        client.bury(jid, U32_MAX)
    if state != "missing":
        assert client.stats_job(jid).state == state


def test_bury_of_job_reserved_elsewhere(client: jackd.Client, connect: Connect) -> None:
    worker = connect()
    jid = client.put(b"x")
    worker.reserve(timeout=0)
    with pytest.raises(jackd.NotFoundError):
        client.bury(jid)


def test_buried_jobs_are_a_fifo(client: jackd.Client) -> None:
    # Buried jobs keep burial order regardless of priority.
    a = make_buried(client, b"a", priority=9)
    b = make_buried(client, b"b", priority=1)
    assert client.peek_buried() == jackd.Job(a, b"a")
    client.delete(a)
    assert client.peek_buried() == jackd.Job(b, b"b")


# -- touch (§9 cases 76-77) ------------------------------------------------------------------


def test_touch_restarts_the_ttr(client: jackd.Client) -> None:
    # §9 case 76, with ttr=10 so the check is exact and needs no margin handling.
    jid = client.put(b"x", ttr=10)
    client.reserve(timeout=0)
    assert client.stats_job(jid).time_left == 9
    wait_until(
        lambda: client.stats_job(jid).time_left,
        lambda left: left <= 8,
        what="time-left to drop",
    )
    client.touch(jid)
    stats = client.stats_job(jid)
    assert (stats.state, stats.time_left) == ("reserved", 9)
    assert client.stats().cmd_touch == 1


def test_touch_accepts_a_job(client: jackd.Client) -> None:
    client.put(b"x", ttr=5)
    job = client.reserve(timeout=0)
    client.touch(job)
    assert client.stats_job(job).state == "reserved"


@pytest.mark.parametrize("state", ["ready", "delayed", "buried", "missing", "deleted"])
def test_touch_of_job_not_reserved(client: jackd.Client, state: str) -> None:
    # §9 case 77.
    jid = setup_state(client, state)
    with pytest.raises(jackd.NotFoundError):
        client.touch(jid)


def test_touch_of_job_reserved_elsewhere(client: jackd.Client, connect: Connect) -> None:
    worker = connect()
    jid = client.put(b"x")
    worker.reserve(timeout=0)
    with pytest.raises(jackd.NotFoundError):
        client.touch(jid)


# -- peek (§9 cases 91-95) -------------------------------------------------------------------


def test_peek_any_state(client: jackd.Client, connect: Connect) -> None:
    # §9 case 94: peek <id> sees every job, reserved ones included, in any tube.
    worker = connect()
    ready = client.put(b"ready")
    delayed = client.put(b"delayed", delay=100)
    client.use("elsewhere")
    reserved = client.put(b"reserved")
    buried = client.put(b"buried")
    worker.reserve_job(reserved)
    client.reserve_job(buried)
    client.bury(buried)
    client.use("default")
    for jid, body in [
        (ready, b"ready"),
        (delayed, b"delayed"),
        (reserved, b"reserved"),
        (buried, b"buried"),
    ]:
        assert client.peek(jid) == jackd.Job(jid, body)
        assert worker.peek(jid) == jackd.Job(jid, body)
    assert client.stats().cmd_peek == 8


def test_peek_does_not_reserve(client: jackd.Client) -> None:
    jid = client.put(b"x")
    client.peek(jid)
    client.peek_ready()
    assert client.stats_job(jid).state == "ready"
    assert client.stats_job(jid).reserves == 0
    assert client.reserve(timeout=0).id == jid


def test_peek_missing(client: jackd.Client) -> None:
    with pytest.raises(jackd.NotFoundError):
        client.peek(1)
    with pytest.raises(jackd.NotFoundError):
        client.peek(U64_MAX)


def test_peek_commands_on_empty_tube(client: jackd.Client) -> None:
    # §9 case 91.
    with pytest.raises(jackd.NotFoundError):
        client.peek_ready()
    with pytest.raises(jackd.NotFoundError):
        client.peek_delayed()
    with pytest.raises(jackd.NotFoundError):
        client.peek_buried()
    stats = client.stats()
    assert (stats.cmd_peek_ready, stats.cmd_peek_delayed, stats.cmd_peek_buried) == (1, 1, 1)


def test_peek_ready_order(client: jackd.Client) -> None:
    client.put(b"a", priority=10)
    b = client.put(b"b", priority=5)
    client.put(b"c", priority=5)
    client.put(b"d", delay=100)
    assert client.peek_ready() == jackd.Job(b, b"b")
    client.delete(b)
    assert client.peek_ready() == jackd.Job(3, b"c")


def test_peek_delayed_order(client: jackd.Client) -> None:
    # §9 case 92.
    client.put(b"now")
    late = client.put(b"late", delay=99)
    soon = client.put(b"soon", delay=50)
    assert client.peek_delayed() == jackd.Job(soon, b"soon")
    client.delete(soon)
    assert client.peek_delayed() == jackd.Job(late, b"late")
    client.delete(late)
    with pytest.raises(jackd.NotFoundError):
        client.peek_delayed()


def test_peek_commands_use_the_used_tube(client: jackd.Client) -> None:
    # §9 case 93: peek-* look at the used tube, not at the watched ones.
    client.use("t3")
    ready = client.put(b"ready")
    delayed = client.put(b"delayed", delay=100)
    buried = make_buried(client, b"buried")  # reserve_job works on unwatched tubes
    client.use("t1")
    client.watch("t3")
    with pytest.raises(jackd.NotFoundError):
        client.peek_ready()
    with pytest.raises(jackd.NotFoundError):
        client.peek_delayed()
    with pytest.raises(jackd.NotFoundError):
        client.peek_buried()
    client.use("t3")
    assert client.peek_ready() == jackd.Job(ready, b"ready")
    assert client.peek_delayed() == jackd.Job(delayed, b"delayed")
    assert client.peek_buried() == jackd.Job(buried, b"buried")


def test_peek_ready_does_not_see_reserved_jobs(client: jackd.Client) -> None:
    client.put(b"x")
    client.reserve(timeout=0)
    with pytest.raises(jackd.NotFoundError):
        client.peek_ready()


# -- kick (§9 cases 96-99) -------------------------------------------------------------------


def test_kick_buried_before_delayed(client: jackd.Client) -> None:
    # §9 case 96: 3 buried + 2 delayed in the used tube.
    buried = [make_buried(client, b"b%d" % n) for n in range(3)]
    delayed = [client.put(b"d%d" % n, delay=100 + n) for n in range(2)]
    assert client.kick(2) == 2
    assert [client.stats_job(j).state for j in buried] == ["ready", "ready", "buried"]
    assert client.kick(5) == 1
    assert [client.stats_job(j).state for j in buried] == ["ready"] * 3
    assert [client.stats_job(j).state for j in delayed] == ["delayed"] * 2
    assert client.kick(5) == 2
    assert [client.stats_job(j).state for j in delayed] == ["ready"] * 2
    assert client.kick(5) == 0
    assert [client.stats_job(j).kicks for j in buried + delayed] == [1] * 5
    assert client.stats().cmd_kick == 4


def test_kick_delayed_soonest_first(client: jackd.Client) -> None:
    late = client.put(b"late", delay=200)
    soon = client.put(b"soon", delay=100)
    assert client.kick(1) == 1
    assert client.stats_job(soon).state == "ready"
    assert client.stats_job(late).state == "delayed"


def test_kick_zero(client: jackd.Client) -> None:
    # §9 case 97.
    assert client.kick(0) == 0
    make_buried(client, b"x")
    assert client.kick(0) == 0
    assert client.stats().current_jobs_buried == 1


def test_kick_maximum_bound(client: jackd.Client) -> None:
    for n in range(3):
        make_buried(client, b"%d" % n)
    assert client.kick(U32_MAX) == 3


def test_kick_works_on_the_used_tube_only(client: jackd.Client) -> None:
    # §9 case 99.
    client.use("other")
    jid = client.put(b"x", delay=100)
    client.use("default")
    assert client.kick(10) == 0
    client.kick_job(jid)
    stats = client.stats_job(jid)
    assert (stats.state, stats.kicks, stats.tube) == ("ready", 1, "other")
    assert client.stats().cmd_kick == 1  # kick-job has no counter


def test_kick_job_buried_in_another_tube(client: jackd.Client) -> None:
    client.use("other")
    jid = make_buried(client, b"x")
    client.use("default")
    client.kick_job(jackd.Job(jid, b"x"))
    assert client.stats_job(jid).state == "ready"
    assert client.stats_tube("other").current_jobs_ready == 1


@pytest.mark.parametrize("state", ["ready", "reserved", "missing", "deleted"])
def test_kick_job_not_found(client: jackd.Client, state: str) -> None:
    # §9 case 100.
    jid = setup_state(client, state)
    with pytest.raises(jackd.NotFoundError):
        client.kick_job(jid)


def test_kick_job_reserved_elsewhere(client: jackd.Client, connect: Connect) -> None:
    worker = connect()
    jid = client.put(b"x")
    worker.reserve(timeout=0)
    with pytest.raises(jackd.NotFoundError):
        client.kick_job(jid)


# -- the whole matrix (§2.22) and Job objects ------------------------------------------------


def setup_state(client: jackd.Client, state: str) -> int:
    """Return the id of a job in ``state`` (in the used tube), or of a job that is gone."""
    if state == "ready":
        return client.put(b"ready")
    if state == "delayed":
        return client.put(b"delayed", delay=100)
    if state == "buried":
        return make_buried(client, b"buried")
    if state == "reserved":
        jid = client.put(b"reserved")
        client.reserve_job(jid)
        return jid
    if state == "deleted":
        jid = client.put(b"deleted")
        client.delete(jid)
        return jid
    assert state == "missing"
    return 4242


@pytest.mark.parametrize("state", ["ready", "delayed", "buried", "reserved"])
def test_delete_in_every_state(client: jackd.Client, state: str) -> None:
    jid = setup_state(client, state)
    assert client.stats_job(jid).state == state
    client.delete(jid)
    with pytest.raises(jackd.NotFoundError):
        client.stats_job(jid)


def test_job_objects_accepted_wherever_an_id_is(client: jackd.Client) -> None:
    client.put(b"x", ttr=30)
    job = client.reserve(timeout=0)
    assert isinstance(job, jackd.Job)
    assert client.peek(job) == job
    assert client.stats_job(job).id == job.id
    client.touch(job)
    client.release(job, delay=100)
    client.kick_job(job)
    assert client.reserve_job(job) == job
    client.bury(job)
    client.kick_job(job)
    assert client.reserve_job(job) == job
    client.delete(job)
    with pytest.raises(jackd.NotFoundError):
        client.peek(job)


def test_full_life_cycle_counters(client: jackd.Client) -> None:
    jid = client.put(b"x")
    job = client.reserve(timeout=0)
    client.release(job)
    job = client.reserve(timeout=0)
    client.bury(job)
    client.kick(1)
    job = client.reserve(timeout=0)
    stats = client.stats_job(jid)
    assert (stats.state, stats.reserves, stats.releases, stats.buries, stats.kicks) == (
        "reserved",
        3,
        1,
        1,
        1,
    )
    assert stats.timeouts == 0
