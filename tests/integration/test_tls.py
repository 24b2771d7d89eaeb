"""TLS through a real stunnel in front of a real beanstalkd, for both clients.

beanstalkd speaks no TLS, so deployments that need it terminate TLS in front of it; stunnel
(Debian's ``stunnel4``, installed by scripts/setup.sh) does here, with a certificate from a
throwaway CA made by trustme for each test module.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import trustme

import jackd
import jackd.aio
from jackd.testing import BeanstalkdServer

from ..async_adapter import SyncOverAsync
from ._support import wait_until
from .fakeserver import FakeConnection, FakeServer
from .test_examples import load

pytestmark = pytest.mark.timeout(60)

STUNNEL = shutil.which("stunnel4") or shutil.which("stunnel")

StartServer = Callable[..., BeanstalkdServer]


class Stunnel:
    """One stunnel process accepting TLS on a free loopback port and forwarding to ``backend``.

    The port is picked by binding port 0 and closing that socket before stunnel binds it, so
    another process may take it in between: then stunnel exits, and start() tries another.
    """

    def __init__(self, directory: Path, backend: int, cert: trustme.LeafCert, ca: trustme.CA):
        self.directory = directory
        self.backend = backend
        self.port = 0
        self._ca = ca
        self._process: subprocess.Popen[bytes] | None = None
        self._cert = directory / "server.pem"
        self._key = directory / "server.key"
        self._log = directory / "stunnel.log"
        # What stunnel says before it opens its log (a port it cannot bind) goes to stderr.
        self._stderr = directory / "stunnel.stderr"
        self._cert.write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(str(self._key))
        os.chmod(self._key, 0o600)  # stunnel warns about a key others can read

    @property
    def log(self) -> str:
        return "".join(
            path.read_text(errors="replace") for path in (self._stderr, self._log) if path.exists()
        )

    def start(self, port: int = 0) -> Stunnel:
        """Start on ``port`` (0: a free one) and wait until TLS connections get through."""
        for _ in range(20):
            self.port = port or free_port()
            config = self.directory / "stunnel.conf"
            config.write_text(
                "foreground = yes\n"
                "pid =\n"
                "debug = 5\n"
                f"output = {self._log}\n"
                "[beanstalkd]\n"
                f"accept = 127.0.0.1:{self.port}\n"
                f"connect = 127.0.0.1:{self.backend}\n"
                f"cert = {self._cert}\n"
                f"key = {self._key}\n"
            )
            self._log.write_text("")
            assert STUNNEL is not None
            with self._stderr.open("wb") as stderr:
                self._process = subprocess.Popen(
                    [STUNNEL, str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready():
                return self
            self.stop()
            if port or "Address already in use" not in self.log:
                raise RuntimeError(f"stunnel did not start:\n{self.log}")
        raise RuntimeError("stunnel found no free port in 20 tries")

    def _wait_ready(self) -> bool:
        """True once a TLS handshake with our certificate works; False if stunnel exited."""
        trusting = client_context(self._ca)
        # Whatever names the certificate holds: some tests give it the wrong ones on purpose.
        trusting.check_hostname = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                return False
            try:
                with (
                    socket.create_connection(("127.0.0.1", self.port), timeout=2) as raw,
                    trusting.wrap_socket(raw),
                ):
                    # Only our stunnel holds a certificate of this CA: not some other
                    # process that got the port.
                    return True
            except ssl.SSLCertVerificationError:
                raise
            except OSError:
                time.sleep(0.005)
        raise TimeoutError(f"stunnel did not accept TLS connections in 10 s:\n{self.log}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture
def context(ca: trustme.CA) -> ssl.SSLContext:
    """A client context trusting the test CA (and nothing else)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(context)
    return context


@pytest.fixture
def backend(start_server: StartServer) -> BeanstalkdServer:
    """The beanstalkd behind the tunnel, allowing bodies of 3 MB."""
    return start_server("-z", "3000000")


TunnelFactory = Callable[..., Stunnel]


@pytest.fixture
def start_tunnel(
    tmp_path: Path, backend: BeanstalkdServer, server_cert: trustme.LeafCert, ca: trustme.CA
) -> Iterator[TunnelFactory]:
    """Start stunnels in front of ``backend``: ``start_tunnel(cert=...)``; all killed after."""
    if STUNNEL is None:
        pytest.skip("no stunnel binary (Debian: apt-get install stunnel4; scripts/setup.sh does)")
    tunnels: list[Stunnel] = []

    def start(cert: trustme.LeafCert = server_cert, issuer: trustme.CA = ca) -> Stunnel:
        directory = tmp_path / f"stunnel{len(tunnels)}"
        directory.mkdir()
        tunnel = Stunnel(directory, backend.port, cert, issuer)
        tunnels.append(tunnel)
        return tunnel.start()

    yield start
    for tunnel in tunnels:
        tunnel.stop()


