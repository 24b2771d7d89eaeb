"""The demo ``scripts/demo.sh`` runs: the producer and worker examples over 10,000 jobs.

It starts a private beanstalkd on a free port (``jackd.testing.BeanstalkdServer``) unless the
environment variable ``BEANSTALKD_URL`` names a server, in any form ``jackd.connect`` takes.
Then a producer puts the jobs into a tube of their own, a worker loop reserves, processes and
deletes them until the tube is drained, the same number of jobs goes through again in
pipelined batches, and the demo reports what happened and how fast.
It exits 1 if any job went missing or came out wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator

from producer import produce
from worker import square, work

import jackd
from jackd.testing import BeanstalkdServer


@contextlib.contextmanager
def beanstalkd() -> Iterator[tuple[str, str]]:
    """Yield the address of ``BEANSTALKD_URL``'s server, or of a private one, and a remark."""
    url = os.environ.get("BEANSTALKD_URL")
    if url:
        yield url, "named by BEANSTALKD_URL"
        return
    with BeanstalkdServer() as server:
        yield server.address, "a private server started for this demo"


def rate(count: int, seconds: float) -> str:
    """``"1,234 jobs in 0.56 s (2,204 jobs/s)"``."""
    return f"{count:,} jobs in {seconds:.2f} s ({count / max(seconds, 1e-9):,.0f} jobs/s)"


def run(address: str, remark: str, jobs: int) -> bool:
    """Run the demo against ``address``; True if every job came out right."""
    tube = f"jackd-demo-{os.getpid()}"
    with jackd.connect(address) as producer, jackd.connect(address) as worker:
        version = producer.stats().version
        print(f"jackd {jackd.__version__} demo: beanstalkd {version} at {address} ({remark})")

        start = time.perf_counter()
        ids = produce(producer, jobs, tube)
        put_time = time.perf_counter() - start
        print(f"producer: put {rate(len(ids), put_time)} into tube {tube!r}")

        start = time.perf_counter()
        report = work(worker, square, tube=tube, limit=jobs, idle_timeout=1)
        work_time = time.perf_counter() - start
        print(
            f"worker:   reserved, squared and deleted {rate(report.deleted, work_time)}; "
            f"in all {report.reserved:,} reserved, {report.released} released, "
            f"{report.buried} buried, {report.lost} lost"
        )

        results = report.results
        shown = sorted({0, 1, 2, jobs - 1} & set(range(len(results))))
        sample = ", ".join(f"{i} -> {results[i]:,}" for i in shown)
        print(f"results:  {sample}")
        correct = sorted(results) == [i * i for i in range(jobs)]
        print(f"          {'all' if correct else 'NOT all'} {jobs:,} results correct")

        stats = producer.stats_tube(tube)
        print(
            f"tube:     {stats.total_jobs:,} jobs put, {stats.cmd_delete:,} deleted; now "
            f"{stats.current_jobs_ready} ready, {stats.current_jobs_reserved} reserved, "
            f"{stats.current_jobs_delayed} delayed, {stats.current_jobs_buried} buried"
        )
        drained = stats.current_jobs_ready + stats.current_jobs_reserved == 0
        empty = drained and stats.current_jobs_delayed + stats.current_jobs_buried == 0
        batched = batches(producer, f"{tube}-batches", jobs)
        ok = correct and report.deleted == len(ids) == jobs and empty and batched
        total = put_time + work_time
        print(f"{'OK' if ok else 'FAILED'}: {jobs:,} jobs through beanstalkd in {total:.2f} s")
        return ok


def batches(client: jackd.Client, tube: str, jobs: int) -> bool:
    """The same number of jobs again, pipelined: put_many, then reserve_many + delete_many."""
    client.use(tube)
    client.watch(tube)
    client.ignore("default")
    start = time.perf_counter()
    ids = client.put_many(str(i).encode() for i in range(jobs))
    put_time = time.perf_counter() - start
    start = time.perf_counter()
    bodies: list[bytes] = []
    while batch := client.reserve_many(1000, timeout=0):
        bodies.extend(job.body for job in batch)
        client.delete_many(batch)
    drain_time = time.perf_counter() - start
    print(f"batches:  put_many {rate(len(ids), put_time)}")
    print(f"          reserve_many + delete_many {rate(len(bodies), drain_time)}")
    return sorted(map(int, bodies)) == list(range(jobs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=10_000, help="how many jobs (default 10000)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    with beanstalkd() as (address, remark):
        return 0 if run(address, remark, args.jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
