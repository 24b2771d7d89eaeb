"""jackd export, import, move and clear: what they read, copy and delete, job by job."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import jackd
from jackd.testing import BeanstalkdServer

from .cli_support import cli

ServerFactory = Callable[..., BeanstalkdServer]


def put(client: jackd.Client, tube: str, body: bytes, state: str = "ready", **args: int) -> int:
    client.use(tube)
    if state == "delayed":
        args.setdefault("delay", 3600)
    jid = client.put(body, **args)
    if state == "buried":
        client.reserve_job(jid)
        client.bury(jid, args.get("priority", jackd.DEFAULT_PRIORITY))
    return jid


def snapshot(client: jackd.Client) -> list[tuple[object, ...]]:
    """Every job of the server in id order: tube, state, priority, ttr, delay left, body."""
    return [job[:6] for job in counted(client)]


def counted(client: jackd.Client) -> list[tuple[object, ...]]:
    """``snapshot``, each job followed by its reserves, releases, buries and kicks."""
    out: list[tuple[object, ...]] = []
    top = client.stats().total_jobs + 10
    for jid in range(1, top):
        try:
            stats = client.stats_job(jid)
        except jackd.NotFoundError:
            continue
        left = stats.time_left if stats.state == "delayed" else 0
        body = client.peek(jid).body
        counters = (stats.reserves, stats.releases, stats.buries, stats.kicks)
        out.append((stats.tube, stats.state, stats.pri, stats.ttr, left, body, *counters))
    return out


def ready_order(client: jackd.Client, tube: str) -> list[bytes]:
    """The bodies of a tube's ready jobs in the order workers would get them."""
    bodies: list[bytes] = []
    with jackd.connect(str(client.endpoint)) as reader:
        reader.watch(tube)
        reader.ignore("default")
        while True:
            try:
                job = reader.reserve(timeout=0)
            except jackd.TimedOutError:
                return bodies
            bodies.append(job.body)


def test_export_then_import_reproduces_10000_jobs_exactly(
    beanstalkd_factory: ServerFactory, tmp_path: Path
) -> None:
    source, target = beanstalkd_factory(), beanstalkd_factory()
    rng = random.Random(7)
    with jackd.connect(source.address) as src:
        for i in range(10_000):
            tube = f"t{i % 3}"
            state = ("ready", "ready", "delayed", "buried")[i % 4]
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
            if i % 2:
                body = f"text {i} ünïcode\r\n".encode()
            args = {"priority": rng.randrange(0, 2**32), "ttr": rng.randrange(1, 10_000)}
            if state == "delayed":
                args["delay"] = rng.randrange(100, 100_000)
            put(src, tube, body, state, **args)
        # One job a worker holds: skipped, and said so.
        src.use("t0")
        held = src.put(b"held")
        with jackd.connect(source.address) as worker:
            worker.reserve_job(held)
            before_counted = counted(src)
            before = [job[:6] for job in before_counted]
            path = tmp_path / "jobs.jsonl"
            ran = cli("export", "t.*", "-s", source.address, "-o", str(path))
            assert ran.code == 0, ran.err
            assert "exported 10000 jobs (5000 ready, 2500 delayed, 2500 buried)" in ran.err
            assert "skipped 1 reserved jobs" in ran.err
            # Export changes nothing: every job as it was, none reserved or released.
            after_export = counted(src)
            assert [j[:4] + j[5:] for j in after_export] == [j[:4] + j[5:] for j in before_counted]
            # Delays only ran down while the two readings (seconds each) were taken: no job
            # was delayed again, as a reserve and release would have done.
            assert all(
                0 <= int(str(b[4])) - int(str(a[4])) <= 15
                for a, b in zip(after_export, before_counted, strict=True)
            )
            assert src.stats().cmd_reserve + src.stats().cmd_release == 0
        ready_before = ready_order(src, "t1")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 10_000
    records = [json.loads(line) for line in lines]
    assert {r["encoding"] for r in records} == {"utf-8", "base64"}
    started = time.monotonic()
    ran = cli("import", str(path), "-s", target.address, "--json")
    assert ran.code == 0, ran.err
    assert ran.json()[0]["imported"] == 10_000
    with jackd.connect(target.address) as dst:
        after = snapshot(dst)
        elapsed = time.monotonic() - started
        assert ready_order(dst, "t1") == ready_before
    expected = [job for job in before if job[5] != b"held"]
    assert len(after) == len(expected) == 10_000
    for was, now, record in zip(expected, after, records, strict=True):
        assert was[:4] == now[:4]
        assert was[5] == now[5]
        # The delay left at export time, counted down since the import: within a second.
        assert 0 <= record["delay"] - int(str(now[4])) <= elapsed + 1


def test_import_into_one_tube_and_refuses_a_bad_file(
    beanstalkd: BeanstalkdServer, tmp_path: Path
) -> None:
    good = tmp_path / "jobs.jsonl"
    good.write_text(
        json.dumps(
            {"tube": "a", "state": "buried", "priority": 3, "ttr": 5, "delay": 0, "body": "x"}
        )
        + "\n\n"
        + json.dumps(
            {
                "tube": "b",
                "state": "delayed",
                "priority": 1,
                "ttr": 5,
                "delay": 60,
                "encoding": "base64",
                "body": "AP8=",
            }
        )
        + "\n"
    )
    ran = cli("import", str(good), "--tube", "one", "-s", beanstalkd.address)
    assert ran.code == 0, ran.err
    with jackd.connect(beanstalkd.address) as c:
        assert c.list_tubes() == ["default", "one"]
        buried, delayed = c.stats_job(1), c.stats_job(2)
        assert (buried.state, buried.pri) == ("buried", 3)
        assert (delayed.state, delayed.pri, c.peek(2).body) == ("delayed", 1, b"\x00\xff")
        assert 58 <= delayed.time_left <= 60
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text() + '{"tube": "a", "state": "reserved"}\n')
    ran = cli("import", str(bad), "-s", beanstalkd.address)
    assert ran.code == 1
    assert "line 4" in ran.err
    with jackd.connect(beanstalkd.address) as c:
        assert c.stats().total_jobs == 2  # nothing of the bad file was put


