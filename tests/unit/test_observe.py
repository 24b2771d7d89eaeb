"""jackd.observe's arithmetic, and jackd top's keys and screen, without a server."""

from __future__ import annotations

import io
import os

import pytest

from jackd import ServerStats, TubeStats
from jackd.observe import (
    Rates,
    ServerSnapshot,
    Snapshot,
    counter_rate,
    filter_tubes,
    server_rates,
    sort_tubes,
    tube_rates,
    view,
)


def server(
    at: float,
    *,
    put: int = 0,
    deleted: int = 0,
    pid_id: str = "a",
    tubes: dict[str, TubeStats] | None = None,
    name: str = "s1",
) -> ServerSnapshot:
    stats = ServerStats(cmd_put=put, cmd_delete=deleted, id=pid_id, version="1.12", uptime=5)
    return ServerSnapshot(name, at, stats=stats, tubes=tubes or {})


def tube(
    name: str, *, total: int = 0, deleted: int = 0, ready: int = 0, pause: int = 0, left: int = 0
) -> TubeStats:
    return TubeStats(
        name=name,
        total_jobs=total,
        cmd_delete=deleted,
        current_jobs_ready=ready,
        pause=pause,
        pause_time_left=left,
    )


@pytest.mark.parametrize(
    ("before", "after", "seconds", "expected"),
    [
        (10, 30, 2.0, 10.0),
        (5, 5, 1.0, 0.0),
        (None, 30, 1.0, None),  # nothing to compare with yet
        (30, 10, 1.0, None),  # the counter went down: a restart, not a negative rate
        (10, 20, 0.0, None),  # no time passed
    ],
)
def test_counter_rate(
    before: int | None, after: int, seconds: float, expected: float | None
) -> None:
    assert counter_rate(before, after, seconds) == expected


def test_server_rates_divide_counter_growth_by_the_time_between_snapshots() -> None:
    rates = server_rates(server(10.0, put=100, deleted=40), server(12.0, put=160, deleted=50))
    assert rates == Rates(put=30.0, delete=5.0)


def test_a_restarted_server_has_no_rate_even_if_its_counters_grew() -> None:
    before = server(10.0, put=10, pid_id="old")
    after = server(11.0, put=500, pid_id="new")
    assert server_rates(before, after) == Rates(None, None)


def test_a_server_that_was_down_has_no_rate() -> None:
    down = ServerSnapshot("s1", 10.0, error="refused")
    assert server_rates(down, server(11.0, put=5)) == Rates()
    assert server_rates(None, server(11.0, put=5)) == Rates()


def test_tube_rates_count_puts_by_total_jobs_and_deletes_by_cmd_delete() -> None:
    before = server(0.0, tubes={"t": tube("t", total=10, deleted=2)})
    after = server(0.5, tubes={"t": tube("t", total=20, deleted=7)})
    assert tube_rates(before, after, "t") == Rates(put=20.0, delete=10.0)


def test_a_tube_created_since_the_last_snapshot_counts_from_zero() -> None:
    before = server(0.0, tubes={})
    after = server(2.0, tubes={"new": tube("new", total=8, deleted=2)})
    assert tube_rates(before, after, "new") == Rates(put=4.0, delete=1.0)


def test_view_sums_a_tube_over_servers_and_shows_down_servers() -> None:
    before = Snapshot(
        0.0,
        (
            server(0.0, name="a", tubes={"t": tube("t", total=0)}),
            server(0.0, name="b", tubes={"t": tube("t", total=0)}),
        ),
    )
    after = Snapshot(
        1.0,
        (
            server(1.0, name="a", put=3, tubes={"t": tube("t", total=3, ready=3)}),
            server(
                1.0,
                name="b",
                tubes={"t": tube("t", total=5, ready=1, pause=10, left=7)},
            ),
            ServerSnapshot("c", 1.0, error="connection refused"),
        ),
    )
    shown = view(before, after)
    assert [(r.server, r.up, r.error) for r in shown.servers] == [
        ("a", True, None),
        ("b", True, None),
        ("c", False, "connection refused"),
    ]
    assert shown.servers[0].rates.put == 3.0
    (row,) = shown.tubes
    assert (row.name, row.servers, row.ready, row.paused) == ("t", 2, 4, 7)
    assert row.rates.put == 8.0


def test_sort_and_filter_tubes() -> None:
    rows = view(
        None,
        Snapshot(
            0.0,
            (
                server(
                    0.0,
                    tubes={
                        "emails": tube("emails", ready=5),
                        "sms": tube("sms", ready=9),
                        "audit": tube("audit", ready=1),
                    },
                ),
            ),
        ),
    ).tubes
    assert [r.name for r in sort_tubes(rows, "name", False)] == ["audit", "emails", "sms"]
    assert [r.name for r in sort_tubes(rows, "ready", True)] == ["sms", "emails", "audit"]
    assert [r.name for r in filter_tubes(rows, "m")] == ["emails", "sms"]
    assert [r.name for r in filter_tubes(rows, "^e")] == ["emails"]
    assert [r.name for r in filter_tubes(rows, "(")] == []  # a half-typed regex: plain text


# -- jackd top's keys and screen ------------------------------------------------------------

