"""Scripted stand-ins for beanstalkd, for tests of timeouts, garbage and dropped connections.

``FakeServer(script)`` listens on 127.0.0.1 with a port the kernel picks, accepts connections in
a daemon thread and runs ``script(conn)`` for each, one after another. Scripts talk to the
client through ``FakeConnection``, whose reads are bounded so that nothing here outlives the
test: the listener stops on ``close()`` (or leaving the ``with`` block), and in any case after
``lifetime`` seconds.

It also holds what the failure tests share: ``opened_clients`` opens the client under test in
either flavor (the sync ``jackd.Client`` or the asyncio one behind ``SyncOverAsync``), and the
constants at the end name the known defects that such tests mark as expected failures.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import cast

import pytest

import jackd

from ..async_adapter import SyncOverAsync

Script = Callable[["FakeConnection"], None]


class FakeConnection:
    """One accepted connection, seen from the fake server's side."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self._stop = stop
        self._buf = b""
        self.received: list[bytes] = []
        """Every command line read so far, without its CRLF."""
        self.sent: list[bytes] = []
        """Everything ``send`` handed to the kernel so far, in order."""
        self.saw_eof = threading.Event()
        """Set once the client closed its end of the connection."""
        self.finished = threading.Event()
        """Set once the script has returned and the server closed this connection."""

    def read_line(self, timeout: float = 5.0) -> bytes | None:
        """Return the next line the client sent, or None on EOF, on timeout or when stopped."""
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self._buf:
            if not self._fill(deadline):
                return None
        line, _, self._buf = self._buf.partition(b"\r\n")
        self.received.append(line)
        return line

    def read_bytes(self, count: int, timeout: float = 5.0) -> bytes | None:
        """Return exactly ``count`` bytes (a put body and its CRLF), or None as read_line."""
        deadline = time.monotonic() + timeout
        while len(self._buf) < count:
            if not self._fill(deadline):
                return None
        data, self._buf = self._buf[:count], self._buf[count:]
        return data

    def wait_eof(self, timeout: float = 5.0) -> bool:
        """Read lines, never answering, until the client closes; True if it did in time."""
        deadline = time.monotonic() + timeout
        while not self.saw_eof.is_set():
            while b"\r\n" in self._buf:
                line, _, self._buf = self._buf.partition(b"\r\n")
                self.received.append(line)
            if not self._fill(deadline):
                break
        return self.saw_eof.is_set()

    def send(self, data: bytes) -> bool:
        """Send ``data``; False if the client has already gone away."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        self.sent.append(data)
        return True

    def has_sent(self, data: bytes) -> bool:
        """True once ``data`` went out, in one ``send`` or spread over several."""
        return data in b"".join(self.sent)

    def stall(self, hang_up: threading.Event | None = None) -> None:
        """Read nothing more until the server stops; reset at once when ``hang_up`` is set.

        What the client writes then piles up in the socket buffers, and once they are full its
        writes stall: ``unread_bytes(port)`` shows how far it got.
        """
        while not self.stopped():
            if hang_up is not None and hang_up.wait(0.02):
                self.reset()
                return
            self.sleep(0.02)

    def reset(self) -> None:
        """Close at once with RST (SO_LINGER 0) instead of FIN, dropping unread input."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def stopped(self) -> bool:
        """True once the server is being closed; long scripts should then return."""
        return self._stop.is_set()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` without reading, cut short if the server is stopped."""
        self._stop.wait(seconds)

    def _fill(self, deadline: float) -> bool:
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(min(remaining, 0.05))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                self.saw_eof.set()
                return False
            if not chunk:
                self.saw_eof.set()
                return False
            self._buf += chunk
            return True
        return False


class FakeServer:
    """A TCP listener on 127.0.0.1 that runs ``script`` for every connection it accepts."""

    def __init__(
        self, script: Script, lifetime: float = 15.0, hold_accept: threading.Event | None = None
    ) -> None:
        self._script = script
        self._lifetime = lifetime
        # Until set, connections wait in the listen backlog: the kernel has completed their
        # handshake, but the script cannot act on them yet.
        self._hold_accept = hold_accept
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.connections: list[FakeConnection] = []
        """Every connection accepted so far, in order."""
        self.accepted = threading.Event()
        """Set when the first connection is accepted."""
        self.errors: list[BaseException] = []
        """Exceptions raised by the script (they would otherwise vanish with the thread)."""
        self._thread = threading.Thread(target=self._serve, name="fake-beanstalkd", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """``host:port`` for ``jackd.connect``."""
        return f"127.0.0.1:{self.port}"

    def connection(self, index: int = 0, timeout: float = 5.0) -> FakeConnection:
        """Return the ``index``-th accepted connection, waiting for it to be accepted."""
        wait_until(lambda: len(self.connections) > index, timeout, "a client to connect")
        return self.connections[index]

    def _serve(self) -> None:
        deadline = time.monotonic() + self._lifetime
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                if self._hold_accept is not None and not self._hold_accept.wait(0.02):
                    continue
                try:
                    sock, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                conn = FakeConnection(sock, self._stop)
                self.connections.append(conn)
                self.accepted.set()
                try:
                    self._script(conn)
                except BaseException as exc:  # reported by close()
                    self.errors.append(exc)
                finally:
                    sock.close()
                    conn.finished.set()
        finally:
            self._listener.close()

    def close(self) -> None:
        """Stop accepting, end the running script and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._listener.close()
        if self._thread.is_alive():
            raise AssertionError("the fake server thread did not stop")
        if self.errors:
            raise AssertionError(f"the fake server script failed: {self.errors[0]!r}")

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def stats_then_stop_reading(max_job_size: int, hang_up: threading.Event | None = None) -> Script:
    """A script that answers one ``stats`` (giving ``max_job_size``) and then reads nothing.

    A large put that follows fills the socket buffers and blocks in the middle of writing.
    When ``hang_up`` is set the connection is reset (RST) at once, else it stays open.
    """

    def script(conn: FakeConnection) -> None:
        if conn.read_line() != b"stats":
            return
        body = b"---\nmax-job-size: %d\n" % max_job_size
        conn.send(b"OK %d\r\n%s\r\n" % (len(body), body))
        conn.stall(hang_up)

    return script


def never_reading(hang_up: threading.Event | None = None) -> Script:
    """A script that accepts and never reads a byte: every write of the client stalls.

    When ``hang_up`` is set the connection is reset (RST) at once, else it stays open.
    """

    def script(conn: FakeConnection) -> None:
        conn.stall(hang_up)

    return script


def in_turn(*scripts: Script) -> Script:
    """A script that runs ``scripts[n]`` for the n-th connection (and nothing after the last)."""
    turns = iter(scripts)

    def script(conn: FakeConnection) -> None:
        next(turns, lambda conn: None)(conn)

    return script


def _tcp_table() -> list[tuple[int, int, str, int]]:
    """Local port, remote port, state and receive queue of each IPv4 socket (/proc/net/tcp)."""
    rows = []
    with open("/proc/net/tcp") as table:
        next(table)  # the header
        for line in table:
            fields = line.split()
            local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
            rows.append(
                (
                    int(local.rpartition(":")[2], 16),
                    int(remote.rpartition(":")[2], 16),
                    state,
                    int(queues.partition(":")[2], 16),
                )
            )
    return rows


_ESTABLISHED = "01"


def connected_to(port: int) -> int:
    """How many established IPv4 connections of this machine have ``port`` at the far end.

    The kernel completes a loopback handshake by itself (the server need not accept), so with
    a FakeServer holding its accepts this shows that a client's connect went out, before the
    client's event loop has seen the connection.
    """
    return sum(
        1 for _, remote, state, _ in _tcp_table() if remote == port and state == _ESTABLISHED
    )


def unread_bytes(port: int) -> int:
    """Bytes sent to the local TCP ``port`` that the process listening there has not read.

    The sum of the receive queues of the established IPv4 connections whose local end is
    ``port``, from Linux's /proc/net/tcp. It shows that a write reached a server that is not
    reading (a frozen beanstalkd, a stalled fake) without waiting any fixed time for it.
    """
    return sum(
        unread
        for local, _, state, unread in _tcp_table()
        if local == port and state == _ESTABLISHED
    )


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` every few milliseconds; AssertionError if it stays false."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.005)


