"""Testing your own code against a real beanstalkd with ``jackd.testing.BeanstalkdServer``.

The tests below are ordinary pytest tests: ``pytest examples/testing_your_code.py`` runs them.
``main`` runs them by hand, then runs the code under test against the server at ``address``.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator

import pytest

import jackd
from jackd.testing import BeanstalkdServer


def queue_welcome_email(client: jackd.Client, to: str) -> int:
    """The code under test: queue a job for the mailer."""
    client.use("emails")
    return client.put(json.dumps({"template": "welcome", "to": to}), ttr=300)


@pytest.fixture
def beanstalkd() -> Iterator[BeanstalkdServer]:
    with BeanstalkdServer() as server:  # a fresh server on a free port, killed at the end
        yield server


def test_welcome_email_is_queued(beanstalkd: BeanstalkdServer) -> None:
    with jackd.connect(beanstalkd.address) as client:
        jid = queue_welcome_email(client, "ada@example.com")
        assert client.stats_job(jid).ttr == 300
        client.watch("emails")
        job = client.reserve(timeout=0)
        assert json.loads(job.body) == {"template": "welcome", "to": "ada@example.com"}


def test_queueing_fails_while_the_server_drains(beanstalkd: BeanstalkdServer) -> None:
    beanstalkd.signal(signal.SIGUSR1)  # drain mode: the server takes no new jobs
    with jackd.connect(beanstalkd.address) as client:
        assert client.stats().draining
        with pytest.raises(jackd.DrainingError):
            queue_welcome_email(client, "ada@example.com")


def main(address: str) -> None:
    for test in (test_welcome_email_is_queued, test_queueing_fails_while_the_server_drains):
        with BeanstalkdServer() as server:  # what the fixture does
            test(server)
        print(f"{test.__name__} passed against a private beanstalkd")
    with jackd.connect(address) as client:
        jid = queue_welcome_email(client, "ada@example.com")
        print(f"queued job {jid} at {address}: {client.peek(jid).body.decode()}")
        client.delete(jid)


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
