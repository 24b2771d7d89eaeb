"""The Python job queues people would pick instead of jackd: rq, dramatiq, arq and celery.

Each runs on a fresh ``redis-server`` (``bench.servers.RedisServer``, started by the runner on
a free loopback port) with a no-op task, configured as its documentation recommends for
many short jobs (bench/README.md says how, and why). Every case works like the jackd worker
cases: it fills the queue (untimed, the fastest way the library offers) with ``warm`` jobs and
processes them untimed, then fills ``n`` jobs and times from the worker's start until all
``n`` have run. A library with a burst mode (rq, arq) is timed until its worker returns; the
others until the task has run ``n`` times, which the task itself counts in shared memory
(one locked increment, also how every case checks that each job ran exactly once).

Each library is imported inside its case, so a measurement's process holds only one of them.
Worker processes are forked from the measuring process, which is pinned to the client's CPU:
they share that CPU, as jackd's threads do.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bench.cases import Run, Timer

QUEUE = "bench"
"""The queue every competitor uses."""
CELERY_PREFETCH = 64
"""celery ``worker_prefetch_multiplier``: "lots of short tasks ... you want this number to be
large. Say 64, or 128" (celery's Optimizing guide)."""
ARQ_POLL_DELAY = 0.001
"""arq ``poll_delay`` (default 0.5 s): how long the worker sleeps between reads of the queue."""
DRAMATIQ_WORKER_TIMEOUT = 100
"""dramatiq ``worker_timeout`` in ms: only how long an idle consumer blocks (and so how long
stopping takes); it does not touch a busy worker."""
FILL_BATCH = 1000


