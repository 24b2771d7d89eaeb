"""Choosing a client's TLS context from its address and ``ssl=``, and how TLS writes are cut."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import threading
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jackd import _commands as cmds
from jackd import _io
from jackd._address import Endpoint, parse_address
from jackd._io import _advance
from jackd._protocol import Core
from jackd._tls import _TLS_WRITE, next_write, tls_setup


def setup(address: str, option: object) -> tuple[Endpoint, ssl.SSLContext | None]:
    return tls_setup(parse_address(address), option)  # type: ignore[arg-type]


@pytest.mark.parametrize("option", [None, False])
@pytest.mark.parametrize("address", ["host:1", "beanstalk://host", "unix:///run/b.sock"])
def test_plain_tcp_without_ssl(address: str, option: object) -> None:
    endpoint, context = setup(address, option)
    assert context is None
    assert endpoint == parse_address(address)
    assert not endpoint.tls


def assert_default_context(context: ssl.SSLContext | None) -> None:
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.protocol == ssl.PROTOCOL_TLS_CLIENT


@pytest.mark.parametrize("option", [None, True])
def test_beanstalks_uses_the_default_verified_context(option: object) -> None:
    endpoint, context = setup("beanstalks://queue.example.com", option)
    assert endpoint == Endpoint("queue.example.com", 11400, tls=True)
    assert_default_context(context)


def test_ssl_true_turns_a_plain_address_into_tls() -> None:
    endpoint, context = setup("queue:11300", True)
    assert endpoint == Endpoint("queue", 11300, tls=True)
    assert str(endpoint) == "beanstalks://queue:11300"
    assert_default_context(context)


@pytest.mark.parametrize("address", ["queue:5", "beanstalks://queue:5", "beanstalk://queue:5"])
def test_a_given_context_is_used_as_it_is(address: str) -> None:
    mine = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    endpoint, context = setup(address, mine)
    assert context is mine
    assert endpoint == Endpoint("queue", 5, tls=True)


def test_ssl_false_with_beanstalks_is_a_contradiction() -> None:
    with pytest.raises(ValueError, match=r"ssl=False contradicts .*beanstalks://queue:11400"):
        setup("beanstalks://queue", False)


@pytest.mark.parametrize("option", [True, ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)])
def test_ssl_with_a_unix_socket_is_refused(option: object) -> None:
    with pytest.raises(ValueError, match=r"not the unix socket unix:///run/b\.sock"):
        setup("unix:///run/b.sock", option)


def test_a_server_context_is_refused() -> None:
    with pytest.raises(ValueError, match="client context"):
        setup("queue", ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))


@pytest.mark.parametrize("option", ["yes", 1, 0, object()])
def test_ssl_of_another_type_is_a_type_error(option: object) -> None:
    with pytest.raises(TypeError, match=r"ssl must be an ssl\.SSLContext"):
        setup("queue", option)


def test_plain_tcp_never_loads_ssl() -> None:
    # Loading OpenSSL costs every plain-TCP user tens of milliseconds, and some Pythons
    # have no ssl module at all.
    code = (
        "import sys, jackd, jackd._io, jackd._tls\n"
        "jackd._tls.tls_setup(jackd._address.parse_address('h:1'), None)\n"
        "print('ssl' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


# -- cutting writes for TLS ------------------------------------------------------------------


def views_of(*sizes: int) -> tuple[list[memoryview], bytes]:
    buffers = [bytes([i % 251]) * size for i, size in enumerate(sizes, 1)]
    return [memoryview(b) for b in buffers], b"".join(buffers)


def test_a_puts_header_body_and_crlf_share_the_first_write() -> None:
    views, whole = views_of(30, 2_000_000, 2)
    first = next_write(views)
    assert len(first) == _TLS_WRITE
    assert bytes(first) == whole[:_TLS_WRITE]


def test_small_buffers_are_merged_into_one_write() -> None:
    views, whole = views_of(10, 20, 30)
    assert bytes(next_write(views)) == whole
    assert len(views) == 1


def test_a_retried_write_gets_the_same_bytes() -> None:
    # OpenSSL wants a write that could not finish retried with the same data.
    views, _ = views_of(100, 70_000, 2)
    first = bytes(next_write(views))
    assert bytes(next_write(views)) == first


@settings(deadline=None, max_examples=60)
@given(
    st.lists(st.integers(1, 3 * _TLS_WRITE), min_size=1, max_size=8),
    st.lists(st.floats(0.25, 1), min_size=1, max_size=20),
)
def test_writes_cover_every_byte_in_order(sizes: list[int], accepted: list[float]) -> None:
    views, whole = views_of(*sizes)
    sent = bytearray()
    turn = 0
    while views:
        piece = next_write(views)
        assert 0 < len(piece) <= _TLS_WRITE
        # A plain socket may take part of a piece; the loop goes on from where it stopped.
        n = max(1, int(len(piece) * accepted[turn % len(accepted)]))
        turn += 1
        sent += piece[:n]
        _advance(views, n)
    assert bytes(sent) == whole


# -- a TLS write that must read first --------------------------------------------------------


class WantsToReadFirst:
    """Stands in for an SSLSocket whose first write needs bytes from the peer (as during a
    TLS 1.2 renegotiation): until something was read, every write says "want read"."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sends = 0
        self.has_read = False
        self.first_send = threading.Event()

    def fileno(self) -> int:
        return self.sock.fileno()

    def gettimeout(self) -> float | None:
        return self.sock.gettimeout()

    def setblocking(self, flag: bool) -> None:
        self.sock.setblocking(flag)

    def settimeout(self, value: float | None) -> None:
        self.sock.settimeout(value)

    def pending(self) -> int:
        return 0

    def send(self, data: memoryview) -> int:
        self.sends += 1
        self.first_send.set()
        if not self.has_read:
            raise ssl.SSLWantReadError("the handshake needs the peer's next message")
        return self.sock.send(data)

    def recv_into(self, buffer: memoryview) -> int:
        n = self.sock.recv_into(buffer)
        self.has_read = True
        return n


def test_a_write_that_must_read_first_waits_for_the_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Retrying the write while the socket stays writable would spin, burning a CPU, until
    # the peer's bytes arrive: the loop must wait for them instead.
    monkeypatch.setattr(_io, "is_tls", lambda sock: True)
    ours, peer = socket.socketpair()
    fake = WantsToReadFirst(ours)
    core = Core()
    cmd = cmds.use("tls")
    core.pending.append(cmd)
    received = bytearray()

    def serve() -> None:
        fake.first_send.wait(5)
        peer.sendall(b"USING t")  # half a reply: enough to let the write through
        while b"\r\n" not in received:
            received.extend(peer.recv(100))
        peer.sendall(b"ls\r\n")

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        _io.exchange(cast(socket.socket, fake), core, [cast(bytes, cmd.data)], 1, 5)
    finally:
        server.join(5)
        ours.close()
        peer.close()
    assert cmd.result == "tls"
    assert bytes(received) == b"use tls\r\n"
    assert fake.sends == 2  # once refused, once after the peer's bytes came
