"""Blocking socket helpers for the synchronous shell: connect, vector writes, error mapping.

Every helper takes a plain socket or a TLS one (``ssl.SSLSocket``). A TLS socket cannot
``sendmsg``, may need to read before it can write (and the reverse), and may hold decrypted
bytes that ``select`` does not see; ``send_buffers`` and ``exchange`` deal with all three.
"""

from __future__ import annotations

import contextlib
import select
import selectors
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, cast

from ._address import Endpoint
from ._errors import ConnectionLostError, JackdError
from ._protocol import Core, Payload, may_wait
from ._tls import failure, is_tls, next_write, wrap

if TYPE_CHECKING:
    import ssl

#: Linux's IOV_MAX; more buffers than this in one sendmsg fail with EMSGSIZE.
_IOV_MAX = 1024


def open_socket(
    endpoint: Endpoint, connect_timeout: float | None, context: ssl.SSLContext | None = None
) -> socket.socket:
    """Connect to ``endpoint``; a failure raises ConnectionLostError (a ConnectionError).

    With a TLS ``context`` the handshake runs too, each of its waits bounded by
    ``connect_timeout``, and the server's certificate is checked against the endpoint's host.
    """
    try:
        if endpoint.path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(connect_timeout)
                sock.connect(endpoint.path)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((endpoint.host, endpoint.port), connect_timeout)
            tune(sock)  # the TCP socket's own options, which TLS on top of it keeps
            if context is not None:
                sock = wrap(sock, context, endpoint)
    except OSError as exc:
        raise connect_error(endpoint, exc) from exc
    return sock


def connect_error(endpoint: Endpoint, exc: BaseException) -> ConnectionLostError:
    """The error for a failed attempt to connect to ``endpoint``; raise it ``from exc``."""
    why = failure(exc, endpoint)
    if why is None:
        why = f"cannot connect to beanstalkd at {endpoint}: {str(exc) or 'timed out'}"
    return ConnectionLostError(why)


#: TCP keepalive: first probe after this many idle seconds, then every KEEPALIVE_INTERVAL,
#: giving up after KEEPALIVE_COUNT unanswered probes. A worker blocked in reserve on a
#: half-open connection (the server's host vanished) learns of it in about a minute.
KEEPALIVE_IDLE = 30
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 3


def tune(sock: socket.socket) -> None:
    """Set the options every TCP connection to beanstalkd gets: no Nagle, keepalive on."""
    # Commands are small and latency-bound; Nagle would hold each one back.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPALIVE", KEEPALIVE_IDLE),  # macOS's name for the idle time
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            # A platform may name an option and still refuse it; keepalive is a bonus.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