@pytest.fixture
def tunnel(start_tunnel: TunnelFactory) -> Stunnel:
    return start_tunnel()


@pytest.fixture
def url(tunnel: Stunnel) -> str:
    return f"beanstalks://127.0.0.1:{tunnel.port}"


@pytest.fixture
def open_client(flavor: str) -> Iterator[Callable[..., jackd.Client]]:
    """Open a client of the flavor under test (the asyncio one behind the sync adapter)."""
    clients: list[Any] = []

    def open_one(address: Any, **kwargs: Any) -> jackd.Client:
        if flavor == "async":
            client: Any = SyncOverAsync(address, **kwargs)
        else:
            client = jackd.Client(address, **kwargs)
        clients.append(client)
        return cast(jackd.Client, client)

    yield open_one
    for client in clients:
        if isinstance(client, SyncOverAsync):
            client.shutdown()
        else:
            client.close()


OpenClient = Callable[..., jackd.Client]


def tls_of(client: jackd.Client) -> ssl.SSLObject | ssl.SSLSocket:
    """What carries TLS under ``client``: its SSLSocket, or the asyncio transport's SSLObject."""
    if isinstance(client, SyncOverAsync):
        transport = client._client._transport
        assert transport is not None
        return cast(ssl.SSLObject, transport.get_extra_info("ssl_object"))
    sock = client._sock
    assert isinstance(sock, ssl.SSLSocket)
    return sock


def tcp_socket_of(client: jackd.Client) -> socket.socket:
    if isinstance(client, SyncOverAsync):
        transport = client._client._transport
        assert transport is not None
        return cast(socket.socket, transport.get_extra_info("socket"))
    sock = client._sock
    assert sock is not None
    return sock


# -- working connections ---------------------------------------------------------------------


def test_put_reserve_delete(open_client: OpenClient, url: str, context: ssl.SSLContext) -> None:
    with open_client(url, ssl=context, timeout=10) as client:
        assert str(client.endpoint) == url
        assert client.endpoint.tls
        assert tls_of(client).version() in ("TLSv1.2", "TLSv1.3")
        jid = client.put(b"over TLS \r\n with CRLF inside")
        assert client.reserve(timeout=0) == jackd.Job(jid, b"over TLS \r\n with CRLF inside")
        client.delete(jid)
        with pytest.raises(jackd.NotFoundError):
            client.peek(jid)
        assert client.stats().current_jobs_ready == 0


def test_two_megabyte_bodies_both_ways(
    open_client: OpenClient, url: str, context: ssl.SSLContext
) -> None:
    # Bodies much larger than a TLS record (16 KiB) and than one socket read arrive in many
    # partial reads, some of which leave decrypted bytes inside the TLS object.
    body = os.urandom(2_000_000)
    producer = open_client(url, ssl=context, timeout=20)
    consumer = open_client(url, ssl=context, timeout=20)
    jid = producer.put(body)
    assert producer.peek(jid).body == body
    job = consumer.reserve(timeout=5)
    assert job == jackd.Job(jid, body)
    consumer.delete(job)
    # The batch path, with writes far larger than the socket buffer.
    bodies = [body[i:] + bytes([i]) for i in range(3)]
    ids = producer.put_many(bodies)
    jobs = consumer.reserve_many(3, timeout=5)
    assert jobs == [jackd.Job(i, b) for i, b in zip(ids, bodies, strict=True)]
    consumer.delete_many(jobs)
    assert producer.stats().current_jobs_ready == 0


def test_replies_left_inside_the_tls_layer_are_read(
    open_client: OpenClient, url: str, context: ssl.SSLContext
) -> None:
    # A large body is read into a buffer of exactly its size, so the short replies that
    # came in the same TLS record stay decrypted inside the TLS object, where select()
    # cannot see them: the batch must still read them, not wait for more from the socket.
    client = open_client(url, ssl=context, timeout=5)
    for size in (100_000, 250_007, 1_000_003):
        bodies = [os.urandom(size), b"small", b"smaller"]
        ids = client.put_many(bodies)
        jobs = client.reserve_many(3, timeout=0)
        assert jobs == [jackd.Job(i, b) for i, b in zip(ids, bodies, strict=True)]
        client.delete_many(jobs)


def test_a_batch_through_a_small_send_buffer(
    open_client: OpenClient, url: str, context: ssl.SSLContext
) -> None:
    # With little room in the socket, a TLS write is often cut short ("want write") and must
    # be retried with the same bytes once the socket drains.
    client = open_client(url, ssl=context, timeout=10)
    tcp_socket_of(client).setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    bodies = [os.urandom(300_000) + bytes([i]) for i in range(8)]
    ids = client.put_many(bodies)
    assert [client.peek(i).body for i in ids] == bodies


