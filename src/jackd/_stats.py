"""The YAML subset beanstalkd emits, parsed by hand into frozen dataclasses.

Generic YAML parsers get these bodies wrong: 1.12's ``os`` value starts with ``#`` and reads as
a comment, and a tube named ``123`` or ``true`` turns into a number or a bool. beanstalkd only
ever writes ``---`` then ``key: value`` lines (or ``- item`` lines for lists), quoting a few
strings in 1.13, so a line parser is both simpler and right.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ._errors import ProtocolError

S = TypeVar("S", bound="_Stats")


def _text(body: bytes) -> list[str]:
    lines = body.decode("utf-8", "replace").split("\n")
    if lines[0] != "---":
        raise ProtocolError(f"YAML reply does not start with '---': {body[:40]!r}")
    return [line for line in lines[1:] if line]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse_mapping(body: bytes) -> dict[str, str]:
    """Parse a ``stats*`` reply body into a dict of string keys and string values."""
    out: dict[str, str] = {}
    for line in _text(body):
        key, sep, value = line.partition(": ")
        if not sep:
            if not line.endswith(":"):
                raise ProtocolError(f"YAML line without 'key: value': {line[:60]!r}")
            key, value = line[:-1], ""
        out[key] = _unquote(value)
    return out


def parse_list(body: bytes) -> list[str]:
    """Parse a ``list-tubes*`` reply body into a list of tube names (always strings)."""
    names = []
    for line in _text(body):
        if not line.startswith("- "):
            raise ProtocolError(f"YAML list line without '- ': {line[:60]!r}")
        names.append(_unquote(line[2:]))
    return names


def _to_bool(value: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise ValueError(f"not a YAML bool: {value!r}")


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "float": float,
    "bool": _to_bool,
    "str": str,
}


@dataclass(frozen=True)
class _Stats:
    """Shared parsing for the three stats replies."""

    extra: Mapping[str, str] = field(default_factory=dict, kw_only=True, compare=False, repr=False)
    """Keys the server sent that this version of jackd has no field for (a newer server's)."""

    @classmethod
    def from_mapping(cls: type[S], values: Mapping[str, str]) -> S:
        """Build an instance from raw ``key: value`` strings, converting by field type."""
        table = _field_table(cls)
        kwargs: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for key, raw in values.items():
            entry = table.get(key)
            if entry is None:
                extra[key] = raw
                continue
            name, convert = entry
            try:
                kwargs[name] = convert(raw)
            except ValueError as exc:
                raise ProtocolError(f"bad value for {key!r}: {raw!r}") from exc
        return cls(**kwargs, extra=extra)

    @classmethod
    def parse(cls: type[S], body: bytes) -> S:
        """Parse a reply body."""
        return cls.from_mapping(parse_mapping(body))


_TABLES: dict[type[Any], dict[str, tuple[str, Callable[[str], Any]]]] = {}


def _field_table(cls: type[Any]) -> dict[str, tuple[str, Callable[[str], Any]]]:
    table = _TABLES.get(cls)
    if table is None:
        table = {
            f.name.replace("_", "-"): (f.name, _CONVERTERS[str(f.type)])
            for f in dataclasses.fields(cls)
            if f.name != "extra"
        }
        _TABLES[cls] = table
    return table


@dataclass(frozen=True)
class JobStats(_Stats):
    """The reply to ``stats-job``: one job's state and counters."""

    id: int = 0
    tube: str = ""
    state: str = ""
    """``"ready"``, ``"delayed"``, ``"reserved"`` or ``"buried"``."""
    pri: int = 0
    age: int = 0
    delay: int = 0
    ttr: int = 0
    time_left: int = 0
    """Seconds until a reserved or delayed job changes state; 0 otherwise, may be negative."""
    file: int = 0
    reserves: int = 0
    timeouts: int = 0
    releases: int = 0
    buries: int = 0
    kicks: int = 0


@dataclass(frozen=True)
class TubeStats(_Stats):
    """The reply to ``stats-tube``: one tube's job counts and pause state."""

    name: str = ""
    current_jobs_urgent: int = 0
    current_jobs_ready: int = 0
    current_jobs_reserved: int = 0
    current_jobs_delayed: int = 0
    current_jobs_buried: int = 0
    total_jobs: int = 0
    current_using: int = 0
    current_watching: int = 0
    current_waiting: int = 0
    cmd_delete: int = 0
    cmd_pause_tube: int = 0
    pause: int = 0
    pause_time_left: int = 0


@dataclass(frozen=True)
class ServerStats(_Stats):
    """The reply to ``stats``: server-wide counters, limits and identity."""

    current_jobs_urgent: int = 0
    current_jobs_ready: int = 0
    current_jobs_reserved: int = 0
    current_jobs_delayed: int = 0
    current_jobs_buried: int = 0
    cmd_put: int = 0
    cmd_peek: int = 0
    cmd_peek_ready: int = 0
    cmd_peek_delayed: int = 0
    cmd_peek_buried: int = 0
    cmd_reserve: int = 0
    cmd_reserve_with_timeout: int = 0
    cmd_delete: int = 0
    cmd_release: int = 0
    cmd_use: int = 0
    cmd_watch: int = 0
    cmd_ignore: int = 0
    cmd_bury: int = 0
    cmd_kick: int = 0
    cmd_touch: int = 0
    cmd_stats: int = 0
    cmd_stats_job: int = 0
    cmd_stats_tube: int = 0
    cmd_list_tubes: int = 0
    cmd_list_tube_used: int = 0
    cmd_list_tubes_watched: int = 0
    cmd_pause_tube: int = 0
    job_timeouts: int = 0
    total_jobs: int = 0
    max_job_size: int = 0
    current_tubes: int = 0
    current_connections: int = 0
    current_producers: int = 0
    current_workers: int = 0
    current_waiting: int = 0
    total_connections: int = 0
    pid: int = 0
    version: str = ""
    rusage_utime: float = 0.0
    rusage_stime: float = 0.0
    uptime: int = 0
    binlog_oldest_index: int = 0
    binlog_current_index: int = 0
    binlog_records_migrated: int = 0
    binlog_records_written: int = 0
    binlog_max_size: int = 0
    draining: bool = False
    id: str = ""
    """Random per server process: with ``hostname`` it tells restarted servers apart."""
    hostname: str = ""
    os: str = ""
    platform: str = ""
