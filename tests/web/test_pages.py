"""The console's pages, rendered on the server, against real beanstalkd servers."""

from __future__ import annotations

import html
import json
import re
import time

import pytest

import jackd
from jackd.testing import BeanstalkdFactory, BeanstalkdServer

from ._support import MakeWeb, Web, bury, cell, job_states

pytestmark = pytest.mark.timeout(60)

#: Every number of stats-tube, by the cell key the overview gives it.
TUBE_CELLS = {
    "urgent": "current_jobs_urgent",
    "ready": "current_jobs_ready",
    "reserved": "current_jobs_reserved",
    "delayed": "current_jobs_delayed",
    "buried": "current_jobs_buried",
    "total": "total_jobs",
    "using": "current_using",
    "watching": "current_watching",
    "waiting": "current_waiting",
    "deletes": "cmd_delete",
    "pauses": "cmd_pause_tube",
    "pause": "pause",
    "pause-left": "pause_time_left",
}


def test_overview_shows_each_server_and_every_stats_tube_number(
    web: Web, producer: jackd.Client
) -> None:
    producer.use("alpha")
    producer.put(b"a", priority=10)
    producer.put(b"b", priority=5000, delay=300)
    producer.reserve_job(producer.put(b"c"))  # reserved by the producer
    deleted = producer.put(b"d")
    producer.delete(deleted)
    bury(producer, "beta/1", b"x")
    producer.pause_tube("beta/1", 120)
    web.sample()
    page = web.http.get("/").text
    server = producer.stats()
    assert f"<td>{server.version}</td>" in page
    assert cell(page, "server/0/connections") == str(server.current_connections)
    for tube in ("alpha", "beta/1"):
        stats = producer.stats_tube(tube)
        assert f">{html.escape(tube)}</a>" in page
        for key, field in TUBE_CELLS.items():
            shown = cell(page, f"0/{tube}/{key}")
            want = getattr(stats, field)
            if field == "pause_time_left":  # counts down between the sample and now
                assert want <= int(shown) <= want + 2
            else:
                assert shown == str(want), (tube, field)


def test_overview_shows_put_and_delete_rates_and_each_tubes_chart(
    make_web: MakeWeb, producer: jackd.Client
) -> None:
    # A 5 s chart is 42 ms a pixel: two samples 0.2 s apart are two points of each line.
    web = make_web(window=5)
    producer.use("rates")
    web.sample()
    ids = [producer.put(b"x") for _ in range(20)]
    for job_id in ids[:5]:
        producer.delete(job_id)
    time.sleep(0.2)
    web.sample()
    page = web.http.get("/").text
    assert float(cell(page, "0/rates/put")) > 0
    assert float(cell(page, "0/rates/delete")) > 0
    assert float(cell(page, "server/0/in")) > 0
    # The chart: an inline SVG per tube, with a line per count and rate, drawn from samples.
    row = re.search(r'<tr data-tube="rates".*?</tr>', page, re.S)
    assert row is not None
    svg = re.search(r'<svg class="chart".*?</svg>', row.group(0), re.S)
    assert svg is not None
    for line in ("ready", "reserved", "buried", "put", "delete"):
        points = re.search(rf'<polyline class="{line}" points="([^"]*)"', svg.group(0))
        assert points is not None, line
        assert len(points.group(1).split()) == 2, line
    # The top band's ready line ends at the top: 15 ready is the largest count of the window.
    ready = re.search(r'<polyline class="ready" points="([^"]*)"', svg.group(0))
    assert ready is not None
    assert ready.group(1).split()[-1].endswith(",1.0")


def test_overview_filters_tubes_by_pattern(web: Web, producer: jackd.Client) -> None:
    for tube in ("mail-out", "mail-in", "images"):
        producer.use(tube)
        producer.put(b"x")
    page = web.http.get("/", params={"filter": "^mail-"}).text
    assert 'data-tube="mail-out"' in page
    assert 'data-tube="mail-in"' in page
    assert 'data-tube="images"' not in page
    # Not a valid expression: looked for as text, not an error.
    page = web.http.get("/", params={"filter": "mail-("}).text
    assert "No tube matches mail-(." in page
    # The live part's source keeps the filter, so a refresh shows the same rows.
    assert 'data-src="/fragments/overview?filter=%5Email-"' in web.http.get(
        "/", params={"filter": "^mail-"}
    ).text.replace("&amp;", "&")