def test_put_many_and_reserve_many(
    open_client: OpenClient, url: str, context: ssl.SSLContext
) -> None:
    client = open_client(url, ssl=context, timeout=20)
    bodies = [f"job {i}".encode() for i in range(5_000)]
    ids = client.put_many(bodies)
    assert len(ids) == 5_000
    assert ids == list(range(ids[0], ids[0] + 5_000))
    jobs = client.reserve_many(5_000, timeout=5)
    assert jobs == [jackd.Job(i, b) for i, b in zip(ids, bodies, strict=True)]
    client.delete_many(jobs)
    assert client.stats().current_jobs_reserved == 0
    assert client.stats().current_jobs_ready == 0


def test_blocking_reserve_is_woken_by_a_put(
    open_client: OpenClient, url: str, context: ssl.SSLContext, backend: BeanstalkdServer
) -> None:
    consumer = open_client(url, ssl=context)
    producer = open_client(url, ssl=context)
    got: list[jackd.Job] = []
    waiter = threading.Thread(target=lambda: got.append(consumer.reserve()), daemon=True)
    waiter.start()
    with jackd.connect(backend.address) as watcher:
        wait_until(lambda: watcher.stats().current_waiting, lambda n: n == 1, what="a reserve")
    jid = producer.put(b"wake up")
    waiter.join(10)
    assert got == [jackd.Job(jid, b"wake up")]


def test_close_wakes_a_blocked_reserve(
    open_client: OpenClient, url: str, context: ssl.SSLContext, backend: BeanstalkdServer
) -> None:
    consumer = open_client(url, ssl=context)
    raised: list[BaseException] = []

    def reserve() -> None:
        try:
            consumer.reserve()
        except BaseException as exc:
            raised.append(exc)

    waiter = threading.Thread(target=reserve, daemon=True)
    waiter.start()
    with jackd.connect(backend.address) as watcher:
        wait_until(lambda: watcher.stats().current_waiting, lambda n: n == 1, what="a reserve")
    consumer.close()
    waiter.join(10)
    assert not waiter.is_alive()
    assert len(raised) == 1
    assert isinstance(raised[0], jackd.ConnectionLostError)


def test_tcp_options_apply_under_tls(
    open_client: OpenClient, url: str, context: ssl.SSLContext
) -> None:
    client = open_client(url, ssl=context)
    sock = tcp_socket_of(client)
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)


@pytest.mark.parametrize("form", ["beanstalk://127.0.0.1:{port}", "127.0.0.1:{port}", "tuple"])
def test_ssl_turns_any_tcp_address_into_tls(
    open_client: OpenClient, tunnel: Stunnel, context: ssl.SSLContext, form: str
) -> None:
    address: Any = ("127.0.0.1", tunnel.port) if form == "tuple" else form.format(port=tunnel.port)
    client = open_client(address, ssl=context)
    assert str(client.endpoint) == f"beanstalks://127.0.0.1:{tunnel.port}"
    assert client.put(b"x") == 1
    assert tls_of(client).version() is not None


def test_host_names_are_verified_too(
    open_client: OpenClient, tunnel: Stunnel, context: ssl.SSLContext
) -> None:
    # The certificate names localhost as well as 127.0.0.1; the name is what is checked here.
    client = open_client(f"beanstalks://localhost:{tunnel.port}", ssl=context)
    assert client.list_tube_used() == "default"


def test_reconnects_over_tls(
    open_client: OpenClient, tunnel: Stunnel, context: ssl.SSLContext
) -> None:
    client = open_client(f"beanstalks://127.0.0.1:{tunnel.port}", ssl=context, reconnect=True)
    client.use("over-tls")
    jid = client.put(b"kept by the server")
    tunnel.stop()  # cuts every connection through it
    tunnel.start(tunnel.port)
    assert client.list_tube_used() == "over-tls"
    assert client.peek(jid) == jackd.Job(jid, b"kept by the server")
    assert client.reconnects == 1
    assert tls_of(client).version() is not None


