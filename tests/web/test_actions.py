"""Every action of the console, as a form posts it, against a real beanstalkd."""

from __future__ import annotations

import json

import pytest

import jackd
from jackd.testing import BeanstalkdFactory

from ._support import MakeWeb, Web, bury

pytestmark = pytest.mark.timeout(60)


def test_put_with_priority_delay_and_ttr(web: Web, producer: jackd.Client) -> None:
    message = web.act(
        "/s/0/put",
        {
            "tube": "made",
            "body": "line one\r\nline two",
            "priority": "77",
            "delay": "30",
            "ttr": "9",
        },
    )
    assert message.startswith("Put job ")
    job_id = int(message.split()[2])
    stats = producer.stats_job(job_id)
    assert (stats.tube, stats.state, stats.pri, stats.delay, stats.ttr) == (
        "made",
        "delayed",
        77,
        30,
        9,
    )
    # What was typed, with plain newlines (a textarea posts CRLF).
    assert producer.peek(job_id).body == b"line one\nline two"


def test_put_with_defaults_and_bad_numbers(web: Web, producer: jackd.Client) -> None:
    message = web.act("/s/0/put", {"tube": "made", "body": "x"})
    stats = producer.stats_job(int(message.split()[2]))
    assert (stats.state, stats.pri, stats.ttr) == ("ready", jackd.DEFAULT_PRIORITY, 60)
    before = producer.stats().cmd_put
    assert "priority must be a whole number" in web.act(
        "/s/0/put", {"tube": "made", "body": "x", "priority": "high"}
    )
    assert "invalid tube name" in web.act("/s/0/put", {"tube": "-bad", "body": "x"})
    assert producer.stats().cmd_put == before


def test_kick_n_and_kick_all(web: Web, producer: jackd.Client) -> None:
    ids = [bury(producer, "k", b"%d" % n) for n in range(5)]
    assert web.act("/s/0/kick", {"tube": "k", "count": "2"}) == "Kicked 2 jobs in k."
    assert [producer.stats_job(i).state for i in ids] == ["ready"] * 2 + ["buried"] * 3
    assert web.act("/s/0/kick", {"tube": "k", "count": "1", "all": "yes"}) == "Kicked 3 jobs in k."
    assert producer.stats_tube("k").current_jobs_buried == 0


def test_kick_delete_and_bury_one_job(web: Web, producer: jackd.Client) -> None:
    buried = bury(producer, "one", b"b")
    producer.use("one")
    ready = producer.put(b"r", priority=12)
    assert web.act(f"/s/0/jobs/{buried}/kick") == f"Kicked job {buried}."
    assert producer.stats_job(buried).state == "ready"
    assert web.act(f"/s/0/jobs/{ready}/bury") == f"Buried job {ready}."
    stats = producer.stats_job(ready)
    assert (stats.state, stats.pri) == ("buried", 12)  # the priority is kept
    assert web.act(f"/s/0/jobs/{ready}/delete") == f"Deleted job {ready}."
    with pytest.raises(jackd.NotFoundError):
        producer.stats_job(ready)
    # A job that is not there: said, not a crash.
    assert "is not there" in web.act(f"/s/0/jobs/{ready}/delete")
    assert "is not there, or not buried or delayed" in web.act(f"/s/0/jobs/{buried}/kick")


def test_job_actions_come_back_to_where_they_were_asked(web: Web, producer: jackd.Client) -> None:
    job_id = bury(producer, "back", b"b")
    response = web.post(f"/s/0/jobs/{job_id}/kick", {"back": f"/s/0/jobs/{job_id}"})
    assert response.headers["location"] == f"/s/0/jobs/{job_id}"
    # Never somewhere else: an absolute or scheme-relative URL is not followed.
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = web.post(f"/s/0/jobs/{job_id}/bury", {"back": target, "tube": "back"})
        assert response.headers["location"] == "/s/0/tubes/back"


def test_delete_all_in_a_state_needs_the_box_ticked(web: Web, producer: jackd.Client) -> None:
    buried = [bury(producer, "c", b"x") for _ in range(3)]
    producer.use("c")
    ready = producer.put(b"stays")
    message = web.act("/s/0/clear", {"tube": "c", "state": "buried"})
    assert message.startswith("Nothing deleted: tick the box")
    assert producer.stats_tube("c").current_jobs_buried == 3
    message = web.act("/s/0/clear", {"tube": "c", "state": "buried", "confirm": "yes"})
    assert message == "Deleted 3 buried jobs from c."
    for job_id in buried:
        with pytest.raises(jackd.NotFoundError):
            producer.stats_job(job_id)
    assert producer.stats_job(ready).state == "ready"


def test_pause_and_resume(web: Web, producer: jackd.Client) -> None:
    producer.use("p")
    producer.put(b"x")
    assert web.act("/s/0/pause", {"tube": "p", "seconds": "300"}) == "Paused p for 5m 0s."
    assert producer.stats_tube("p").pause == 300
    assert web.act("/s/0/resume", {"tube": "p"}) == "Resumed p."
    assert producer.stats_tube("p").pause == 0