def test_move_keeps_priority_ttr_delay_and_state(beanstalkd: BeanstalkdServer) -> None:
    with jackd.connect(beanstalkd.address) as c:
        ready = [
            put(c, "src", f"r{i}".encode(), priority=p, ttr=7) for i, p in enumerate([5, 1, 5, 3])
        ]
        delayed = put(c, "src", b"d", "delayed", priority=9, ttr=11, delay=500)
        buried = [
            put(c, "src", f"b{i}".encode(), "buried", priority=20 + i, ttr=13) for i in range(2)
        ]
        put(c, "other", b"untouched")
        held = put(c, "src", b"held")
        with jackd.connect(beanstalkd.address) as worker:
            worker.reserve_job(held)
            ran = cli("move", "src", "dst", "-s", beanstalkd.address, "--json")
            assert ran.code == 0, ran.err
            (row,) = ran.json()
            assert (row["ready"], row["delayed"], row["buried"], row["reserved"]) == (4, 1, 2, 1)
            assert c.stats_job(held).state == "reserved"
        moved = {c.peek(j).body: c.stats_job(j) for j in range(held + 1, held + 8)}
        assert {s.tube for s in moved.values()} == {"dst"}
        assert [(moved[f"r{i}".encode()].pri, moved[f"r{i}".encode()].ttr) for i in range(4)] == [
            (5, 7),
            (1, 7),
            (5, 7),
            (3, 7),
        ]
        d = moved[b"d"]
        assert (d.state, d.pri, d.ttr) == ("delayed", 9, 11)
        assert 495 <= d.time_left <= 500
        assert [(moved[b].state, moved[b].pri, moved[b].ttr) for b in (b"b0", b"b1")] == [
            ("buried", 20, 13),
            ("buried", 21, 13),
        ]
        for jid in [*ready, delayed, *buried]:
            try:
                c.peek(jid)
            except jackd.NotFoundError:
                continue
            raise AssertionError(f"original {jid} is still there")
        assert c.stats_tube("other").current_jobs_ready == 1
        assert ready_order(c, "dst") == [b"r1", b"r3", b"r0", b"r2"]
        c.use("dst")
        assert c.peek_buried().body == b"b0"  # the oldest buried first, as before


def test_move_with_state_and_limit(beanstalkd: BeanstalkdServer) -> None:
    with jackd.connect(beanstalkd.address) as c:
        for i in range(5):
            put(c, "src", f"b{i}".encode(), "buried")
        put(c, "src", b"r")
        ran = cli(
            "move", "src", "dst", "--state", "buried", "--limit", "3", "-s", beanstalkd.address
        )
        assert ran.code == 0, ran.err
        assert "moved 3 jobs (3 buried)" in ran.out
        src, dst = c.stats_tube("src"), c.stats_tube("dst")
        assert (src.current_jobs_buried, src.current_jobs_ready, dst.current_jobs_buried) == (
            2,
            1,
            3,
        )
        assert cli("move", "src", "src", "-s", beanstalkd.address).code == 2
        assert cli("move", "src", "dst", "--state", "reserved", "-s", beanstalkd.address).code == 2


def test_clear_removes_exactly_the_states_and_tubes_it_names(beanstalkd: BeanstalkdServer) -> None:
    with jackd.connect(beanstalkd.address) as c:
        for tube in ("jobs-a", "jobs-b", "keep"):
            for state in ("ready", "delayed", "buried"):
                for i in range(3):
                    put(c, tube, f"{tube} {state} {i}".encode(), state)
        held = put(c, "jobs-a", b"held")
        with jackd.connect(beanstalkd.address) as worker:
            worker.reserve_job(held)
            refused = cli(
                "clear", "jobs-.*", "--state", "buried,ready", "-s", beanstalkd.address, input="y\n"
            )
            assert refused.code == 1
            assert "--yes" in refused.err
            assert c.stats().current_jobs_buried == 9
            ran = cli(
                "clear",
                "jobs-.*",
                "--state",
                "buried,ready",
                "--yes",
                "-s",
                beanstalkd.address,
                "--json",
            )
            assert ran.code == 0, ran.err
            assert sorted((r["tube"], r["state"], r["deleted"]) for r in ran.json()) == [
                ("jobs-a", "buried", 3),
                ("jobs-a", "ready", 3),
                ("jobs-b", "buried", 3),
                ("jobs-b", "ready", 3),
            ]
            for tube in ("jobs-a", "jobs-b"):
                stats = c.stats_tube(tube)
                assert (
                    stats.current_jobs_ready,
                    stats.current_jobs_delayed,
                    stats.current_jobs_buried,
                ) == (0, 3, 0)
            keep = c.stats_tube("keep")
            assert (
                keep.current_jobs_ready,
                keep.current_jobs_delayed,
                keep.current_jobs_buried,
            ) == (3, 3, 3)
            assert c.stats_job(held).state == "reserved"
