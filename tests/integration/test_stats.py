"""stats, stats-job and stats-tube against a real beanstalkd.

protocol-notes §2.15-§2.17, §4.1-§4.3, §4.5; §9 cases 102-108. The server's command counters
also prove that every client method sends the command it is named after.
"""

from __future__ import annotations

import dataclasses
import os
import re

import pytest

import jackd
from jackd.testing import BeanstalkdServer

from ._support import Connect, wait_until

U32_MAX = 4294967295

SERVER_STAT_TYPES = {
    "rusage_utime": float,
    "rusage_stime": float,
    "draining": bool,
    "version": str,
    "id": str,
    "hostname": str,
    "os": str,
    "platform": str,
}


def test_server_stats_types_and_values(client: jackd.Client, server: BeanstalkdServer) -> None:
    # §9 cases 102 and 108. The test server's readiness probe may not be gone yet.
    wait_until(client.stats, lambda s: s.current_connections == 1, what="the probe to close")
    first = client.stats()
    stats = client.stats()
    names = [f.name for f in dataclasses.fields(stats) if f.name != "extra"]
    assert len(names) == 51
    for name in names:
        value = getattr(stats, name)
        assert type(value) is SERVER_STAT_TYPES.get(name, int), (name, value)
    assert stats.extra == {}  # jackd knows every key 1.12 sends
    assert stats.version == "1.12"
    assert stats.draining is False
    assert stats.pid == server.pid
    assert stats.max_job_size == 2_000_000
    assert re.fullmatch(r"[0-9a-f]{16}", stats.id), stats.id
    uname = os.uname()
    assert stats.os == uname.version  # 1.12 leaves it unquoted and starting with '#'
    assert stats.os != ""
    assert stats.hostname == uname.nodename
    assert stats.platform == uname.machine
    assert stats.rusage_utime >= 0.0
    assert stats.rusage_stime >= 0.0
    assert stats.uptime >= 0
    assert stats.binlog_max_size == 10485760
    assert (stats.binlog_oldest_index, stats.binlog_current_index) == (0, 0)
    assert (stats.current_tubes, stats.current_connections) == (1, 1)
    assert stats.cmd_stats == first.cmd_stats + 1
    assert stats.total_jobs == 0


def test_server_id_is_stable(client: jackd.Client, connect: Connect) -> None:
    first = client.stats()
    assert connect().stats().id == first.id
    assert client.stats().id == first.id


def test_connection_counters(client: jackd.Client, connect: Connect) -> None:
    base = client.stats()
    producer = connect()
    worker = connect()
    producer.put(b"x")
    worker.reserve(timeout=0)
    stats = wait_until(client.stats, lambda s: s.current_connections == 3, what="3 connections")
    assert stats.total_connections == base.total_connections + 2
    assert (stats.current_producers, stats.current_workers, stats.current_waiting) == (1, 1, 0)
    worker.close()
    producer.close()


def test_every_method_bumps_its_own_counter(client: jackd.Client, flavor: str) -> None:
    # The counters the server keeps per command name (§4.1) show that each method sends its
    # own command exactly once. reserve-job and kick-job have no counter. The asyncio
    # client's reserve_job also reads the job's stats first, to put the job back as it was
    # should its task be cancelled.
    jid = client.put(b"one")
    client.use("default")
    job = client.reserve()
    client.release(job)
    job = client.reserve(timeout=0)
    client.bury(job)
    client.kick(1)
    client.reserve_job(jid)
    client.touch(jid)
    client.release(jid, delay=100)
    client.kick_job(jid)
    client.watch("w")
    client.ignore("w")
    client.peek(jid)
    client.peek_ready()
    with pytest.raises(jackd.NotFoundError):
        client.peek_delayed()
    with pytest.raises(jackd.NotFoundError):
        client.peek_buried()
    client.stats_job(jid)
    client.stats_tube("default")
    client.list_tubes()
    client.list_tube_used()
    client.list_tubes_watched()
    client.pause_tube("default", 0)
    client.delete(jid)
    client.put(b"two")
    stats = client.stats()
    counters = {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)}
    counters = {k: v for k, v in counters.items() if k.startswith("cmd_")}
    assert counters == {
        "cmd_put": 2,
        "cmd_peek": 1,
        "cmd_peek_ready": 1,
        "cmd_peek_delayed": 1,
        "cmd_peek_buried": 1,
        "cmd_reserve": 1,
        "cmd_reserve_with_timeout": 1,
        "cmd_delete": 1,
        "cmd_release": 2,
        "cmd_use": 1,
        "cmd_watch": 1,
        "cmd_ignore": 1,
        "cmd_bury": 1,
        "cmd_kick": 1,
        "cmd_touch": 1,
        "cmd_stats": 1,
        "cmd_stats_job": 2 if flavor == "async" else 1,
        "cmd_stats_tube": 1,
        "cmd_list_tubes": 1,
        "cmd_list_tube_used": 1,
        "cmd_list_tubes_watched": 1,
        "cmd_pause_tube": 1,
    }
    assert stats.total_jobs == 2


