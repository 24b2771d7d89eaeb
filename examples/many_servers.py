"""Many servers: a pool that spreads jobs over several beanstalkd servers, and a worker on all.

``main`` starts two more private servers beside the one it is given, puts jobs through a
``jackd.Pool``, and drains them with one ``jackd.Worker`` that consumes from every server.
"""

from __future__ import annotations

import collections
import os

import jackd
from jackd.testing import BeanstalkdServer


# --8<-- [start:pool]
def main(address: str) -> None:
    with BeanstalkdServer() as second, BeanstalkdServer() as third:
        servers = [address, second.address, third.address]
        # Also one string, "q1:11300,q2:11300,q3:11300"; Pool() reads BEANSTALKD_URL.
        with jackd.Pool(servers) as pool:
            pool.use("jackd-example-pool")
            refs = [pool.put(b"job %d" % i) for i in range(9)]  # JobRef(server, id)
            spread = collections.Counter(ref.server for ref in refs)
            print(f"round-robin: {sorted(spread.values())} jobs per server")
            # With a key, the same live server every time (rendezvous hashing).
            homes = {pool.put(b"order", key="customer-42").server for _ in range(3)}
            print(f"customer-42 always on one server: {len(homes) == 1}")
            many = pool.put_many([b"bulk"] * 300)  # spread, pipelined per server
            ready = pool.stats_tube("jackd-example-pool").current_jobs_ready
            print(f"put_many: {len(many)} refs; {ready} ready in the pool")

        worker = jackd.Worker(servers, concurrency=4)  # consumes from every server

        @worker.handler("jackd-example-pool")
        def handle(job: jackd.Job) -> None:
            pass

        worker.run(burst=True)
        print(f"the worker drained {worker.stats().succeeded} jobs from 3 servers")
        # --8<-- [end:pool]


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
