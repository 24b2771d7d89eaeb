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
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, TypeVar

from ._errors import (
    BadFormatError,
    ConnectionLostError,
    JackdError,
    ProtocolError,
    ServerError,
    UnknownCommandError,
    describe_refusal,
)

if TYPE_CHECKING:
    from ._session import Session

T = TypeVar("T")

#: A reply line is at most 224 bytes with its CRLF (``USING`` and a 200-byte tube name).
MAX_LINE = 224
#: beanstalkd clamps ``-z`` to 1 GiB, so no legal chunk is longer.
MAX_CHUNK = 1 << 30

_CRLF = b"\r\n"
_MIN_READ = 4096  # compact before offering a read smaller than this
_CHUNKED = frozenset((b"RESERVED", b"FOUND", b"OK"))
_JOB_REPLIES = frozenset((b"RESERVED", b"FOUND"))
#: The status word the framing puts in place of RESERVED or FOUND for a damaged body.
CORRUPT_JOB = b"JACKD_CORRUPT_JOB"
_BIG_FIRST = 1 << 20  # room for the rest of a large chunk, before any more of it arrived

#: What the shells write: one bytes object, or several buffers that go out in one
#: ``sendmsg``/``writelines`` so a large body is never copied next to its header.
Payload = bytes | Sequence[bytes | bytearray | memoryview]
ReplyParser = Callable[[list[bytes], bytes | None], T]
#: A framed reply: its line split on spaces, and its chunk (None for one-line replies).
Reply = tuple[list[bytes], bytes | None]


Changes = Literal["", "use", "watch", "ignore"]


class Kind(Generic[T]):
    """One kind of command and the facts about it that the session and the shells act on.

    Facts are declared once here, per kind, so nothing downstream recognises a command by its
    name or by re-parsing its bytes.
    """

    __slots__ = (
        "blocks",
        "changes",
        "holds_job",
        "name",
        "parse",
        "replayable",
        "reserves",
        "settles_job",
        "tracked",
    )

    def __init__(
        self,
        name: str,
        parse: ReplyParser[T],
        *,
        replayable: bool = False,
        reserves: bool = False,
        blocks: bool = False,
        holds_job: bool = False,
        settles_job: bool = False,
        changes: Changes = "",
    ) -> None:
        #: The protocol's name for it, as in ``stats``' ``cmd-`` counters.
        self.name = name
        #: Turns the framed reply into the result, or raises the error it stands for.
        self.parse = parse
        #: Sending it again on a new connection cannot change the server twice.
        self.replayable = replayable
        #: A successful reply is a job this connection now holds reserved.
        self.reserves = reserves
        #: The server may wait indefinitely before it answers (a reserve with no timeout).
        self.blocks = blocks
        #: Only valid for a job this connection holds (``touch``, ``release``, ``bury``).
        self.holds_job = holds_job
        #: After it, this connection no longer holds the job (``delete``, ``release``, ``bury``).
        self.settles_job = settles_job
        #: Which part of the connection's tubes it changes, if any.
        self.changes: Changes = changes
        #: Whether its reply changes the session at all (checked on every reply).
        self.tracked = reserves or settles_job or holds_job or bool(changes)

    def __repr__(self) -> str:
        return f"<Kind {self.name}>"


class Command(Generic[T]):
    """One request on the wire: its kind, its bytes, its argument, and later its outcome.

    ``arg`` is what the request names: the job id, the tube name, or the seconds of a
    ``reserve-with-timeout`` (None for commands with no argument, and for ``put``).
    After the reply is delivered, exactly one of ``result`` and ``error`` is meaningful:
    ``error`` is the exception the reply stood for, or None.
    """

    __slots__ = ("arg", "data", "error", "kind", "result", "sent_at", "waiter")

    def __init__(self, kind: Kind[T], data: Payload, arg: int | str | None = None) -> None:
        self.kind = kind
        self.data = data
        self.arg = arg
        self.error: Exception | None = None
        self.result: T
        #: Free for the shell: the asyncio client keeps the caller's waiter here.
        self.waiter: Any = None
        #: When a reserve was sent (a shell's clock), to replay it with the time it has left.
        self.sent_at = 0.0

    @property
    def name(self) -> str:
        """The protocol's name of the command (``reserve`` also for reserve-with-timeout)."""
        return self.kind.name

    @property
    def parse(self) -> ReplyParser[T]:
        """The kind's reply parser."""
        return self.kind.parse

    def describe(self) -> str:
        """The command as a person would name it in an error: ``delete 42``, ``use emails``."""
        if self.arg is None:
            return self.kind.name
        if self.kind.name == "reserve":
            return f"reserve-with-timeout {self.arg}"
        return f"{self.kind.name} {self.arg}"

    def __repr__(self) -> str:
        return f"<Command {self.describe()}>"


