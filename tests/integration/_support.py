"""Helpers shared by the command-by-command integration tests.

Everything here goes through the public client API only, so the same tests can later run
against the asyncio client behind a synchronous adapter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import jackd

T = TypeVar("T")

#: The ``connect`` fixture: opens one more client to the test's server.
Connect = Callable[..., jackd.Client]


def wait_until(
    probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 5.0, what: str = ""
) -> T:
    """Call ``probe`` until ``done(result)`` holds, and return that result.

    Fails the test with the last value seen if it does not happen within ``timeout`` seconds.
    Polls quickly, so waits last as long as the server needs and no longer.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'a condition'}: last {value!r}")
        time.sleep(0.01)


def job_state(client: jackd.Client, job: jackd.Job | int) -> str:
    """The job's state as the server reports it: ready, delayed, reserved or buried."""
    return client.stats_job(job).state


def assert_usable(client: jackd.Client, tube: str = "default") -> None:
    """Check that ``client`` is still in step with the server after a refused call.

    A put, a reserve of exactly that job, and its delete must all work, and the used tube must
    be unchanged: a stray request or an unread reply left behind would break one of these.
    """
    assert client.list_tube_used() == tube
    body = b"still-usable"
    jid = client.put(body)
    assert client.peek(jid) == jackd.Job(jid, body)
    assert client.reserve_job(jid) == jackd.Job(jid, body)
    client.delete(jid)
    try:
        client.peek(jid)
    except jackd.NotFoundError:
        pass
    else:
        raise AssertionError(f"job {jid} still exists after delete")


def bytes_queued_at(port: int) -> int:
    """Bytes waiting in the receive queues of the server's accepted sockets on ``port``.

    Read from /proc/net/tcp: a stopped server leaves what clients sent there, which is how a
    test knows a command was sent without a fixed sleep.
    """
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            state = fields[3]
            if local_port == port and state == "01":  # ESTABLISHED
                total += int(fields[4].split(":")[1], 16)
    return total
