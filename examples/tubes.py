"""Tubes: ``use`` picks where puts go, ``watch`` and ``ignore`` where reserves come from."""

from __future__ import annotations

import os

import jackd


def main(address: str) -> None:
    with jackd.connect(address) as client:
        print(f"a new connection uses {client.list_tube_used()!r}")  # 'default'
        print(f"and watches {client.list_tubes_watched()}")  # ['default']

        # --8<-- [start:tubes]
        client.use("emails")  # put, peek-ready/-delayed/-buried and kick act on "emails" now
        client.put("to: ada@example.com")
        client.use("sms")
        client.put("to: +44 20 7946 0000")

        client.watch("emails")  # returns how many tubes are watched: 2
        count = client.watch("sms")  # 3
        count = client.ignore("default")  # 2
        print(f"watching {count} tubes: {client.list_tubes_watched()}")
        # --8<-- [end:tubes]

        for _ in range(2):
            job = client.reserve(timeout=0)  # the oldest ready job of the watched tubes
            tube = client.stats_job(job).tube
            print(f"reserved job {job.id} from {tube!r}: {job.body.decode()}")
            client.delete(job)

        client.ignore("sms")
        try:
            client.ignore("emails")
        except jackd.NotIgnoredError:
            print("the last watched tube cannot be ignored: watch another one first")
        print(f"tubes on the server: {client.list_tubes()}")


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
