"""Raw-socket pipelining: the fastest a single Python connection can drive beanstalkd.

One thread, a non-blocking socket and ``select``: commands are written as fast as the
socket takes them while replies are read as they come, so the server always has commands
waiting and sets the pace. These helpers also pre-fill tubes for the consumer scenarios,
where the filling is not timed.

What makes it fast is *how rarely the reader wakes up*, not how little Python it runs.
beanstalkd writes every reply with a ``write`` of its own, and on loopback that write runs the
whole TCP receive path of the client's socket in the server's system call, including waking
the client if it is blocked waiting for data: a cross-CPU wake-up (an inter-processor
interrupt, dear in a VM) charged to the server, once per reply. A reader that sleeps in
``recv`` for every reply thus doubles the server's CPU cost per command (about 15 µs per
``put`` instead of 7.5 on the development machine) and halves the baseline. Here the
socket's ``SO_RCVLOWAT`` makes the kernel wake the reader only once at least ``LOWAT``
bytes are waiting, a few hundred replies at a time. The low-water mark never exceeds a lower
bound of the bytes still to come (so the last replies cannot be left waiting), and ``select``
also returns every ``POLL`` seconds: the client's TCP acknowledges data when it is read, and
beanstalkd's replies are tiny packets, so a reader that waited for many of them without
reading could leave the server's congestion window full of unacknowledged packets until the
delayed-ACK timer (40 ms) fired.
"""

from __future__ import annotations

import re
import select
import socket
from collections import deque
from collections.abc import Callable

_RESERVED_ID = re.compile(rb"RESERVED (\d+) ")

LOWAT = 16_384
"""Wake the reader once this many reply bytes are waiting (at most)."""
POLL = 0.000_2
"""... or after this many seconds, whichever comes first."""
CHUNK = 1 << 20
"""Largest single ``send``."""

INSERTED_MIN = len(b"INSERTED 1\r\n")
DELETED_LEN = len(b"DELETED\r\n")
RESERVED_MIN = len(b"RESERVED 1 0\r\n\r\n")