top = pytest.importorskip("jackd.cli.top")


def test_parse_keys_tells_escape_from_arrow_keys() -> None:
    assert top.parse_keys(b"/ab\x7f\r") == ["/", "a", "b", top.BACKSPACE, top.ENTER]
    assert top.parse_keys(b"\x1b") == [top.ESCAPE]
    assert top.parse_keys(b"\x1b[A\x1b[1;5Cq") == ["q"]


def test_top_state_sorts_filters_and_quits() -> None:
    state = top.TopState()
    assert (state.sort, state.descending) == ("name", False)
    state.handle("r")
    assert (state.sort, state.descending) == ("ready", True)
    state.handle("r")
    assert (state.sort, state.descending) == ("ready", False)
    for key in ["/", "e", "x", top.BACKSPACE, "m"]:
        assert state.handle(key) is False  # q while typing is a letter, not quit
    assert (state.editing, state.filter) == ("em", "")
    state.handle(top.ENTER)
    assert (state.editing, state.filter) == (None, "em")
    state.handle("/")
    state.handle("q")
    state.handle(top.ESCAPE)
    assert (state.editing, state.filter) == (None, "")
    assert state.handle("q") is True


def test_render_shows_rates_sorted_rows_and_the_keys() -> None:
    from rich.console import Console

    before = Snapshot(0.0, (server(0.0, put=0, tubes={"a": tube("a"), "b": tube("b")}),))
    after = Snapshot(
        1.0,
        (
            server(
                1.0,
                put=12,
                tubes={"a": tube("a", total=2, ready=2), "b": tube("b", total=10, ready=9)},
            ),
            ServerSnapshot("s2", 1.0, error="refused"),
        ),
    )
    state = top.TopState(sort="put", descending=True)
    out = Console(file=io.StringIO(), width=160)
    out.print(top.render(view(before, after), state, 1.0))
    text = out.file.getvalue()  # type: ignore[attr-defined]
    lines = text.splitlines()
    b_line = next(i for i, line in enumerate(lines) if line.startswith("b "))
    a_line = next(i for i, line in enumerate(lines) if line.startswith("a "))
    assert b_line < a_line  # b puts 10/s, a 2/s
    assert "10.0" in lines[b_line]
    assert "12.0" in text
    assert "DOWN" in text
    assert "refused" in text
    assert "q quit" in text
    assert "/ filter" in text


def test_read_keys_waits_and_sees_the_end(tmp_path: object) -> None:
    read_fd, write_fd = os.pipe()
    try:
        assert top.read_keys(read_fd, 0.01) == []
        os.write(write_fd, b"rq")
        assert top.read_keys(read_fd, 1.0) == ["r", "q"]
        os.close(write_fd)
        write_fd = -1
        assert top.read_keys(read_fd, 1.0) is None
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


# -- the job logic's records and bodies -----------------------------------------------------

ops = pytest.importorskip("jackd.cli._ops")


def _good(**change: object) -> str:
    import json

    record = {"tube": "t", "state": "ready", "priority": 1, "ttr": 1, "delay": 0, "body": ""}
    return json.dumps({**record, **change})


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[]", "not a JSON object"),
        ('{"tube": "t", "state": "ready", "priority": 1, "ttr": 1}', "missing key 'body'"),
        (
            '{"tube": "t", "state": "reserved", "priority": 1, "ttr": 1, "delay": 0, "body": ""}',
            "state",
        ),
        (
            '{"tube": "t", "state": "ready", "priority": -1, "ttr": 1, "delay": 0, "body": ""}',
            "priority",
        ),
        (
            '{"tube": "t", "state": "ready", "priority": 1, "ttr": true, "delay": 0, "body": ""}',
            "ttr",
        ),
        (
            '{"tube": 5, "state": "ready", "priority": 1, "ttr": 1, "delay": 0, "body": ""}',
            "strings",
        ),
        (_good(body="*", encoding="base64"), "base64"),
        (_good(encoding="rot13"), "encoding"),
    ],
)
def test_a_bad_record_says_what_is_wrong(line: str, problem: str) -> None:
    import json

    with pytest.raises(ValueError, match=problem):
        ops.JobRecord.from_json(json.loads(line))


@pytest.mark.parametrize("body", [b"", b"plain", "ünï".encode(), b"\x00\xff\xfe", b'{"a": 1}'])
def test_records_round_trip_through_json(body: bytes) -> None:
    import json

    record = ops.JobRecord("t", "delayed", 5, 60, 30, body, id=3, server="s")
    back = ops.JobRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert (back.tube, back.state, back.priority, back.ttr, back.delay, back.body) == (
        "t",
        "delayed",
        5,
        60,
        30,
        body,
    )


def test_describe_body() -> None:
    assert ops.describe_body(b'{"a":[1]}') == ("json", '{\n  "a": [\n    1\n  ]\n}')
    assert ops.describe_body(b"42") == ("text", "42")  # JSON, but nothing to pretty-print
    assert ops.describe_body(b"hi there") == ("text", "hi there")
    kind, dump = ops.describe_body(bytes(range(250, 256)) + b"AB")
    assert kind == "binary"
    assert dump == "00000000  fa fb fc fd fe ff 41 42" + " " * 24 + "  |......AB|"
