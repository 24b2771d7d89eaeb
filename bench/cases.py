"""What the suite measures: scenarios, the clients measured in each, and the timed code.

A scenario is one workload (say "put a 100-byte job, one command at a time"); a case is one
client running it. Every case does the same work on a fresh server: ``warm`` untimed
operations, then ``n`` timed ones inside ``with timer:``. The client libraries are imported
inside the case functions, so each measurement's process loads only the client it measures.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from bench import raw

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

_RUSAGE = re.compile(rb"^rusage-[us]time: ([0-9.]+)$", re.MULTILINE)


class Timer:
    """Times the block it wraps, and the CPU time this process and the server used in it.

    Before the clock starts it collects garbage and reads the server's ``rusage`` over a
    connection of its own (also after the clock stops), so the block measures only the client
    under test. With a profiler, profiling is on exactly while the clock runs.
    """

    def __init__(self, address: str, profiler: cProfile.Profile | None = None) -> None:
        self._probe = raw.connect(address)
        self._profiler = profiler
        self._started = 0.0
        self._cpu_started = 0.0
        self._server_started = 0.0
        self.seconds: float | None = None
        """Wall-clock seconds of the timed block, once it ended."""
        self.server_cpu: float | None = None
        """Seconds of CPU (user + system) the server used during the block."""
        self.client_cpu: float | None = None
        """Seconds of CPU (user + system, all threads) this process used during the block."""

    def server_rusage(self) -> float:
        """The server's CPU seconds so far, read with ``stats``."""
        sock = self._probe
        sock.sendall(b"stats\r\n")
        data = b""
        while True:
            data += sock.recv(65536)
            head, sep, rest = data.partition(b"\r\n")
            if sep and len(rest) >= int(head.split()[1]) + 2:
                break
        return sum(float(value) for value in _RUSAGE.findall(rest))

    def __enter__(self) -> Timer:
        self._server_started = self.server_rusage()
        gc.collect()
        if self._profiler is not None:
            self._profiler.enable()
        self._cpu_started = time.process_time()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        seconds = time.perf_counter() - self._started
        cpu = time.process_time() - self._cpu_started
        if self._profiler is not None:
            self._profiler.disable()
        if exc_type is None:
            self.seconds = seconds
            self.client_cpu = cpu
            self.server_cpu = self.server_rusage() - self._server_started

    def close(self) -> None:
        """Close the probe connection."""
        self._probe.close()


#: A case's code: (server address, timed operations, warm-up operations, timer).
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
    kind: Literal["put", "drain", "roundtrip"]
    """What the server must show afterwards: jobs put and ready, a pre-filled tube drained,
    or jobs put and deleted again."""
    what: str
    """A sentence for the report: what exactly is timed."""
    server_args: tuple[str, ...] = ()
    granularity: int = 1
    """``n`` and the warm-up are rounded to a multiple of this (batches, tasks)."""
    prefill: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefill", self.kind == "drain")

    def sizes(self, scale: float) -> tuple[int, int]:
        """``(n, warm)``: timed and warm-up operations at ``scale`` times the full size."""
        g = self.granularity
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
        "and reads the N replies.",
        cases=(
            Case("jackd", put_many_jackd, label="jackd put_many"),
            Case("raw", put_raw, label="raw pipelined"),
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
        "`delete <id>` x N.",
        cases=(
            Case("jackd", drain_jackd, label="jackd reserve_many+delete_many"),
            Case("raw", reserve_raw, label="raw pipelined"),
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
)

BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}


def find(case_id: str) -> tuple[Scenario, Case]:
    """``"put/jackd"`` -> its scenario and case."""
    key, _, client = case_id.partition("/")
    if key not in BY_KEY:
        raise KeyError(f"no scenario {key!r}; known: {', '.join(BY_KEY)}")
    scenario = BY_KEY[key]
    return scenario, scenario.case(client)
