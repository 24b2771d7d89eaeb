"""watch, ignore, list-tubes*, stats-tube existence and pause-tube against a real beanstalkd.

protocol-notes §2.10, §2.11, §2.18-§2.20, §3.1, §4.4, §4.5; §9 cases 79-90 and 109-115.
List order is the server's internal array order and changes on removal, so lists of several
tubes are compared as sets.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

import jackd

from ._support import Connect

U32_MAX = 4294967295
YAML_LOOKALIKES = ["123", "true", "false", "1e3", ".inf", "null", "0x1F", "007", "1.5"]


# -- watch / ignore (§9 cases 79-83) ---------------------------------------------------------


def test_watch_is_idempotent(client: jackd.Client) -> None:
    # §9 case 79.
    assert client.watch("foo") == 2
    assert client.watch("foo") == 2
    assert client.watch("default") == 2
    assert set(client.list_tubes_watched()) == {"default", "foo"}
    assert client.stats().cmd_watch == 3


def test_watch_creates_the_tube(client: jackd.Client) -> None:
    client.watch("fresh")
    assert set(client.list_tubes()) == {"default", "fresh"}
    stats = client.stats_tube("fresh")
    assert (stats.name, stats.current_watching, stats.current_using) == ("fresh", 1, 0)


def test_watch_counts(client: jackd.Client) -> None:
    assert [client.watch(f"t{n}") for n in range(5)] == [2, 3, 4, 5, 6]
    assert client.ignore("t2") == 5
    assert client.ignore("t2") == 5
    assert set(client.list_tubes_watched()) == {"default", "t0", "t1", "t3", "t4"}


def test_ignore_default(client: jackd.Client) -> None:
    # §9 case 80.
    client.watch("foo")
    assert client.ignore("default") == 1
    assert client.list_tubes_watched() == ["foo"]
    assert client.stats().cmd_ignore == 1


def test_ignore_the_last_tube(client: jackd.Client) -> None:
    # §9 case 81.
    with pytest.raises(jackd.NotIgnoredError):
        client.ignore("default")
    client.watch("foo")
    client.ignore("default")
    with pytest.raises(jackd.NotIgnoredError):
        client.ignore("foo")
    assert client.list_tubes_watched() == ["foo"]


def test_ignore_a_tube_not_watched(client: jackd.Client) -> None:
    # §9 case 82: the count is unchanged and the tube is not created.
    client.watch("foo")
    client.ignore("default")
    assert client.ignore("nonexistent") == 1
    assert client.ignore("default") == 1
    assert "nonexistent" not in client.list_tubes()
    assert client.list_tubes_watched() == ["foo"]


def test_watch_list_is_per_connection(client: jackd.Client, connect: Connect) -> None:
    other = connect()
    client.watch("mine")
    client.ignore("default")
    assert other.list_tubes_watched() == ["default"]
    jid = other.put(b"x")
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)
    assert other.reserve(timeout=0).id == jid


def test_watch_after_put_makes_the_job_reservable(client: jackd.Client) -> None:
    client.use("late")
    jid = client.put(b"x")
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)
    client.watch("late")
    assert client.reserve(timeout=0) == jackd.Job(jid, b"x")


# -- lists (§9 cases 84-90) ------------------------------------------------------------------


def test_fresh_lists(client: jackd.Client) -> None:
    # §9 cases 84-86.
    assert client.list_tubes() == ["default"]
    assert client.list_tubes_watched() == ["default"]
    assert client.list_tube_used() == "default"
    stats = client.stats()
    assert (stats.cmd_list_tubes, stats.cmd_list_tubes_watched, stats.cmd_list_tube_used) == (
        1,
        1,
        1,
    )


def test_list_tubes_watched_after_ignoring_default(client: jackd.Client) -> None:
    # §9 case 88.
    for name in ("foo", "bar", "baz"):
        client.watch(name)
    client.ignore("default")
    watched = client.list_tubes_watched()
    assert len(watched) == 3
    assert set(watched) == {"foo", "bar", "baz"}
    assert set(client.list_tubes()) == {"default", "foo", "bar", "baz"}


def test_list_tubes_sees_other_connections_tubes(client: jackd.Client, connect: Connect) -> None:
    other = connect()
    other.use("used-by-other")
    other.watch("watched-by-other")
    assert set(client.list_tubes()) == {"default", "used-by-other", "watched-by-other"}


def test_unused_empty_tube_goes_away(client: jackd.Client) -> None:
    # §9 case 89.
    client.use("lonely")
    assert "lonely" in client.list_tubes()
    client.use("default")
    assert client.list_tubes() == ["default"]
    with pytest.raises(jackd.NotFoundError):
        client.stats_tube("lonely")


def test_tube_with_jobs_stays(client: jackd.Client) -> None:
    client.use("keep")
    jid = client.put(b"x")
    client.use("default")
    assert set(client.list_tubes()) == {"default", "keep"}
    client.delete(jid)
    assert client.list_tubes() == ["default"]


def test_default_tube_never_goes_away(client: jackd.Client) -> None:
    client.use("other")
    client.watch("other")
    client.ignore("default")
    assert "default" in client.list_tubes()
    assert client.stats_tube("default").name == "default"


@pytest.mark.parametrize("name", YAML_LOOKALIKES)
def test_yaml_lookalike_tube_names_stay_strings(client: jackd.Client, name: str) -> None:
    # §9 case 90 and §4.5: names a YAML parser would turn into numbers, bools or None.
    assert client.use(name) == name
    used = client.list_tube_used()
    assert used == name
    assert type(used) is str
    assert client.watch(name) == 2
    jid = client.put(b"x")
    tubes = client.list_tubes()
    assert set(tubes) == {"default", name}
    assert all(type(t) is str for t in tubes)
    watched = client.list_tubes_watched()
    assert set(watched) == {"default", name}
    assert all(type(t) is str for t in watched)
    stats = client.stats_tube(name)
    assert stats.name == name
    assert type(stats.name) is str
    assert stats.current_jobs_ready == 1
    tube = client.stats_job(jid).tube
    assert tube == name
    assert type(tube) is str


def test_all_lookalike_names_at_once(client: jackd.Client) -> None:
    for name in YAML_LOOKALIKES:
        client.watch(name)
    assert set(client.list_tubes()) == {"default", *YAML_LOOKALIKES}
    assert set(client.list_tubes_watched()) == {"default", *YAML_LOOKALIKES}


def test_longest_tube_name(client: jackd.Client) -> None:
    name = "t" * 200
    assert client.watch(name) == 2
    assert name in client.list_tubes_watched()
    assert client.stats_tube(name).name == name
    assert client.ignore(name) == 1


# -- stats-tube on missing tubes (§9 case 107) -----------------------------------------------


def test_stats_tube_of_missing_tube(client: jackd.Client) -> None:
    with pytest.raises(jackd.NotFoundError):
        client.stats_tube("nosuch")
    assert client.list_tubes() == ["default"]
    assert client.stats().cmd_stats_tube == 1


# -- pause-tube (§9 cases 109-115) -----------------------------------------------------------


def test_pause_missing_tube(client: jackd.Client) -> None:
    # §9 case 109.
    with pytest.raises(jackd.NotFoundError):
        client.pause_tube("ghost", 10)
    assert client.list_tubes() == ["default"]


def test_paused_tube_hands_out_nothing_until_unpaused(client: jackd.Client) -> None:
    jid = client.put(b"x")
    client.pause_tube("default", 100)
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)
    # peek still sees it, and the job stays ready.
    assert client.peek_ready() == jackd.Job(jid, b"x")
    assert client.stats_job(jid).state == "ready"
    client.pause_tube("default", 0)
    assert client.reserve(timeout=0) == jackd.Job(jid, b"x")
    assert client.stats().cmd_pause_tube == 2


def test_pause_expires(client: jackd.Client) -> None:
    # §9 case 110, with a 1 s pause.
    jid = client.put(b"x")
    client.pause_tube("default", 1)
    start = time.monotonic()
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)
    assert client.reserve(timeout=5) == jackd.Job(jid, b"x")
    assert 0.5 <= time.monotonic() - start < 2.5
    assert client.stats_tube("default").pause == 0


def test_pause_stats(client: jackd.Client) -> None:
    # §9 case 113.
    client.pause_tube("default", 100)
    stats = client.stats_tube("default")
    assert stats.pause == 100
    assert stats.pause_time_left in (99, 100)
    assert stats.cmd_pause_tube == 1
    # Pausing again replaces the pause.
    client.pause_tube("default", 50)
    stats = client.stats_tube("default")
    assert (stats.pause, stats.cmd_pause_tube) == (50, 2)
    assert stats.pause_time_left in (49, 50)
    client.pause_tube("default", 0)
    stats = client.stats_tube("default")
    assert (stats.pause, stats.pause_time_left, stats.cmd_pause_tube) == (0, 0, 3)


@pytest.mark.parametrize(
    ("delay", "expected"),
    [(0.5, 1), (99.01, 100), (timedelta(seconds=30), 30), (timedelta(milliseconds=2500), 3)],
)
def test_pause_delay_rounds_up(
    client: jackd.Client, delay: float | timedelta, expected: int
) -> None:
    client.pause_tube("default", delay)
    assert client.stats_tube("default").pause == expected


def test_pause_longest_line(client: jackd.Client) -> None:
    # §9 case 115: a 200-character name and the largest delay make a 224-byte line.
    name = "p" * 200
    client.use(name)
    client.pause_tube(name, U32_MAX)
    stats = client.stats_tube(name)
    assert stats.pause == U32_MAX
    assert stats.pause_time_left >= U32_MAX - 2


def test_pause_affects_only_that_tube(client: jackd.Client, connect: Connect) -> None:
    producer = connect()
    producer.use("open")
    open_job = producer.put(b"open", priority=100)
    producer.use("default")
    paused_job = producer.put(b"paused", priority=0)
    client.watch("open")
    producer.pause_tube("default", 100)
    assert client.reserve(timeout=0) == jackd.Job(open_job, b"open")
    with pytest.raises(jackd.TimedOutError):
        client.reserve(timeout=0)
    producer.pause_tube("default", 0)
    assert client.reserve(timeout=0) == jackd.Job(paused_job, b"paused")


def test_pause_tube_of_another_tube(client: jackd.Client, connect: Connect) -> None:
    # pause-tube names the tube; it needs neither use nor watch on this connection.
    worker = connect()
    worker.watch("work")
    worker.ignore("default")
    client.use("work")
    jid = client.put(b"x")
    client.use("default")
    client.pause_tube("work", 100)
    with pytest.raises(jackd.TimedOutError):
        worker.reserve(timeout=0)
    client.pause_tube("work", 0)
    assert worker.reserve(timeout=0) == jackd.Job(jid, b"x")