def test_move_keeps_priority_ttr_delay_and_state(web: Web, producer: jackd.Client) -> None:
    producer.use("from")
    producer.put(b"ready", priority=5, ttr=17)
    producer.put(b"delayed", priority=6, delay=900, ttr=18)
    bury(producer, "from", b"buried", priority=7)
    message = web.act(
        "/s/0/move", {"tube": "from", "target": "to", "state": ["ready", "delayed", "buried"]}
    )
    assert message == "Moved 3 jobs from from to to (1 ready, 1 delayed, 1 buried)."
    assert producer.stats_tube("from").total_jobs == 3
    assert producer.stats_tube("from").current_jobs_ready == 0
    moved = {}
    for line in web.http.get("/s/0/export", params={"tube": "to"}).text.splitlines():
        record = json.loads(line)
        moved[record["body"]] = record
    assert (moved["ready"]["state"], moved["ready"]["priority"], moved["ready"]["ttr"]) == (
        "ready",
        5,
        17,
    )
    assert moved["delayed"]["state"] == "delayed"
    assert 890 <= moved["delayed"]["delay"] <= 900
    assert (moved["buried"]["state"], moved["buried"]["priority"]) == ("buried", 7)


def test_move_only_the_chosen_states_and_up_to_a_limit(web: Web, producer: jackd.Client) -> None:
    producer.use("src")
    for n in range(4):
        producer.put(b"%d" % n)
    bury(producer, "src", b"b")
    message = web.act("/s/0/move", {"tube": "src", "target": "dst", "state": "ready", "limit": "3"})
    assert message == "Moved 3 jobs from src to dst (3 ready)."
    assert producer.stats_tube("dst").current_jobs_ready == 3
    assert producer.stats_tube("src").current_jobs_ready == 1
    assert producer.stats_tube("src").current_jobs_buried == 1
    assert "the source and the target tube are the same" in web.act(
        "/s/0/move", {"tube": "src", "target": "src"}
    )


def test_import_puts_back_an_export_each_in_its_state(web: Web, producer: jackd.Client) -> None:
    producer.use("orig")
    producer.put(b"r", priority=3)
    producer.put(b"d", delay=600)
    bury(producer, "orig", b"\x00\xff")
    exported = web.http.get("/s/0/export", params={"tube": "orig"}).content
    message = web.act(
        "/s/0/import", {"tube": "copy"}, files={"file": ("orig.jsonl", exported, "text/plain")}
    )
    assert message == "Imported 3 jobs into copy (1 ready, 1 delayed, 1 buried)."
    stats = producer.stats_tube("copy")
    assert (stats.current_jobs_ready, stats.current_jobs_delayed, stats.current_jobs_buried) == (
        1,
        1,
        1,
    )
    producer.use("copy")
    assert producer.peek_buried().body == b"\x00\xff"
    assert producer.stats_job(producer.peek_ready()).pri == 3
    # Into each job's own tube instead: back into orig.
    message = web.act(
        "/s/0/import",
        {"tube": "copy", "own_tubes": "yes"},
        files={"file": ("orig.jsonl", exported, "text/plain")},
    )
    assert message == "Imported 3 jobs into their own tubes (1 ready, 1 delayed, 1 buried)."
    assert producer.stats_tube("orig").total_jobs == 6


def test_import_of_a_bad_file_imports_nothing(web: Web, producer: jackd.Client) -> None:
    good = json.dumps(
        {"tube": "t", "state": "ready", "priority": 1, "ttr": 5, "delay": 0, "body": "x"}
    )
    bad = b"\n".join([good.encode(), b'{"tube": "t"}', good.encode()])
    message = web.act(
        "/s/0/import", {"tube": "imp"}, files={"file": ("jobs.jsonl", bad, "text/plain")}
    )
    assert message == "nothing imported: line 2 of jobs.jsonl: missing key 'state'"
    with pytest.raises(jackd.NotFoundError):
        producer.stats_tube("imp")


def test_an_unreachable_server_is_said_not_crashed_on(
    make_web: MakeWeb, beanstalkd_factory: BeanstalkdFactory
) -> None:
    server = beanstalkd_factory()
    web = make_web(servers=[server])
    token = web.csrf()
    server.stop()
    response = web.http.post(
        "/s/0/put", data={"csrf": token, "tube": "x", "body": "y"}, follow_redirects=False
    )
    assert response.status_code == 303
    page = web.http.get("/").text  # the overview shows the server down, and the message
    assert "cannot reach" in page
    assert web.http.get("/s/0/tubes/x").status_code == 502


def test_a_message_is_shown_once(web: Web) -> None:
    response = web.post("/s/0/put", {"tube": "m", "body": "x"})
    first = web.http.get(response.headers["location"]).text
    assert 'class="flash ok"' in first
    again = web.http.get(response.headers["location"]).text
    assert 'class="flash' not in again