def hung_up(sock: socket.socket) -> bool:
    """Whether the server has already closed this idle connection (checked without waiting).

    A command sent on such a connection never reached a server, but its failure would look
    the same as a server dying after reading it; one look before a command that must not be
    sent twice tells the two apart.
    """
    try:
        # poll, not the socket's own recv: with a socket timeout set, Python would wait
        # for data that long before peeking.
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        if not poller.poll(0):
            return False
        # The plain socket's recv, also for a TLS socket (whose own recv takes no flags): a
        # peek at the TCP stream consumes nothing.
        return socket.socket.recv(sock, 1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def send_buffers(sock: socket.socket, buffers: Sequence[bytes | bytearray | memoryview]) -> None:
    """Write every buffer with vectored ``sendmsg`` calls, never joining large ones into one.

    TLS has no vectored write: there small buffers are merged (see ``_tls.next_write``).
    """
    views = [memoryview(b) for b in buffers if len(b)]
    if is_tls(sock):
        while views:
            piece = next_write(views)
            sock.sendall(piece)
            _advance(views, len(piece))
        return
    while views:
        _advance(views, sock.sendmsg(views[:_IOV_MAX]))


def lost(exc: BaseException, endpoint: Endpoint, timeout: float | None) -> BaseException:
    """Map an exception raised mid-command to what the caller should see.

    The connection's state is unknown after any of these, so the caller closes it.
    """
    if isinstance(exc, JackdError):
        return exc
    if isinstance(exc, TimeoutError):
        return TimeoutError(
            f"no reply from beanstalkd at {endpoint} within {timeout} s; connection closed"
        )
    if isinstance(exc, OSError):
        return ConnectionLostError(f"connection to beanstalkd at {endpoint} lost: {exc}")
    return exc


def closing_reason(exc: BaseException, endpoint: Endpoint, command: str) -> JackdError:
    """Why the connection was closed, for every later call to say: ``exc`` cut ``command`` off."""
    if isinstance(exc, JackdError):
        return exc
    if isinstance(exc, TimeoutError):
        return ConnectionLostError(f"connection closed after {command} timed out: {exc}")
    what = type(exc).__name__
    detail = f" ({exc})" if str(exc) else ""
    return ConnectionLostError(
        f"connection to beanstalkd at {endpoint} closed: {what}{detail} interrupted {command} "
        "mid-command, so the server's state is unknown"
    )


#: Small payloads of a batch are joined into blocks of about this size before sending.
_BLOCK = 1 << 18


def gather(payloads: Iterable[Payload]) -> list[bytes | bytearray | memoryview]:
    """Join the small payloads of a batch into large blocks; large bodies stay as they are."""
    blocks: list[bytes | bytearray | memoryview] = []
    small: list[bytes] = []
    size = 0
    for payload in payloads:
        if isinstance(payload, bytes):
            small.append(payload)
            size += len(payload)
            if size >= _BLOCK:
                blocks.append(b"".join(small))
                small, size = [], 0
        else:
            if small:
                blocks.append(b"".join(small))
                small, size = [], 0
            blocks.extend(payload)
    if small:
        blocks.append(b"".join(small))
    return blocks


def exchange(
    sock: socket.socket,
    core: Core,
    blocks: list[bytes | bytearray | memoryview],
    count: int,
    wait: float | None,
    more: Callable[[], list[bytes | bytearray | memoryview]] | None = None,
) -> None:
    """Send ``blocks`` and read replies until ``count`` commands are answered.

    Writing and reading go on together, so a batch of any size cannot leave client and server
    both blocked on full socket buffers. ``wait`` bounds each silent wait, like a socket
    timeout, and raises TimeoutError. ``more``, when given, is called each time everything
    is written, for the blocks of the batch's next commands (an empty list: there are none).

    On TCP the reader is woken rarely: beanstalkd writes each reply on its own, and on
    loopback a reader blocked for data is woken by the server's ``write``, a cross-CPU
    wake-up charged to the server that doubled its cost per pipelined command. The socket's
    ``SO_RCVLOWAT`` (a lower bound of the reply bytes still to come, at most ``LOWAT``)
    keeps the kernel from waking the reader until many replies are in, and the last reply
    always reaches the mark. ``select`` also gives up after ``POLL`` and the reader takes
    what is there, so tiny reply packets never wait long unacknowledged (reading more often
    costs the server an acknowledgement each time). Once everything is sent and fewer than
    ``LOWAT`` reply bytes may still come, the poll is ``TAIL_POLL``: no write of ours carries
    an acknowledgement any more, and the server can stall on unacknowledged packets until
    the client reads, while the caller waits for exactly those last replies (a lock-step
    ``put_many`` of 1,000 spent 5 ms per call there). bench/RESULTS.md has the numbers.
    """
    views = [memoryview(b) for b in blocks if len(b)]
    tls = is_tls(sock)
    pending = _nothing_pending
    want_read: type[OSError] = _NeverError
    want_write: type[OSError] = _NeverError
    if tls:
        import ssl

        pending = cast("ssl.SSLSocket", sock).pending
        want_read, want_write = ssl.SSLWantReadError, ssl.SSLWantWriteError
    low = not tls and sock.family in (socket.AF_INET, socket.AF_INET6)
    lowat = 1
    # A TLS write may need the peer's bytes first and a TLS read may need to send (a
    # renegotiation, a key update): each then waits for the readiness it asked for.
    write_needs_read = read_needs_write = False
    interest = _READ | _WRITE if views else _READ
    previous = sock.gettimeout()
    selector = selectors.DefaultSelector()
    sock.setblocking(False)
    try:
        selector.register(sock, interest)
        done = 0
        quiet_since = time.monotonic()
        while done < count:
            timeout = wait
            polling = False
            if low:
                mark = max(1, min(LOWAT, (count - done) * MIN_REPLY - core.unframed()))
                if mark != lowat:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, mark)
                    lowat = mark
                # Once all is sent the mark is sure to be reached; before, the replies of
                # commands not yet sent count in it, and a reserve that waits at the head
                # would leave them all unsent and the mark unreached but for the poll.
                if mark > 1 and (views or not may_wait(core.pending[0])):
                    polling = True
                    timeout = TAIL_POLL if not views and mark < LOWAT else POLL
                    if wait is not None:
                        timeout = max(0.0, min(timeout, quiet_since + wait - time.monotonic()))
            if pending():
                # Decrypted bytes already inside the TLS object: select cannot see them.
                mask = _READ
            else:
                events = selector.select(timeout)
                if events:
                    mask = events[0][1]
                elif polling and (wait is None or time.monotonic() - quiet_since < wait):
                    mask = _READ  # below the mark: take what is there
                else:
                    raise TimeoutError("timed out")
            if mask & _READ:
                write_needs_read = False
            if mask & _WRITE and views and not write_needs_read:
                sent = 0
                try:
                    sent = sock.send(next_write(views)) if tls else sock.sendmsg(views[:_IOV_MAX])
                except (BlockingIOError, want_write):
                    pass
                except want_read:
                    write_needs_read = True
                if sent:
                    _advance(views, sent)
                    quiet_since = time.monotonic()
                    if not views and more is not None:
                        # The server runs what was just sent while the next is encoded.
                        views = [memoryview(b) for b in more() if len(b)]
                        if not views:
                            more = None
            if mask & _READ or (mask & _WRITE and read_needs_write):
                read_needs_write = False
                try:
                    n = sock.recv_into(core.get_buffer())
                except (BlockingIOError, want_read):
                    n = -1
                except want_write:
                    read_needs_write = True
                    n = -1
                if not n:
                    raise ConnectionLostError("the server closed the connection")
                if n > 0:
                    core.buffer_updated(n)
                    done += core.receive_all()
                    quiet_since = time.monotonic()
            wanted = _READ
            if (views and not write_needs_read) or read_needs_write:
                wanted |= _WRITE
            if wanted != interest:
                selector.modify(sock, wanted)
                interest = wanted
    finally:
        selector.close()
        if lowat != 1:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        sock.settimeout(previous)


