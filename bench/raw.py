"""Raw-socket pipelining: the fastest a single Python connection can drive beanstalkd.

Everything is written with one ``sendall`` from a helper thread while the calling thread reads
the replies, so neither side ever waits for the other: the server, not the client, sets the
pace. These helpers also pre-fill tubes for the consumer scenarios, where the filling is not
timed.
"""

from __future__ import annotations

import re
import socket
import threading

_RESERVED_ID = re.compile(rb"RESERVED (\d+) ")


def connect(address: str) -> socket.socket:
    """A TCP connection to ``host:port`` with Nagle off."""
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host.strip("[]"), int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def exchange(sock: socket.socket, payload: bytes, lines: int, keep: bool = False) -> bytes:
    """Send ``payload`` in one ``sendall`` while reading until ``lines`` reply lines came.

    Counts LF bytes, so it only works where no job body holds one (the suite's bodies are
    ``b"x" * size``). Returns what was read if ``keep``, else b"".
    """
    failure: list[BaseException] = []

    def send() -> None:
        try:
            sock.sendall(payload)
        except BaseException as exc:  # reported by the reading side
            failure.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    buf = bytearray(1 << 20)
    chunks: list[bytes] = []
    seen = 0
    while seen < lines:
        n = sock.recv_into(buf)
        if not n:
            raise ConnectionError(f"server closed after {seen} of {lines} reply lines")
        seen += buf.count(b"\n", 0, n)
        if keep:
            chunks.append(bytes(buf[:n]))
    sender.join()
    if failure:
        raise failure[0]
    if seen != lines:
        raise RuntimeError(f"expected {lines} reply lines, got {seen}")
    return b"".join(chunks)


def put_payload(count: int, body: bytes) -> bytes:
    """``count`` identical ``put`` commands (priority 0, no delay, ttr 60) in one buffer."""
    return (b"put 0 0 60 %d\r\n%b\r\n" % (len(body), body)) * count


def put_pipelined(sock: socket.socket, count: int, body: bytes) -> None:
    """Put ``count`` jobs in one pipelined write; each reply is one ``INSERTED id`` line."""
    if count:
        exchange(sock, put_payload(count, body), count)


def drain_pipelined(sock: socket.socket, count: int, batch: int = 1000) -> None:
    """Reserve ``count`` ready jobs and delete them, ``batch`` at a time, pipelined.

    Each batch is two writes: ``reserve-with-timeout 0`` x batch (each reply is two lines,
    the header and the body), then ``delete <id>`` x batch with the ids parsed from those
    replies. Batches, because beanstalkd's cost per command grows with the number of jobs the
    connection holds reserved (it scans them for the soonest deadline): one N-deep pipeline
    would measure that quadratic cost, not the protocol. jackd's ``reserve_many`` batches
    of the same size hold as many.
    """
    while count > 0:
        size = min(batch, count)
        replies = exchange(sock, b"reserve-with-timeout 0\r\n" * size, 2 * size, keep=True)
        ids = _RESERVED_ID.findall(replies)
        if len(ids) != size:
            raise RuntimeError(f"reserved {len(ids)} jobs, expected {size}")
        exchange(sock, b"delete " + b"\r\ndelete ".join(ids) + b"\r\n", size)
        count -= size


def fill(address: str, count: int, body: bytes) -> None:
    """Put ``count`` jobs into the default tube (untimed setup for the consumer scenarios)."""
    with connect(address) as sock:
        for start in range(0, count, 50_000):
            put_pipelined(sock, min(50_000, count - start), body)
