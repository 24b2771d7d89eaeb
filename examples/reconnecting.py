"""Reconnecting: a client that survives its server being killed and restarted.

``main`` starts a private beanstalkd with a binlog (so its jobs survive), kills it with
SIGKILL while a job is reserved, restarts it on the same port, and shows what the client with
``reconnect=True`` does: it reconnects, restores its tubes, and reports the job it held as a
lost reservation. The address argument is not used: the example needs a server it may kill.
"""

from __future__ import annotations

import os

import jackd
from jackd.testing import BeanstalkdServer


def main(address: str = "") -> None:
    with BeanstalkdServer(binlog=True) as server:
        # --8<-- [start:reconnect]
        # reconnect=True is the default policy, jackd.Reconnect(): 10 attempts per loss,
        # 0.05 s apart at first, doubling up to 5 s, with jitter.
        policy = jackd.Reconnect(attempts=20, first_delay=0.05, max_delay=1.0)
        with jackd.connect(server.address, reconnect=policy) as client:
            client.use("orders")
            client.watch("orders")
            client.ignore("default")
            client.put(b"order 1")
            job = client.reserve(timeout=0)

            server.kill()  # SIGKILL: the connection is gone, the binlog keeps the job
            server.restart()  # same port, same binlog

            # The next call notices, reconnects and restores use/watch before anything else.
            print(f"watching {client.list_tubes_watched()} after {client.reconnects} reconnect")
            # The server released the job when the old connection dropped; this client no
            # longer holds it, so touch, release and bury are refused without being sent.
            try:
                client.touch(job)
            except jackd.ReservationLostError as exc:
                print(f"ReservationLostError: {exc}")
            again = client.reserve(timeout=1)  # it is ready again, for anyone
            print(f"reserved {again.body!r} again")
            client.delete(again)
        # --8<-- [end:reconnect]


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