def exchange_small(
    sock: socket.socket,
    core: Core,
    blocks: list[bytes | bytearray | memoryview],
    count: int,
    wait: float | None,
) -> None:
    """``exchange`` for a batch of at most ``SMALL_BATCH`` bytes: write it all, then read.

    The server's receive buffer takes that much whether or not it reads, so the write cannot
    wait for the reads, and a few commands (a worker's delete and next reserve, say) cost two
    system calls, as one command does, instead of a selector's dozen.
    """
    previous = sock.gettimeout()
    if wait != previous:
        sock.settimeout(wait)
    try:
        sock.sendall(blocks[0] if len(blocks) == 1 else b"".join(blocks))
        done = 0
        while done < count:
            n = sock.recv_into(core.get_buffer())
            if not n:
                raise ConnectionLostError("the server closed the connection")
            core.buffer_updated(n)
            done += core.receive_all()
    finally:
        if wait != previous:
            sock.settimeout(previous)


#: The largest batch ``exchange_small`` writes in one go (a TCP socket's smallest buffer).
SMALL_BATCH = 16_384


#: The low-water mark's ceiling: the reader wakes once this many reply bytes wait, at most.
LOWAT = 16_384
#: ... or after this many seconds, whichever comes first (0.2-2 ms cost the server more).
POLL = 0.005
#: The poll once everything is sent and fewer than ``LOWAT`` reply bytes may still come.
TAIL_POLL = 0.000_2
#: The shortest reply beanstalkd sends (``BURIED``, ``KICKED``, ``PAUSED``, ``OK 0`` with
#: its empty chunk), so ``MIN_REPLY`` bytes per unanswered command is a lower bound.
MIN_REPLY = 8


_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


class _NeverError(OSError):
    """Never raised: stands in for ssl's want-read and want-write errors on a plain socket."""


def _nothing_pending() -> int:
    return 0


def _advance(views: list[memoryview], sent: int) -> None:
    done = 0
    for view in views:
        if sent < len(view):
            break
        sent -= len(view)
        done += 1
    del views[:done]
    if sent:
        views[0] = views[0][sent:]
