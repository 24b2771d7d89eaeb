"""The exception tree and the table from status words to exceptions."""

from __future__ import annotations

import pytest

import jackd
from jackd._errors import (
    BadFormatError,
    BuriedError,
    ConnectionLostError,
    DeadlineSoonError,
    DrainingError,
    ExpectedCRLFError,
    InternalError,
    JackdError,
    JobTooBigError,
    NotFoundError,
    NotIgnoredError,
    OutOfMemoryError,
    ProtocolError,
    ServerError,
    TimedOutError,
    UnknownCommandError,
    error_for,
)

STATUS: dict[str, type[ServerError]] = {
    "NOT_FOUND": NotFoundError,
    "TIMED_OUT": TimedOutError,
    "DEADLINE_SOON": DeadlineSoonError,
    "BURIED": BuriedError,
    "DRAINING": DrainingError,
    "JOB_TOO_BIG": JobTooBigError,
    "NOT_IGNORED": NotIgnoredError,
    "OUT_OF_MEMORY": OutOfMemoryError,
    "INTERNAL_ERROR": InternalError,
    "BAD_FORMAT": BadFormatError,
    "EXPECTED_CRLF": ExpectedCRLFError,
    "UNKNOWN_COMMAND": UnknownCommandError,
}


def test_tree() -> None:
    assert issubclass(ConnectionLostError, JackdError)
    assert issubclass(ConnectionLostError, ConnectionError)
    assert issubclass(ProtocolError, JackdError)
    assert not issubclass(ProtocolError, ServerError)
    assert issubclass(ServerError, JackdError)
    assert issubclass(JackdError, Exception)
    for cls in STATUS.values():
        assert issubclass(cls, ServerError)
        assert not issubclass(cls, ProtocolError)


@pytest.mark.parametrize(("status", "cls"), list(STATUS.items()))
def test_status_words(status: str, cls: type[ServerError]) -> None:
    assert cls.status == status
    err = error_for([status.encode()], "delete")
    assert type(err) is cls
    assert str(err) == status


def test_status_words_are_distinct() -> None:
    assert len({cls.status for cls in STATUS.values()}) == len(STATUS)


def test_buried_error_id() -> None:
    assert BuriedError().id is None
    assert str(BuriedError()) == "BURIED"
    err = BuriedError(7)
    assert err.id == 7
    assert str(err) == "BURIED 7"
    from_reply = error_for([b"BURIED", b"12"], "put")
    assert isinstance(from_reply, BuriedError)
    assert from_reply.id == 12


def test_server_error_custom_message() -> None:
    err = JobTooBigError("too big: 70000 bytes")
    assert str(err) == "too big: 70000 bytes"
    assert err.status == "JOB_TOO_BIG"


@pytest.mark.parametrize(
    "parts",
    [
        [b"HELLO"],
        [b""],
        [b"NOT_FOUND", b"1"],
        [b"BURIED", b"x"],
        [b"BURIED", b"1", b"2"],
        [b"not_found"],
        [b"INSERTED", b"1"],
        [b"\xff\x00"],
    ],
)
def test_unknown_replies_are_protocol_errors(parts: list[bytes]) -> None:
    err = error_for(parts, "delete")
    assert type(err) is ProtocolError
    assert "delete" in str(err)


def test_public_names() -> None:
    for cls in [*STATUS.values(), JackdError, ServerError, ProtocolError, ConnectionLostError]:
        assert getattr(jackd, cls.__name__) is cls


def test_catching_by_builtin() -> None:
    with pytest.raises(ConnectionError):
        raise ConnectionLostError("gone")