def test_the_readme_tls_example(
    tunnel: Stunnel, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    example = load("connecting", monkeypatch)
    url = f"beanstalks://localhost:{tunnel.port}"
    with example.connect_with_tls(url, cafile=str(cafile)) as client:
        assert isinstance(client, jackd.Client)
        assert str(client.endpoint) == url
        assert client.put(b"from the README") == 1
        assert isinstance(client._sock, ssl.SSLSocket)


# -- BEANSTALKD_URL --------------------------------------------------------------------------


def test_sync_connect_reads_a_beanstalks_url(
    tunnel: Stunnel, context: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", f"beanstalks://localhost:{tunnel.port}")
    with jackd.connect(ssl=context, timeout=10) as client:
        assert str(client.endpoint) == f"beanstalks://localhost:{tunnel.port}"
        assert client.ssl is context
        assert client.put(b"named by the environment") == 1
        assert isinstance(client._sock, ssl.SSLSocket)


def test_async_connect_reads_a_beanstalks_url(
    tunnel: Stunnel, context: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", f"beanstalks://localhost:{tunnel.port}")

    async def main() -> None:
        async with jackd.aio.connect(ssl=context, timeout=10) as client:
            assert str(client.endpoint) == f"beanstalks://localhost:{tunnel.port}"
            assert client.ssl is context
            assert await client.put(b"named by the environment") == 1
            assert await client.reserve(timeout=0) == jackd.Job(1, b"named by the environment")
            transport = client._transport
            assert transport is not None
            assert transport.get_extra_info("ssl_object") is not None

    asyncio.run(asyncio.wait_for(main(), 30))


# -- failures --------------------------------------------------------------------------------


def connect_error(
    open_client: OpenClient, address: Any, **kwargs: Any
) -> jackd.ConnectionLostError:
    with pytest.raises(jackd.ConnectionLostError) as caught:
        open_client(address, connect_timeout=10, **kwargs)
    assert isinstance(caught.value, ConnectionError)
    return caught.value


def test_an_untrusted_ca_fails_verification(open_client: OpenClient, url: str) -> None:
    stranger = client_context(trustme.CA())
    error = connect_error(open_client, url, ssl=stranger)
    assert f"TLS verification failed for beanstalkd at {url}: " in str(error)
    assert isinstance(error.__cause__, ssl.SSLCertVerificationError)
    assert "certificate" in str(error)


def test_beanstalks_without_ssl_verifies_against_the_system_cas(
    open_client: OpenClient, url: str
) -> None:
    # No ssl= means ssl.create_default_context(), which does not trust the test CA.
    error = connect_error(open_client, url)
    assert f"TLS verification failed for beanstalkd at {url}: " in str(error)
    assert isinstance(error.__cause__, ssl.SSLCertVerificationError)


@pytest.mark.parametrize(("host", "what"), [("127.0.0.1", "IP address"), ("localhost", "Hostname")])
def test_a_certificate_for_another_host_fails_verification(
    open_client: OpenClient,
    start_tunnel: TunnelFactory,
    ca: trustme.CA,
    context: ssl.SSLContext,
    host: str,
    what: str,
) -> None:
    elsewhere = start_tunnel(cert=ca.issue_cert("example.org"))
    url = f"beanstalks://{host}:{elsewhere.port}"
    error = connect_error(open_client, url, ssl=context)
    assert f"TLS verification failed for beanstalkd at {url}: " in str(error)
    assert f"{what} mismatch" in str(error)
    assert isinstance(error.__cause__, ssl.SSLCertVerificationError)


def test_tls_to_a_plain_server_gives_up_within_connect_timeout(
    open_client: OpenClient, backend: BeanstalkdServer, context: ssl.SSLContext
) -> None:
    # beanstalkd waits for the end of a command line that the ClientHello never sends.
    url = f"beanstalks://127.0.0.1:{backend.port}"
    started = time.monotonic()
    with pytest.raises(jackd.ConnectionLostError, match=re.escape(f"at {url}")):
        open_client(url, ssl=context, connect_timeout=0.5)
    assert time.monotonic() - started < 5


def test_a_server_answering_in_plain_text_fails_the_handshake(
    open_client: OpenClient, context: ssl.SSLContext
) -> None:
    def answer_in_plain_text(conn: FakeConnection) -> None:
        conn.send(b"UNKNOWN_COMMAND\r\n")

    with FakeServer(answer_in_plain_text) as plain:
        url = f"beanstalks://{plain.address}"
        error = connect_error(open_client, url, ssl=context)
    assert f"TLS handshake with beanstalkd at {url} failed: " in str(error)
    assert isinstance(error.__cause__, ssl.SSLError)
    assert not isinstance(error.__cause__, ssl.SSLCertVerificationError)


def test_ssl_false_with_beanstalks_is_refused(flavor: str) -> None:
    opener: Any = jackd.aio.AsyncClient if flavor == "async" else jackd.Client
    with pytest.raises(ValueError, match="ssl=False contradicts"):
        opener("beanstalks://127.0.0.1:1", ssl=False)


def test_ssl_with_a_unix_socket_is_refused(flavor: str, context: ssl.SSLContext) -> None:
    opener: Any = jackd.aio.AsyncClient if flavor == "async" else jackd.Client
    with pytest.raises(ValueError, match="unix socket"):
        opener("unix:///tmp/nowhere.sock", ssl=context)
