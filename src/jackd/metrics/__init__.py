"""Prometheus metrics: beanstalkd's numbers read at scrape time, and a running worker's own.

This module needs prometheus-client (``pip install 'jackd[metrics]'``, or the ``web``
extra); nothing in jackd's core imports it, so ``import jackd`` works without.

``BeanstalkdCollector`` reads ``stats`` and every ``stats-tube`` of each server whenever it is
scraped (through ``jackd.observe``, as ``jackd top`` and the console do), so a scrape is
never older than the request for it, and a server that is down shows ``beanstalkd_up 0``
instead of stale numbers. Every series it yields has a ``server`` label. Names follow
Prometheus conventions: counters end in ``_total``, durations and sizes carry their unit
(``beanstalkd_uptime_seconds``, ``beanstalkd_max_job_size_bytes``), and beanstalkd's
``total-jobs`` is ``beanstalkd_jobs_total`` rather than ``beanstalkd_total_jobs_total``.

``instrument(worker)`` hooks a ``jackd.Worker`` or ``jackd.aio.Worker``: every job it
finishes counts in ``jackd_worker_jobs_total{tube, outcome}`` and its handler's time in the
``jackd_worker_job_seconds{tube}`` histogram; ``jackd_worker_in_flight{tube}`` and
``jackd_worker_reconnects_total`` are read from the worker at scrape time.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        InfoMetricFamily,
        Metric,
    )
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - the extra is installed wherever tests run
    raise ImportError(
        "jackd.metrics needs prometheus-client: pip install 'jackd[metrics]'"
    ) from exc

from .._address import parse_address
from .._stats import ServerStats, TubeStats
from .._work import JobEvent
from ..observe import Observer, ServerSnapshot
from ..worker import WorkerBase

__all__ = [
    "JOB_SECONDS_BUCKETS",
    "OUTCOMES",
    "BeanstalkdCollector",
    "WorkerMetrics",
    "instrument",
    "metric_names",
    "server_metric",
    "tube_metric",
]

#: The ``stats`` fields that only ever grow (exported as counters, ``..._total``).
_SERVER_COUNTERS = frozenset(
    {
        "job_timeouts",
        "total_jobs",
        "total_connections",
        "rusage_utime",
        "rusage_stime",
        "binlog_records_migrated",
        "binlog_records_written",
    }
)
#: The ``stats-tube`` fields that only ever grow.
_TUBE_COUNTERS = frozenset({"total_jobs", "cmd_delete", "cmd_pause_tube"})

#: Field names changed for the conventions: a unit where the protocol implies one, and the
#: ``total`` of a counter at the end, where Prometheus puts it.
_RENAMES: Mapping[str, str] = {
    "total_jobs": "jobs",
    "total_connections": "connections",
    "rusage_utime": "rusage_utime_seconds",
    "rusage_stime": "rusage_stime_seconds",
    "uptime": "uptime_seconds",
    "max_job_size": "max_job_size_bytes",
    "binlog_max_size": "binlog_max_size_bytes",
    "pause": "pause_seconds",
    "pause_time_left": "pause_time_left_seconds",
}

#: What a worker hook can report (``jackd.JobEvent.outcome``).
OUTCOMES = ("succeeded", "retried", "buried", "failed", "released_on_stop", "lost")

#: Handler times from 5 ms to 10 minutes: jobs run far longer than web requests.
JOB_SECONDS_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)


def _numeric_fields(cls: type[Any]) -> list[str]:
    # Strings (version, id, hostname ...) go into beanstalkd_info instead; bools count as 0/1.
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.name != "extra" and str(f.type) in ("int", "float", "bool")
    ]


_SERVER_FIELDS = _numeric_fields(ServerStats)
_TUBE_FIELDS = _numeric_fields(TubeStats)


def server_metric(field: str) -> tuple[str, bool]:
    """The metric name for a ``ServerStats`` field (``cmd_put``), and whether it is a counter.

    Counters are named without the ``_total`` that the exposition adds:
    ``("beanstalkd_cmd_put", True)`` is scraped as ``beanstalkd_cmd_put_total``.
    """
    counter = field.startswith("cmd_") or field in _SERVER_COUNTERS
    return f"beanstalkd_{_RENAMES.get(field, field)}", counter


def tube_metric(field: str) -> tuple[str, bool]:
    """The metric name for a ``TubeStats`` field, and whether it is a counter."""
    return f"beanstalkd_tube_{_RENAMES.get(field, field)}", field in _TUBE_COUNTERS


def _exposed(name: str, counter: bool) -> str:
    return f"{name}_total" if counter else name


def metric_names() -> list[str]:
    """Every metric name this module exposes, as a scrape shows them (``..._total`` too)."""
    names = [
        "beanstalkd_up",
        "beanstalkd_scrape_duration_seconds",
        "beanstalkd_scrape_errors_total",
        "beanstalkd_info",
    ]
    names += [_exposed(*server_metric(f)) for f in _SERVER_FIELDS]
    names += [_exposed(*tube_metric(f)) for f in _TUBE_FIELDS if f != "name"]
    names += [
        "jackd_worker_jobs_total",
        "jackd_worker_job_seconds",
        "jackd_worker_in_flight",
        "jackd_worker_reconnects_total",
    ]
    return names


def _family(
    name: str, counter: bool, documentation: str, labels: Sequence[str]
) -> CounterMetricFamily | GaugeMetricFamily:
    if counter:
        return CounterMetricFamily(name, documentation, labels=labels)
    return GaugeMetricFamily(name, documentation, labels=labels)


class BeanstalkdCollector(Collector):
    """A Prometheus collector that reads beanstalkd servers whenever it is scraped.

    ``servers`` are addresses as ``jackd.connect`` takes them; each one's ``server`` label is
    its endpoint (``host:port``, ``unix:///path``). One connection per server is kept and
    opened again after a failure; ``timeout`` bounds connecting and each reply, so one stuck
    server delays a scrape by at most about that long. Scrapes that overlap take turns.

    Register it: ``registry.register(BeanstalkdCollector(["localhost:11300"]))``.
    """

    def __init__(self, servers: Sequence[str], *, timeout: float = 2.0) -> None:
        self.servers: dict[str, str] = {str(parse_address(url)): url for url in servers}
        """Each server's label to its address."""
        # One observer each, so that each server's own read can be timed.
        self._observers = {
            name: Observer({name: url}, timeout=timeout) for name, url in self.servers.items()
        }
        self._errors = dict.fromkeys(self.servers, 0)
        self._lock = threading.Lock()

    def describe(self) -> Iterable[Metric]:
        """Nothing: registering must not read the servers (the metrics vary with the tubes)."""
        return []

    def collect(self) -> Iterable[Metric]:
        """Read every server now and yield its metrics."""
        with self._lock:
            taken: list[tuple[ServerSnapshot, float]] = []
            for name, observer in self._observers.items():
                started = time.perf_counter()
                (snap,) = observer.snapshot().servers
                taken.append((snap, time.perf_counter() - started))
                if not snap.up:
                    self._errors[name] += 1
            errors = dict(self._errors)
        return list(self._families(taken, errors))

    def close(self) -> None:
        """Close the connections to the servers (a later scrape opens them again)."""
        with self._lock:
            for observer in self._observers.values():
                observer.close()

    def _families(
        self, taken: list[tuple[ServerSnapshot, float]], errors: Mapping[str, int]
    ) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "beanstalkd_up", "1 if the server answered this scrape, else 0.", labels=["server"]
        )
        duration = GaugeMetricFamily(
            "beanstalkd_scrape_duration_seconds",
            "Seconds this scrape spent reading the server.",
            labels=["server"],
        )
        failures = CounterMetricFamily(
            "beanstalkd_scrape_errors",
            "Scrapes that could not read the server, since the collector started.",
            labels=["server"],
        )
        info = InfoMetricFamily(
            "beanstalkd",
            "The server's version and identity (id changes when the process restarts).",
            labels=["server"],
        )
        server_families = {
            field: _family(
                *server_metric(field), f"beanstalkd stats {_key(field)}.", labels=["server"]
            )
            for field in _SERVER_FIELDS
        }
        tube_families = {
            field: _family(
                *tube_metric(field),
                f"beanstalkd stats-tube {_key(field)}.",
                labels=["server", "tube"],
            )
            for field in _TUBE_FIELDS
            if field != "name"
        }
        for snap, seconds in taken:
            name = snap.server
            up.add_metric([name], 1.0 if snap.up else 0.0)
            duration.add_metric([name], seconds)
            failures.add_metric([name], errors[name])
            stats = snap.stats
            if stats is None:
                continue
            info.add_metric(
                [name],
                {"version": stats.version, "id": stats.id, "hostname": stats.hostname},
            )
            for field, family in server_families.items():
                family.add_metric([name], float(getattr(stats, field)))
            for tube, tube_stats in sorted(snap.tubes.items()):
                for field, family in tube_families.items():
                    family.add_metric([name, tube], float(getattr(tube_stats, field)))
        yield up
        yield duration
        yield failures
        yield info
        yield from server_families.values()
        yield from tube_families.values()


