"""Pipelines and batches: many commands in one write, their replies read in order."""

from __future__ import annotations

import os
import time

import jackd

TUBE = "jackd-example-batches"


def main(address: str) -> None:
    with jackd.connect(address) as client:
        client.use(TUBE)
        client.watch(TUBE)
        client.ignore("default")

        started = time.perf_counter()
        # --8<-- [start:put-many]
        ids = client.put_many(f"item {i}" for i in range(10_000))  # ids in order
        # --8<-- [end:put-many]
        elapsed = time.perf_counter() - started
        print(f"put_many: {len(ids):,} jobs in {elapsed:.3f} s")

        # --8<-- [start:drain]
        drained = 0
        while jobs := client.reserve_many(1000, timeout=0):  # up to 1000, maybe none
            drained += len(jobs)
            client.delete_many(jobs)
        # --8<-- [end:drain]
        print(f"reserve_many + delete_many drained {drained:,} jobs")

        # --8<-- [start:pipeline]
        # A pipeline queues any command and sends them all in one write.
        pipe = client.pipeline()
        pipe.put(b"a").put(b"b").delete(123_456_789).stats_tube(TUBE)
        results = pipe.execute(raise_on_error=False)  # errors come back in their place
        first, second, missing, stats = results
        print(f"pipeline: put {first} and {second}; delete -> {type(missing).__name__}")
        print(f"pipeline: {stats.current_jobs_ready} ready in {stats.name!r}")
        try:
            client.pipeline().delete(first).delete(123_456_789).delete(second).execute()
        except jackd.NotFoundError:
            print("execute() raised NotFoundError after reading every reply")
        # --8<-- [end:pipeline]
        print(f"left in the tube: {client.stats_tube(TUBE).current_jobs_ready}")


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
