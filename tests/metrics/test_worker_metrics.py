"""A worker's own metrics (jackd.metrics.instrument), moving as real jobs are processed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import jackd
import jackd.aio
from jackd.metrics import OUTCOMES, instrument
from jackd.testing import BeanstalkdServer

pytestmark = pytest.mark.timeout(60)


def read(registry: CollectorRegistry, name: str, **labels: str) -> float:
    text = generate_latest(registry).decode()
    found = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def wait_for(probe: Callable[[], float], want: Callable[[float], bool], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if want(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def put(client: jackd.Client, tube: str, count: int) -> None:
    client.use(tube)
    for n in range(count):
        client.put(b"%d" % n)


def test_jobs_are_counted_by_tube_and_outcome_and_timed(
    beanstalkd: BeanstalkdServer, jackd_client: jackd.Client
) -> None:
    registry = CollectorRegistry()
    worker = jackd.Worker(beanstalkd.address, concurrency=2, grace=1)

    @worker.handler("ok")
    def ok(job: jackd.Job) -> None:
        time.sleep(0.02)

    @worker.handler("bad", max_attempts=1)
    def bad(job: jackd.Job) -> None:
        raise ValueError("no good")

    @worker.handler("later")
    def later(job: jackd.Job) -> None:
        raise jackd.Retry(delay=100)

    @worker.handler("bury")
    def bury(job: jackd.Job) -> None:
        raise jackd.Bury("not now")

    instrument(worker, registry)
    # Known from the start, at 0: a rate() sees the first job of each outcome.
    for tube in worker.tubes:
        for outcome in OUTCOMES:
            assert read(registry, "jackd_worker_jobs_total", tube=tube, outcome=outcome) == 0
        assert read(registry, "jackd_worker_in_flight", tube=tube) == 0
    put(jackd_client, "ok", 3)
    put(jackd_client, "bad", 2)
    put(jackd_client, "later", 1)
    put(jackd_client, "bury", 1)
    worker.run(burst=True)
    expected = {
        ("ok", "succeeded"): 3,
        ("bad", "failed"): 2,
        ("later", "retried"): 1,
        ("bury", "buried"): 1,
    }
    for tube in worker.tubes:
        for outcome in OUTCOMES:
            got = read(registry, "jackd_worker_jobs_total", tube=tube, outcome=outcome)
            assert got == expected.get((tube, outcome), 0), (tube, outcome)
        count = read(registry, "jackd_worker_job_seconds_count", tube=tube)
        assert count == sum(n for (t, _), n in expected.items() if t == tube)
    assert read(registry, "jackd_worker_job_seconds_sum", tube="ok") >= 0.06
    assert read(registry, "jackd_worker_job_seconds_bucket", tube="ok", le="0.01") == 0
    assert read(registry, "jackd_worker_job_seconds_bucket", tube="ok", le="+Inf") == 3
    assert read(registry, "jackd_worker_reconnects_total") == 0


def test_in_flight_is_read_from_the_worker_while_handlers_run(
    beanstalkd: BeanstalkdServer, jackd_client: jackd.Client
) -> None:
    registry = CollectorRegistry()
    worker = jackd.Worker(beanstalkd.address, concurrency=2, grace=5)
    started = threading.Semaphore(0)
    release = threading.Event()

    @worker.handler("slow")
    def slow(job: jackd.Job) -> None:
        started.release()
        release.wait(10)

    instrument(worker, registry)
    put(jackd_client, "slow", 2)
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        assert started.acquire(timeout=10)
        assert started.acquire(timeout=10)
        assert read(registry, "jackd_worker_in_flight", tube="slow") == 2
        release.set()
        got = wait_for(
            lambda: read(registry, "jackd_worker_in_flight", tube="slow"), lambda v: v == 0, 10
        )
        assert got == 0
        done = wait_for(
            lambda: read(registry, "jackd_worker_jobs_total", tube="slow", outcome="succeeded"),
            lambda v: v == 2,
            10,
        )
        assert done == 2
    finally:
        release.set()
        worker.stop()
        runner.join(15)


def test_reconnects_count_when_the_server_comes_back(beanstalkd: BeanstalkdServer) -> None:
    registry = CollectorRegistry()
    worker = jackd.Worker(beanstalkd.address, concurrency=1, grace=1)

    @worker.handler("r")
    def handle(job: jackd.Job) -> None:
        pass

    instrument(worker, registry)
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        assert wait_for(lambda: float(len(worker._clients)), lambda v: v >= 1, 10) >= 1
        beanstalkd.kill()
        beanstalkd.restart()
        got = wait_for(
            lambda: read(registry, "jackd_worker_reconnects_total"), lambda v: v >= 1, 20
        )
        assert got >= 1
        # And the worker runs jobs again on the new connection.
        with jackd.connect(beanstalkd.address) as client:
            put(client, "r", 1)
        done = wait_for(
            lambda: read(registry, "jackd_worker_jobs_total", tube="r", outcome="succeeded"),
            lambda v: v == 1,
            10,
        )
        assert done == 1
    finally:
        worker.stop()
        runner.join(15)


def test_the_asyncio_worker_is_instrumented_the_same_way(
    beanstalkd: BeanstalkdServer, jackd_client: jackd.Client
) -> None:
    registry = CollectorRegistry()
    worker = jackd.aio.Worker(beanstalkd.address, concurrency=2)

    @worker.handler("aio")
    async def handle(job: jackd.Job) -> None:
        if job.body == b"1":
            raise jackd.Bury("one")

    instrument(worker, registry)
    put(jackd_client, "aio", 3)
    asyncio.run(worker.run(burst=True))
    assert read(registry, "jackd_worker_jobs_total", tube="aio", outcome="succeeded") == 2
    assert read(registry, "jackd_worker_jobs_total", tube="aio", outcome="buried") == 1
    assert read(registry, "jackd_worker_job_seconds_count", tube="aio") == 3


def test_one_worker_per_registry(beanstalkd: BeanstalkdServer) -> None:
    registry = CollectorRegistry()
    first = jackd.Worker(beanstalkd.address)
    second = jackd.Worker(beanstalkd.address)
    for worker in (first, second):
        worker.handler("t")(lambda job: None)
    instrument(first, registry)
    with pytest.raises(ValueError, match="Duplicated"):
        instrument(second, registry)
    assert second._hooks == []  # nothing half-done: no hook feeding unregistered metrics
