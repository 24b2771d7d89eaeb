"""The worker's pure decisions: outcomes to actions, backoff with jitter, the touch schedule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jackd
from jackd._work import (
    Action,
    Backoff,
    Counters,
    WorkerStats,
    check_concurrency,
    check_grace,
    decide,
    next_touch,
    touch_margin,
)

NO_JITTER = Backoff(first=2, factor=2, max=600, jitter=0)


@pytest.mark.parametrize(
    ("error", "attempts", "expected"),
    [
        (None, 1, Action("succeeded", "delete")),
        (None, 99, Action("succeeded", "delete")),
        (jackd.Retry(delay=30), 1, Action("retried", "release", 30, "")),
        (jackd.Retry(delay=30, reason="later"), 5, Action("retried", "release", 30, "later")),
        (jackd.Bury("bad input"), 1, Action("buried", "bury", 0, "bad input")),
        (ValueError("boom"), 1, Action("failed", "release", 2, "ValueError: boom")),
        (ValueError("boom"), 2, Action("failed", "release", 4, "ValueError: boom")),
        (
            ValueError("boom"),
            3,
            Action("failed", "bury", 0, "ValueError: boom (attempt 3 of 3)"),
        ),
        (
            ValueError("boom"),
            7,
            Action("failed", "bury", 0, "ValueError: boom (attempt 7 of 3)"),
        ),
    ],
)
def test_outcome_to_action(error: BaseException | None, attempts: int, expected: Action) -> None:
    assert decide(error, attempts, 3, NO_JITTER) == expected


def test_retry_and_bury_do_not_count_against_max_attempts() -> None:
    # A handler's own Retry or Bury is what it asked for, whatever the attempt.
    assert decide(jackd.Retry(1), 100, 3, NO_JITTER).verb == "release"
    assert decide(jackd.Bury(), 1, 3, NO_JITTER).verb == "bury"


def test_retry_delay_is_validated_and_rounded_up() -> None:
    assert jackd.Retry(delay=0.2).delay == 1
    with pytest.raises(ValueError, match="retry delay"):
        jackd.Retry(delay=-1)


@pytest.mark.parametrize(
    ("attempt", "delay"), [(1, 2), (2, 4), (3, 8), (8, 256), (9, 512), (10, 600), (500, 600)]
)
def test_backoff_grows_exponentially_up_to_max(attempt: int, delay: int) -> None:
    assert NO_JITTER.delay(attempt) == delay


def test_backoff_survives_absurd_attempt_counts() -> None:
    assert Backoff(first=1, factor=10, max=60, jitter=0).delay(10**6) == 60


@given(
    attempt=st.integers(1, 40),
    rand=st.floats(0, 1, exclude_max=True),
    jitter=st.floats(0, 1),
)
def test_backoff_jitter_stays_within_its_bounds(attempt: int, rand: float, jitter: float) -> None:
    backoff = Backoff(first=2, factor=2, max=600, jitter=jitter)
    base = min(600, 2 * 2 ** (attempt - 1))
    delay = backoff.delay(attempt, rand=lambda: rand)
    assert base * (1 - jitter) - 0.5 <= delay <= base * (1 + jitter) + 0.5
    assert delay >= 0


def test_jitter_spreads_delays() -> None:
    backoff = Backoff(first=100, factor=1, max=100, jitter=0.2)
    assert backoff.delay(1, rand=lambda: 0.0) == 80
    assert backoff.delay(1, rand=lambda: 0.5) == 100
    assert backoff.delay(1, rand=lambda: 0.9999) == 120


@pytest.mark.parametrize(
    "kwargs",
    [{"first": -1}, {"factor": 0.5}, {"jitter": 2}, {"max": float("inf")}, {"first": float("nan")}],
)
def test_backoff_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**kwargs)


@pytest.mark.parametrize(
    ("ttr", "margin"), [(1, 0.5), (2, 0.5), (3, 0.75), (8, 2.0), (20, 5.0), (60, 5.0)]
)
def test_touch_margin(ttr: int, margin: float) -> None:
    assert touch_margin(ttr) == margin


@pytest.mark.parametrize(
    ("ttr", "left", "due"), [(60, 60, 55.0), (60, 10, 5.0), (60, 3, 0.0), (1, 1, 0.5), (1, 0, 0.0)]
)
def test_next_touch(ttr: int, left: float, due: float) -> None:
    assert next_touch(ttr, left) == due


def test_a_job_is_touched_before_its_ttr_runs_out() -> None:
    # Touch at the schedule's times: the time left never reaches zero before a touch.
    for ttr in (1, 2, 3, 10, 60, 3600):
        left = float(ttr)
        for _ in range(10):
            wait = next_touch(ttr, left)
            assert wait < left or left == 0
            left = float(ttr)  # touched: the TTR starts again


def test_counters_and_stats() -> None:
    counters = Counters()
    counters.count(Action("succeeded", "delete"))
    counters.count(Action("retried", "release", 5))
    counters.count(Action("failed", "release", 2))
    counters.count(Action("failed", "bury"))
    counters.count(Action("buried", "bury"))
    stats = counters.snapshot()
    assert stats == WorkerStats(succeeded=1, failed=2, retried=2, buried=2)
    assert stats + stats == WorkerStats(succeeded=2, failed=4, retried=4, buried=4)
    assert all(type(value) is int for value in vars(stats).values())


@pytest.mark.parametrize("value", [0, -1])
def test_concurrency_must_be_positive(value: int) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        check_concurrency(value)


def test_concurrency_and_grace_types() -> None:
    with pytest.raises(TypeError):
        check_concurrency(True)
    with pytest.raises(TypeError):
        check_grace("5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="grace"):
        check_grace(float("inf"))
    assert check_grace(0) == 0.0
