"""The exception tree and the table from server status words to exceptions."""

from __future__ import annotations


class JackdError(Exception):
    """Base class of every error jackd raises on purpose."""


class ConnectionLostError(JackdError, ConnectionError):
    """The connection was refused, reset or closed, or the client was closed.

    The connection is unusable afterwards: every later call on the same client raises this
    error too. Whether the command in flight reached the server is unknown.
    """


class ProtocolError(JackdError):
    """The server sent bytes that make no sense; the connection has been closed."""


class ServerError(JackdError):
    """A well-formed error reply from the server; the connection stays usable."""

    #: The status word the server sent, such as ``"NOT_FOUND"``.
    status: str = ""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.status)


class NotFoundError(ServerError):
    """The job or tube does not exist, or the job is not reserved by this connection."""

    status = "NOT_FOUND"


class TimedOutError(ServerError):
    """``reserve(timeout=...)`` found no job before the timeout ran out."""

    status = "TIMED_OUT"


class DeadlineSoonError(ServerError):
    """A job reserved by this connection is within a second of its TTR deadline.

    Delete, release, bury or touch that job; reserving again answers the same until then.
    """

    status = "DEADLINE_SOON"


class BuriedError(ServerError):
    """The server buried the job because it ran out of memory to queue it.

    ``id`` is the buried job's id when the server gave one (the reply to ``put``), else None.
    """

    status = "BURIED"

    def __init__(self, id: int | None = None) -> None:
        super().__init__("BURIED" if id is None else f"BURIED {id}")
        self.id = id


class DrainingError(ServerError):
    """The server is in drain mode and accepts no new jobs."""

    status = "DRAINING"


class JobTooBigError(ServerError):
    """The body is larger than the server's ``max-job-size``; nothing was sent."""

    status = "JOB_TOO_BIG"


class NotIgnoredError(ServerError):
    """The tube is the last one on the watch list and cannot be ignored."""

    status = "NOT_IGNORED"


class OutOfMemoryError(ServerError):
    """The server could not allocate memory or binlog space for the command."""

    status = "OUT_OF_MEMORY"


class InternalError(ServerError):
    """The server hit an internal error, usually a failed binlog write."""

    status = "INTERNAL_ERROR"


class BadFormatError(ServerError):
    """The server could not parse the command line jackd sent."""

    status = "BAD_FORMAT"


class ExpectedCRLFError(ServerError):
    """The server did not find CRLF after a job body."""

    status = "EXPECTED_CRLF"


class UnknownCommandError(ServerError):
    """The server does not know the command jackd sent."""

    status = "UNKNOWN_COMMAND"


_BY_STATUS: dict[bytes, type[ServerError]] = {
    cls.status.encode(): cls
    for cls in (
        NotFoundError,
        TimedOutError,
        DeadlineSoonError,
        BuriedError,
        DrainingError,
        JobTooBigError,
        NotIgnoredError,
        OutOfMemoryError,
        InternalError,
        BadFormatError,
        ExpectedCRLFError,
        UnknownCommandError,
    )
}


def error_for(parts: list[bytes], command: str) -> JackdError:
    """Return the exception for a reply that is not the command's success reply.

    A known status word gives its ServerError; anything else is a ProtocolError, which makes
    the caller close the connection.
    """
    cls = _BY_STATUS.get(parts[0])
    if cls is BuriedError:
        if len(parts) == 1:
            return BuriedError()
        if len(parts) == 2 and command == "put" and parts[1].isdigit():
            return BuriedError(int(parts[1]))
    elif cls is not None and len(parts) == 1:
        return cls()
    shown = b" ".join(parts)[:100].decode("ascii", "backslashreplace")
    return ProtocolError(f"unexpected reply to {command}: {shown!r}")