def test_server_job_counts(client: jackd.Client, connect: Connect) -> None:
    worker = connect()
    client.put(b"urgent", priority=1023)
    client.put(b"not urgent", priority=1024)
    client.put(b"delayed", delay=100)
    reserved = client.put(b"reserved", priority=5000)
    buried = client.put(b"buried", priority=6000)
    worker.reserve_job(reserved)
    client.reserve_job(buried)
    client.bury(buried, 6000)
    stats = client.stats()
    assert (
        stats.current_jobs_urgent,
        stats.current_jobs_ready,
        stats.current_jobs_reserved,
        stats.current_jobs_delayed,
        stats.current_jobs_buried,
        stats.total_jobs,
    ) == (1, 2, 1, 1, 1, 5)


# -- stats-job (§4.2; §9 cases 104-105) ------------------------------------------------------


def test_stats_job_delayed(client: jackd.Client) -> None:
    # §9 case 104: all 14 keys.
    jid = client.put(b"x", priority=1023, delay=30, ttr=0)
    stats = client.stats_job(jid)
    assert stats.extra == {}
    assert stats == jackd.JobStats(
        id=jid,
        tube="default",
        state="delayed",
        pri=1023,
        age=0,
        delay=30,
        ttr=1,
        time_left=29,
        file=0,
        reserves=0,
        timeouts=0,
        releases=0,
        buries=0,
        kicks=0,
    )


def test_stats_job_reserved(client: jackd.Client) -> None:
    client.use("work")
    jid = client.put(b"x", priority=7, ttr=120)
    client.reserve_job(jid)
    stats = client.stats_job(jid)
    assert (stats.id, stats.tube, stats.state, stats.pri, stats.ttr) == (
        jid,
        "work",
        "reserved",
        7,
        120,
    )
    assert stats.time_left == 119
    assert stats.reserves == 1
    for f in dataclasses.fields(stats):
        if f.name not in ("extra", "tube", "state"):
            assert type(getattr(stats, f.name)) is int, f.name


def test_stats_job_is_visible_from_any_connection(client: jackd.Client, connect: Connect) -> None:
    jid = client.put(b"x")
    client.reserve(timeout=0)
    assert connect().stats_job(jid).state == "reserved"


def test_stats_job_missing(client: jackd.Client) -> None:
    # §9 case 105.
    with pytest.raises(jackd.NotFoundError):
        client.stats_job(99999)
    jid = client.put(b"x")
    client.delete(jid)
    with pytest.raises(jackd.NotFoundError):
        client.stats_job(jid)


def test_stats_job_tube_named_like_a_number(client: jackd.Client) -> None:
    client.use("123")
    stats = client.stats_job(client.put(b"x"))
    assert stats.tube == "123"
    assert type(stats.tube) is str


# -- stats-tube (§4.3; §9 cases 106-107) -----------------------------------------------------


def test_stats_tube_urgent(client: jackd.Client) -> None:
    # §9 case 106.
    client.use("u")
    client.put(b"a", priority=1023)
    client.put(b"b", priority=1024)
    stats = client.stats_tube("u")
    assert (stats.current_jobs_urgent, stats.current_jobs_ready) == (1, 2)


def test_stats_tube_all_fields(client: jackd.Client, connect: Connect) -> None:
    worker = connect()
    worker.watch("t")
    worker.use("t")
    client.use("t")
    client.put(b"urgent", priority=0)
    client.put(b"ready", priority=2000)
    client.put(b"delayed", delay=100)
    reserved = client.put(b"reserved")
    worker.reserve_job(reserved)
    buried = client.put(b"buried")
    client.reserve_job(buried)
    client.bury(buried)
    gone = client.put(b"gone")
    client.delete(gone)
    stats = client.stats_tube("t")
    assert stats.extra == {}
    assert stats == jackd.TubeStats(
        name="t",
        current_jobs_urgent=1,
        current_jobs_ready=2,
        current_jobs_reserved=1,
        current_jobs_delayed=1,
        current_jobs_buried=1,
        total_jobs=6,
        current_using=2,
        current_watching=1,
        current_waiting=0,
        cmd_delete=1,
        cmd_pause_tube=0,
        pause=0,
        pause_time_left=0,
    )


def test_stats_tube_fresh_default(client: jackd.Client) -> None:
    assert client.stats_tube("default") == jackd.TubeStats(
        name="default", current_using=1, current_watching=1
    )


def test_stats_tube_missing(client: jackd.Client) -> None:
    # §9 case 107 (an invalid name is refused by the client, see test_validation.py).
    with pytest.raises(jackd.NotFoundError):
        client.stats_tube("nosuch")
    assert client.list_tubes() == ["default"]


@pytest.mark.parametrize("name", ["123", "true", "1e3", ".inf", "null"])
def test_stats_tube_name_stays_a_string(client: jackd.Client, name: str) -> None:
    client.watch(name)
    stats = client.stats_tube(name)
    assert stats.name == name
    assert type(stats.name) is str
    assert stats.current_watching == 1
