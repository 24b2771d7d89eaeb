"""Inspecting and managing jobs: peek, stats, list-tubes, pause-tube, kick and kick-job.

(Named ``inspecting`` rather than ``inspect``: a file ``inspect.py`` next to the others would
hide the standard library's ``inspect`` from every script run in this directory.)
"""

from __future__ import annotations

import os

import jackd


def main(address: str) -> None:
    with jackd.connect(address) as client:
        client.use("reports")
        ready = client.put("ready now")
        delayed = client.put("in an hour", delay=3600)
        broken = client.put("broken", priority=10)
        client.watch("reports")
        client.ignore("default")
        client.bury(client.reserve_job(broken))  # reserve one job by id, then bury it

        # --8<-- [start:inspecting]
        # Look at jobs without reserving them: by id in any tube, or the next one of the used
        # tube in each state. NotFoundError when there is none.
        print(client.peek(ready))  # Job(id=..., body=b'ready now')
        print(client.peek_ready(), client.peek_delayed(), client.peek_buried())

        # Statistics come back as frozen dataclasses; each field is the protocol's key with
        # "-" replaced by "_": "current-jobs-ready" is current_jobs_ready.
        job = client.stats_job(delayed)
        print(f"job {job.id} in {job.tube!r}: {job.state}, ready in {job.time_left} s")
        tube = client.stats_tube("reports")
        print(
            f"tube {tube.name!r}: {tube.current_jobs_ready} ready, "
            f"{tube.current_jobs_delayed} delayed, {tube.current_jobs_buried} buried"
        )
        server = client.stats()
        print(
            f"beanstalkd {server.version}: {server.current_connections} connections, "
            f"{server.total_jobs} jobs so far, bodies up to {server.max_job_size} bytes"
        )
        print(f"tubes: {client.list_tubes()}")

        # Pause a tube: no job is handed out from it until the pause ends.
        client.pause_tube("reports", 60)
        try:
            client.reserve(timeout=0)
        except jackd.TimedOutError:
            left = client.stats_tube("reports").pause_time_left
            print(f"'reports' is paused for {left} s more: nothing to reserve")
        client.pause_tube("reports", 0)  # 0 ends the pause

        # Kick: buried jobs of the used tube first (delayed ones only when none is buried).
        print(f"kicked {client.kick(10)} buried job(s)")
        client.kick_job(delayed)  # one job by id, buried or delayed, in any tube
        # --8<-- [end:inspecting]
        print(f"ready after kicking: {client.stats_tube('reports').current_jobs_ready}")

        for jid in (ready, delayed, broken):
            client.delete(jid)  # any ready, delayed or buried job can be deleted


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
