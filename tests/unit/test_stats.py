"""The hand-written parser for the YAML subset beanstalkd emits."""

from __future__ import annotations

import dataclasses

import pytest

from jackd._errors import ProtocolError
from jackd._stats import JobStats, ServerStats, TubeStats, parse_list, parse_mapping

from .helpers import LIST_TUBES_112, STATS_112, STATS_JOB_112, STATS_TUBE_112

STATS_KEYS_112 = [
    "current-jobs-urgent",
    "current-jobs-ready",
    "current-jobs-reserved",
    "current-jobs-delayed",
    "current-jobs-buried",
    "cmd-put",
    "cmd-peek",
    "cmd-peek-ready",
    "cmd-peek-delayed",
    "cmd-peek-buried",
    "cmd-reserve",
    "cmd-reserve-with-timeout",
    "cmd-delete",
    "cmd-release",
    "cmd-use",
    "cmd-watch",
    "cmd-ignore",
    "cmd-bury",
    "cmd-kick",
    "cmd-touch",
    "cmd-stats",
    "cmd-stats-job",
    "cmd-stats-tube",
    "cmd-list-tubes",
    "cmd-list-tube-used",
    "cmd-list-tubes-watched",
    "cmd-pause-tube",
    "job-timeouts",
    "total-jobs",
    "max-job-size",
    "current-tubes",
    "current-connections",
    "current-producers",
    "current-workers",
    "current-waiting",
    "total-connections",
    "pid",
    "version",
    "rusage-utime",
    "rusage-stime",
    "uptime",
    "binlog-oldest-index",
    "binlog-current-index",
    "binlog-records-migrated",
    "binlog-records-written",
    "binlog-max-size",
    "draining",
    "id",
    "hostname",
    "os",
    "platform",
]


def _fields(cls: type[object]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "extra"]  # type: ignore[arg-type]


# -- stats ----------------------------------------------------------------------------------------


def test_stats_112_mapping_has_51_keys_in_order() -> None:
    raw = parse_mapping(STATS_112)
    assert len(STATS_KEYS_112) == 51
    assert list(raw) == STATS_KEYS_112
    assert raw["version"] == "1.12"
    assert raw["os"] == "#1 SMP PREEMPT_DYNAMIC @0"
    assert raw["rusage-stime"] == "0.000000"
    assert all(type(v) is str for v in raw.values())


def test_server_stats_has_a_field_for_every_112_key() -> None:
    assert [name.replace("_", "-") for name in _fields(ServerStats)] == STATS_KEYS_112


def test_server_stats_112() -> None:
    stats = ServerStats.parse(STATS_112)
    assert stats.extra == {}
    assert stats.current_jobs_urgent == 4
    assert stats.current_jobs_ready == 4
    assert stats.current_jobs_reserved == 0
    assert stats.cmd_put == 4
    assert stats.cmd_use == 4
    assert stats.cmd_stats == 1
    assert stats.cmd_reserve_with_timeout == 0
    assert stats.cmd_touch == 0
    assert stats.cmd_pause_tube == 0
    assert stats.total_jobs == 4
    assert stats.max_job_size == 2000000
    assert stats.current_tubes == 5
    assert stats.current_connections == 1
    assert stats.current_producers == 1
    assert stats.total_connections == 2
    assert stats.pid == 14313
    assert stats.version == "1.12"
    assert stats.rusage_utime == 0.001828
    assert type(stats.rusage_utime) is float
    assert stats.rusage_stime == 0.0
    assert type(stats.rusage_stime) is float
    assert stats.uptime == 0
    assert stats.binlog_max_size == 10485760
    assert stats.binlog_records_written == 0
    assert stats.draining is False
    assert stats.id == "f2cebdcfbdbb0e9e"
    assert type(stats.id) is str
    assert stats.hostname == "vm"
    assert stats.os == "#1 SMP PREEMPT_DYNAMIC @0"
    assert stats.platform == "x86_64"
    for name in _fields(ServerStats):
        value = getattr(stats, name)
        if name in ("version", "id", "hostname", "os", "platform"):
            assert type(value) is str, name
        elif name.startswith("rusage"):
            assert type(value) is float, name
        elif name == "draining":
            assert type(value) is bool
        else:
            assert type(value) is int, name


def test_server_stats_draining_true() -> None:
    body = STATS_112.replace(b"draining: false", b"draining: true")
    assert ServerStats.parse(body).draining is True


@pytest.mark.parametrize("value", [b"f2cebdcfbdbb0e9e", b"0123456789012345", b"0777", b"1e10"])
def test_server_id_stays_a_string(value: bytes) -> None:
    body = STATS_112.replace(b"id: f2cebdcfbdbb0e9e", b"id: " + value)
    assert ServerStats.parse(body).id == value.decode()


def test_server_stats_113_quoted_strings() -> None:
    body = (
        STATS_112.replace(b"hostname: vm", b'hostname: "vm"')
        .replace(b"os: #1 SMP PREEMPT_DYNAMIC @0", b'os: "#1 SMP PREEMPT_DYNAMIC @0"')
        .replace(b"platform: x86_64", b'platform: "x86_64"')
        .replace(b'version: "1.12"', b'version: "1.13"')
    )
    stats = ServerStats.parse(body)
    assert (stats.hostname, stats.os, stats.platform, stats.version) == (
        "vm",
        "#1 SMP PREEMPT_DYNAMIC @0",
        "x86_64",
        "1.13",
    )


