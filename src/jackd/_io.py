"""Blocking socket helpers for the synchronous shell: connect, vector writes, error mapping."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from ._address import Endpoint
from ._errors import ConnectionLostError, JackdError

#: Linux's IOV_MAX; more buffers than this in one sendmsg fail with EMSGSIZE.
_IOV_MAX = 1024


def open_socket(endpoint: Endpoint, connect_timeout: float | None) -> socket.socket:
    """Connect to ``endpoint``; a failure raises ConnectionLostError (a ConnectionError)."""
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
            # Commands are small and latency-bound; Nagle would hold each one back.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:
        raise ConnectionLostError(f"cannot connect to beanstalkd at {endpoint}: {exc}") from exc
    return sock


def send_buffers(sock: socket.socket, buffers: Sequence[bytes | bytearray | memoryview]) -> None:
    """Write every buffer with vectored ``sendmsg`` calls, never joining them into one."""
    views = [memoryview(b) for b in buffers if len(b)]
    while views:
        batch = views[:_IOV_MAX]
        sent = sock.sendmsg(batch)
        done = 0
        for view in batch:
            if sent < len(view):
                break
            sent -= len(view)
            done += 1
        del views[:done]
        if sent:
            views[0] = views[0][sent:]


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