def may_wait(cmd: Command[Any]) -> bool:
    """Whether the server may hold back the reply to ``cmd`` (a reserve with a wait)."""
    kind = cmd.kind
    return kind.blocks or (kind.reserves and kind.name == "reserve" and bool(cmd.arg))


class Core:
    """Receive buffer, reply framing, the FIFO of commands waiting for replies, and the session.

    ``label`` names the server in error messages (``beanstalkd at host:port``). ``session``
    is what the replies taught about this connection (see ``jackd._session``); it survives
    ``reset``, which starts a new connection.
    """

    __slots__ = (
        "_big",
        "_big_base",
        "_big_chunks",
        "_big_got",
        "_big_need",
        "_big_parts",
        "_buf",
        "_end",
        "_epoch",
        "_scan",
        "_start",
        "_view",
        "failure",
        "label",
        "pending",
        "session",
    )

    def __init__(
        self,
        buffer_size: int = 1 << 16,
        label: str = "beanstalkd",
        session: Session | None = None,
    ) -> None:
        # The buffer is never resized: get_buffer hands out views of it, and a bytearray with
        # live views cannot change size.
        self._buf = bytearray(buffer_size)
        self._view = memoryview(self._buf)
        self.label = label
        if session is None:
            from ._session import Session

            session = Session()
        self.session: Session = session
        self.pending: deque[Command[Any]] = deque()
        self._clear()

    def _clear(self) -> None:
        #: Counts resets, so a loop over replies can tell that one happened under it.
        self._epoch = getattr(self, "_epoch", 0) + 1
        self._start = 0  # first unconsumed byte
        self._end = 0  # one past the last byte received
        self._scan = 0  # where the CRLF search resumes
        # A large chunk being read: the buffer now filling, the ones already full, how many
        # bytes it has and needs in all (chunk + CRLF), and the reply line it belongs to.
        self._big: bytearray | None = None
        self._big_chunks: list[bytearray] = []
        self._big_base = 0  # bytes in the full buffers of _big_chunks
        self._big_got = 0
        self._big_need = 0
        self._big_parts: list[bytes] = []
        #: Commands sent and not yet answered, oldest first.
        self.pending.clear()
        #: Set once the stream can no longer be trusted; the shell must then close.
        self.failure: JackdError | None = None

    def reset(self) -> Session:
        """Start over for a new connection; return the tubes the old one had.

        The buffer and the pending FIFO are emptied (the caller has taken what it needs of
        them), and the session learns that the server dropped the connection, so its
        reservations are gone. The returned tubes are what a new connection must be brought
        back to.
        """
        self._clear()
        return self.session.connection_lost()

    # -- feeding bytes -----------------------------------------------------------------------

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Return a writable view to read the next bytes from the server into."""
        big = self._big
        if big is not None:
            got = self._big_got - self._big_base
            if got == len(big):
                big = self._next_big_buffer(big)
                got = 0
            return memoryview(big)[got:]
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

    def unframed(self) -> int:
        """How many bytes have been received and not yet framed into a reply."""
        if self._big is not None:
            return self._big_got
        return self._end - self._start

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
        # not fit go to buffers of their own), so compaction always frees room.
        unread = self._end - self._start
        self._buf[:unread] = self._buf[self._start : self._end]
        self._scan -= self._start
        self._start = 0
        self._end = unread

    # -- framing -----------------------------------------------------------------------------

    def receive(self) -> Command[Any] | None:
        """Frame the next complete reply and deliver it to the oldest pending command.

        Returns that command, its ``result`` or ``error`` set, or None when more bytes are
        needed. Raises ProtocolError (and sets ``failure``) on bytes that make no sense; the
        command then stays pending, for the shell to fail.
        """
        reply = self.frame()
        if reply is None:
            return None
        if not self.pending:
            self._fail(f"reply {b' '.join(reply[0])[:60]!r} with no command waiting for it")
        cmd = self.deliver(self.pending[0], *reply)
        self.pending.popleft()
        return cmd

    def receive_all(self, each: Callable[[Command[Any]], object] | None = None) -> int:
        """Deliver every complete reply now buffered; return how many commands they answered.

        ``each``, if given, is called with every answered command as soon as it is answered.

        What ``receive`` does in a loop, for the shells' batches: a pipelined read holds
        hundreds of replies, and framing each through ``frame`` cost more than the system
        calls. Replies that fit the buffer whole (nearly all) are framed here with the
        buffer's state kept in locals, then go through ``deliver`` like any other; anything
        else (a partial or large chunk, a damaged one, a line that is too long, a failure) is
        left to ``receive``.
        """
        pending = self.pending
        done = 0
        if self._big is None and self.failure is None:
            buf = self._buf
            find = buf.find
            start = self._start
            end = self._end
            scan = self._scan
            deliver = self.deliver
            popleft = pending.popleft
            epoch = self._epoch
            try:
                while pending and start < end:
                    eol = find(b"\r\n", scan, end)
                    if eol < 0 or eol - start > MAX_LINE - 2:
                        break  # receive reports a line too long
                    parts = bytes(buf[start:eol]).split(b" ")
                    body = None
                    after = eol + 2
                    if parts[0] in _CHUNKED:
                        field = parts[-1]
                        if len(parts) < 2 or not field.isdigit() or len(field) > 10:
                            break
                        stop = after + int(field)
                        if stop + 2 > end or buf[stop] != 13 or buf[stop + 1] != 10:
                            break
                        body = bytes(buf[after:stop])
                        after = stop + 2
                    cmd = pending[0]
                    # What frame would have left, should deliver report a reply that makes no
                    # sense with the bytes that followed it.
                    self._start = after
                    deliver(cmd, parts, body)
                    popleft()
                    done += 1
                    start = scan = after
                    if each is not None:
                        self._start, self._scan = start, scan
                        each(cmd)
                        if self._epoch != epoch:
                            return done  # the connection was reset under us: nothing to keep
                    if self.failure is not None:
                        break
            finally:
                if self._epoch != epoch:
                    pass
                elif start == end:
                    self._start = self._end = self._scan = 0
                else:
                    self._start = start
                    self._scan = scan
        while (answered := self.receive()) is not None:
            done += 1
            if each is not None:
                each(answered)
        return done

    def read_reply(self, recv_into: Callable[[memoryview], int]) -> Reply:
        """Read with ``recv_into`` until one whole reply is framed, and return it.

        For a shell with exactly one command in flight and nothing buffered, such as the
        blocking client: it skips the pending FIFO, and the shell passes the reply to
        ``deliver`` itself, then calls ``check_drained``. ``recv_into`` returning 0 means the
        server closed the connection.
        """
        while True:
            # The usual case, an empty buffer, without the call to get_buffer.
            n = recv_into(self._view if not self._end and self._big is None else self.get_buffer())
            if not n:
                raise ConnectionLostError(f"{self.label} closed the connection")
            if self._big is not None:
                self._big_got += n
            else:
                self._end += n
            reply = self.frame()
            if reply is not None:
                return reply

    def check_drained(self) -> None:
        """After the one reply a lone command expects: nothing more may have come.

        beanstalkd answers each command once and says nothing unasked; bytes after the reply
        mean the stream is out of step. Checked after the reply was delivered, so a reply
        that makes no sense is reported as such, with what followed it.
        """
        if self._end:
            self._fail("more bytes after the reply than the one command asked for")

    def frame(self) -> Reply | None:
        """Cut the next complete reply out of the buffer, or return None if it is not all in.

        The reply is its line split on spaces and its chunk (None for one-line replies).
        """
        if self.failure is not None:
            raise self.failure
        if self._big is not None:
            return self._finish_big()
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
                parts = self._damaged(parts)
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
        # A chunk too large for the buffer goes to buffers of its own. Memory follows the
        # bytes that arrive, not the size the header claims: the first buffer holds what is
        # here plus room for one more read, and each next one doubles what came so far.
        have = end - first
        big = bytearray(min(size + 2, max(have + _BIG_FIRST, 2 * have)))
        big[:have] = buf[first:end]
        self._big, self._big_chunks, self._big_base, self._big_got = big, [], 0, have
        self._big_need, self._big_parts = size + 2, parts
        self._start = self._end = self._scan = 0
        return self._finish_big()

    def _next_big_buffer(self, full: bytearray) -> bytearray:
        self._big_chunks.append(full)
        self._big_base += len(full)
        got = self._big_got
        big = bytearray(min(self._big_need - got, max(got, _BIG_FIRST)))
        self._big = big
        return big

    def _finish_big(self) -> Reply | None:
        last = self._big
        if last is None or self._big_got < self._big_need:
            return None
        pieces = [memoryview(c) for c in (*self._big_chunks, last)]
        # Cut the CRLF off the end of the views (it may straddle two), then join them, so
        # the body is copied once.
        tail = b""
        while len(tail) < 2:
            piece = pieces[-1]
            take = min(2 - len(tail), len(piece))
            tail = bytes(piece[len(piece) - take :]) + tail
            pieces[-1] = piece[: len(piece) - take]
            if not pieces[-1]:
                pieces.pop()
        parts = self._big_parts if tail == _CRLF else self._damaged(self._big_parts)
        self._big, self._big_chunks, self._big_base = None, [], 0
        return parts, b"".join(pieces)

    def _damaged(self, parts: list[bytes]) -> list[bytes]:
        """The reply line for a job whose body does not end in CRLF; fails for any other.

        beanstalkd stores a body with its CRLF and sends exactly the bytes it announced, so
        after such a job the stream is still in step: the fault is the server's stored copy
        (see CorruptJobError), and only that command fails. Any other chunk without its CRLF
        means the stream is out of step.
        """
        if parts[0] not in _JOB_REPLIES or len(parts) != 3:
            self._fail("reply chunk not followed by CRLF")
        return [CORRUPT_JOB, parts[1], parts[2]]

    def _chunk_size(self, parts: list[bytes]) -> int:
        field = parts[-1]
        if len(parts) < 2 or not field.isdigit() or len(field) > 10:
            self._fail(f"bad chunk size in {b' '.join(parts)[:60]!r}")
        size = int(field)
        if size > MAX_CHUNK:
            self._fail(f"chunk of {size} bytes is larger than beanstalkd allows")
        return size

    # -- delivery ----------------------------------------------------------------------------

    def deliver(self, cmd: Command[T], parts: list[bytes], body: bytes | None) -> Command[T]:
        """Give a framed reply to its command: set its result or error, update the session.

        This is the one path every reply takes, in both shells, for single commands and
        batches alike. A reply that makes no sense raises ProtocolError and sets
        ``failure``; the command is then left as it was.
        """
        kind = cmd.kind
        try:
            cmd.result = kind.parse(parts, body)
        except ServerError as exc:
            cmd.error = self._refused(cmd, exc)
        except Exception as exc:
            raise self._nonsense(cmd, exc, parts) from None
        if kind.tracked:
            self.session.apply(cmd)
        return cmd

    def _refused(self, cmd: Command[Any], exc: ServerError) -> ServerError:
        """Name the command in a server error; note when the stream can no longer be trusted.

        A put line the server rejected is fatal all the same: the server then reads the
        body as commands, and the replies to come can no longer be matched to anything sent.
        """
        exc.args = (describe_refusal(exc, cmd.describe(), cmd.kind.name),)
        if cmd.kind.name == "put" and isinstance(exc, (BadFormatError, UnknownCommandError)):
            self.failure = ConnectionLostError(
                f"connection to {self.label} closed: the server rejected a put line and may "
                "read its body as commands"
            )
        return exc

    def _nonsense(self, cmd: Command[Any], exc: Exception, parts: list[bytes]) -> JackdError:
        # Show what came, the line and whatever followed it, so a reader can tell what kind
        # of server this is (an HTTP or Redis server answers in its own way).
        seen = b" ".join(parts) + b"\r\n" + bytes(self._buf[self._start : self._end])
        why = exc if isinstance(exc, ProtocolError) else f"bad reply to {cmd.describe()}: {exc}"
        self.failure = ProtocolError(
            f"{self.label}: {why}; the reply began {seen[:80]!r} (is this a beanstalkd server?)"
        )
        return self.failure

    def _fail(self, message: str) -> NoReturn:
        self.failure = ProtocolError(f"{self.label}: {message}")
        raise self.failure
