"""The worker runtime against real beanstalkd servers, for jackd.Worker and jackd.aio.Worker.

Handlers are written once, as a ``Behaviour``: what to do with a job (how long to take, what
to raise). ``Flavor`` turns one into a plain function for the thread worker or a coroutine
for the asyncio one, and runs the worker in a thread of its own so the test can watch the
server and stop it.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import jackd
import jackd.aio
from jackd.testing import BeanstalkdServer

from ._support import wait_until
from .fakeserver import Worker as Thread

pytestmark = pytest.mark.timeout(60)

#: What a handler does with a job: seconds to take, then an exception to raise (or None).
Behaviour = Callable[[jackd.Job], tuple[float, BaseException | None]]

NO_JITTER = jackd.Backoff(first=0, factor=1, max=0, jitter=0)


def ok(job: jackd.Job) -> tuple[float, BaseException | None]:
    return 0.0, None


@dataclass
class Flavor:
    """One worker implementation, driven the same way by every test."""

    name: str
    address: str
    seen: list[tuple[str, bytes]] = field(default_factory=list)
    running: list[int] = field(default_factory=list)
    peak: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    worker: Any = None
    thread: threading.Thread | None = None
    error: list[BaseException] = field(default_factory=list)

    def make(self, **kwargs: Any) -> Any:
        cls = jackd.Worker if self.name == "sync" else jackd.aio.Worker
        kwargs.setdefault("concurrency", 4)
        self.worker = cls(self.address, **kwargs)
        return self.worker

    def handle(self, tube: str, behaviour: Behaviour = ok, **kwargs: Any) -> None:
        def enter(job: jackd.Job) -> None:
            with self._lock:
                self.seen.append((tube, job.body))
                self.running.append(job.id)
                self.peak = max(self.peak, len(self.running))

        def leave(job: jackd.Job) -> None:
            with self._lock:
                self.running.remove(job.id)

        if self.name == "sync":

            def handler(job: jackd.Job) -> None:
                enter(job)
                try:
                    pause, error = behaviour(job)
                    time.sleep(pause)
                finally:
                    leave(job)
                if error is not None:
                    raise error

            self.worker.handler(tube, **kwargs)(handler)
        else:

            async def async_handler(job: jackd.Job) -> None:
                enter(job)
                try:
                    pause, error = behaviour(job)
                    await asyncio.sleep(pause)
                finally:
                    leave(job)
                if error is not None:
                    raise error

            self.worker.handler(tube, **kwargs)(async_handler)

    def run(self, burst: bool = False) -> None:
        """Run the worker to the end, here."""
        if self.name == "sync":
            self.worker.run(burst=burst)
        else:
            asyncio.run(self.worker.run(burst=burst))

    def start(self) -> None:
        """Run the worker in a thread; ``join`` waits for it."""

        def target() -> None:
            try:
                self.run()
            except BaseException as exc:
                self.error.append(exc)

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def join(self, timeout: float = 30) -> float:
        """Wait for the worker to return; how long that took."""
        assert self.thread is not None
        started = time.monotonic()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the worker did not return"
        if self.error:
            raise self.error[0]
        return time.monotonic() - started


@pytest.fixture(params=["sync", "async"])
def flavor(request: pytest.FixtureRequest, server: BeanstalkdServer) -> Iterator[Flavor]:
    f = Flavor(str(request.param), server.address)
    yield f
    if f.thread is not None and f.thread.is_alive():
        f.worker.stop()
        f.worker.stop()
        f.thread.join(10)


@pytest.fixture
def producer(server: BeanstalkdServer) -> Iterator[jackd.Client]:
    with jackd.connect(server.address) as client:
        yield client


def put(client: jackd.Client, tube: str, *bodies: bytes, **kwargs: Any) -> list[int]:
    client.use(tube)
    return [client.put(body, **kwargs) for body in bodies]


def tube_counts(client: jackd.Client, tube: str) -> tuple[int, int, int, int]:
    """(ready, reserved, delayed, buried) of a tube; zeros for a tube that is gone."""
    try:
        s = client.stats_tube(tube)
    except jackd.NotFoundError:
        return (0, 0, 0, 0)
    return (
        s.current_jobs_ready,
        s.current_jobs_reserved,
        s.current_jobs_delayed,
        s.current_jobs_buried,
    )


# -- outcomes ------------------------------------------------------------------------------


def test_each_outcome(flavor: Flavor, producer: jackd.Client) -> None:
    flavor.make()
    outcomes: dict[bytes, BaseException | None] = {
        b"fine": None,
        b"retry": jackd.Retry(delay=100),
        b"bury": jackd.Bury("bad input"),
    }
    flavor.handle("t", lambda job: (0.0, outcomes[job.body]))
    fine, retry, bury = put(producer, "t", b"fine", b"retry", b"bury", priority=77)
    flavor.run(burst=True)
    with pytest.raises(jackd.NotFoundError):
        producer.peek(fine)
    delayed = producer.stats_job(retry)
    assert (delayed.state, delayed.pri, delayed.delay) == ("delayed", 77, 100)
    buried = producer.stats_job(bury)
    assert (buried.state, buried.pri) == ("buried", 77)
    stats = flavor.worker.stats()
    assert (stats.reserved, stats.succeeded, stats.retried, stats.buried, stats.failed) == (
        3,
        1,
        1,
        1,
        0,
    )
    assert stats.in_flight == 0
    assert flavor.worker.stats("t") == stats


def test_counts_add_up_over_runs_and_tubes(flavor: Flavor, producer: jackd.Client) -> None:
    # The thread worker's slots count for themselves; a second run gets new slots.
    flavor.make(concurrency=3)
    flavor.handle("a", lambda job: (0.0, None))
    flavor.handle("b", lambda job: (0.0, None))
    put(producer, "a", *[b"x"] * 5)
    put(producer, "b", *[b"y"] * 4)
    flavor.run(burst=True)
    assert (flavor.worker.stats("a").succeeded, flavor.worker.stats("b").succeeded) == (5, 4)
    put(producer, "a", *[b"x"] * 2)
    flavor.run(burst=True)
    assert flavor.worker.stats().succeeded == 11
    assert flavor.worker.stats("a").reserved == 7
    with pytest.raises(KeyError):
        flavor.worker.stats("nobody")


def test_failures_retry_with_backoff_then_bury_at_max_attempts(
    flavor: Flavor, producer: jackd.Client
) -> None:
    flavor.make(concurrency=1)
    flavor.handle("t", lambda job: (0.0, ValueError("boom")), max_attempts=3, backoff=NO_JITTER)
    (jid,) = put(producer, "t", b"always fails", priority=9)
    flavor.run(burst=True)
    stats = producer.stats_job(jid)
    # Counted by the server: reserved three times, released twice, then buried.
    assert (stats.state, stats.reserves, stats.releases, stats.buries, stats.pri) == (
        "buried",
        3,
        2,
        1,
        9,
    )
    worker = flavor.worker.stats()
    assert (worker.failed, worker.retried, worker.buried) == (3, 2, 1)


def test_failure_waits_the_backoff_delay(flavor: Flavor, producer: jackd.Client) -> None:
    flavor.make(concurrency=1)
    backoff = jackd.Backoff(first=50, factor=2, max=600, jitter=0)
    flavor.handle("t", lambda job: (0.0, RuntimeError("later")), backoff=backoff)
    (jid,) = put(producer, "t", b"x")
    flavor.run(burst=True)
    stats = producer.stats_job(jid)
    assert (stats.state, stats.delay) == ("delayed", 50)


def test_routing_over_three_tubes(flavor: Flavor, producer: jackd.Client) -> None:
    flavor.make(concurrency=2)
    for tube in ("emails", "images", "sms"):
        flavor.handle(tube)
    expected = set()
    for tube in ("emails", "images", "sms"):
        for i in range(10):
            body = f"{tube}-{i}".encode()
            put(producer, tube, body)
            expected.add((tube, body))
    put(producer, "default", b"nobody serves default")
    flavor.run(burst=True)
    assert set(flavor.seen) == expected
    assert len(flavor.seen) == 30  # each once, each to the handler of its own tube
    assert all(body.decode().startswith(tube) for tube, body in flavor.seen)
    assert tube_counts(producer, "default") == (1, 0, 0, 0)
    assert flavor.worker.stats("images").succeeded == 10


def test_concurrency_is_parallel_and_bounded(flavor: Flavor, producer: jackd.Client) -> None:
    flavor.make(concurrency=4)
    flavor.handle("t", lambda job: (0.3, None))
    put(producer, "t", *[b"job %d" % i for i in range(12)])
    started = time.monotonic()
    flavor.run(burst=True)
    elapsed = time.monotonic() - started
    assert flavor.peak == 4
    # 12 jobs of 0.3 s, 4 at a time: three rounds, not twelve.
    assert elapsed < 12 * 0.3 / 2
    assert flavor.worker.stats().succeeded == 12


def test_long_job_is_touched_and_reserved_once(flavor: Flavor, producer: jackd.Client) -> None:
    flavor.make(concurrency=1)
    flavor.handle("t", lambda job: (3.2, None))
    (jid,) = put(producer, "t", b"takes three TTRs", ttr=1)
    with jackd.connect(producer.endpoint.__str__()) as other:
        flavor.start()
        wait_until(lambda: flavor.running, bool, what="the handler to start")
        # While it runs, nobody else can have it.
        other.watch("t")
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            with pytest.raises(jackd.TimedOutError):
                other.reserve(timeout=0)
            time.sleep(0.2)
        flavor.worker.stop()
        flavor.join()
    with pytest.raises(jackd.NotFoundError):
        producer.peek(jid)
    assert flavor.worker.stats().succeeded == 1
    assert flavor.seen == [("t", b"takes three TTRs")]


# -- stopping ------------------------------------------------------------------------------


@pytest.mark.parametrize("tubes", [["t"], ["t", "other"]])
def test_a_finished_job_is_deleted_at_once_when_no_next_job_comes(
    flavor: Flavor, producer: jackd.Client, tubes: list[str]
) -> None:
    # The thread worker sends a success's delete with the slot's next reserve; with nothing
    # more to reserve (or the next reserve on another tube's connection) it must not wait.
    flavor.make(concurrency=1)
    for tube in tubes:
        flavor.handle(tube)
    (jid,) = put(producer, "t", b"only")
    flavor.start()
    wait_until(lambda: _exists(producer, jid), lambda there: not there, what="the delete")
    assert flavor.worker.stats().succeeded == 1
    assert flavor.thread is not None
    assert flavor.thread.is_alive()  # still running, idle


def test_many_jobs_on_one_slot_each_deleted_once(flavor: Flavor, producer: jackd.Client) -> None:
    flavor.make(concurrency=1)
    flavor.handle("t")
    ids = put(producer, "t", *(b"%d" % i for i in range(300)))
    flavor.run(burst=True)
    assert flavor.worker.stats().succeeded == 300
    assert producer.stats_tube("t").cmd_delete == 300
    assert not any(_exists(producer, jid) for jid in ids)


def test_graceful_stop_lets_running_handlers_finish(flavor: Flavor, producer: jackd.Client) -> None:
    flavor.make(concurrency=2, grace=10)
    flavor.handle("t", lambda job: (1.0, None))
    ids = put(producer, "t", b"a", b"b", b"c", b"d")
    flavor.start()
    wait_until(lambda: len(flavor.running), lambda n: n == 2, what="two handlers running")
    stopped = time.monotonic()
    flavor.worker.stop()
    flavor.join()
    assert time.monotonic() - stopped < 5
    # The two that ran finished and were deleted; the other two were never reserved.
    assert flavor.worker.stats().succeeded == 2
    assert tube_counts(producer, "t") == (2, 0, 0, 0)
    assert sum(1 for jid in ids if _exists(producer, jid)) == 2


def test_stop_past_grace_releases_unfinished_jobs(flavor: Flavor, producer: jackd.Client) -> None:
    flavor.make(concurrency=1, grace=0.3)
    flavor.handle("t", lambda job: (5.0, None))
    (jid,) = put(producer, "t", b"too slow", priority=33)
    flavor.start()
    wait_until(lambda: flavor.running, bool, what="the handler to start")
    flavor.worker.stop()
    took = flavor.join()
    assert took < 3
    stats = producer.stats_job(jid)
    assert (stats.state, stats.pri) == ("ready", 33)
    assert flavor.worker.stats().released_on_stop == 1


def test_second_stop_releases_at_once(flavor: Flavor, producer: jackd.Client) -> None:
    flavor.make(concurrency=1, grace=30)
    flavor.handle("t", lambda job: (5.0, None))
    (jid,) = put(producer, "t", b"interrupted", priority=5)
    flavor.start()
    wait_until(lambda: flavor.running, bool, what="the handler to start")
    flavor.worker.stop()
    flavor.worker.stop()
    assert flavor.join() < 3
    stats = producer.stats_job(jid)
    assert (stats.state, stats.pri) == ("ready", 5)


def test_stop_from_a_handler_and_nothing_left_reserved(
    flavor: Flavor, producer: jackd.Client
) -> None:
    flavor.make(concurrency=3)

    def behaviour(job: jackd.Job) -> tuple[float, BaseException | None]:
        if job.body == b"stop":
            flavor.worker.stop()
        return 0.0, None

    flavor.handle("t", behaviour)
    put(producer, "t", b"stop")
    flavor.start()
    flavor.join()
    _, reserved, _, _ = tube_counts(producer, "t")
    assert reserved == 0
    assert producer.stats().current_jobs_reserved == 0


def test_idle_worker_stops_within_a_second(flavor: Flavor) -> None:
    flavor.make(concurrency=3)
    flavor.handle("t")
    flavor.start()
    with jackd.connect(flavor.address) as observer:
        # Every slot (thread worker) or the reserver (asyncio) waits in a reserve.
        wait_until(lambda: observer.stats().current_waiting, lambda n: n >= 1, what="reserves")
    stopped = time.monotonic()
    flavor.worker.stop()
    flavor.join()
    assert time.monotonic() - stopped < 1.5


# -- faults --------------------------------------------------------------------------------


def test_keeps_going_through_a_server_restart(
    start_server: Callable[..., BeanstalkdServer],
) -> None:
    durable = start_server(binlog=True)
    for name in ("sync", "async"):
        flavor = Flavor(name, durable.address)
        flavor.make(concurrency=2)
        flavor.handle("t")
        with jackd.connect(durable.address) as producer:
            put(producer, "t", b"before")
        seen = flavor.seen
        flavor.start()
        wait_until(functools.partial(len, seen), lambda n: n == 1, what="the first job")
        durable.kill()
        durable.restart()
        with jackd.connect(durable.address) as producer:
            put(producer, "t", b"after")
        wait_until(
            lambda seen=seen: [body for _, body in seen],  # type: ignore[misc]
            lambda bodies: b"after" in bodies,
            timeout=15,
            what="the job put after the restart",
        )
        flavor.worker.stop()
        flavor.join()
        # At least once: "before" runs again if its delete was lost with the old server.
        bodies = [body for _, body in flavor.seen]
        assert set(bodies) == {b"before", b"after"}
        assert bodies.count(b"after") == 1


def test_unreachable_server_fails_at_start() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    worker = jackd.Worker(f"127.0.0.1:{port}")
    worker.handler("t")(lambda job: None)
    started = time.monotonic()
    with pytest.raises(jackd.ConnectionLostError, match="gave up after"):
        worker.run()
    assert time.monotonic() - started < 30


def test_a_handler_that_raises_never_stops_the_worker_and_hooks_see_everything(
    flavor: Flavor, producer: jackd.Client
) -> None:
    flavor.make(concurrency=1)
    events: list[jackd.JobEvent] = []
    flavor.worker.hook(events.append)
    flavor.worker.hook(lambda event: 1 / 0)  # a broken hook is logged, not raised
    flavor.handle(
        "t",
        lambda job: (0.0, KeyError("x") if job.body == b"bad" else None),
        max_attempts=1,
    )
    put(producer, "t", b"bad", b"good")
    flavor.run(burst=True)
    assert sorted((e.job.body, e.outcome, e.action) for e in events) == [
        (b"bad", "failed", "bury"),
        (b"good", "succeeded", "delete"),
    ]
    assert all(e.tube == "t" and e.seconds >= 0 for e in events)
    assert isinstance(next(e for e in events if e.job.body == b"bad").error, KeyError)


def test_handler_kinds_are_checked() -> None:
    async def coroutine(job: jackd.Job) -> None: ...

    def plain(job: jackd.Job) -> None: ...

    with pytest.raises(TypeError, match="coroutine"):
        jackd.Worker().handler("t")(coroutine)
    with pytest.raises(TypeError, match="not a coroutine"):
        jackd.aio.Worker().handler("t")(plain)
    worker = jackd.Worker()
    worker.handler("t")(plain)
    with pytest.raises(ValueError, match="already"):
        worker.handler("t")(plain)
    with pytest.raises(RuntimeError, match="no handlers"):
        jackd.Worker().run()


def _exists(client: jackd.Client, jid: int) -> bool:
    try:
        client.peek(jid)
    except jackd.NotFoundError:
        return False
    return True


def test_stop_after_the_asyncio_worker_returned_is_harmless(server: BeanstalkdServer) -> None:
    worker = jackd.aio.Worker(server.address, concurrency=2)

    @worker.handler("t")
    async def handle(job: jackd.Job) -> None:
        pass

    asyncio.run(worker.run(burst=True))  # its loop is closed now
    # From another thread, as a signal or a supervisor would; what stop() raises, fails here.
    Thread(worker.stop, name="late-stop").start_and_wait(5)
