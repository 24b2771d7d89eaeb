"""Errors: what jackd raises, when, and what state the connection is left in.

Server replies that mean "no" raise a ``jackd.ServerError`` subclass and leave the connection
usable. Bad arguments raise ``ValueError`` or ``TypeError`` before anything is sent. A lost
connection raises ``jackd.ConnectionLostError`` (a ``ConnectionError``), and a reply that does
not come within ``timeout`` raises ``TimeoutError``; after either, the client is closed.
"""

from __future__ import annotations

import os
import socket

import jackd

TUBE = "jackd-example-errors"


# --8<-- [start:server-errors]
def server_errors(client: jackd.Client) -> None:
    """Errors the server answers with: the connection stays usable after each."""
    client.use(TUBE)
    client.watch(TUBE)
    client.ignore("default")

    try:
        client.reserve(timeout=0)  # 0: only a job that is ready now
    except jackd.TimedOutError:
        print("TimedOutError: no job came before the timeout")

    jid = client.put("short-lived")
    client.delete(jid)
    try:
        client.delete(jid)
    except jackd.NotFoundError as exc:
        print(f"NotFoundError ({exc.status}): no such job, or it is not reserved by us")

    client.put("one second to run", ttr=1)
    held = client.reserve()
    try:
        client.reserve(timeout=0)
    except jackd.DeadlineSoonError:
        print("DeadlineSoonError: a job we hold is within a second of its TTR")
    client.delete(held)

    try:
        client.ignore(TUBE)
    except jackd.NotIgnoredError:
        print("NotIgnoredError: cannot ignore the only watched tube")

    limit = client.stats().max_job_size
    try:
        client.put(b"x" * (limit + 1))
    except jackd.JobTooBigError:
        print(f"JobTooBigError: the body is over max-job-size ({limit} bytes); nothing was sent")

    try:
        client.kick_job(jid)
    except jackd.ServerError as exc:  # the base class of all of the above
        print(f"ServerError {type(exc).__name__}: {exc}")

    print(f"still connected: {not client.closed}")
    # --8<-- [end:server-errors]


# --8<-- [start:argument-errors]
def argument_errors(client: jackd.Client) -> None:
    """Bad arguments are refused before a byte is sent."""
    try:
        client.use("no spaces allowed")
    except ValueError as exc:
        print(f"ValueError: {exc}")
    try:
        client.put(42)  # type: ignore[arg-type]
    except TypeError as exc:
        print(f"TypeError: {exc}")
    try:
        client.put("job", priority=-1)
    except ValueError as exc:
        print(f"ValueError: {exc}")
    # --8<-- [end:argument-errors]


def connection_errors() -> None:
    """Connections that fail: refused, silent, closed."""
    with socket.socket() as unused:  # find a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    try:
        jackd.connect(("127.0.0.1", port))
    except jackd.ConnectionLostError as exc:
        print(f"ConnectionLostError: {exc}")

    # --8<-- [start:timeout]
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        client = jackd.connect(silent.getsockname(), timeout=0.2)
        try:
            client.stats()
        except TimeoutError as exc:
            print(f"TimeoutError: {exc}")
        print(f"closed after the timeout: {client.closed}")
        try:
            client.stats()  # every later call says why the connection is gone
        except jackd.ConnectionLostError as exc:
            print(f"ConnectionLostError: {exc}")
    # --8<-- [end:timeout]


def main(address: str) -> None:
    with jackd.connect(address) as client:
        server_errors(client)
        argument_errors(client)
    connection_errors()


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
