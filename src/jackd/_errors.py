"""The exception tree and the table from server status words to exceptions."""

from __future__ import annotations

from typing import Any


class JackdError(Exception):
    """Base class of every error jackd raises on purpose."""


class ConnectionLostError(JackdError, ConnectionError):
    """The connection was refused, reset or closed, or the client was closed.

    Without ``reconnect`` the client is unusable afterwards: every later call raises this
    error too. With ``reconnect``, the client has reconnected (or says in the message how many
    attempts failed), and the message says whether the command in flight may have taken
    effect.
    """

    maybe_applied: bool = False
    """True when the command was sent before the connection dropped, so it may have taken
    effect (a put may have stored its job); False when it was known not to have been sent.
    Set where the client knows: with a reconnect policy, and in the pool.
    """


class ProtocolError(JackdError):
    """The server sent bytes that make no sense; the connection has been closed."""


class ServerError(JackdError):
    """A well-formed error reply from the server; the connection stays usable."""

    status: str = ""
    """The status word the server sent, such as ``"NOT_FOUND"``."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.status)


class NotFoundError(ServerError):
    """The job or tube does not exist, or the job is not reserved by this connection."""

    status = "NOT_FOUND"


class ReservationLostError(NotFoundError):
    """The job was reserved on a connection that has since been lost.

    beanstalkd released it when that connection dropped, so another worker may hold it now.
    ``touch``, ``release`` and ``bury`` of such a job raise this without sending anything;
    ``delete`` is sent (it works if nobody took the job meanwhile) and raises this on
    ``NOT_FOUND``.
    """


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


class CorruptJobError(ServerError):
    """The server sent a job whose stored body is damaged: it does not end in CRLF.

    beanstalkd keeps each body with its CRLF and sends exactly the size it announced, so the
    connection stays in step; the fault is in the server's copy. A kill -9 in the middle of
    writing a put to the binlog leaves such a job after the restart (its body read back as
    zeros). ``job_id`` names it; a reserve that got it holds it reserved, and the worker buries
    it. From ``reserve_many``, ``damaged`` lists every damaged job of the batch (all reserved)
    and ``jobs`` the good ones it got with them.
    """

    status = "JACKD_CORRUPT_JOB"  # never sent by a server: the framing's own verdict

    def __init__(self, job_id: int, message: str = "") -> None:
        super().__init__(
            message
            or f"job {job_id}: the server's copy of its body is damaged (it does not end in "
            "CRLF; a binlog written by a server killed mid-put)"
        )
        self.job_id = job_id
        self.damaged: list[int] = []
        self.jobs: list[Any] = []


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


for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, JackdError):
        # Tracebacks and docs show the public name, jackd.NotFoundError.
        _cls.__module__ = "jackd"
del _cls

_BY_STATUS: dict[bytes, type[ServerError]] = {
    cls.status.encode(): cls
    for cls in (
        NotFoundError,
        TimedOutError,
        DeadlineSoonError,
        BuriedError,
        CorruptJobError,
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
    if cls is CorruptJobError and len(parts) == 3 and parts[1].isdigit():
        return CorruptJobError(int(parts[1]))
    if cls is BuriedError:
        if len(parts) == 1:
            return BuriedError()
        if len(parts) == 2 and command == "put" and parts[1].isdigit():
            return BuriedError(int(parts[1]))
    elif cls is not None and len(parts) == 1:
        return cls()
    shown = b" ".join(parts)[:100].decode("ascii", "backslashreplace")
    return ProtocolError(f"unexpected reply to {command}: {shown!r}")


#: Why the server refuses, where the status word alone does not say. Keyed by the status,
#: then by the command's name ("" for any command).
_WHY: dict[str, dict[str, str]] = {
    "NOT_FOUND": {
        "delete": "no such job, or it is reserved by another connection",
        "release": "no such job, or it is not reserved by this connection",
        "bury": "no such job, or it is not reserved by this connection",
        "touch": "no such job, or it is not reserved by this connection",
        "reserve-job": "no such job, or it is already reserved",
        "kick-job": "no such job, or it is neither buried nor delayed",
        "peek": "no such job",
        "stats-job": "no such job",
        "peek-ready": "no ready job in the used tube",
        "peek-delayed": "no delayed job in the used tube",
        "peek-buried": "no buried job in the used tube",
        "stats-tube": "no such tube",
        "pause-tube": "no such tube",
    },
    "TIMED_OUT": {"": "no job became ready in time"},
    "DEADLINE_SOON": {"": "a job this connection reserved is within a second of its TTR"},
    "DRAINING": {"": "the server is in drain mode and takes no new jobs"},
    "JOB_TOO_BIG": {"": "the body is larger than the server's max-job-size"},
    "NOT_IGNORED": {"": "it is the only tube watched"},
    "OUT_OF_MEMORY": {"": "the server is out of memory or binlog space"},
    "INTERNAL_ERROR": {"": "the server failed internally, usually writing its binlog"},
    "EXPECTED_CRLF": {"": "the body was not followed by CRLF"},
    "BURIED": {
        "put": "the server ran out of memory and stored the job buried",
        "release": "the server ran out of memory and buried the job",
    },
}


def describe_refusal(error: ServerError, command: str, name: str) -> str:
    """The message for a server's refusal: ``delete 42: NOT_FOUND (no such job, ...)``."""
    status = str(error.args[0]) if error.args else error.status
    why = _WHY.get(error.status)
    reason = None if why is None else why.get(name, why.get(""))
    return f"{command}: {status}" if reason is None else f"{command}: {status} ({reason})"
