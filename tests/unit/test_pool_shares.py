"""How jackd.Pool runs a put_many's shares: at once in threads, results in order, errors raised."""

from __future__ import annotations

import threading

import pytest

from jackd import Client
from jackd.pool import Member, _each_at_once


def test_shares_run_at_once_and_results_keep_their_order() -> None:
    members: list[Member[Client]] = [Member(f"q{n}:11300") for n in range(3)]
    started = threading.Barrier(3, timeout=10)  # only passes if all three run together
    threads: set[int] = set()

    def work(member: Member[Client], share: int) -> int:
        threads.add(threading.get_ident())
        started.wait()
        return share * 10

    assert _each_at_once(work, list(zip(members, [1, 2, 3], strict=True)), True) == [10, 20, 30]
    assert len(threads) == 3


def test_without_threads_shares_run_in_turn_on_this_thread() -> None:
    seen: list[int] = []

    def work(member: Member[Client], share: int) -> int:
        seen.append(threading.get_ident())
        return share

    members: list[Member[Client]] = [Member("a:1"), Member("b:1")]
    assert _each_at_once(work, list(zip(members, [1, 2], strict=True)), False) == [1, 2]
    assert seen == [threading.get_ident()] * 2


def test_an_error_in_a_helper_thread_is_raised_after_every_share_is_done() -> None:
    finished: list[int] = []

    def work(member: Member[Client], share: int) -> int:
        if share == 2:
            raise ValueError("share 2 failed")
        finished.append(share)
        return share

    members: list[Member[Client]] = [Member(f"q{n}:1") for n in range(3)]
    with pytest.raises(ValueError, match="share 2 failed"):
        _each_at_once(work, list(zip(members, [1, 2, 3], strict=True)), True)
    assert sorted(finished) == [1, 3]