class Worker(threading.Thread):
    """A daemon thread that runs ``fn`` once and keeps its result or exception."""

    def __init__(self, fn: Callable[[], object], name: str = "jackd-test-worker") -> None:
        super().__init__(name=name, daemon=True)
        self._fn = fn
        self.result: object = None
        self.error: BaseException | None = None
        self.finished_at: float | None = None
        """``time.monotonic()`` when ``fn`` returned or raised."""

    def run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as exc:
            self.error = exc
        finally:
            self.finished_at = time.monotonic()

    def start_and_wait(self, timeout: float) -> object:
        """Start, then return ``outcome(timeout)``."""
        self.start()
        return self.outcome(timeout)

    def outcome(self, timeout: float) -> object:
        """Join; return the result, re-raise the exception, or fail if still running."""
        self.join(timeout)
        if self.is_alive():
            raise AssertionError(f"{self.name} still running after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result


def close_from_thread(client: jackd.Client, timeout: float = 2.0) -> None:
    """Call ``client.close()`` in another thread; fail if it does not return in ``timeout``.

    Keeps a test whose close blocks (waiting on a lock another thread never releases) from
    hanging the test run.
    """
    Worker(client.close, name="closer").start_and_wait(timeout)


# -- the client under test, in either flavor ---------------------------------------------------

#: Opens a client to an address: ``open_client(address, timeout=...)``.
OpenClient = Callable[..., jackd.Client]


@contextlib.contextmanager
def opened_clients(flavor: str) -> Iterator[OpenClient]:
    """Yield an opener of ``flavor`` clients (see tests/conftest.py); close them all after.

    ``"sync"`` opens ``jackd.Client``; ``"async"`` an AsyncClient behind ``SyncOverAsync``,
    which keeps the blocking API, so one test body checks both. A close that does not return
    (a defect under test, say) fails the teardown instead of hanging the run.
    """
    clients: list[jackd.Client] = []

    def open_client(address: object = None, **kwargs: object) -> jackd.Client:
        if flavor == "async":
            client = cast(jackd.Client, SyncOverAsync(address, **kwargs))
        else:
            client = jackd.connect(address, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    try:
        yield open_client
    finally:
        stuck: list[AssertionError] = []
        for client in clients:
            stop = client.shutdown if isinstance(client, SyncOverAsync) else client.close
            try:
                Worker(stop, name="teardown-close").start_and_wait(10)
            except AssertionError as exc:
                stuck.append(exc)
        if stuck:
            raise stuck[0]


def xfail_if(flavor: str, request: pytest.FixtureRequest, reason: str) -> None:
    """Mark the running test as an expected failure (strict) when it runs on ``flavor``."""
    if request.getfixturevalue("flavor") == flavor:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
