"""The reconnect policy: the waits between attempts, and what a policy may be made of."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import jackd
import jackd.aio
from jackd._reconnect import Reconnect, reconnect_policy


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


def cycling(*values: float) -> Callable[[], float]:
    source: Iterator[float] = itertools.cycle(values)
    return lambda: next(source)


def test_first_attempt_is_at_once() -> None:
    assert next(Reconnect().waits()) == 0.0
    assert next(Reconnect(attempts=None, first_delay=3, max_delay=3).waits(fixed(0.0))) == 0.0


def test_waits_double_up_to_max_delay() -> None:
    policy = Reconnect(attempts=8, first_delay=0.1, max_delay=1.0, jitter=0.0)
    waits = list(policy.waits(fixed(0.7)))
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


def test_jitter_shortens_each_wait_by_up_to_its_share() -> None:
    policy = Reconnect(attempts=12, first_delay=0.05, max_delay=2.0, jitter=0.5)
    no_jitter = list(Reconnect(12, 0.05, 2.0, 0.0).waits())
    # rand() == 0: the full delay; rand() near 1: shortened by almost half.
    assert list(policy.waits(fixed(0.0))) == pytest.approx(no_jitter)
    shortest = list(policy.waits(fixed(0.999999)))
    assert shortest[0] == 0.0
    for wait, full in zip(shortest[1:], no_jitter[1:], strict=True):
        assert full * 0.5 <= wait < full * 0.5000011
    # Any rand() in [0, 1) lands in between, and the growth is not disturbed by it.
    mixed = list(policy.waits(cycling(0.0, 0.25, 0.9, 0.5)))
    for wait, full in zip(mixed[1:], no_jitter[1:], strict=True):
        assert full * 0.5 <= wait <= full
    assert mixed[1:5] == pytest.approx([0.05, 0.1 * 0.875, 0.2 * 0.55, 0.4 * 0.75])


def test_full_jitter_may_wait_nothing() -> None:
    waits = list(Reconnect(attempts=4, first_delay=1, max_delay=4, jitter=1.0).waits(fixed(0.5)))
    assert waits == pytest.approx([0.0, 0.5, 1.0, 2.0])


def test_rand_is_called_once_per_wait_after_the_first() -> None:
    calls: list[int] = []

    def rand() -> float:
        calls.append(1)
        return 0.0

    assert len(list(Reconnect(attempts=5).waits(rand))) == 5
    assert len(calls) == 4


@pytest.mark.parametrize("attempts", [1, 2, 3, 10, 37])
def test_attempts_counts_the_waits(attempts: int) -> None:
    waits = list(Reconnect(attempts=attempts).waits())
    assert len(waits) == attempts
    assert waits[0] == 0.0


def test_default_policy() -> None:
    policy = Reconnect()
    assert (policy.attempts, policy.first_delay, policy.max_delay, policy.jitter) == (
        10,
        0.05,
        5.0,
        0.5,
    )
    waits = list(policy.waits(fixed(0.0)))
    assert len(waits) == 10
    assert max(waits) == 5.0


def test_unbounded_attempts_never_run_out() -> None:
    policy = Reconnect(attempts=None, first_delay=0.01, max_delay=0.5, jitter=0.5)
    waits = list(itertools.islice(policy.waits(cycling(0.0, 0.999)), 1000))
    assert len(waits) == 1000
    assert waits[0] == 0.0
    assert all(0.0 < wait <= 0.5 for wait in waits[1:])
    assert max(waits[500:]) == 0.5  # capped, not overflowing to inf
    assert min(waits[500:]) == pytest.approx(0.5 * (1 - 0.5 * 0.999))


def test_waits_restart_for_every_loss() -> None:
    policy = Reconnect(attempts=3, first_delay=0.1, max_delay=1.0, jitter=0.0)
    assert list(policy.waits()) == list(policy.waits())


def test_policy_is_frozen_and_hashable() -> None:
    policy = Reconnect(attempts=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.attempts = 4  # type: ignore[misc]
    assert policy == Reconnect(attempts=3)
    assert hash(policy) == hash(Reconnect(attempts=3))


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("attempts", [0, -1, True, False, 1.5, 2.0, "3"])
def test_bad_attempts(attempts: Any) -> None:
    with pytest.raises(ValueError, match="attempts"):
        Reconnect(attempts=attempts)


@pytest.mark.parametrize("name", ["first_delay", "max_delay", "jitter"])
@pytest.mark.parametrize("value", ["1", None, True, [1]])
def test_delays_must_be_numbers(name: str, value: Any) -> None:
    with pytest.raises(TypeError, match=name):
        Reconnect(**{name: value})


@pytest.mark.parametrize("name", ["first_delay", "max_delay", "jitter"])
@pytest.mark.parametrize("value", [-0.01, -1, float("nan"), float("inf"), float("-inf")])
def test_delays_must_be_finite_and_not_negative(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        Reconnect(**{name: value})


def test_first_delay_not_over_max_delay() -> None:
    with pytest.raises(ValueError, match="first_delay"):
        Reconnect(first_delay=2, max_delay=1)
    assert list(Reconnect(3, first_delay=1, max_delay=1, jitter=0).waits()) == [0, 1, 1]


@pytest.mark.parametrize("jitter", [1.01, 2])
def test_jitter_at_most_one(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        Reconnect(jitter=jitter)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 1},
        {"attempts": None},
        {"first_delay": 0, "max_delay": 0},
        {"jitter": 0},
        {"jitter": 1},
        {"first_delay": 1, "max_delay": 1.5},
    ],
)
def test_edge_values_are_accepted(kwargs: dict[str, Any]) -> None:
    Reconnect(**kwargs)


# -- the reconnect= argument -----------------------------------------------------------------


def test_reconnect_argument() -> None:
    assert reconnect_policy(None) is None
    assert reconnect_policy(False) is None
    assert reconnect_policy(True) == Reconnect()
    policy = Reconnect(attempts=2)
    assert reconnect_policy(policy) is policy


@pytest.mark.parametrize("value", [1, 0, "yes", {"attempts": 3}, 1.0])
def test_reconnect_argument_of_another_type(value: Any) -> None:
    with pytest.raises(TypeError, match="reconnect"):
        reconnect_policy(value)


@pytest.mark.parametrize("value", ["yes", 3])
def test_clients_refuse_a_bad_reconnect_before_connecting(value: Any) -> None:
    # Port 9 (discard) on the loopback is not listening: a TypeError, not a connection error,
    # says the argument was checked first.
    with pytest.raises(TypeError, match="reconnect"):
        jackd.Client("127.0.0.1:9", reconnect=value)
    with pytest.raises(TypeError, match="reconnect"):
        jackd.aio.AsyncClient("127.0.0.1:9", reconnect=value)


def test_clients_take_a_policy() -> None:
    policy = Reconnect(attempts=2)
    assert jackd.aio.AsyncClient("127.0.0.1:9", reconnect=policy).reconnect is policy
    assert jackd.aio.AsyncClient("127.0.0.1:9", reconnect=True).reconnect == Reconnect()
    assert jackd.aio.AsyncClient("127.0.0.1:9").reconnect is None


def test_reconnect_is_exported() -> None:
    assert jackd.Reconnect is Reconnect
    assert "Reconnect" in jackd.__all__
