"""Threads: share one client between producer threads; give each consumer thread its own.

Every command holds the client's connection from its first byte sent to the last byte of its
reply, so threads sharing a client never mix up replies. A blocking ``reserve()`` holds the
connection as long as it waits, though, so each consumer gets a client of its own, and
``close()`` from another thread wakes it.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import jackd

TUBE = "jackd-example-threads"


# --8<-- [start:threads]
def consume(client: jackd.Client, done: queue.Queue[int]) -> None:
    """Reserve, process and delete jobs until the client is closed."""
    try:
        while True:
            job = client.reserve()  # blocks; this client is this thread's alone
            client.delete(job)
            done.put(int(job.body))
    except jackd.ConnectionLostError:
        pass  # close() from another thread: time to stop


def main(address: str) -> None:
    n = 200
    with jackd.connect(address) as shared:
        shared.use(TUBE)
        # Four producer threads, one client: each put is atomic on the shared connection.
        with ThreadPoolExecutor(max_workers=4) as pool:
            ids = list(pool.map(lambda i: shared.put(str(i)), range(n)))
        print(f"4 threads put {len(set(ids))} jobs through one client")

        # Three consumer threads, each with a client of its own for its blocking reserve().
        consumers = [jackd.connect(address) for _ in range(3)]
        done: queue.Queue[int] = queue.Queue()
        threads = []
        for client in consumers:
            client.watch(TUBE)
            client.ignore("default")
            threads.append(threading.Thread(target=consume, args=(client, done)))
        for thread in threads:
            thread.start()
        numbers = sorted(done.get(timeout=30) for _ in range(n))
        complete = numbers == list(range(n))
        print(f"3 consumer threads processed {len(numbers)} jobs, all present: {complete}")

        # Each consumer is now blocked in reserve(); close() wakes it with ConnectionLostError.
        for client in consumers:
            client.close()
        for thread in threads:
            thread.join(timeout=10)
        # --8<-- [end:threads]
        print(f"consumers stopped: {not any(thread.is_alive() for thread in threads)}")

        # A shared client may also reserve, with a timeout: other threads wait at most that long.
        shared.put("last one")
        shared.watch(TUBE)
        job = shared.reserve(timeout=1)
        shared.delete(job)
        print(f"the shared client reserved {job.body.decode()!r} with a timeout")


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
