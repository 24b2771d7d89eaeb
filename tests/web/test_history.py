"""The console's memory: samples of a real server on a clock the test turns, and the charts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import jackd
from jackd.testing import BeanstalkdServer
from jackd.web.history import History, Sample, chart, sample_rates

pytestmark = pytest.mark.timeout(60)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def history(beanstalkd: BeanstalkdServer, clock: Clock) -> Iterator[History]:
    made = History(
        {beanstalkd.address: beanstalkd.address},
        interval=2,
        window=60,
        rate_window=10,
        resolution=5,
        clock=clock,
    )
    yield made
    made.stop()


def test_samples_keep_counts_and_the_counters_rates_come_from(
    history: History, clock: Clock, jackd_client: jackd.Client, beanstalkd: BeanstalkdServer
) -> None:
    jackd_client.use("h")
    history.sample()
    for _ in range(10):
        jackd_client.put(b"x")
    jackd_client.delete(jackd_client.peek_ready())
    clock.now += 5
    history.sample()
    first, second = history.series(beanstalkd.address, "h")
    assert (second.ready, second.reserved, second.buried) == (9, 0, 0)
    rates = sample_rates(first, second)
    assert rates.put == pytest.approx(10 / 5)
    assert rates.delete == pytest.approx(1 / 5)
    assert sample_rates(None, second).put is None


def test_a_restarted_server_has_no_rate_across_the_restart() -> None:
    before = Sample(0, 0, 0, 0, puts=100, deletes=50, process="a")
    after = Sample(5, 0, 0, 0, puts=3, deletes=1, process="b")
    assert sample_rates(before, after).put is None
    assert sample_rates(before, Sample(5, 0, 0, 0, 90, 50, "a")).put is None  # went down


def test_points_are_kept_a_resolution_apart_and_the_last_one_moves_on(
    history: History, clock: Clock, jackd_client: jackd.Client, beanstalkd: BeanstalkdServer
) -> None:
    jackd_client.use("thin")
    for second in range(21):
        jackd_client.put(b"x")
        clock.now = 1000.0 + second
        history.sample()
    at = [s.at - 1000 for s in history.series(beanstalkd.address, "thin")]
    # 0, then a point every 5 s; the last one is now, whatever its distance.
    assert at == [0, 5, 10, 15, 20]
    assert history.series(beanstalkd.address, "thin")[-1].ready == 21


def test_samples_older_than_the_window_go_and_so_do_gone_tubes(
    history: History, clock: Clock, jackd_client: jackd.Client, beanstalkd: BeanstalkdServer
) -> None:
    jackd_client.use("brief")
    job_id = jackd_client.put(b"x")
    history.sample()
    jackd_client.delete(job_id)
    jackd_client.use("default")  # the tube goes with its last job and user
    clock.now += 30
    history.sample()
    assert len(history.series(beanstalkd.address, "brief")) == 1
    clock.now += 31
    history.sample()
    assert history.series(beanstalkd.address, "brief") == []
    assert len(history.series(beanstalkd.address, "default")) == 2  # the first is past


def test_current_samples_only_when_the_latest_is_too_old(
    history: History, clock: Clock, jackd_client: jackd.Client
) -> None:
    before, first = history.current()
    assert before is None
    again = history.current()[1]
    assert again is first  # fresh enough: no new read
    clock.now += 3
    later = history.current()[1]
    assert later is not first
    # The rates' starting point is kept about rate_window old.
    for _ in range(10):
        clock.now += 3
        history.sample()
    start, latest = history.current()
    assert start is not None
    assert 10 <= latest.at - start.at < 13


def test_the_sampling_thread_starts_and_stops(beanstalkd: BeanstalkdServer) -> None:
    history = History({beanstalkd.address: beanstalkd.address}, interval=0.05, resolution=0)
    history.start()
    try:
        deadline = time.monotonic() + 5
        while len(history.series(beanstalkd.address, "default")) < 3:
            assert time.monotonic() < deadline, "the thread took no samples"
            time.sleep(0.02)
    finally:
        history.stop()
    count = len(history.series(beanstalkd.address, "default"))
    time.sleep(0.2)
    assert len(history.series(beanstalkd.address, "default")) == count  # stopped


def test_chart_geometry() -> None:
    samples = [
        Sample(40, ready=0, reserved=0, buried=0, puts=0, deletes=0, process="p"),
        Sample(50, ready=10, reserved=5, buried=0, puts=20, deletes=0, process="p"),
        Sample(60, ready=4, reserved=0, buried=2, puts=20, deletes=10, process="p"),
    ]
    drawn = chart(samples, now=60, window=60, width=61, height=36)
    # x: one pixel a second over the window; the top band is 22 px, from y=1 down to y=23.
    assert drawn.ready == "40.0,23.0 50.0,1.0 60.0,14.2"
    assert drawn.reserved == "40.0,23.0 50.0,12.0 60.0,23.0"
    assert drawn.max_count == 10
    # Rates: 2 puts a second from 40 to 50, 1 delete a second from 50 to 60.
    assert drawn.max_rate == 2.0
    assert drawn.put == "40.0,35.0 50.0,25.0 60.0,35.0"
    assert drawn.delete == "40.0,35.0 50.0,35.0 60.0,30.0"
    assert drawn.samples == 3
    assert drawn.seconds == 20
    # Outside the window: not drawn. Empty: nothing, with no division by zero.
    assert chart(samples, now=200, window=60).samples == 0
    assert chart([], now=0, window=60).ready == ""
