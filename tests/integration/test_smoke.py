from __future__ import annotations

import jackd


def test_put_reserve_delete(client: jackd.Client) -> None:
    jid = client.put(b"Hello!")
    job = client.reserve()
    assert job == jackd.Job(jid, b"Hello!")
    client.delete(job)
    assert client.stats().current_jobs_ready == 0
