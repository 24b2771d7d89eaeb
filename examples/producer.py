"""A producer: put jobs into a tube, with the put options.

Pairs with ``worker.py``: run this one, then that one, against the same server.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import jackd

TUBE = "jackd-example-jobs"
"""The tube ``producer.py`` fills and ``worker.py`` drains."""


def produce(client: jackd.Client, n: int, tube: str = TUBE) -> list[int]:
    """Put ``n`` jobs ``{"n": 0}`` ... ``{"n": n-1}`` into ``tube``; return their ids."""
    client.use(tube)
    return [client.put(json.dumps({"n": i})) for i in range(n)]


def main(address: str) -> None:
    with jackd.connect(address) as client:
        ids = produce(client, 10)
        print(f"put {len(ids)} jobs into {client.list_tube_used()!r}: ids {ids[0]}..{ids[-1]}")

        # --8<-- [start:put-options]
        # The defaults are priority 0, delay 0 and a TTR of 60 seconds, as in go-jackd.
        urgent = client.put(json.dumps({"n": 100}), priority=0)  # 0 is the most urgent
        bulk = client.put(json.dumps({"n": 101}), priority=2048)  # after lower numbers
        later = client.put(json.dumps({"n": 102}), delay=timedelta(minutes=1))  # ready in 60 s
        slow = client.put(json.dumps({"n": 103}), ttr=600)  # a worker gets 10 minutes
        raw = client.put(b'{"n": 104}')  # bytes bodies are sent as they are
        # --8<-- [end:put-options]
        for jid in (urgent, bulk, later, slow, raw):
            stats = client.stats_job(jid)
            print(
                f"job {jid}: {stats.state}, pri {stats.pri}, delay {stats.delay}, ttr {stats.ttr}"
            )


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