def connect(address: str) -> socket.socket:
    """A TCP connection to ``host:port`` with Nagle off."""
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host.strip("[]"), int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Stream:
    """Drives one connection: writes what is queued, hands every chunk read to a parser.

    ``feed(buf, n)`` parses the ``n`` bytes just read into ``buf`` and returns more commands
    to send (or b""); ``done()``
    says when to stop; ``floor()`` is a lower bound on the reply bytes still to come (it sets
    the low-water mark, so it must never be too high, or the last replies would wait for
    ``POLL`` each).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray(CHUNK)
        self._lowat = 1

    def _set_lowat(self, value: int) -> None:
        value = max(1, min(LOWAT, value))
        if value != self._lowat:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, value)
            self._lowat = value

    def run(
        self,
        payload: bytes,
        feed: Callable[[bytearray, int], bytes],
        done: Callable[[], bool],
        floor: Callable[[], int],
    ) -> None:
        sock = self.sock
        out: deque[memoryview] = deque()
        if payload:
            out.append(memoryview(payload))
        sock.setblocking(False)
        try:
            while not done():
                self._set_lowat(floor())
                select.select([sock], [sock] if out else [], [], POLL)
                while out:
                    head = out[0]
                    try:
                        sent = sock.send(head[:CHUNK])
                    except BlockingIOError:
                        break
                    if sent == len(head):
                        out.popleft()
                    else:
                        out[0] = head[sent:]
                        break
                try:
                    n = sock.recv_into(self._buf)
                except BlockingIOError:
                    continue
                if not n:
                    raise ConnectionError("server closed the connection")
                more = feed(self._buf, n)
                if more:
                    out.append(memoryview(more))
            if out:
                raise RuntimeError("done with commands still unsent")
        finally:
            self._set_lowat(1)
            sock.setblocking(True)


class _Lines:
    """Counts reply lines (LF bytes) and the bytes of a partial last line."""

    def __init__(self) -> None:
        self.seen = 0
        self.tail = 0

    def count(self, buf: bytearray, n: int) -> None:
        lfs = buf.count(b"\n", 0, n)
        if lfs:
            self.seen += lfs
            self.tail = n - 1 - buf.rfind(b"\n", 0, n)
        else:
            self.tail += n


def put_payload(count: int, body: bytes) -> bytes:
    """``count`` identical ``put`` commands (priority 0, no delay, ttr 60) in one buffer."""
    return (b"put 0 0 60 %d\r\n%b\r\n" % (len(body), body)) * count


def put_pipelined(sock: socket.socket, count: int, body: bytes) -> None:
    """Put ``count`` jobs, all pipelined; each reply is one ``INSERTED id`` line.

    Counts LF bytes, so the body must hold none (the suite's are ``b"x" * size``).
    """
    if not count:
        return
    lines = _Lines()

    def feed(buf: bytearray, n: int) -> bytes:
        lines.count(buf, n)
        return b""

    Stream(sock).run(
        put_payload(count, body),
        feed,
        lambda: lines.seen >= count,
        lambda: (count - lines.seen) * INSERTED_MIN - lines.tail,
    )
    if lines.seen != count:
        raise RuntimeError(f"expected {count} reply lines, got {lines.seen}")


def drain_pipelined(sock: socket.socket, count: int, batch: int = 500) -> None:
    """Reserve ``count`` ready jobs and delete them, pipelined, ``batch`` at a time.

    ``reserve-with-timeout 0`` x batch goes out twice before any reply: whenever a batch's
    reserves have all come back, its ``delete <id>`` x batch goes out together with the next
    batch of reserves but one, so the server always has a batch of commands queued. The
    connection holds at most two batches reserved: beanstalkd's cost per command grows with
    the number of jobs the connection holds reserved (it scans them for the soonest
    deadline), so one N-deep pipeline would measure that, not the protocol. jackd's
    ``reserve_many(1000)`` holds as many.
    """
    if not count:
        return
    state = {"reserves": 0, "ids": 0, "deleted": 0, "sent_deletes": 0}
    ids: list[bytes] = []
    tail = bytearray()

    def reserves(k: int) -> bytes:
        k = min(k, count - state["reserves"])
        state["reserves"] += k
        return b"reserve-with-timeout 0\r\n" * k

    def feed(buf: bytearray, n: int) -> bytes:
        data = bytes(tail) + buf[:n] if tail else bytes(buf[:n])
        cut = data.rfind(b"\n") + 1
        tail[:] = data[cut:]
        whole = data[:cut]
        got = _RESERVED_ID.findall(whole)
        if b"TIMED_OUT" in whole or b"NOT_FOUND" in whole:
            raise RuntimeError("the tube ran dry or a delete failed before the drain ended")
        ids.extend(got)
        state["ids"] += len(got)
        state["deleted"] += whole.count(b"DELETED\r\n")
        more = []
        while len(ids) >= batch or (ids and state["ids"] == count):
            take = ids[:batch]
            del ids[:batch]
            state["sent_deletes"] += len(take)
            more.append(b"delete " + b"\r\ndelete ".join(take) + b"\r\n")
            more.append(reserves(batch))
        return b"".join(more)

    def floor() -> int:
        outstanding_reserves = state["reserves"] - state["ids"]
        outstanding_deletes = state["sent_deletes"] - state["deleted"]
        return outstanding_reserves * RESERVED_MIN + outstanding_deletes * DELETED_LEN - len(tail)

    Stream(sock).run(
        reserves(2 * batch),
        feed,
        lambda: state["deleted"] >= count,
        floor,
    )


def fill(address: str, count: int, body: bytes) -> None:
    """Put ``count`` jobs into the default tube (untimed setup for the consumer scenarios)."""
    with connect(address) as sock:
        for start in range(0, count, 50_000):
            put_pipelined(sock, min(50_000, count - start), body)
