"""What the suite measures: scenarios, the clients measured in each, and the timed code.

A scenario is one workload (say "put a 100-byte job, one command at a time"); a case is one
client running it. Every case does the same work on a fresh server: ``warm`` untimed
operations, then ``n`` timed ones inside ``with timer:``. The client libraries are imported
inside the case functions, so each measurement's process loads only the client it measures.
A scenario with several servers (``Scenario.servers``) hands its cases their addresses
joined by commas (``"127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"``).
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import os
import resource
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from bench import competitors, raw
from bench.servers import CpuProbe, Kind

BODY = b"x" * 100
"""The body of every small job."""
BIG = b"x" * (1 << 20)
"""The 1 MiB body of the large-job scenario."""
BATCH = 1000
"""Jobs per ``put_many`` / ``reserve_many`` batch."""
TASKS = 1000
"""Tasks sharing one asyncio client."""
CONNECTIONS = 8
"""Connections of the multi-connection asyncio scenario."""
TASKS_PER_CONNECTION = TASKS // CONNECTIONS


def _tree_cpu() -> float:
    """CPU seconds (user + system) of this process, all its threads and all its children.

    Reaped children count through ``RUSAGE_CHILDREN``; live ones (forked worker processes of
    a competitor) are read from ``/proc``, with whatever their own reaped children used.
    """
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = time.process_time() + kids.ru_utime + kids.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _children(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile: counted once reaped
        total += sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return found


class Timer:
    """Times the block it wraps, and the CPU time the client and the server used in it.

    Before the clock starts it collects garbage and reads the server's CPU time over a
    connection of its own (also after the clock stops), so the block measures only the client
    under test; with several servers (``address`` holds commas), the sum of their CPU times.
    The client's CPU time includes every thread and every child process. With a profiler,
    profiling is on exactly while the clock runs. ``start()`` and ``stop()`` may be called
    from different threads (a competitor's worker runs in the main thread while another
    thread sees it finish).
    """

    def __init__(
        self, address: str, profiler: cProfile.Profile | None = None, server: Kind = "beanstalkd"
    ) -> None:
        self._probes = [CpuProbe(part, server) for part in address.split(",")]
        self._profiler = profiler
        self._started = 0.0
        self._cpu_started = 0.0
        self._server_started = 0.0
        self._lock = threading.Lock()
        self.seconds: float | None = None
        """Wall-clock seconds of the timed block, once it ended."""
        self.server_cpu: float | None = None
        """Seconds of CPU (user + system) the server used during the block."""
        self.client_cpu: float | None = None
        """Seconds of CPU (user + system, all threads and children) the client used in it."""

    def server_rusage(self) -> float:
        """The server's CPU seconds so far (with several servers, their sum)."""
        return sum(probe.cpu() for probe in self._probes)

    def start(self) -> None:
        self._server_started = self.server_rusage()
        gc.collect()
        if self._profiler is not None:
            self._profiler.enable()
        self._cpu_started = _tree_cpu()
        self._started = time.perf_counter()

    def stop(self) -> None:
        """Stop the clock (only the first call counts)."""
        seconds = time.perf_counter() - self._started
        cpu = _tree_cpu() - self._cpu_started
        with self._lock:
            if self.seconds is not None:
                return
            if self._profiler is not None:
                self._profiler.disable()
            self.seconds = seconds
            self.client_cpu = cpu
            self.server_cpu = self.server_rusage() - self._server_started

    def __enter__(self) -> Timer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.stop()
        elif self._profiler is not None:
            self._profiler.disable()

    def close(self) -> None:
        """Close the probe connections."""
        for probe in self._probes:
            probe.close()


#: A case's code: (server address, timed operations, warm-up operations, timer). With several
#: servers, the address is theirs joined by commas.
Run = Callable[[str, int, int, Timer], "Coroutine[Any, Any, None] | None"]


@dataclass(frozen=True)
class Case:
    """One client running a scenario."""

    client: str
    """Short name, used in case ids (``put/jackd``) and tables."""
    run: Run
    label: str = ""
    """How tables name the client; ``client`` if empty."""
    may_fail: bool = False
    """A failure is a finding ("fails"), not an error of the suite."""
    server: Kind = "beanstalkd"
    """The server the case runs on: a fresh beanstalkd, or a fresh Redis (competitors)."""
    scale: float = 1.0
    """This case's N as a fraction of the scenario's (the slow competitors run fewer jobs)."""
    group: str = ""
    """For targets over the best of several cases: "jackd" (jackd's worker runtimes) or
    "competitor" (the Redis job queues)."""

    @property
    def title(self) -> str:
        """The name tables show."""
        return self.label or self.client


