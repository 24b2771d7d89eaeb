"""A worker loop: reserve, process, delete; release on failure, bury poison; touch long jobs.

Pairs with ``producer.py``. ``work`` is the loop, ``square`` a handler for its jobs, and
``main`` runs the loop over a few jobs that show each way a job can end.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from producer import TUBE

import jackd

R = TypeVar("R")

Handler = Callable[[jackd.Client, jackd.Job], R]
"""Processes one job and returns its result; ``PoisonError`` if it can never succeed."""


class PoisonError(Exception):
    """The job can never succeed, however often it is retried: bury it."""


@dataclass
class Report(Generic[R]):
    """What one run of ``work`` did."""

    reserved: int = 0
    deleted: int = 0
    released: int = 0
    buried: int = 0
    lost: int = 0  # TTR ran out before we finished: the server gave the job back
    results: list[R] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


# --8<-- [start:loop]
def work(
    client: jackd.Client,
    handle: Handler[R],
    *,
    tube: str = TUBE,
    limit: int | None = None,
    idle_timeout: float = 1.0,
    retry_delay: float = 5.0,
    max_attempts: int = 3,
) -> Report[R]:
    """Process jobs from ``tube`` until ``limit`` are done or none came for ``idle_timeout`` s."""
    client.watch(tube)
    if tube != jackd.DEFAULT_TUBE:
        client.ignore(jackd.DEFAULT_TUBE)
    report: Report[R] = Report()
    while limit is None or report.deleted + report.buried < limit:
        try:
            job = client.reserve(timeout=idle_timeout)
        except jackd.TimedOutError:
            break  # the tube stayed empty: drained
        report.reserved += 1
        try:
            try:
                result = handle(client, job)
            except PoisonError as exc:
                report.failures.append(f"job {job.id}: {exc}")
                client.bury(job)  # keep it for a human to look at; kick it once fixed
                report.buried += 1
                continue
            except Exception as exc:
                report.failures.append(f"job {job.id}: {exc!r}")
                if client.stats_job(job).releases + 1 >= max_attempts:
                    client.bury(job)  # failed too often
                    report.buried += 1
                else:
                    client.release(job, delay=retry_delay)  # try again later
                    report.released += 1
                continue
            client.delete(job)
        except jackd.NotFoundError:
            # Our reservation is gone: the TTR ran out and the job went back to the ready
            # queue, maybe to another worker. Nothing to undo here.
            report.lost += 1
            continue
        report.deleted += 1
        report.results.append(result)
    return report
    # --8<-- [end:loop]


def square(client: jackd.Client, job: jackd.Job) -> int:
    """Handle a job ``{"n": 7}`` by returning 49.

    ``"steps": k`` makes it a long job that touches the job after each of k steps, and
    ``"fail_first": true`` makes its first attempt fail.
    """
    try:
        task: dict[str, Any] = json.loads(job.body)
        n = int(task["n"])
    except (ValueError, TypeError, KeyError) as exc:
        raise PoisonError(f"cannot decode {job.body[:40]!r}") from exc
    # --8<-- [start:touch]
    for _ in range(int(task.get("steps", 0))):
        time.sleep(0.1)  # a slow step...
        client.touch(job)  # ...then restart the TTR: we are still at it
    # --8<-- [end:touch]
    if task.get("fail_first") and client.stats_job(job).releases == 0:
        raise RuntimeError("upstream service unavailable")
    return n * n


def main(address: str) -> None:
    with jackd.connect(address) as producer, jackd.connect(address) as worker:
        producer.use(TUBE)
        producer.put(json.dumps({"n": 3}))  # succeeds
        producer.put(json.dumps({"n": 4, "steps": 3}), ttr=2)  # long: touched while it runs
        producer.put(json.dumps({"n": 5, "fail_first": True}))  # released, then succeeds
        poison = producer.put(b"\xff\xfe not JSON")  # buried

        # Drain the tube: stop once no job has come for 2 s (after the retry, 1 s later).
        report = work(worker, square, idle_timeout=2, retry_delay=1)
        print(
            f"reserved {report.reserved}, deleted {report.deleted}, "
            f"released {report.released}, buried {report.buried}, lost {report.lost}"
        )
        print(f"results: {report.results}")
        for failure in report.failures:
            print(f"failed: {failure}")

        # The poison job waits, buried, for someone to look at it. Here we just delete it.
        print(f"job {poison} is {producer.stats_job(poison).state}: {producer.peek(poison)}")
        producer.delete(poison)


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
