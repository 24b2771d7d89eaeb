"""beanstalkd's numbers as Prometheus metrics, read at scrape time, parsed as Prometheus would."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import jackd
from jackd.metrics import (
    BeanstalkdCollector,
    metric_names,
    server_metric,
    tube_metric,
)
from jackd.testing import BeanstalkdFactory, BeanstalkdServer

pytestmark = pytest.mark.timeout(60)


def scrape(registry: CollectorRegistry) -> dict[str, list[Sample]]:
    """Every sample of a scrape, by metric name as the text shows it."""
    text = generate_latest(registry).decode()
    out: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    found = [s.value for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, samples.get(name))
    return found[0]


@pytest.fixture
def registry(beanstalkd: BeanstalkdServer) -> Iterator[CollectorRegistry]:
    registry = CollectorRegistry()
    collector = BeanstalkdCollector([beanstalkd.address])
    registry.register(collector)
    yield registry
    collector.close()


def numeric(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "extra" and str(f.type) != "str"]


def test_every_stats_number_is_a_metric_with_its_value(
    registry: CollectorRegistry, beanstalkd: BeanstalkdServer, jackd_client: jackd.Client
) -> None:
    jackd_client.use("m")
    for _ in range(3):
        jackd_client.put(b"x")
    jackd_client.reserve_job(jackd_client.put(b"y"))
    before = jackd_client.stats()
    samples = scrape(registry)
    after = jackd_client.stats()
    server = str(beanstalkd.address)
    for field in numeric(jackd.ServerStats):
        name, counter = server_metric(field)
        shown = value(samples, name + ("_total" if counter else ""), server=server)
        low, high = sorted((float(getattr(before, field)), float(getattr(after, field))))
        # The scrape read the server between the two stats: its own reads count in between.
        assert low <= shown <= high, field
    assert value(samples, "beanstalkd_current_jobs_ready", server=server) == 3
    assert value(samples, "beanstalkd_current_jobs_reserved", server=server) == 1
    assert value(samples, "beanstalkd_cmd_put_total", server=server) == 4
    assert value(samples, "beanstalkd_jobs_total", server=server) == 4
    info = samples["beanstalkd_info"][0].labels
    assert info == {
        "server": server,
        "version": before.version,
        "id": before.id,
        "hostname": before.hostname,
    }
    assert value(samples, "beanstalkd_up", server=server) == 1
    assert value(samples, "beanstalkd_scrape_duration_seconds", server=server) > 0


def test_every_stats_tube_number_is_a_metric_per_tube(
    registry: CollectorRegistry, beanstalkd: BeanstalkdServer, jackd_client: jackd.Client
) -> None:
    jackd_client.use("tube-a")
    jackd_client.put(b"x", delay=100)
    doomed = jackd_client.put(b"y")
    jackd_client.delete(doomed)
    jackd_client.pause_tube("tube-a", 50)
    jackd_client.use("tube/b")
    jackd_client.put(b"z")
    samples = scrape(registry)
    server = str(beanstalkd.address)
    for tube in ("tube-a", "tube/b", "default"):
        stats = jackd_client.stats_tube(tube)
        for field in numeric(jackd.TubeStats):
            name, counter = tube_metric(field)
            shown = value(samples, name + ("_total" if counter else ""), server=server, tube=tube)
            if field == "pause_time_left":
                assert stats.pause_time_left <= shown <= stats.pause_time_left + 1
            elif field in ("current_using", "current_watching"):
                continue  # the scrape's own connection may use or watch it
            else:
                assert shown == getattr(stats, field), (tube, field)
    assert value(samples, "beanstalkd_tube_current_jobs_delayed", server=server, tube="tube-a") == 1
    assert value(samples, "beanstalkd_tube_cmd_delete_total", server=server, tube="tube-a") == 1
    assert value(samples, "beanstalkd_tube_jobs_total", server=server, tube="tube-a") == 2
    assert value(samples, "beanstalkd_tube_pause_seconds", server=server, tube="tube-a") == 50


def test_names_follow_the_conventions_and_every_series_has_a_server(
    registry: CollectorRegistry,
) -> None:
    samples = scrape(registry)
    exposed = {name for name in metric_names() if not name.startswith("jackd_worker")}
    # Every name listed is in a scrape, and a scrape has no other.
    assert {name for name in samples if not name.endswith("_created")} == exposed
    for name, found in samples.items():
        for sample in found:
            assert sample.labels.get("server"), name
    counters = {n for n in exposed if n.endswith("_total")}
    assert "beanstalkd_cmd_put_total" in counters
    assert "beanstalkd_current_jobs_ready" in exposed
    assert "beanstalkd_tube_current_jobs_ready" in exposed
    assert "beanstalkd_uptime_seconds" in exposed
    assert "beanstalkd_total_jobs_total" not in exposed  # total-jobs is beanstalkd_jobs_total


def test_values_follow_the_server_from_one_scrape_to_the_next(
    registry: CollectorRegistry, beanstalkd: BeanstalkdServer, jackd_client: jackd.Client
) -> None:
    server = str(beanstalkd.address)
    first = scrape(registry)
    jackd_client.use("moving")
    for _ in range(5):
        jackd_client.put(b"x")
    second = scrape(registry)
    assert (
        value(second, "beanstalkd_cmd_put_total", server=server)
        == value(first, "beanstalkd_cmd_put_total", server=server) + 5
    )
    assert value(second, "beanstalkd_tube_current_jobs_ready", server=server, tube="moving") == 5


def test_a_down_server_is_up_0_and_counts_errors_while_others_report(
    beanstalkd: BeanstalkdServer, beanstalkd_factory: BeanstalkdFactory
) -> None:
    other = beanstalkd_factory()
    registry = CollectorRegistry()
    collector = BeanstalkdCollector([beanstalkd.address, other.address], timeout=1.0)
    registry.register(collector)
    try:
        assert value(scrape(registry), "beanstalkd_up", server=other.address) == 1
        other.kill()
        for expected_errors in (1, 2):
            samples = scrape(registry)
            assert value(samples, "beanstalkd_up", server=other.address) == 0
            assert value(samples, "beanstalkd_scrape_errors_total", server=other.address) == (
                expected_errors
            )
            assert value(samples, "beanstalkd_up", server=beanstalkd.address) == 1
            assert value(samples, "beanstalkd_scrape_errors_total", server=beanstalkd.address) == 0
            assert not [
                s
                for s in samples["beanstalkd_current_jobs_ready"]
                if s.labels["server"] == other.address
            ]
        other.restart()
        assert value(scrape(registry), "beanstalkd_up", server=other.address) == 1
    finally:
        collector.close()


def test_registering_reads_no_server(
    beanstalkd: BeanstalkdServer, jackd_client: jackd.Client
) -> None:
    before = jackd_client.stats().cmd_stats
    CollectorRegistry().register(BeanstalkdCollector([beanstalkd.address]))
    assert jackd_client.stats().cmd_stats == before + 1  # only this test's own stats
