"""quit and close: the connection ends and every later call raises ConnectionLostError.

protocol-notes §2.21 and §9 cases 122-123 (quit gets no reply; the server closes). Losing a
connection without asking (killed servers, resets) is covered elsewhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import jackd

from . import fakeserver  # its wait_until polls a predicate; _support's a probe
from ._support import Connect, wait_until
from .fakeserver import (
    FakeServer,
    Worker,
    opened_clients,
    stats_then_stop_reading,
    unread_bytes,
)

CALLS: dict[str, Callable[[jackd.Client], object]] = {
    "put": lambda c: c.put(b"x"),
    "use": lambda c: c.use("t"),
    "reserve": lambda c: c.reserve(),
    "reserve-timeout": lambda c: c.reserve(timeout=0),
    "reserve_job": lambda c: c.reserve_job(1),
    "delete": lambda c: c.delete(1),
    "release": lambda c: c.release(1),
    "bury": lambda c: c.bury(1),
    "touch": lambda c: c.touch(1),
    "watch": lambda c: c.watch("t"),
    "ignore": lambda c: c.ignore("t"),
    "peek": lambda c: c.peek(1),
    "peek_ready": lambda c: c.peek_ready(),
    "peek_delayed": lambda c: c.peek_delayed(),
    "peek_buried": lambda c: c.peek_buried(),
    "kick": lambda c: c.kick(1),
    "kick_job": lambda c: c.kick_job(1),
    "stats": lambda c: c.stats(),
    "stats_job": lambda c: c.stats_job(1),
    "stats_tube": lambda c: c.stats_tube("default"),
    "list_tubes": lambda c: c.list_tubes(),
    "list_tube_used": lambda c: c.list_tube_used(),
    "list_tubes_watched": lambda c: c.list_tubes_watched(),
    "pause_tube": lambda c: c.pause_tube("default", 0),
    "big-put": lambda c: c.put(b"x" * 100_000),
}


def connection_count(observer: jackd.Client) -> int:
    return observer.stats().current_connections


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_every_call_after_quit_raises(
    client: jackd.Client, connect: Connect, call: Callable[[jackd.Client], object]
) -> None:
    observer = connect()
    client.put(b"x")
    wait_until(lambda: connection_count(observer), lambda n: n == 2, what="2 connections")
    client.quit()
    wait_until(lambda: connection_count(observer), lambda n: n == 1, what="the server to close")
    with pytest.raises(jackd.ConnectionLostError):
        call(client)
    # Still refused: nothing reconnects behind the caller's back.
    with pytest.raises(jackd.ConnectionLostError):
        call(client)
    assert connection_count(observer) == 1
    assert observer.stats().cmd_put == 1


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_every_call_after_close_raises(
    client: jackd.Client, connect: Connect, call: Callable[[jackd.Client], object]
) -> None:
    observer = connect()
    client.close()
    wait_until(lambda: connection_count(observer), lambda n: n == 1, what="the server to close")
    with pytest.raises(jackd.ConnectionLostError):
        call(client)


def test_quit_and_close_are_idempotent(client: jackd.Client) -> None:
    client.quit()
    client.quit()
    client.close()
    client.close()
    with pytest.raises(jackd.ConnectionLostError):
        client.stats()


def test_quit_releases_reserved_jobs(client: jackd.Client, connect: Connect) -> None:
    # §5.3: the server puts a closed connection's reservations back at once.
    observer = connect()
    jid = client.put(b"x")
    client.reserve(timeout=0)
    client.quit()
    stats = wait_until(
        lambda: observer.stats_job(jid), lambda s: s.state == "ready", what="the release"
    )
    assert (stats.reserves, stats.timeouts) == (1, 0)
    assert observer.reserve(timeout=0) == jackd.Job(jid, b"x")


def test_other_connections_unaffected_by_quit(client: jackd.Client, connect: Connect) -> None:
    other = connect()
    other.use("mine")
    client.quit()
    assert other.list_tube_used() == "mine"
    assert other.put(b"y") == 1


def test_quit_from_another_thread_wakes_a_blocked_reserve(
    client: jackd.Client, connect: Connect
) -> None:
    outcome: list[BaseException] = []

    def consume() -> None:
        try:
            client.reserve()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    probe = connect()
    wait_until(lambda: probe.stats().current_waiting, lambda n: n == 1, what="a waiting reserve")
    started = time.monotonic()
    client.quit()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2
    assert len(outcome) == 1
    assert isinstance(outcome[0], jackd.ConnectionLostError)
    with pytest.raises(jackd.ConnectionLostError):
        client.stats()


def test_quit_while_a_put_is_stuck_writing_returns_at_once(
    flavor: str, request: pytest.FixtureRequest
) -> None:
    # The server reads nothing after stats, so the put cannot finish and quit cannot be sent.
    with (
        opened_clients(flavor) as open_client,
        FakeServer(stats_then_stop_reading(30_000_000)) as fake,
    ):
        client = open_client(fake.address)
        writer = Worker(lambda: client.put(b"W" * 20_000_000), name="writer")
        writer.start()
        fakeserver.wait_until(lambda: unread_bytes(fake.port) > 0, what="the put to start")
        Worker(client.quit, name="quitter").start_and_wait(timeout=2)
        with pytest.raises(jackd.ConnectionLostError):
            writer.outcome(timeout=2)
        with pytest.raises(jackd.ConnectionLostError):
            client.stats()
        assert fake.connection().received == [b"stats"]
