"""The admin subcommands of ``jackd`` against real beanstalkd servers.

Each runs in-process through click's CliRunner (stdin is then no terminal), and the
conventions scripts rely on are also checked through a real ``python -m jackd`` process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jackd
from jackd.testing import BeanstalkdServer

from .cli_support import cli, run

ServerFactory = Callable[..., BeanstalkdServer]


@pytest.fixture
def client(beanstalkd: BeanstalkdServer) -> Iterator[jackd.Client]:
    with jackd.connect(beanstalkd.address) as opened:
        yield opened


def fill(client: jackd.Client, tube: str, *bodies: bytes, **put: int) -> list[int]:
    client.use(tube)
    return [client.put(body, **put) for body in bodies]


# -- stats and tubes -------------------------------------------------------------------------


def test_stats_json_has_one_object_per_server_with_protocol_names(
    beanstalkd_factory: ServerFactory,
) -> None:
    one, two = beanstalkd_factory(), beanstalkd_factory()
    with jackd.connect(one.address) as c:
        c.put_many([b"x"] * 3)
    ran = cli("stats", "-s", one.address, "-s", two.address, "--json")
    assert ran.code == 0, ran.err
    rows = ran.json()
    assert [row["server"] for row in rows] == [one.address, two.address]
    assert [row["total_jobs"] for row in rows] == [3, 0]
    assert rows[0]["current_jobs_ready"] == 3
    assert rows[0]["version"] == "1.12"
    assert not any("-" in key for key in rows[0])


def test_stats_table_has_one_column_per_server(beanstalkd_factory: ServerFactory) -> None:
    one, two = beanstalkd_factory(), beanstalkd_factory()
    ran = cli("stats", "-s", one.address, "-s", two.address)
    assert ran.code == 0
    header, *rows = ran.out.splitlines()
    assert header.split() == ["stat", one.address, two.address]
    assert any(row.split()[0] == "total-jobs" and row.split()[1:] == ["0", "0"] for row in rows)


def test_tubes_json_one_object_per_tube_per_server(
    beanstalkd_factory: ServerFactory,
) -> None:
    one, two = beanstalkd_factory(), beanstalkd_factory()
    with jackd.connect(one.address) as a, jackd.connect(two.address) as b:
        fill(a, "emails", b"1", b"2")
        fill(a, "emails", b"later", delay=100)
        fill(b, "emails", b"x", priority=2000)
        fill(b, "sms", b"y")
        ran = cli("tubes", "e.*", "-s", one.address, "-s", two.address, "--json")
    assert ran.code == 0, ran.err
    rows = ran.json()
    assert sorted((r["server"], r["name"]) for r in rows) == sorted(
        [(one.address, "emails"), (two.address, "emails")]
    )
    first = next(r for r in rows if r["server"] == one.address)
    assert (first["current_jobs_ready"], first["current_jobs_delayed"]) == (2, 1)
    assert first["current_jobs_urgent"] == 2
    assert first["total_jobs"] == 3
    assert "pause_time_left" in first


def test_tubes_pattern_matches_the_whole_name(
    beanstalkd: BeanstalkdServer, client: jackd.Client
) -> None:
    fill(client, "emails", b"1")
    fill(client, "mail", b"1")
    names = [r["name"] for r in cli("tubes", "mail", "-s", beanstalkd.address, "--json").json()]
    assert names == ["mail"]
    table = cli("tubes", "-s", beanstalkd.address).out.splitlines()
    assert table[0].split() == [
        "tube", "ready", "reserved", "delayed", "buried", "urgent", "waiting", "watching",
        "using", "paused", "total",
    ]  # fmt: skip
    assert [line.split()[0] for line in table[1:]] == ["default", "emails", "mail"]


def test_tubes_shows_pauses(beanstalkd: BeanstalkdServer, client: jackd.Client) -> None:
    fill(client, "slow", b"1")
    assert cli("pause", "slow", "100", "-s", beanstalkd.address).code == 0
    row = next(
        line
        for line in cli("tubes", "slow", "-s", beanstalkd.address).out.splitlines()
        if line.startswith("slow")
    )
    assert row.split()[9] in ("100s", "99s")
    assert client.stats_tube("slow").pause == 100
    assert cli("resume", "slow", "-s", beanstalkd.address).code == 0
    assert client.stats_tube("slow").pause == 0


def test_a_bad_pattern_is_a_usage_error(beanstalkd: BeanstalkdServer) -> None:
    ran = cli("tubes", "(", "-s", beanstalkd.address)
    assert ran.code == 2
    assert "regular expression" in ran.err


# -- peek --------------------------------------------------------------------------------


def test_peek_id_shows_stats_and_pretty_json(
    beanstalkd: BeanstalkdServer, client: jackd.Client
) -> None:
    (jid,) = fill(client, "emails", b'{"to":"ada","n":[1]}', priority=7)
    ran = cli("peek", str(jid), "-s", beanstalkd.address)
    assert ran.code == 0, ran.err
    assert '"to": "ada",' in ran.out  # pretty-printed, one key a line
    assert any(line.split() == ["pri", "7"] for line in ran.out.splitlines())
    assert "json" in ran.out


def test_peek_binary_body_is_a_hex_dump_and_base64_in_json(
    beanstalkd: BeanstalkdServer, client: jackd.Client
) -> None:
    (jid,) = fill(client, "bin", b"\xff\x00abc")
    ran = cli("peek", str(jid), "-s", beanstalkd.address)
    assert "ff 00 61 62 63" in ran.out
    assert "|..abc|" in ran.out
    (job,) = cli("peek", str(jid), "-s", beanstalkd.address, "--json").json()
    assert (job["encoding"], job["body"], job["tube"], job["state"]) == (
        "base64",
        "/wBhYmM=",
        "bin",
        "ready",
    )


def test_peek_tube_with_a_state_flag(beanstalkd: BeanstalkdServer, client: jackd.Client) -> None:
    fill(client, "t", b"later", delay=50)
    fill(client, "t", b"soon", delay=5)
    ready = fill(client, "t", b"r1", b"r2")
    client.watch("t")
    buried = client.reserve(timeout=0)
    client.bury(buried)
    base = ("-s", beanstalkd.address, "--json")
    assert cli("peek", "t", "--ready", *base).json()[0]["body"] == "r2"
    assert cli("peek", "t", "--delayed", *base).json()[0]["body"] == "soon"
    assert cli("peek", "t", "--buried", *base).json()[0]["id"] == ready[0]
    empty = cli("peek", "default", "--ready", "-s", beanstalkd.address)
    assert empty.code == 1
    assert "no ready job" in empty.err


def test_peek_without_a_state_takes_an_id(beanstalkd: BeanstalkdServer) -> None:
    ran = cli("peek", "emails", "-s", beanstalkd.address)
    assert ran.code == 2
    assert "--ready" in ran.err
    missing = cli("peek", "42", "-s", beanstalkd.address)
    assert missing.code == 1
    assert missing.err.strip() == "jackd: job 42 not found"


# -- put ---------------------------------------------------------------------------------


def test_put_body_file_and_stdin(
    beanstalkd: BeanstalkdServer, client: jackd.Client, tmp_path: Path
) -> None:
    path = tmp_path / "body.bin"
    path.write_bytes(b"\x00\xfffile")
    base = ("-s", beanstalkd.address)
    one = cli("put", "t", "hello", "--pri", "3", "--delay", "20", "--ttr", "9", *base)
    assert one.code == 0
    assert one.out.strip() == "1"
    two = cli("put", "t", "--file", str(path), *base, "--json").json()
    assert two == [{"server": beanstalkd.address, "tube": "t", "id": 2}]
    three = cli("put", "t", *base, input=b"from stdin\n")
    assert three.out.strip() == "3"
    stats = client.stats_job(1)
    assert (stats.tube, stats.pri, stats.delay, stats.ttr) == ("t", 3, 20, 9)
    assert client.peek(2).body == b"\x00\xfffile"
    assert client.peek(3).body == b"from stdin\n"


def test_put_lines_puts_one_job_per_line_in_order(
    beanstalkd: BeanstalkdServer, client: jackd.Client
) -> None:
    lines = "".join(f"line {i}\r\n" if i % 2 else f"line {i}\n" for i in range(2500)) + "\n"
    ran = cli(
        "put", "bulk", "--lines", "--pri", "5", "-s", beanstalkd.address, "--json", input=lines
    )
    assert ran.code == 0, ran.err
    ids = [row["id"] for row in ran.json()]
    assert len(ids) == 2500
    assert ids == sorted(ids)
    assert [client.peek(jid).body for jid in (ids[0], ids[1], ids[-1])] == [
        b"line 0",
        b"line 1",
        b"line 2499",
    ]
    assert client.stats_job(ids[7]).pri == 5


# -- kick, delete, bury ------------------------------------------------------------------


def _bury(client: jackd.Client, tube: str, count: int) -> list[int]:
    ids = fill(client, tube, *[b"b"] * count)
    client.watch(tube)
    for jid in ids:
        client.reserve_job(jid)
        client.bury(jid)
    return ids


def test_kick_n_and_all_kick_buried_jobs_before_delayed_ones(
    beanstalkd: BeanstalkdServer, client: jackd.Client
) -> None:
    buried = _bury(client, "k", 3)
    delayed = fill(client, "k", b"d1", b"d2", delay=100)
    base = ("-s", beanstalkd.address)
    assert cli("kick", "k", "2", *base, "--json").json() == [
        {"server": beanstalkd.address, "tube": "k", "kicked": 2}
    ]
    assert cli("kick", "k", "--all", *base).out.strip() == "kicked 1 jobs in k"
    assert [client.stats_job(j).state for j in buried] == ["ready"] * 3
    assert [client.stats_job(j).state for j in delayed] == ["delayed"] * 2
    assert cli("kick", "k", "--all", *base).out.strip() == "kicked 2 jobs in k"
    assert cli("kick", "k", *base).code == 2  # N or --all


def test_kick_job_kicks_by_id_and_fails_for_ready_jobs(
    beanstalkd: BeanstalkdServer, client: jackd.Client
) -> None:
    (buried,) = _bury(client, "k", 1)
    (ready,) = fill(client, "k", b"r")
    ran = cli("kick-job", str(buried), str(ready), "-s", beanstalkd.address, "--json")
    assert ran.code == 1
    assert ran.json() == [
        {"server": beanstalkd.address, "id": buried, "kicked": True},
        {"server": beanstalkd.address, "id": ready, "kicked": False},
    ]
    assert client.stats_job(buried).state == "ready"


def test_delete_refuses_without_yes_when_stdin_is_not_a_terminal(
    beanstalkd: BeanstalkdServer, client: jackd.Client
) -> None:
    ids = fill(client, "t", b"1", b"2")
    ran = cli("delete", *map(str, ids), "-s", beanstalkd.address, input="y\n")
    assert ran.code == 1
    assert "--yes" in ran.err
    assert client.stats_tube("t").current_jobs_ready == 2  # a piped y is no answer
    done = cli("delete", *map(str, ids), "-s", beanstalkd.address, "--yes", "--json")
    assert done.code == 0
    assert [row["deleted"] for row in done.json()] == [True, True]
    assert client.stats_tube("t").current_jobs_ready == 0
    again = cli("delete", str(ids[0]), "-s", beanstalkd.address, "--yes")
    assert again.code == 1
    assert "not found" in again.err


def test_delete_asks_on_a_terminal(
    beanstalkd: BeanstalkdServer, client: jackd.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jackd.cli import _common

    monkeypatch.setattr(_common, "stdin_is_terminal", lambda: True)
    (jid,) = fill(client, "t", b"1")
    declined = cli("delete", str(jid), "-s", beanstalkd.address, input="n\n")
    assert declined.code == 1
    assert "Delete job 1?" in declined.err
    assert client.stats_job(jid).state == "ready"
    accepted = cli("delete", str(jid), "-s", beanstalkd.address, input="y\n")
    assert accepted.code == 0
    with pytest.raises(jackd.NotFoundError):
        client.peek(jid)


def test_bury_reserves_ready_and_delayed_jobs_then_buries_them_keeping_priority(
    beanstalkd: BeanstalkdServer, client: jackd.Client
) -> None:
    (ready,) = fill(client, "t", b"r", priority=42)
    (delayed,) = fill(client, "t", b"d", priority=7, delay=100)
    ran = cli("bury", str(ready), str(delayed), "-s", beanstalkd.address, "--json")
    assert ran.code == 0, ran.err
    assert [row["was"] for row in ran.json()] == ["ready", "delayed"]
    assert [(client.stats_job(j).state, client.stats_job(j).pri) for j in (ready, delayed)] == [
        ("buried", 42),
        ("buried", 7),
    ]
    assert client.stats_job(ready).reserves == 1


def test_bury_leaves_a_job_a_worker_holds(
    beanstalkd: BeanstalkdServer, client: jackd.Client
) -> None:
    (jid,) = fill(client, "t", b"r")
    with jackd.connect(beanstalkd.address) as worker:
        worker.reserve_job(jid)
        ran = cli("bury", str(jid), "-s", beanstalkd.address)
        assert ran.code == 1
        assert "reserved by a worker" in ran.err
        assert client.stats_job(jid).state == "reserved"


# -- servers, errors, exit codes ---------------------------------------------------------


def test_beanstalkd_url_is_the_default_server(beanstalkd: BeanstalkdServer) -> None:
    ran = cli("tubes", "--json", env={"BEANSTALKD_URL": beanstalkd.address})
    assert [row["server"] for row in ran.json()] == [beanstalkd.address]


def test_an_unreachable_server_exits_3_and_the_others_still_report(
    beanstalkd: BeanstalkdServer, beanstalkd_factory: ServerFactory
) -> None:
    gone = beanstalkd_factory()
    address = gone.address
    gone.stop()
    ran = cli("tubes", "-s", beanstalkd.address, "-s", address, "--json")
    assert ran.code == 3
    assert [row["server"] for row in ran.json()] == [beanstalkd.address]
    (line,) = ran.err.splitlines()
    assert line.startswith(f"jackd: {address}: ")
    assert "Traceback" not in ran.err


def test_a_failure_on_one_server_exits_1(beanstalkd_factory: ServerFactory) -> None:
    one, two = beanstalkd_factory(), beanstalkd_factory()
    with jackd.connect(one.address) as c:
        c.put(b"only here")
    ran = cli("peek", "1", "-s", one.address, "-s", two.address, "--json")
    assert ran.code == 1
    assert [row["server"] for row in ran.json()] == [one.address]
    assert ran.err.strip() == f"jackd: {two.address}: job 1 not found"


def test_debug_shows_the_traceback(beanstalkd_factory: ServerFactory) -> None:
    gone = beanstalkd_factory()
    address = gone.address
    gone.stop()
    quiet = cli("stats", "-s", address)
    loud = cli("stats", "-s", address, "--debug")
    assert quiet.code == loud.code == 3
    assert "Traceback" not in quiet.err
    assert "Traceback" in loud.err


def test_a_bad_server_address_is_a_usage_error() -> None:
    ran = cli("stats", "-s", "host:notaport")
    assert ran.code == 2
    assert "port" in ran.err


def test_as_a_real_process(beanstalkd: BeanstalkdServer, beanstalkd_factory: ServerFactory) -> None:
    base = ("-s", beanstalkd.address)
    put = run("put", "proc", "--lines", *base, "--json", input=b"a\nb\n")
    assert put.code == 0, put.err
    assert [row["id"] for row in put.json()] == [1, 2]
    tubes = run("tubes", "proc", *base, "--json")
    assert tubes.json()[0]["current_jobs_ready"] == 2
    refused = run("delete", "1", *base, input=b"y\n")
    assert refused.code == 1
    assert "--yes" in refused.err
    refused = run("clear", "proc", *base, input=b"y\n")
    assert refused.code == 1
    assert run("peek", "1", *base, "--json").json()[0]["body"] == "a"
    gone = beanstalkd_factory()
    address = gone.address
    gone.stop()
    unreachable = run("stats", "-s", address)
    assert unreachable.code == 3
    assert len(unreachable.err.splitlines()) == 1
    assert run("kick", "proc", *base).code == 2
    assert run("bogus").code == 2


def test_clear_asks_on_a_terminal(
    beanstalkd: BeanstalkdServer, client: jackd.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jackd.cli import _common

    monkeypatch.setattr(_common, "stdin_is_terminal", lambda: True)
    fill(client, "t", b"1", b"2")
    declined = cli("clear", "t", "-s", beanstalkd.address, input="n\n")
    assert declined.code == 1
    assert "2 ready, 0 delayed, 0 buried in 1 tubes (t)" in declined.err
    assert client.stats_tube("t").current_jobs_ready == 2
    accepted = cli("clear", "t", "-s", beanstalkd.address, input="y\n")
    assert accepted.code == 0
    assert accepted.out.strip() == "deleted 2 jobs (2 ready, 0 delayed, 0 buried) from 1 tubes"
    assert client.stats_tube("t").current_jobs_ready == 0


def test_what_is_missing_is_an_error(beanstalkd: BeanstalkdServer) -> None:
    base = ("-s", beanstalkd.address)
    ghost = cli("pause", "ghost", "10", *base)
    assert ghost.code == 1
    assert ghost.err.strip() == "jackd: tube ghost not found"
    missing = cli("bury", "77", *base)
    assert missing.code == 1
    assert missing.err.strip() == "jackd: job 77 is not found"
    assert cli("put", "t", "body", "--lines", *base).code == 2


def test_several_servers_prefix_each_line_with_the_server(
    beanstalkd_factory: ServerFactory,
) -> None:
    one, two = beanstalkd_factory(), beanstalkd_factory()
    both = ("-s", one.address, "-s", two.address)
    ran = cli("put", "t", "hello", *both)
    assert ran.out.splitlines() == [f"{one.address}: 1", f"{two.address}: 1"]
    ran = cli("bury", "1", *both)
    assert ran.out.splitlines() == [
        f"{one.address}: buried job 1 (was ready)",
        f"{two.address}: buried job 1 (was ready)",
    ]
    ran = cli("kick-job", "1", *both)
    assert ran.out.splitlines() == [f"{one.address}: kicked job 1", f"{two.address}: kicked job 1"]
    ran = cli("tubes", "t", *both)
    assert [line.split()[:3] for line in ran.out.splitlines()[1:]] == [
        [one.address, "t", "1"],
        [two.address, "t", "1"],
    ]