def test_server_stats_unknown_keys_go_to_extra() -> None:
    body = STATS_112 + b"cmd-frobnicate: 3\nnew-thing: hello world\n"
    stats = ServerStats.parse(body)
    assert stats.extra == {"cmd-frobnicate": "3", "new-thing": "hello world"}
    assert stats.cmd_put == 4
    # extra does not take part in equality.
    assert stats == ServerStats.parse(STATS_112)


def test_server_stats_missing_keys_keep_defaults() -> None:
    stats = ServerStats.parse(b"---\ncmd-put: 9\n")
    assert stats.cmd_put == 9
    assert stats.version == ""
    assert stats.draining is False


# -- stats-job and stats-tube ---------------------------------------------------------------------


def test_job_stats_112() -> None:
    stats = JobStats.parse(STATS_JOB_112)
    assert stats == JobStats(
        id=2,
        tube="default",
        state="delayed",
        pri=4294967295,
        age=0,
        delay=4294967295,
        ttr=4294967295,
        time_left=4294967294,
        file=0,
        reserves=0,
        timeouts=0,
        releases=0,
        buries=0,
        kicks=0,
    )
    assert stats.extra == {}
    assert [name.replace("_", "-") for name in _fields(JobStats)] == list(
        parse_mapping(STATS_JOB_112)
    )


def test_job_stats_negative_time_left_and_odd_tube_names() -> None:
    for tube in (b"123", b"true", b".inf", b"1e3", b"null", b'"quoted"'):
        body = STATS_JOB_112.replace(b"tube: default", b"tube: " + tube).replace(
            b"time-left: 4294967294", b"time-left: -1"
        )
        stats = JobStats.parse(body)
        assert stats.tube == tube.decode().strip('"')
        assert type(stats.tube) is str
        assert stats.time_left == -1


def test_job_stats_113_quoted_tube() -> None:
    body = STATS_JOB_112.replace(b"tube: default", b'tube: "foo"')
    assert JobStats.parse(body).tube == "foo"


def test_tube_stats_112() -> None:
    stats = TubeStats.parse(STATS_TUBE_112)
    assert stats == TubeStats(
        name="default",
        current_jobs_urgent=1,
        current_jobs_ready=1,
        current_jobs_reserved=1,
        current_jobs_delayed=0,
        current_jobs_buried=0,
        total_jobs=6,
        current_using=1,
        current_watching=1,
        current_waiting=0,
        cmd_delete=4,
        cmd_pause_tube=1,
        pause=2,
        pause_time_left=1,
    )
    assert [name.replace("_", "-") for name in _fields(TubeStats)] == list(
        parse_mapping(STATS_TUBE_112)
    )


@pytest.mark.parametrize("name", ["foo", "123", "true", ".inf", "1e3", "ABCxyz019-+/;.$_()"])
def test_tube_stats_name_stays_a_string(name: str) -> None:
    for line in (f"name: {name}", f'name: "{name}"'):
        body = STATS_TUBE_112.replace(b"name: default", line.encode())
        stats = TubeStats.parse(body)
        assert stats.name == name
        assert type(stats.name) is str


def test_stats_are_frozen() -> None:
    stats = TubeStats.parse(STATS_TUBE_112)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.name = "x"  # type: ignore[misc]


# -- lists ----------------------------------------------------------------------------------------


def test_list_tubes_112() -> None:
    assert parse_list(LIST_TUBES_112) == ["default", "foo", "bar", "baz"]
    assert parse_list(b"---\n- default\n") == ["default"]
    assert parse_list(b"---\n") == []


def test_list_tubes_odd_names_stay_strings() -> None:
    names = parse_list(b"---\n- default\n- 123\n- true\n- 1e3\n- .inf\n- null\n- ~\n- (x)\n")
    assert names == ["default", "123", "true", "1e3", ".inf", "null", "~", "(x)"]
    assert all(type(name) is str for name in names)


def test_list_tubes_quoted() -> None:
    assert parse_list(b'---\n- "foo"\n- bar\n') == ["foo", "bar"]


# -- malformed ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\n",
        b"hello",
        b"--\nid: 1\n",
        b"id: 1\n",
        b"---\nid 1\n",
        b"---\nno separator here\n",
        b"---\n- default\n",  # a list where a mapping belongs
    ],
)
def test_malformed_mapping_is_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        JobStats.parse(body)


@pytest.mark.parametrize(
    "body",
    [
        b"---\nid: abc\n",
        b"---\nid: 1.5\n",
        b"---\npri: \n",
        b"---\npri:\n",
        b"---\nreserves: ten\n",
    ],
)
def test_bad_job_stats_values_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        JobStats.parse(body)


@pytest.mark.parametrize(
    "line",
    [b"draining: yes", b"draining: 1", b"draining: True", b"rusage-utime: fast", b"pid: x"],
)
def test_bad_server_stats_values_are_protocol_errors(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        ServerStats.parse(b"---\n" + line + b"\n")


@pytest.mark.parametrize(
    "body", [b"", b"- default\n", b"---\ndefault\n", b"---\nname: default\n", b"---\n-default\n"]
)
def test_malformed_list_is_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_list(body)


def test_empty_value_for_string_key() -> None:
    assert parse_mapping(b"---\nhostname:\n") == {"hostname": ""}
    assert ServerStats.parse(b"---\nhostname: \n").hostname == ""


def test_values_with_colons_and_spaces() -> None:
    raw = parse_mapping(b"---\nos: Linux 6.1: special: build\nhostname: a b\n")
    assert raw == {"os": "Linux 6.1: special: build", "hostname": "a b"}