def test_fragment_is_the_live_part_alone_and_shows_new_numbers(
    web: Web, producer: jackd.Client
) -> None:
    producer.use("live")
    producer.put(b"1")
    web.sample()
    first = web.http.get("/fragments/overview")
    assert first.status_code == 200
    assert first.text.lstrip().startswith('<div id="live"')
    assert "<html" not in first.text
    assert cell(first.text, "0/live/ready") == "1"
    producer.put(b"2")
    web.sample()
    assert cell(web.http.get("/fragments/overview").text, "0/live/ready") == "2"


def test_a_server_that_is_down_is_shown_as_down(
    make_web: MakeWeb, beanstalkd: BeanstalkdServer, beanstalkd_factory: BeanstalkdFactory
) -> None:
    other = beanstalkd_factory()
    web = make_web(servers=[beanstalkd, other])
    other.stop()
    page = web.http.get("/").text
    assert 'class="down"' in page
    assert "down:" in page
    assert cell(page, "server/0/connections")  # the live server is still there


def test_overview_over_two_servers_names_each(
    make_web: MakeWeb, beanstalkd_factory: BeanstalkdFactory
) -> None:
    one, two = beanstalkd_factory(), beanstalkd_factory()
    for server, tube in ((one, "on-one"), (two, "on-two")):
        with jackd.connect(server.address) as client:
            client.use(tube)
            client.put(b"x")
    page = make_web(servers=[one, two]).http.get("/").text
    assert cell(page, "0/on-one/ready") == "1"
    assert cell(page, "1/on-two/ready") == "1"
    assert f"<td>{one.address}</td>" in page
    assert f"<td>{two.address}</td>" in page


def test_tube_page_shows_the_next_job_of_each_state_with_stats_and_body(
    web: Web, producer: jackd.Client
) -> None:
    tube = "we/ird$(tube)"
    producer.use(tube)
    ready = producer.put(json.dumps({"to": "ann", "n": [1, 2]}).encode(), priority=7)
    delayed = producer.put(b"later, as text", delay=600)
    buried = bury(producer, tube, bytes(range(256)))
    response = web.http.get("/s/0/tubes/" + "we%2Fird%24%28tube%29")
    assert response.status_code == 200
    page = response.text
    for state, job_id in (("ready", ready), ("delayed", delayed), ("buried", buried)):
        assert f'id="job-{job_id}" data-state="{state}"' in page
    # JSON pretty-printed, text as it is, binary as a hex dump.
    assert "{\n  &#34;to&#34;: &#34;ann&#34;," in page
    assert "later, as text" in page
    assert "00000000  00 01 02 03 04 05 06 07" in page
    stats = producer.stats_tube(tube)
    assert f'id="count-ready">{stats.current_jobs_ready}<' in page
    assert f'id="count-delayed">{stats.current_jobs_delayed}<' in page
    # Every action is there, each a POST form.
    for action in ("put", "kick", "pause", "resume", "clear", "move", "import"):
        assert f'action="/s/0/{action}"' in page or f'formaction="/s/0/{action}"' in page
    assert f'method="post" action="/s/0/jobs/{buried}/kick"' in page
    assert f'method="post" action="/s/0/jobs/{ready}/delete"' in page


def test_binary_looking_text_is_shown_as_hex(web: Web, producer: jackd.Client) -> None:
    producer.use("ctl")
    producer.put(b"\x00\x01 nul and soh are text to UTF-8, not to a reader")
    page = web.http.get("/s/0/tubes/ctl").text
    assert "00000000  00 01 20 6e 75 6c" in page
    assert "binary" in page


def test_tube_page_of_a_missing_tube_is_404_and_offers_put(web: Web) -> None:
    response = web.http.get("/s/0/tubes/nothing-here")
    assert response.status_code == 404
    assert "has no tube nothing-here" in response.text
    assert 'action="/s/0/put"' in response.text


def test_bad_tube_name_and_unknown_server_are_refused(web: Web) -> None:
    assert web.http.get("/s/0/tubes/-starts-with-dash").status_code == 400
    assert web.http.get("/s/7/tubes/x").status_code == 404


