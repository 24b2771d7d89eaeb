"""The sans-I/O protocol core: reply framing, the receive buffer and the pending FIFO.

Nothing here touches a socket. A shell (the sync client, the asyncio protocol) writes the bytes
of a command, appends it to ``Core.pending``, and feeds what it reads back through
``get_buffer``/``buffer_updated``; ``receive`` then hands each framed reply to the oldest
pending command, which interprets it. beanstalkd answers strictly in order, so the FIFO is all
the bookkeeping pipelining needs.

Strategy for the receive side:

* Reply framing does not depend on the command. ``RESERVED``, ``FOUND`` and ``OK`` carry
  ``<bytes>`` followed by a chunk and CRLF; every other reply is one line. The parser finds the
  line's CRLF, then takes exactly ``<bytes> + 2`` bytes and checks the trailer. It never searches
  a body for CRLF, so bodies may hold any bytes.
* The line scan remembers how far it has looked, so bytes that trickle in one at a time cost no
  rescans.
* Small replies land in one fixed buffer that is compacted, never grown. A body too large for it
  gets a buffer of its own, exactly ``<bytes> + 2`` long, which ``get_buffer`` hands out for the
  shell to read straight into (``recv_into`` or ``asyncio.BufferedProtocol``), so a large body is
  never assembled by concatenation, and a read never takes bytes past the body.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, NoReturn, TypeVar

from ._errors import (
    BadFormatError,
    ConnectionLostError,
    JackdError,
    ProtocolError,
    ServerError,
    UnknownCommandError,
)

T = TypeVar("T")

#: A reply line is at most 224 bytes with its CRLF (``USING`` and a 200-byte tube name).
MAX_LINE = 224
#: beanstalkd clamps ``-z`` to 1 GiB, so no legal chunk is longer.
MAX_CHUNK = 1 << 30

_CRLF = b"\r\n"
_MIN_READ = 4096  # compact before offering a read smaller than this
_CHUNKED = frozenset((b"RESERVED", b"FOUND", b"OK"))

#: What the shells write: one bytes object, or several buffers that go out in one
#: ``sendmsg``/``writelines`` so a large body is never copied next to its header.
Payload = bytes | Sequence[bytes | bytearray | memoryview]
ReplyParser = Callable[[list[bytes], bytes | None], T]
#: A framed reply: its line split on spaces, and its chunk (None for one-line replies).
Reply = tuple[list[bytes], bytes | None]


class Command(Generic[T]):
    """One request on the wire and the knowledge to turn its reply into a ``T``.

    After ``Core.receive`` returns it, exactly one of ``result`` and ``error`` is meaningful:
    ``error`` is the ServerError the reply stood for, or None.
    """

    __slots__ = ("data", "error", "name", "parse", "result", "waiter")

    def __init__(self, name: str, data: Payload, parse: ReplyParser[T]) -> None:
        self.name = name
        self.data = data
        self.parse = parse
        self.error: ServerError | None = None
        self.result: T
        #: Free for the shell: the asyncio client keeps the caller's future here.
        self.waiter: Any = None

    def __repr__(self) -> str:
        return f"<Command {self.name}>"


class Core:
    """Receive buffer, reply framing and FIFO of commands waiting for replies."""

    __slots__ = (
        "_big",
        "_big_got",
        "_big_parts",
        "_buf",
        "_end",
        "_scan",
        "_start",
        "_view",
        "failure",
        "pending",
    )

    def __init__(self, buffer_size: int = 1 << 16) -> None:
        # The buffer is never resized: get_buffer hands out views of it, and a bytearray with
        # live views cannot change size.
        self._buf = bytearray(buffer_size)
        self._view = memoryview(self._buf)
        self._start = 0  # first unconsumed byte
        self._end = 0  # one past the last byte received
        self._scan = 0  # where the CRLF search resumes
        self._big: bytearray | None = None  # chunk + CRLF of a large body being read
        self._big_got = 0
        self._big_parts: list[bytes] = []
        #: Commands sent and not yet answered, oldest first.
        self.pending: deque[Command[Any]] = deque()
        #: Set once the stream can no longer be trusted; the shell must then close.
        self.failure: JackdError | None = None

    # -- feeding bytes -----------------------------------------------------------------------

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Return a writable view to read the next bytes from the server into."""
        if self._big is not None:
            return memoryview(self._big)[self._big_got :]
        end = self._end
        if not end:
            return self._view  # the usual case between replies: no slice to make
        if len(self._buf) - end < _MIN_READ and self._start:
            self._compact()
        return self._view[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        """Record that ``nbytes`` were written into the view from ``get_buffer``."""
        if self._big is not None:
            self._big_got += nbytes
        else:
            self._end += nbytes

    def feed(self, data: bytes) -> list[Command[Any]]:
        """Take ``data`` as if read from the server; return the commands it completed.

        For tests and tools: the shells read straight into ``get_buffer`` views instead.
        """
        done: list[Command[Any]] = []
        view = memoryview(data)
        while True:
            while (cmd := self.receive()) is not None:
                done.append(cmd)
            if not view:
                return done
            target = self.get_buffer()
            n = min(len(target), len(view))
            target[:n] = view[:n]
            self.buffer_updated(n)
            view = view[n:]

    def _compact(self) -> None:
        # Framing keeps unread data under half the buffer (lines are short, chunks that do
        # not fit go to a buffer of their own), so compaction always frees room.
        unread = self._end - self._start
        self._buf[:unread] = self._buf[self._start : self._end]
        self._scan -= self._start
        self._start = 0
        self._end = unread

    # -- framing -----------------------------------------------------------------------------

    def receive(self) -> Command[Any] | None:
        """Frame the next complete reply and hand it to the oldest pending command.

        Returns that command, its ``result`` or ``error`` set, or None when more bytes are
        needed. Raises ProtocolError (and sets ``failure``) on bytes that make no sense.
        """
        reply = self.frame()
        if reply is None:
            return None
        return self._deliver(*reply)

    def read_reply(self, recv_into: Callable[[memoryview], int]) -> Reply:
        """Read with ``recv_into`` until one whole reply is framed, and return it.

        For a shell with exactly one command in flight and nothing buffered, such as the
        blocking client: it skips the pending FIFO, and the shell applies the command's parser
        itself, passing what it raises through ``explain``. ``recv_into`` returning 0 means
        the server closed the connection.
        """
        while True:
            # The usual case, an empty buffer, without the call to get_buffer.
            n = recv_into(self._view if not self._end and self._big is None else self.get_buffer())
            if not n:
                raise ConnectionLostError("beanstalkd closed the connection")
            if self._big is not None:
                self._big_got += n
            else:
                self._end += n
            reply = self.frame()
            if reply is not None:
                if self._end:
                    # beanstalkd answers each command once and says nothing unasked; bytes
                    # after the one reply expected mean the stream is out of step.
                    self._fail("more bytes after the reply than the one command asked for")
                return reply

    def frame(self) -> Reply | None:
        """Cut the next complete reply out of the buffer, or return None if it is not all in.

        The reply is its line split on spaces and its chunk (None for one-line replies).
        """
        if self.failure is not None:
            raise self.failure
        big = self._big
        if big is not None:
            return self._finish_big(big)
        buf = self._buf
        start = self._start
        end = self._end
        eol = buf.find(b"\r\n", self._scan, end)
        if eol < 0:
            if end - start >= MAX_LINE:
                self._fail(f"reply line longer than {MAX_LINE} bytes")
            self._scan = max(start, end - 1)
            return None
        if eol - start > MAX_LINE - 2:
            self._fail(f"reply line longer than {MAX_LINE} bytes")
        parts = bytes(buf[start:eol]).split(b" ")
        if parts[0] not in _CHUNKED:
            start = eol + 2
            if start == end:
                self._start = self._end = self._scan = 0
            else:
                self._start = self._scan = start
            return parts, None
        size = self._chunk_size(parts)
        first = eol + 2
        stop = first + size
        if stop + 2 <= end:
            if buf[stop] != 13 or buf[stop + 1] != 10:
                self._fail("reply chunk not followed by CRLF")
            start = stop + 2
            if start == end:
                self._start = self._end = self._scan = 0
            else:
                self._start = self._scan = start
            return parts, bytes(buf[first:stop])
        if size + 2 <= len(buf) // 2:
            # Wait for the rest in this buffer; there is room once consumed bytes go.
            self._scan = eol
            return None
        big = bytearray(size + 2)
        have = end - first
        big[:have] = buf[first:end]
        self._big, self._big_got, self._big_parts = big, have, parts
        self._start = self._end = self._scan = 0
        return None

    def _finish_big(self, big: bytearray) -> Reply | None:
        if self._big_got < len(big):
            return None
        if big[-2:] != _CRLF:
            self._fail("reply chunk not followed by CRLF")
        self._big = None
        return self._big_parts, bytes(memoryview(big)[:-2])

    def _chunk_size(self, parts: list[bytes]) -> int:
        field = parts[-1]
        if len(parts) < 2 or not field.isdigit() or len(field) > 10:
            self._fail(f"bad chunk size in {b' '.join(parts)[:60]!r}")
        size = int(field)
        if size > MAX_CHUNK:
            self._fail(f"chunk of {size} bytes is larger than beanstalkd allows")
        return size

    def _deliver(self, parts: list[bytes], body: bytes | None) -> Command[Any]:
        if not self.pending:
            self._fail(f"reply {b' '.join(parts)[:60]!r} with no command waiting for it")
        cmd = self.pending[0]
        try:
            cmd.result = cmd.parse(parts, body)
        except Exception as exc:
            error = self.explain(cmd.name, exc, parts)
            if not isinstance(error, ServerError):
                raise error from None  # the command stays pending, for the shell to fail
            cmd.error = error
        self.pending.popleft()
        return cmd

    def explain(self, name: str, exc: Exception, parts: list[bytes]) -> Exception:
        """Return what a reply parser's exception means, and set ``failure`` if it is fatal.

        Nonsense becomes a ProtocolError. A put line the server rejected stays a ServerError,
        but is fatal all the same: the server then reads the body as commands, and the
        replies to come can no longer be matched to anything sent.
        """
        if isinstance(exc, ServerError):
            if name == "put" and isinstance(exc, (BadFormatError, UnknownCommandError)):
                self.failure = ConnectionLostError(
                    "connection closed: the server rejected a put line and may read its body "
                    "as commands"
                )
            return exc
        if not isinstance(exc, ProtocolError):
            exc = ProtocolError(f"malformed reply to {name}: {b' '.join(parts)[:60]!r} ({exc})")
        self.failure = exc
        return exc

    def _fail(self, message: str) -> NoReturn:
        self.failure = ProtocolError(message)
        raise self.failure