def _key(field: str) -> str:
    return field.replace("_", "-")


class WorkerMetrics(Collector):
    """A worker's metrics: what ``instrument`` registered, and the hook that feeds them.

    ``jobs`` and ``seconds`` are fed by ``hook`` after every job; as a collector, this
    yields ``jackd_worker_in_flight`` and ``jackd_worker_reconnects_total``, read from the
    worker at scrape time.
    """

    def __init__(
        self,
        worker: WorkerBase,
        registry: CollectorRegistry,
        buckets: Sequence[float] = JOB_SECONDS_BUCKETS,
    ) -> None:
        self.worker = worker
        """The instrumented worker."""
        self.jobs = Counter(
            "jackd_worker_jobs",
            "Jobs the worker finished, by tube and outcome.",
            ["tube", "outcome"],
            registry=registry,
        )
        """``jackd_worker_jobs_total{tube, outcome}``."""
        self.seconds = Histogram(
            "jackd_worker_job_seconds",
            "Seconds each job's handler ran, by tube.",
            ["tube"],
            buckets=buckets,
            registry=registry,
        )
        """``jackd_worker_job_seconds{tube}``."""
        self._lock = threading.Lock()
        # Counts of the worker's clients seen so far, kept for those it has since dropped,
        # so that the reconnects counter never goes down when a connection is replaced.
        self._seen: dict[int, tuple[Any, int]] = {}
        self._retired = 0
        for tube in worker.tubes:
            self._known(tube)

    def _known(self, tube: str) -> None:
        # Every outcome is there from the start at 0, so rate() sees the first one happen.
        for outcome in OUTCOMES:
            self.jobs.labels(tube, outcome)
        self.seconds.labels(tube)

    def hook(self, event: JobEvent) -> None:
        """The worker hook: count the job's outcome and time its handler."""
        self.jobs.labels(event.tube, event.outcome).inc()
        self.seconds.labels(event.tube).observe(event.seconds)

    def describe(self) -> Iterable[Metric]:
        """The names this collector yields, so that a registry refuses a second one."""
        return [
            GaugeMetricFamily("jackd_worker_in_flight", "", labels=["tube"]),
            CounterMetricFamily("jackd_worker_reconnects", ""),
        ]

    def collect(self) -> Iterable[Metric]:
        """Read the worker's handlers in flight and its connections' reconnects."""
        in_flight = GaugeMetricFamily(
            "jackd_worker_in_flight", "Handlers running now, by tube.", labels=["tube"]
        )
        for tube in self.worker.tubes:
            in_flight.add_metric([tube], self.worker.stats(tube).in_flight)
        reconnects = CounterMetricFamily(
            "jackd_worker_reconnects",
            "Times the worker's connections reconnected after losing the server.",
        )
        reconnects.add_metric([], self._reconnects())
        return [in_flight, reconnects]

    def _reconnects(self) -> int:
        # jackd.Worker keeps its clients in _clients, jackd.aio.Worker in _aclients; each
        # client counts its own reconnects.
        clients = [
            *getattr(self.worker, "_clients", ()),
            *getattr(self.worker, "_aclients", ()),
        ]
        current = {id(client): client for client in clients}
        with self._lock:
            for key in [key for key in self._seen if key not in current]:
                self._retired += self._seen.pop(key)[1]
            for key, client in current.items():
                self._seen[key] = (client, int(getattr(client, "reconnects", 0)))
            return self._retired + sum(count for _, count in self._seen.values())


def instrument(
    worker: WorkerBase,
    registry: CollectorRegistry = REGISTRY,
    *,
    buckets: Sequence[float] = JOB_SECONDS_BUCKETS,
) -> WorkerMetrics:
    """Export a worker's metrics to ``registry`` (by default prometheus_client's own).

    Adds a hook to ``worker`` and registers ``jackd_worker_jobs_total{tube, outcome}``,
    ``jackd_worker_job_seconds{tube}`` (a histogram with ``buckets``),
    ``jackd_worker_in_flight{tube}`` and ``jackd_worker_reconnects_total``. Serve them with
    ``prometheus_client.start_http_server(9100, addr="127.0.0.1")``. One worker per
    registry: a second raises ValueError (the names would collide).
    """
    metrics = WorkerMetrics(worker, registry, buckets)
    try:
        registry.register(metrics)
    except ValueError:
        registry.unregister(metrics.jobs)
        registry.unregister(metrics.seconds)
        raise
    worker.hook(metrics.hook)
    return metrics