@dataclass(frozen=True)
class Scenario:
    """One workload, measured with several clients on identical fresh servers."""

    key: str
    number: str
    title: str
    n: int
    """Timed operations in a full run."""
    unit: Literal["jobs/s", "ms/job"]
    reference: str
    """The client the others are compared with."""
    cases: tuple[Case, ...]
    kind: Literal["put", "drain", "roundtrip", "work"]
    """What the server must show afterwards: jobs put and ready, a pre-filled tube drained,
    or jobs put and deleted again ("work": the case fills the tube itself, warm-up jobs
    first, and processes them all)."""
    what: str
    """A sentence for the report: what exactly is timed."""
    server_args: tuple[str, ...] = ()
    granularity: int = 1
    """``n`` and the warm-up are rounded to a multiple of this (batches, tasks)."""
    servers: int = 1
    """Fresh beanstalkd servers per measurement (all pinned where the placement puts the
    server); the checks and the server CPU columns are over all of them, summed."""
    prefill: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefill", self.kind == "drain")

    def sizes(self, scale: float, case: Case | None = None) -> tuple[int, int]:
        """``(n, warm)``: timed and warm-up operations at ``scale`` times the full size.

        With ``case``, that case's sizes (some run a fraction of the scenario's N).
        """
        g = self.granularity
        if case is not None:
            scale *= case.scale
        n = max(g, round(self.n * scale) // g * g)
        warm = max(g, min(1000, n // 10) // g * g)
        return n, warm

    def case(self, client: str) -> Case:
        """The case of ``client``."""
        for case in self.cases:
            if case.client == client:
                return case
        raise KeyError(f"{self.key} has no client {client!r}")


def host_port(address: str) -> tuple[str, int]:
    """``"127.0.0.1:1234"`` -> ``("127.0.0.1", 1234)``."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


# -- 1. put, one command at a time ---------------------------------------------------------


def put_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd

    with jackd.connect(address) as client:
        for _ in range(warm):
            client.put(BODY)
        with timer:
            for _ in range(n):
                client.put(BODY)


def put_greenstalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import greenstalk

    with greenstalk.Client(host_port(address), encoding=None) as client:
        for _ in range(warm):
            client.put(BODY)
        with timer:
            for _ in range(n):
                client.put(BODY)


def put_pystalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import pystalk

    client = pystalk.BeanstalkClient(*host_port(address))
    try:
        for _ in range(warm):
            client.put_job(BODY)
        with timer:
            for _ in range(n):
                client.put_job(BODY)
    finally:
        client.close()


def put_raw(address: str, n: int, warm: int, timer: Timer) -> None:
    with raw.connect(address) as sock:
        raw.put_pipelined(sock, warm, BODY)
        with timer:
            raw.put_pipelined(sock, n, BODY)


# -- 2. reserve + delete, one command at a time ---------------------------------------------


def reserve_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd

    with jackd.connect(address) as client:
        for _ in range(warm):
            job = client.reserve()
            client.delete(job)
        assert job.body == BODY
        with timer:
            for _ in range(n):
                job = client.reserve()
                client.delete(job)


def reserve_greenstalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import greenstalk

    with greenstalk.Client(host_port(address), encoding=None) as client:
        for _ in range(warm):
            job = client.reserve()
            client.delete(job)
        assert job.body == BODY
        with timer:
            for _ in range(n):
                job = client.reserve()
                client.delete(job)


def reserve_pystalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import pystalk

    client = pystalk.BeanstalkClient(*host_port(address))
    try:
        for _ in range(warm):
            job = client.reserve_job()
            client.delete_job(job.job_id)
        assert job.job_data == BODY
        with timer:
            for _ in range(n):
                job = client.reserve_job()
                client.delete_job(job.job_id)
    finally:
        client.close()


def reserve_raw(address: str, n: int, warm: int, timer: Timer) -> None:
    with raw.connect(address) as sock:
        raw.drain_pipelined(sock, warm)
        with timer:
            raw.drain_pipelined(sock, n)


# -- 3. put -> reserve -> delete of a 1 MiB body ----------------------------------------------


def big_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd

    with jackd.connect(address) as client:
        for _ in range(warm):
            client.put(BIG)
            job = client.reserve()
            client.delete(job)
        assert job.body == BIG
        with timer:
            for _ in range(n):
                client.put(BIG)
                job = client.reserve()
                client.delete(job)


def big_greenstalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import greenstalk

    with greenstalk.Client(host_port(address), encoding=None) as client:
        for _ in range(warm):
            client.put(BIG)
            job = client.reserve()
            client.delete(job)
        assert job.body == BIG
        with timer:
            for _ in range(n):
                client.put(BIG)
                job = client.reserve()
                client.delete(job)


def big_pystalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import pystalk

    client = pystalk.BeanstalkClient(*host_port(address))
    try:
        for _ in range(warm):
            client.put_job(BIG)
            job = client.reserve_job()
            client.delete_job(job.job_id)
        assert job.job_data == BIG
        with timer:
            for _ in range(n):
                client.put_job(BIG)
                job = client.reserve_job()
                client.delete_job(job.job_id)
    finally:
        client.close()


# -- 4. batches: put_many, and reserve_many + delete_many ------------------------------------


def put_many_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd

    bodies = [BODY] * BATCH
    with jackd.connect(address) as client:
        for _ in range(warm // BATCH):
            client.put_many(bodies)
        with timer:
            for _ in range(n // BATCH):
                client.put_many(bodies)


def put_many_all_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    """One ``put_many`` of all N bodies: the call shape of the streaming raw client."""
    import jackd

    with jackd.connect(address) as client:
        client.put_many([BODY] * warm)
        bodies = [BODY] * n
        with timer:
            client.put_many(bodies)


def put_raw_rounds(address: str, n: int, warm: int, timer: Timer) -> None:
    """Raw pipelined puts in jackd's call structure: 1000 per write, then all their replies."""
    with raw.connect(address) as sock:
        for size in _rounds(warm):
            raw.put_pipelined(sock, size, BODY)
        with timer:
            for size in _rounds(n):
                raw.put_pipelined(sock, size, BODY)


def drain_raw_rounds(address: str, n: int, warm: int, timer: Timer) -> None:
    """The raw drain in jackd's call structure: 1000 reserves, then their 1000 deletes."""
    with raw.connect(address) as sock:
        for size in _rounds(warm):
            raw.drain_pipelined(sock, size, batch=BATCH)
        with timer:
            for size in _rounds(n):
                raw.drain_pipelined(sock, size, batch=BATCH)


def _rounds(count: int, size: int = BATCH) -> list[int]:
    """``count`` as round sizes of ``size``, the last one smaller if need be."""
    return [min(size, count - start) for start in range(0, count, size)]


def drain_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd

    def drain(client: jackd.Client, count: int) -> None:
        while count:
            jobs = client.reserve_many(min(BATCH, count), timeout=0)
            client.delete_many(jobs)
            count -= len(jobs)

    with jackd.connect(address) as client:
        drain(client, warm)
        with timer:
            drain(client, n)


# -- 5. asyncio -----------------------------------------------------------------------------


async def aio_put_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd.aio

    async with jackd.aio.connect(address) as client:
        for _ in range(warm):
            await client.put(BODY)
        with timer:
            for _ in range(n):
                await client.put(BODY)


async def aio_put_aiostalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import aiostalk

    async with aiostalk.Client(host_port(address), encoding=None) as client:
        for _ in range(warm):
            await client.put(BODY)
        with timer:
            for _ in range(n):
                await client.put(BODY)


async def _puts(client: Any, count: int) -> None:
    for _ in range(count):
        await client.put(BODY)


async def _tasks(clients: list[Any], tasks_per_client: int, total: int) -> None:
    """``total`` puts, spread evenly over ``tasks_per_client`` tasks on each client."""
    per_task = total // (len(clients) * tasks_per_client)
    await asyncio.wait_for(
        asyncio.gather(
            *(_puts(client, per_task) for client in clients for _ in range(tasks_per_client))
        ),
        timeout=300,
    )


async def shared_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd.aio

    async with jackd.aio.connect(address) as client:
        await _tasks([client], TASKS, warm)
        with timer:
            await _tasks([client], TASKS, n)


async def shared_aiostalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import aiostalk

    async with aiostalk.Client(host_port(address), encoding=None) as client:
        await _tasks([client], TASKS, warm)
        with timer:
            await _tasks([client], TASKS, n)


async def _jackd_connections(address: str, n: int, warm: int, timer: Timer, tasks: int) -> None:
    import jackd.aio

    clients = [await jackd.aio.connect(address) for _ in range(CONNECTIONS)]
    try:
        await _tasks(clients, tasks, warm)
        with timer:
            await _tasks(clients, tasks, n)
    finally:
        for client in clients:
            await client.close()


async def conns_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    await _jackd_connections(address, n, warm, timer, 1)


async def conns_jackd_tasks(address: str, n: int, warm: int, timer: Timer) -> None:
    await _jackd_connections(address, n, warm, timer, TASKS_PER_CONNECTION)


async def conns_aiostalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import aiostalk

    clients = []
    try:
        for _ in range(CONNECTIONS):
            client = aiostalk.Client(host_port(address), encoding=None)
            await client.connect()
            clients.append(client)
        await _tasks(clients, 1, warm)
        with timer:
            await _tasks(clients, 1, n)
    finally:
        for client in clients:
            await client.close()


# -- 6. worker runtimes: processing a pre-filled tube with a no-op handler -------------------
#
# Every case fills the tube itself (raw pipelined puts, untimed): first ``warm`` jobs, which it
# processes untimed the same way (imports, code paths and connections warm up), then ``n``
# jobs, and times from the worker's start until all ``n`` are processed.

THREADS = 8
"""Threads of the hand-written multi-threaded loop and of ``jackd.Worker(concurrency=8)``."""
AIO_CONCURRENCY = 200
"""Concurrency of ``jackd.aio.Worker`` (and arq) in the asyncio worker scenario."""


def _fill_each(address: str, count: int) -> None:
    """Fill ``count`` jobs, split evenly over the (comma-separated) servers."""
    servers = address.split(",")
    for server in servers:
        raw.fill(server, count // len(servers), BODY)


def _two_phases(address: str, n: int, warm: int, timer: Timer, work: Callable[[int], None]) -> None:
    """Fill ``warm`` jobs and ``work`` them untimed; fill ``n`` and ``work`` them timed.

    With several servers each gets an equal share of the jobs.
    """
    _fill_each(address, warm)
    work(warm)
    _fill_each(address, n)
    with timer:
        work(n)


def loop_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd

    with jackd.connect(address) as client:

        def work(count: int) -> None:
            for _ in range(count):
                job = client.reserve()
                client.delete(job)

        _two_phases(address, n, warm, timer, work)


def loop_greenstalk(address: str, n: int, warm: int, timer: Timer) -> None:
    import greenstalk

    with greenstalk.Client(host_port(address), encoding=None) as client:

        def work(count: int) -> None:
            for _ in range(count):
                job = client.reserve()
                client.delete(job)

        _two_phases(address, n, warm, timer, work)


def threads_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    """Eight threads, each with a connection of its own, each looping until the tube is empty.

    The loop is ``reserve(timeout=0)`` + ``delete``: a blocking reserve would never return
    once the tube is empty. Connecting and starting the threads is part of the timed work,
    as it is for ``jackd.Worker``.
    """
    import jackd

    def loop(done: list[int]) -> None:
        count = 0
        with jackd.connect(address) as client:
            while True:
                try:
                    job = client.reserve(timeout=0)
                except jackd.TimedOutError:
                    break
                client.delete(job)
                count += 1
        done.append(count)

    def work(count: int) -> None:
        done: list[int] = []
        threads = [threading.Thread(target=loop, args=(done,)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if sum(done) != count:
            raise RuntimeError(f"the threads processed {sum(done)} jobs, expected {count}")

    _two_phases(address, n, warm, timer, work)


def drain_raw(address: str, n: int, warm: int, timer: Timer) -> None:
    with raw.connect(address) as sock:
        _two_phases(address, n, warm, timer, lambda count: raw.drain_pipelined(sock, count))


def worker_jackd(concurrency: int) -> Run:
    """``jackd.Worker(address, concurrency=...)`` with a no-op handler, ``run(burst=True)``.

    With several servers, ``jackd.Worker([a, b, c], concurrency=...)``.
    """

    def run(address: str, n: int, warm: int, timer: Timer) -> None:
        import jackd

        if not hasattr(jackd, "Worker"):
            raise Skip("jackd.Worker does not exist in this tree yet")
        servers = address.split(",")

        def work(count: int) -> None:
            worker = jackd.Worker(servers if len(servers) > 1 else address, concurrency=concurrency)

            @worker.handler("default")
            def handle(job: jackd.Job) -> None:
                pass

            worker.run(burst=True)
            done = worker.stats().succeeded
            if done != count:
                raise RuntimeError(f"the worker processed {done} jobs, expected {count}")

        _two_phases(address, n, warm, timer, work)

    return run


def aio_worker_jackd(concurrency: int) -> Run:
    """``jackd.aio.Worker(address, concurrency=...)``, async no-op handler, burst."""

    async def run(address: str, n: int, warm: int, timer: Timer) -> None:
        import jackd.aio

        if not hasattr(jackd.aio, "Worker"):
            raise Skip("jackd.aio.Worker does not exist in this tree yet")

        async def work(count: int) -> None:
            worker = jackd.aio.Worker(address, concurrency=concurrency)

            @worker.handler("default")
            async def handle(job: jackd.Job) -> None:
                pass

            await asyncio.wait_for(worker.run(burst=True), timeout=300)
            done = worker.stats().succeeded
            if done != count:
                raise RuntimeError(f"the worker processed {done} jobs, expected {count}")

        raw.fill(address, warm, BODY)
        await work(warm)
        raw.fill(address, n, BODY)
        with timer:
            await work(n)

    return run


class Skip(Exception):  # noqa: N818 - not an error: the case cannot run in this tree
    """Raised by a case that cannot run here (the API it measures does not exist yet)."""


# -- 7. several servers: jackd.Pool and a jackd.Worker over three servers ---------------------
#
# The scenario's cases get three addresses (comma-joined). The references run on the first
# server only, the other two idle: a direct client, raw pipelining, a one-server worker.

POOL_SERVERS = 3
"""beanstalkd servers per measurement in the multi-server scenarios."""
POOL_BATCH = BATCH * POOL_SERVERS
"""Granularity of ``pool_put_many``: whole batches, and N/3 for each raw client."""
THREE_SERVERS = (
    " Three beanstalkd servers per measurement, all pinned where the placement puts the "
    "server: on this 2-core machine the three servers share CPU 0, so their sum is bounded by "
    "one CPU (with the same placement the client shares it too). Server CPU busy and server "
    "CPU µs/job are the sums over the three beanstalkd processes."
)
"""What the report says of the servers of scenarios 7a-7c."""


def on_first(run: Run) -> Run:
    """``run`` on the first server only (the scenario's other servers stay idle)."""

    def first(address: str, n: int, warm: int, timer: Timer) -> Coroutine[Any, Any, None] | None:
        return run(address.split(",")[0], n, warm, timer)

    return first


def _check_spread(stats: dict[str, Any], servers: list[str], total: int) -> None:
    """Every server holds at least half its share of the ``total`` jobs the pool put."""
    got = {server: stats[server].total_jobs if server in stats else 0 for server in servers}
    if sum(got.values()) != total or min(got.values()) < total // (2 * len(servers)):
        raise RuntimeError(f"the pool put {total} jobs as {got}: not spread over its servers")


def pool_put_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd

    servers = address.split(",")
    with jackd.Pool(servers) as pool:
        for _ in range(warm):
            pool.put(BODY)
        with timer:
            for _ in range(n):
                pool.put(BODY)
        _check_spread(pool.stats(), servers, warm + n)


def put_rotated_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    """A jackd.Client per server, taken in turn by hand: what the pool's round-robin does."""
    import jackd

    clients = [jackd.connect(server) for server in address.split(",")]
    try:
        for i in range(warm):
            clients[i % len(clients)].put(BODY)
        with timer:
            for i in range(n):
                clients[i % len(clients)].put(BODY)
    finally:
        for client in clients:
            client.close()


def pool_put_many_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    import jackd

    servers = address.split(",")
    bodies = [BODY] * BATCH
    with jackd.Pool(servers) as pool:
        for _ in range(warm // BATCH):
            pool.put_many(bodies)
        with timer:
            for _ in range(n // BATCH):
                pool.put_many(bodies)
        _check_spread(pool.stats(), servers, warm + n)


def pool_put_many_all_jackd(address: str, n: int, warm: int, timer: Timer) -> None:
    """One ``pool.put_many`` of all N bodies: the call shape of the streaming raw clients."""
    import jackd

    servers = address.split(",")
    with jackd.Pool(servers) as pool:
        pool.put_many([BODY] * warm)
        bodies = [BODY] * n
        with timer:
            pool.put_many(bodies)
        _check_spread(pool.stats(), servers, warm + n)


def put_raw_each(address: str, n: int, warm: int, timer: Timer) -> None:
    """One raw pipelined client per server, each in a thread of its own, started together.

    Each connects and puts its share of the warm-up, then all wait at a barrier, whose last
    arrival starts the clock; each puts N/3, and the clock stops once all are done.
    """
    _raw_each(address, n, warm, timer, None)


def put_raw_each_rounds(address: str, n: int, warm: int, timer: Timer) -> None:
    """As ``put_raw_each``, in the pool's call structure: a third of 1000 per round trip."""
    _raw_each(address, n, warm, timer, BATCH // len(address.split(",")))


def _raw_each(address: str, n: int, warm: int, timer: Timer, rounds: int | None) -> None:
    servers = address.split(",")

    def put_all(sock: socket.socket, count: int) -> None:
        for size in _rounds(count, rounds or max(count, 1)):
            raw.put_pipelined(sock, size, BODY)

    barrier = threading.Barrier(len(servers), action=timer.start)
    errors: list[BaseException] = []

    def put(server: str) -> None:
        try:
            with raw.connect(server) as sock:
                put_all(sock, warm // len(servers))
                barrier.wait(timeout=60)
                put_all(sock, n // len(servers))
        except BaseException as exc:  # re-raised in the main thread
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        broken = threading.BrokenBarrierError
        raise next((e for e in errors if not isinstance(e, broken)), errors[0])
    timer.stop()


# -- the scenarios --------------------------------------------------------------------------

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        key="put",
        number="1",
        title="put, 100-byte body, one command at a time",
        n=5_000,
        unit="jobs/s",
        reference="greenstalk",
        kind="put",
        what="`put` of a 100-byte body on one connection, waiting for each reply before the "
        "next put; raw sends all N puts in one write and then reads the N replies.",
        cases=(
            Case("jackd", put_jackd),
            Case("greenstalk", put_greenstalk),
            Case("pystalk", put_pystalk),
            Case("raw", put_raw, label="raw pipelined"),
        ),
    ),
    Scenario(
        key="reserve",
        number="2",
        title="reserve + delete loop, one command at a time",
        n=5_000,
        unit="jobs/s",
        reference="greenstalk",
        kind="drain",
        what="`reserve` then `delete` of each job of a pre-filled tube (100-byte bodies), one "
        "command at a time (pystalk has no blocking reserve: it sends "
        "`reserve-with-timeout 5`); raw pipelines `reserve-with-timeout 0` x N, then "
        "`delete <id>` x N.",
        cases=(
            Case("jackd", reserve_jackd),
            Case("greenstalk", reserve_greenstalk),
            Case("pystalk", reserve_pystalk),
            Case("raw", reserve_raw, label="raw pipelined"),
        ),
    ),
    Scenario(
        key="big",
        number="3",
        title="put -> reserve -> delete of a 1 MiB body",
        n=200,
        unit="ms/job",
        reference="greenstalk",
        kind="roundtrip",
        server_args=("-z", "2000000"),
        what="One job's round trip: `put` of a 1 MiB body, `reserve` of it, `delete`; "
        "server started with `-z 2000000`.",
        cases=(
            Case("jackd", big_jackd),
            Case("greenstalk", big_greenstalk),
            Case("pystalk", big_pystalk),
        ),
    ),
    Scenario(
        key="put_many",
        number="4a",
        title="put_many of 100-byte bodies, batches of 1000",
        n=50_000,
        unit="jobs/s",
        reference="raw",
        kind="put",
        granularity=BATCH,
        what="jackd `put_many` of 1000 bodies per call; raw sends all N puts in one write "
        "and reads the N replies; raw, 1000 per round trip, does what `put_many` does: 1000 "
        "puts in one write, then their replies, then the next 1000; and one jackd `put_many` "
        "of all N bodies, the call raw makes.",
        cases=(
            Case("jackd", put_many_jackd, label="jackd put_many"),
            Case("jackd-all", put_many_all_jackd, label="jackd put_many, all N in one call"),
            Case("raw", put_raw, label="raw pipelined"),
            Case("raw-rounds", put_raw_rounds, label="raw, 1000 per round trip"),
        ),
    ),
    Scenario(
        key="drain",
        number="4b",
        title="reserve_many + delete_many drain, batches of 1000",
        n=50_000,
        unit="jobs/s",
        reference="raw",
        kind="drain",
        what="Draining a pre-filled tube: jackd `reserve_many(1000, timeout=0)` then "
        "`delete_many` of what came; raw pipelines `reserve-with-timeout 0` x N, then "
        "`delete <id>` x N; raw, 1000 per round trip, sends 1000 reserves, then their "
        "deletes, then the next 1000, as jackd does.",
        cases=(
            Case("jackd", drain_jackd, label="jackd reserve_many+delete_many"),
            Case("raw", reserve_raw, label="raw pipelined"),
            Case("raw-rounds", drain_raw_rounds, label="raw, 1000 per round trip"),
        ),
    ),
    Scenario(
        key="aio_put",
        number="5a",
        title="asyncio: sequential awaited puts, one connection",
        n=5_000,
        unit="jobs/s",
        reference="aiostalk",
        kind="put",
        what="`await client.put(body)` in a loop in one task (default asyncio event loop).",
        cases=(
            Case("jackd.aio", aio_put_jackd),
            Case("aiostalk", aio_put_aiostalk),
        ),
    ),
    Scenario(
        key="aio_shared",
        number="5b",
        title="asyncio: 1000 tasks sharing one client, puts",
        n=50_000,
        unit="jobs/s",
        reference="raw",
        kind="put",
        granularity=TASKS,
        what="1000 tasks on one client, each awaiting N/1000 puts in a loop; raw is the "
        "pipelined put baseline on the same N.",
        cases=(
            Case("jackd.aio", shared_jackd),
            Case("aiostalk", shared_aiostalk, may_fail=True),
            Case("raw", put_raw, label="raw pipelined"),
        ),
    ),
    Scenario(
        key="aio_conns",
        number="5c",
        title="asyncio: 8 connections, each with its own tasks, puts",
        n=24_000,
        unit="jobs/s",
        reference="aiostalk",
        kind="put",
        granularity=TASKS,
        what="8 clients in one event loop; either one task per client (N/8 awaited puts "
        "each), or 125 tasks per client (N/1000 each: aiostalk cannot share a client "
        "between tasks).",
        cases=(
            Case("jackd.aio", conns_jackd, label="jackd.aio, 1 task/conn"),
            Case("aiostalk", conns_aiostalk, label="aiostalk, 1 task/conn"),
            Case("jackd.aio-tasks", conns_jackd_tasks, label="jackd.aio, 125 tasks/conn"),
        ),
    ),
    Scenario(
        key="worker1",
        number="6a",
        title="workers, concurrency 1: a pre-filled tube, no-op handler",
        n=20_000,
        unit="jobs/s",
        reference="loop",
        kind="work",
        what="Processing a pre-filled queue of 100-byte jobs with a no-op handler, one at a "
        "time, timed from the worker's start until all N jobs are done. The hand-written "
        "loops are `job = client.reserve(); client.delete(job)`; raw is the pipelined drain "
        "(the server's limit); the competitors run on a fresh Redis.",
        cases=(
            Case("loop", loop_jackd, label="jackd hand-written loop"),
            Case("greenstalk", loop_greenstalk, label="greenstalk hand-written loop"),
            Case("raw", drain_raw, label="raw pipelined drain"),
            Case("worker", worker_jackd(1), label="jackd.Worker(concurrency=1)", group="jackd"),
            *(
                Case(name, run, label=label, server="redis", scale=scale, group="competitor")
                for name, run, label, scale in (
                    ("rq", competitors.rq_case(1), "rq, 1 SimpleWorker", 0.1),
                    (
                        "dramatiq",
                        competitors.dramatiq_case(1, 1),
                        "dramatiq, 1 process x 1 thread",
                        0.1,
                    ),
                    ("arq", competitors.arq_case(1), "arq, max_jobs=1", 0.1),
                    ("celery", competitors.celery_case("solo", 1), "celery, solo pool", 0.1),
                )
            ),
        ),
    ),
    Scenario(
        key="worker8",
        number="6b",
        title="workers, concurrency 8: a pre-filled tube, no-op handler",
        n=20_000,
        unit="jobs/s",
        reference="threads",
        kind="work",
        what="As 6a with 8 handlers at once: eight threads each running the hand-written jackd "
        "loop (`reserve(timeout=0)` + `delete` until the tube is empty) on a connection of its "
        "own, `jackd.Worker(concurrency=8)`, and each competitor at concurrency 8.",
        cases=(
            Case("threads", threads_jackd, label="jackd loop x 8 threads"),
            Case("raw", drain_raw, label="raw pipelined drain"),
            Case(
                "worker", worker_jackd(THREADS), label="jackd.Worker(concurrency=8)", group="jackd"
            ),
            *(
                Case(name, run, label=label, server="redis", scale=scale, group="competitor")
                for name, run, label, scale in (
                    ("rq", competitors.rq_case(8), "rq, 8 SimpleWorker processes", 0.1),
                    (
                        "dramatiq",
                        competitors.dramatiq_case(1, 8),
                        "dramatiq, 1 process x 8 threads",
                        0.1,
                    ),
                    ("arq", competitors.arq_case(8), "arq, max_jobs=8", 0.1),
                    (
                        "celery",
                        competitors.celery_case("threads", 8),
                        "celery, threads pool x 8",
                        0.1,
                    ),
                    (
                        "celery-prefork",
                        competitors.celery_case("prefork", 8),
                        "celery, prefork pool x 8",
                        0.1,
                    ),
                )
            ),
        ),
    ),
    Scenario(
        key="worker200",
        number="6c",
        title="asyncio workers, concurrency 200: a pre-filled tube, no-op handler",
        n=20_000,
        unit="jobs/s",
        reference="raw",
        kind="work",
        what="As 6a with up to 200 handlers at once in one event loop: "
        "`jackd.aio.Worker(concurrency=200)` and arq with `max_jobs=200`; raw is the pipelined "
        "drain.",
        cases=(
            Case("raw", drain_raw, label="raw pipelined drain"),
            Case(
                "aio-worker",
                aio_worker_jackd(AIO_CONCURRENCY),
                label="jackd.aio.Worker(concurrency=200)",
                group="jackd",
            ),
            Case(
                "arq",
                competitors.arq_case(AIO_CONCURRENCY),
                label="arq, max_jobs=200",
                server="redis",
                scale=0.1,
                group="competitor",
            ),
        ),
    ),
    Scenario(
        key="pool_put",
        number="7a",
        title="three servers: jackd.Pool put, one at a time",
        n=6_000,
        unit="jobs/s",
        reference="client",
        kind="put",
        servers=POOL_SERVERS,
        granularity=POOL_SERVERS,
        what="`pool.put(body)` of a 100-byte body in a loop on `jackd.Pool([a, b, c])` "
        "(round-robin), waiting for each reply; the reference is `client.put(body)` on a "
        "direct `jackd.Client` to server a, the other two idle; and a `jackd.Client` per "
        "server taken in turn by hand, which pays what spreading puts over three servers on "
        "one CPU costs the servers, and so shows what the pool itself adds." + THREE_SERVERS,
        cases=(
            Case("pool", pool_put_jackd, label="jackd.Pool([a, b, c]).put"),
            Case("client", on_first(put_jackd), label="jackd.Client(a).put, one server"),
            Case("rotated", put_rotated_jackd, label="3 jackd.Clients taken in turn by hand"),
        ),
    ),
    Scenario(
        key="pool_put_many",
        number="7b",
        title="three servers: jackd.Pool put_many, batches of 1000",
        n=60_000,
        unit="jobs/s",
        reference="raw-x3",
        kind="put",
        servers=POOL_SERVERS,
        granularity=POOL_BATCH,
        what="`pool.put_many(bodies)` of 1000 bodies per call on `jackd.Pool([a, b, c])`; the "
        "reference is three raw pipelined clients at once, one per server, each in a thread "
        "of its own putting N/3 (started together at a barrier, timed until all are done); "
        "the same with each client waiting for the replies of every 333 before the next, as "
        "the pool's call does; one `pool.put_many` of all N bodies, the calls the raw "
        "clients make; for scale, jackd `put_many` of 1000 per call and one raw "
        "pipelined client, each on server a alone." + THREE_SERVERS,
        cases=(
            Case("pool", pool_put_many_jackd, label="jackd.Pool([a, b, c]).put_many"),
            Case(
                "pool-all",
                pool_put_many_all_jackd,
                label="jackd.Pool([a, b, c]).put_many, all N in one call",
            ),
            Case("raw-x3", put_raw_each, label="3 raw pipelined clients at once"),
            Case(
                "raw-x3-rounds",
                put_raw_each_rounds,
                label="3 raw clients at once, 333 per round trip each",
            ),
            Case("client", on_first(put_many_jackd), label="jackd put_many, one server"),
            Case("raw", on_first(put_raw), label="raw pipelined, one server"),
        ),
    ),
    Scenario(
        key="pool_worker",
        number="7c",
        title="three servers: jackd.Worker, concurrency 8, no-op handler",
        n=21_000,
        unit="jobs/s",
        reference="worker",
        kind="work",
        servers=POOL_SERVERS,
        granularity=POOL_SERVERS,
        what="`jackd.Worker([a, b, c], concurrency=8)` with a no-op handler and "
        "`run(burst=True)`, draining N jobs pre-filled evenly over the three servers (N/3 "
        "each), against `jackd.Worker(a, concurrency=8)` draining N jobs on server a alone; "
        "timed from the worker's start until all N are done." + THREE_SERVERS,
        cases=(
            Case("pool", worker_jackd(THREADS), label="jackd.Worker([a, b, c], concurrency=8)"),
            Case(
                "worker",
                on_first(worker_jackd(THREADS)),
                label="jackd.Worker(a, concurrency=8), one server",
            ),
        ),
    ),
)

BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}


def find(case_id: str) -> tuple[Scenario, Case]:
    """``"put/jackd"`` -> its scenario and case."""
    key, _, client = case_id.partition("/")
    if key not in BY_KEY:
        raise KeyError(f"no scenario {key!r}; known: {', '.join(BY_KEY)}")
    scenario = BY_KEY[key]
    return scenario, scenario.case(client)
