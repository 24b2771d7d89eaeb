"""Unix sockets, IPv6 and TCP_NODELAY."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable

import pytest

import jackd
from jackd.testing import BeanstalkdServer

from .fakeserver import Worker, wait_until

pytestmark = pytest.mark.timeout(30)

StartServer = Callable[..., BeanstalkdServer]


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def nodelay(client: jackd.Client) -> int:
    # No public accessor for the socket; this one assertion reaches for the private one.
    sock = client._sock
    assert sock is not None
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def round_trip(client: jackd.Client, body: bytes) -> None:
    jid = client.put(body)
    job = client.reserve(timeout=0)
    assert job.id == jid
    assert job.body == body
    client.delete(job)
    with pytest.raises(jackd.NotFoundError):
        client.peek(jid)


def test_unix_socket_put_reserve_delete(start_server: StartServer) -> None:
    server = start_server(unix_socket=True)
    assert server.address.startswith("unix:///")
    assert server.socket_path is not None
    assert stat.S_ISSOCK(os.stat(server.socket_path).st_mode)
    with jackd.connect(server.address, timeout=5) as client:
        assert str(client.endpoint) == server.address
        jid = client.put(b"over a unix socket")
        assert jid == 1
        assert client.stats_job(jid).state == "ready"
        assert client.reserve(timeout=0) == jackd.Job(1, b"over a unix socket")
        client.delete(1)
        round_trip(client, b"second \r\n body \x00 with CRLF")


def test_unix_socket_two_megabyte_bodies(start_server: StartServer) -> None:
    server = start_server("-z", "2000000", unix_socket=True)
    body = os.urandom(2_000_000)
    with (
        jackd.connect(server.address, timeout=10) as producer,
        jackd.connect(server.address, timeout=10) as consumer,
    ):
        jid = producer.put(body)
        assert producer.peek(jid).body == body
        job = consumer.reserve(timeout=1)
        assert job == jackd.Job(jid, body)
        consumer.delete(job)
        with pytest.raises(jackd.JobTooBigError):
            producer.put(body + b"!")  # refused before sending: the connection stays in step
        assert producer.list_tube_used() == "default"
        round_trip(producer, body[:1_000_001])


def test_unix_socket_blocking_reserve_woken_by_put(start_server: StartServer) -> None:
    server = start_server(unix_socket=True)
    with jackd.connect(server.address) as worker, jackd.connect(server.address) as producer:
        reserver = Worker(worker.reserve, name="reserver")
        reserver.start()
        wait_until(lambda: producer.stats().current_waiting == 1, what="the reserve to block")
        jid = producer.put(b"hello")
        assert reserver.outcome(timeout=5) == jackd.Job(jid, b"hello")


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback (::1) on this host")
def test_ipv6_loopback(start_server: StartServer) -> None:
    server = start_server("-z", "2000000", host="::1")
    assert server.address == f"[::1]:{server.port}"
    with jackd.connect(server.address, timeout=5) as client:
        assert client.endpoint.host == "::1"
        assert nodelay(client) != 0
        round_trip(client, b"over IPv6")
        round_trip(client, b"6" * 300_000)
    with jackd.connect(("::1", server.port), timeout=5) as client:
        round_trip(client, b"tuple address")
    with jackd.connect(f"beanstalk://[::1]:{server.port}", timeout=5) as client:
        round_trip(client, b"url address")


def test_tcp_nodelay_is_on(server: BeanstalkdServer) -> None:
    with jackd.connect(server.address) as client:
        assert nodelay(client) != 0
    with jackd.connect(("127.0.0.1", server.port), timeout=2) as client:
        assert nodelay(client) != 0
        jid = client.put(b"x")
        # Still on after a reserve, which changes the socket's timeout.
        assert client.reserve(timeout=0).id == jid
        with pytest.raises(jackd.TimedOutError):
            client.reserve(timeout=0)
        assert nodelay(client) != 0
