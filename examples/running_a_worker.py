"""The worker runtime: handlers for tubes, retries with backoff, then bury; nothing lost.

``main`` puts a few jobs into two tubes, then runs a ``jackd.Worker`` over them in burst mode
(it returns once the tubes are empty) and prints what it did.
"""

from __future__ import annotations

import contextlib
import json
import os

import jackd

TUBES = ("jackd-example-emails", "jackd-example-images")


# --8<-- [start:make-worker]
def make_worker(address: str) -> jackd.Worker:
    worker = jackd.Worker(address, concurrency=4, grace=30.0)  # 4 threads

    @worker.handler("jackd-example-emails")  # the tube it serves
    def send_email(job: jackd.Job) -> None:
        message = json.loads(job.body)
        print(f"sending to {message['to']}")
        # Return normally: the job is deleted. Raise anything else: it is released and
        # tried again after a backoff (here 2 s, 4 s, ... with jitter), and buried once it
        # has been reserved max_attempts times (3 unless said otherwise).

    @worker.handler(
        "jackd-example-images",
        max_attempts=5,
        backoff=jackd.Backoff(first=2.0, factor=2.0, max=600.0, jitter=0.2),
    )
    def resize(job: jackd.Job) -> None:
        if job.body == b"corrupt.png":
            raise jackd.Bury("cannot be decoded")  # bury now, keeping its priority
        if job.body == b"later.png":
            raise jackd.Retry(delay=30)  # release now, ready again in 30 s
        print(f"resized {job.body.decode()}")

    return worker
    # --8<-- [end:make-worker]


def main(address: str) -> None:
    with jackd.connect(address) as client:
        client.use(TUBES[0])
        client.put(json.dumps({"to": "ada@example.com"}))
        client.use(TUBES[1])
        for name in (b"cat.png", b"corrupt.png", b"later.png"):
            client.put(name)

        # --8<-- [start:run]
        worker = make_worker(address)
        worker.run(burst=True)  # returns once its tubes have no ready job left
        # worker.run() runs until worker.stop(), SIGTERM or SIGINT: it then stops reserving,
        # lets running handlers finish for up to grace seconds, and releases the rest.
        stats = worker.stats()
        print(
            f"reserved {stats.reserved}, succeeded {stats.succeeded}, "
            f"retried {stats.retried}, buried {stats.buried}"
        )
        # --8<-- [end:run]

        # Leave the tubes as they were: remove the retried and the buried job.
        for tube in TUBES:
            client.use(tube)
            for peek in (client.peek_delayed, client.peek_buried):
                with contextlib.suppress(jackd.NotFoundError):
                    client.delete(peek())


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
