"""Quick start: put a job, reserve it, delete it.

Run it against a server: ``BEANSTALKD_URL=localhost:11300 python examples/quickstart.py``.
"""

from __future__ import annotations

import os

import jackd


def main(address: str) -> None:
    # --8<-- [start:first-job]
    with jackd.connect(address) as client:
        client.use("hello")  # put jobs into the "hello" tube...
        client.watch("hello")  # ...and reserve from it,
        client.ignore("default")  # and only from it

        jid = client.put("Hello!")  # a str body is sent as UTF-8
        job = client.reserve()  # Job(id=1, body=b'Hello!')
        print(f"put job {jid}, reserved job {job.id}: {job.body.decode()}")
        client.delete(job)  # done with it
        # --8<-- [end:first-job]

        # --8<-- [start:unpack]
        client.put(b"Hello again!")  # bytes go out as they are
        jid, body = client.reserve()  # a Job unpacks into (id, body)
        print(f"reserved job {jid}: {body!r}")
        client.delete(jid)  # an id works wherever a Job does
        # --8<-- [end:unpack]


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