def test_job_page_by_id(web: Web, producer: jackd.Client) -> None:
    producer.use("jobs")
    job_id = producer.put(b"hello job", priority=42, ttr=99)
    response = web.http.get(f"/s/0/jobs/{job_id}")
    assert response.status_code == 200
    page = response.text
    assert "hello job" in page
    assert "<th>pri</th><td>42</td>" in page
    assert "<th>ttr</th><td>99</td>" in page
    assert f'action="/s/0/jobs/{job_id}/delete"' in page
    assert f'action="/s/0/jobs/{job_id}/bury"' in page
    missing = web.http.get("/s/0/jobs/999999")
    assert missing.status_code == 404
    assert "has no job 999999" in missing.text


def test_job_lookup_form_goes_to_the_job(web: Web) -> None:
    response = web.http.get("/jobs", params={"server": "0", "id": "12"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/s/0/jobs/12"
    assert web.http.get("/jobs", params={"id": "x"}).status_code == 400


def test_search_finds_bodies_in_the_tube_and_state(web: Web, producer: jackd.Client) -> None:
    producer.use("orders")
    hit_ready = producer.put(b'{"customer": "Zelda", "total": 12}')
    producer.put(b'{"customer": "Link"}')
    hit_buried = bury(producer, "orders", b"refund for zelda")
    producer.use("other")
    producer.put(b"Zelda elsewhere")
    page = web.http.get("/search", params={"tube": "orders", "state": "any", "text": "Zelda"}).text
    assert f'href="/s/0/jobs/{hit_ready}"' in page
    assert f'href="/s/0/jobs/{hit_buried}"' not in page  # case matters by default
    assert "That is every job." in page
    assert "1 matching" in page
    page = web.http.get(
        "/search",
        params={"tube": "orders", "state": "buried", "text": "ZELDA", "ignore_case": "1"},
    ).text
    assert f'href="/s/0/jobs/{hit_buried}"' in page
    assert f'href="/s/0/jobs/{hit_ready}"' not in page


def test_search_says_how_far_it_got_and_goes_on_from_there(
    make_web: MakeWeb, producer: jackd.Client
) -> None:
    producer.use("many")
    ids = [producer.put(b"needle %d" % n) for n in range(60)]
    # No time at all: it stops before the first chunk and says so.
    page = (
        make_web(search_time_limit=0)
        .http.get("/search", params={"tube": "many", "text": "needle"})
        .text
    )
    assert "Stopped at the time limit." in page
    assert "Go on from id 1" in page
    # Enough matches: it stops at 50, and the link goes on from the last one.
    web = make_web()
    page = web.http.get("/search", params={"tube": "many", "text": "needle"}).text
    assert "Stopped at 50 matches." in page
    more = re.search(r'<a href="(/search\?[^"]+)">Go on from id (\d+)', page)
    assert more is not None
    assert int(more.group(2)) == ids[49] + 1
    rest = web.http.get(html.unescape(more.group(1))).text
    assert "That is every job." in rest
    assert len(re.findall(r'href="/s/0/jobs/\d+"', rest)) == 10


def test_search_changes_no_job(web: Web, producer: jackd.Client) -> None:
    producer.use("s")
    ids = [producer.put(b"abc"), bury(producer, "s", b"abc"), producer.put(b"abc", delay=100)]
    before = job_states(producer, ids)
    web.http.get("/search", params={"tube": "s", "text": "abc"})
    assert job_states(producer, ids) == before


def test_export_downloads_json_lines_and_changes_nothing(web: Web, producer: jackd.Client) -> None:
    producer.use("exp")
    ready = producer.put(b"r", priority=3, ttr=30)
    delayed = producer.put(b"d", delay=500)
    buried = bury(producer, "exp", b"\xff\xfe", priority=9)
    before = job_states(producer, [ready, delayed, buried])
    response = web.http.get("/s/0/export", params={"tube": "exp"})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="exp.jsonl"'
    records = [json.loads(line) for line in response.text.splitlines()]
    assert [(r["id"], r["state"]) for r in records] == [
        (ready, "ready"),
        (delayed, "delayed"),
        (buried, "buried"),
    ]
    assert records[0]["priority"] == 3
    assert records[0]["ttr"] == 30
    assert records[2] == {**records[2], "encoding": "base64", "body": "//4=", "priority": 9}
    assert job_states(producer, [ready, delayed, buried]) == before
    only = web.http.get("/s/0/export", params={"tube": "exp", "state": "buried"}).text
    assert [json.loads(line)["id"] for line in only.splitlines()] == [buried]


def test_static_script_and_styles_are_served(web: Web) -> None:
    script = web.http.get("/static/console.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert web.http.get("/static/console.css").status_code == 200
