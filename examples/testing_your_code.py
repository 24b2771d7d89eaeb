"""Testing your own code against a real beanstalkd, with the fixtures jackd gives pytest.

Installing jackd adds them to pytest (``jackd.testing.plugin``): ``beanstalkd``, a fresh server
per test on a free port, and ``jackd_client``, a client connected to it.
``pytest examples/testing_your_code.py`` runs the tests below. ``main`` runs them by hand with
``BeanstalkdServer``, what the fixtures use, then runs the code under test against the server
at ``address``.
"""

from __future__ import annotations

import json
import os

import pytest

import jackd
from jackd.testing import BeanstalkdServer


# --8<-- [start:tests]
def queue_welcome_email(client: jackd.Client, to: str) -> int:
    """The code under test: queue a job for the mailer."""
    client.use("emails")
    return client.put(json.dumps({"template": "welcome", "to": to}), ttr=300)


def test_welcome_email_is_queued(jackd_client: jackd.Client) -> None:
    jid = queue_welcome_email(jackd_client, "ada@example.com")
    assert jackd_client.stats_job(jid).ttr == 300
    jackd_client.watch("emails")
    job = jackd_client.reserve(timeout=0)
    assert json.loads(job.body) == {"template": "welcome", "to": "ada@example.com"}


def test_queueing_fails_while_the_server_drains(
    beanstalkd: BeanstalkdServer, jackd_client: jackd.Client
) -> None:
    beanstalkd.drain()  # drain mode: the server takes no new jobs
    with pytest.raises(jackd.DrainingError):
        queue_welcome_email(jackd_client, "ada@example.com")


@pytest.mark.beanstalkd(binlog=True)  # options for this test's server
def test_queued_email_survives_a_crash(beanstalkd: BeanstalkdServer) -> None:
    with jackd.connect(beanstalkd.address) as client:
        jid = queue_welcome_email(client, "ada@example.com")
    beanstalkd.kill()  # SIGKILL, as in a crash
    beanstalkd.restart()  # the same port, the same binlog
    with jackd.connect(beanstalkd.address) as client:
        assert client.stats_job(jid).tube == "emails"
    # --8<-- [end:tests]


def main(address: str) -> None:
    with BeanstalkdServer() as server, jackd.connect(server.address) as client:
        test_welcome_email_is_queued(client)
    print("test_welcome_email_is_queued passed against a private beanstalkd")
    with BeanstalkdServer() as server, jackd.connect(server.address) as client:
        test_queueing_fails_while_the_server_drains(server, client)
    print("test_queueing_fails_while_the_server_drains passed against a private beanstalkd")
    with BeanstalkdServer(binlog=True) as server:
        test_queued_email_survives_a_crash(server)
    print("test_queued_email_survives_a_crash passed against a private beanstalkd")
    with jackd.connect(address) as client:
        jid = queue_welcome_email(client, "ada@example.com")
        print(f"queued job {jid} at {address}: {client.peek(jid).body.decode()}")
        client.delete(jid)


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