class Clock(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class _NoClock:
    """The warm-up's stand-in for the timer."""

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class Progress:
    """How many times the task ran, shared with forked worker processes; ``done`` at a target."""

    def __init__(self, target: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.target = target
        self.count = ctx.Value("q", 0)
        self.done = ctx.Event()
        if target == 0:
            self.done.set()

    def tick(self) -> None:
        with self.count.get_lock():
            self.count.value += 1
            value = self.count.value
        if value == self.target:
            self.done.set()

    def check(self, what: str) -> None:
        value = self.count.value
        if value != self.target:
            raise RuntimeError(f"{what} ran the task {value} times, expected {self.target}")


PROGRESS = Progress(0)
"""The current phase's counter (module state, so that the tasks find it after a fork)."""


def _tick() -> None:
    PROGRESS.tick()


def _new_progress(count: int) -> Progress:
    global PROGRESS
    PROGRESS = Progress(count)
    return PROGRESS


def _quiet() -> None:
    """Warnings only: the libraries log every job at INFO (rq, arq), which is not the queue."""
    logging.basicConfig(level=logging.WARNING)
    for name in ("rq", "rq.worker", "arq", "arq.worker", "dramatiq", "celery", "kombu"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _url(address: str) -> str:
    host, port = _host_port(address)
    return f"redis://{host}:{port}/0"


def _phases(
    n: int, warm: int, timer: Timer, fill: Callable[[int], None], work: Callable[[int, Clock], None]
) -> None:
    fill(warm)
    work(warm, _NoClock())
    fill(n)
    work(n, timer)
    if timer.seconds is None:
        raise RuntimeError("the timed phase never stopped the clock")


def _fork(count: int, child: Callable[[], None]) -> list[int]:
    """Fork ``count`` processes that run ``child`` and exit (1 if it raised)."""
    pids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            status = 0
            try:
                child()
            except BaseException:
                traceback.print_exc()
                status = 1
            os._exit(status)
        pids.append(pid)
    return pids


def _reap(pids: list[int], what: str) -> None:
    failed = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            failed += 1
    if failed:
        raise RuntimeError(f"{failed} of {len(pids)} {what} processes failed")


# -- rq ---------------------------------------------------------------------------------------


def rq_noop() -> None:
    _tick()


def rq_case(workers: int) -> Run:
    """rq ``SimpleWorker`` (no fork per job), ``work(burst=True)``; ``workers`` processes."""

    def run(address: str, n: int, warm: int, timer: Timer) -> None:
        from redis import Redis
        from rq import Queue, SimpleWorker

        _quiet()
        url = _url(address)

        def fill(count: int) -> None:
            connection = Redis.from_url(url)
            queue = Queue(QUEUE, connection=connection)
            for start in range(0, count, FILL_BATCH):
                size = min(FILL_BATCH, count - start)
                with connection.pipeline() as pipe:
                    queue.enqueue_many(
                        [Queue.prepare_data(rq_noop, result_ttl=0) for _ in range(size)],
                        pipeline=pipe,
                    )
                    pipe.execute()
            connection.close()

        def one_worker() -> None:
            connection = Redis.from_url(url)
            SimpleWorker([Queue(QUEUE, connection=connection)], connection=connection).work(
                burst=True, logging_level="WARNING"
            )
            connection.close()

        def work(count: int, clock: Clock) -> None:
            progress = _new_progress(count)
            clock.start()
            if workers == 1:
                one_worker()
            else:
                _reap(_fork(workers, one_worker), "rq worker")
            clock.stop()
            progress.check("rq")
            connection = Redis.from_url(url)
            left = Queue(QUEUE, connection=connection).count
            connection.close()
            if left:
                raise RuntimeError(f"rq left {left} jobs in the queue")

        _phases(n, warm, timer, fill, work)

    return run


# -- dramatiq ---------------------------------------------------------------------------------


def dramatiq_noop() -> None:
    _tick()


def dramatiq_case(processes: int, threads: int) -> Run:
    """dramatiq ``Worker(broker, worker_threads=threads)`` in ``processes`` processes."""

    def run(address: str, n: int, warm: int, timer: Timer) -> None:
        import dramatiq
        from dramatiq.brokers.redis import RedisBroker

        _quiet()
        broker = RedisBroker(url=_url(address))  # type: ignore[no-untyped-call]
        dramatiq.set_broker(broker)
        actor = dramatiq.actor(queue_name=QUEUE, max_retries=0, broker=broker)(dramatiq_noop)

        def fill(count: int) -> None:
            for start in range(0, count, FILL_BATCH):
                size = min(FILL_BATCH, count - start)
                group = dramatiq.group(actor.message() for _ in range(size))  # type: ignore[no-untyped-call]
                group.run()  # type: ignore[no-untyped-call]

        def start_worker() -> Any:
            worker = dramatiq.Worker(
                broker, worker_threads=threads, worker_timeout=DRAMATIQ_WORKER_TIMEOUT
            )
            worker.start()
            return worker

        def work(count: int, clock: Clock) -> None:
            progress = _new_progress(count)
            if processes == 1:
                clock.start()
                worker = start_worker()
                finished = progress.done.wait(timeout=600)
                clock.stop()
                worker.stop()
            else:
                stop = multiprocessing.get_context("fork").Event()

                def child() -> None:
                    worker = start_worker()
                    stop.wait()
                    worker.stop()

                clock.start()
                pids = _fork(processes, child)
                finished = progress.done.wait(timeout=600)
                clock.stop()
                stop.set()
                _reap(pids, "dramatiq worker")
            if not finished:
                raise RuntimeError("dramatiq did not finish within 600 s")
            progress.check("dramatiq")

        _phases(n, warm, timer, fill, work)

    return run


# -- arq --------------------------------------------------------------------------------------


async def arq_noop(ctx: dict[str, Any]) -> None:
    _tick()


def arq_case(max_jobs: int) -> Run:
    """arq ``Worker(burst=True, max_jobs=..., poll_delay=ARQ_POLL_DELAY, keep_result=0)``."""

    async def run(address: str, n: int, warm: int, timer: Timer) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings
        from arq.worker import Worker, func

        _quiet()
        host, port = _host_port(address)
        settings = RedisSettings(host=host, port=port)
        pool = await create_pool(settings, default_queue_name=QUEUE)

        async def fill(count: int) -> None:
            for start in range(0, count, FILL_BATCH):
                size = min(FILL_BATCH, count - start)
                jobs = await asyncio.gather(*(pool.enqueue_job("noop") for _ in range(size)))
                if not all(jobs):
                    raise RuntimeError("arq refused to enqueue a job")

        async def work(count: int, clock: Clock) -> None:
            progress = _new_progress(count)
            worker = Worker(
                functions=[func(arq_noop, name="noop")],
                queue_name=QUEUE,
                redis_settings=settings,
                burst=True,
                max_jobs=max_jobs,
                poll_delay=ARQ_POLL_DELAY,
                keep_result=0,
                handle_signals=False,
                log_results=False,
            )
            clock.start()
            await asyncio.wait_for(worker.async_run(), timeout=600)
            clock.stop()
            await worker.close()
            progress.check("arq")

        try:
            await fill(warm)
            await work(warm, _NoClock())
            await fill(n)
            await work(n, timer)
        finally:
            await pool.aclose()

    return run


# -- celery -----------------------------------------------------------------------------------


def celery_noop() -> None:
    _tick()


def celery_case(pool: str, concurrency: int) -> Run:
    """A celery worker (``pool`` "solo", "threads" or "prefork") started in this process."""

    def run(address: str, n: int, warm: int, timer: Timer) -> None:
        from celery import Celery
        from celery.worker import state

        _quiet()
        app = Celery("bench_celery", broker=_url(address), set_as_current=True)
        app.conf.update(
            task_ignore_result=True,
            task_default_queue=QUEUE,
            worker_prefetch_multiplier=CELERY_PREFETCH,
            worker_disable_rate_limits=True,
            worker_send_task_events=False,
            worker_hijack_root_logger=False,
            broker_connection_retry_on_startup=True,
        )
        task = app.task(name="bench.noop", ignore_result=True)(celery_noop)

        def fill(count: int) -> None:
            with app.producer_or_acquire() as producer:
                for _ in range(count):
                    task.apply_async(producer=producer)

        def work(count: int, clock: Clock) -> None:
            progress = _new_progress(count)
            worker = app.WorkController(
                pool=pool,
                concurrency=concurrency,
                loglevel="WARNING",
                without_heartbeat=True,
                without_mingle=True,
                without_gossip=True,
            )
            finished: list[bool] = []

            def watch() -> None:
                finished.append(progress.done.wait(timeout=600))
                clock.stop()
                state.should_terminate = 0  # the worker's loop sees it and stops

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            clock.start()
            try:
                worker.start()
            finally:
                watcher.join()
                state.should_terminate = None
            if not finished[0]:
                raise RuntimeError("celery did not finish within 600 s")
            progress.check("celery")

        _phases(n, warm, timer, fill, work)

    return run
