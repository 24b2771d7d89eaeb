"""TLS for beanstalkd connections: which context a client uses, and what a failed handshake means.

beanstalkd itself speaks no TLS; it runs behind a terminating proxy (stunnel, HAProxy, a cloud
load balancer). The client wraps its TCP connection in TLS when the address is
``beanstalks://`` or ``ssl=`` asks for it, and verifies the certificate against the host name
of the address.

Nothing here imports ``ssl`` until TLS is asked for: a client on plain TCP never loads OpenSSL,
and works on a Python built without it.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ._address import Endpoint

if TYPE_CHECKING:
    import ssl

#: Over TLS, small buffers are merged and large ones cut into writes of about this size: one
#: write call per buffer would send a record (and, with TCP_NODELAY, a packet) per header.
_TLS_WRITE = 1 << 16


def tls_setup(
    endpoint: Endpoint, option: ssl.SSLContext | bool | None
) -> tuple[Endpoint, ssl.SSLContext | None]:
    """Check a client's ``ssl=`` against its address; return the endpoint and the TLS context.

    ``option`` is an ``ssl.SSLContext``, True (``ssl.create_default_context()``: the system's
    CAs, host name checked), or None/False for plain TCP. A ``beanstalks://`` address with no
    ``ssl=`` gets the default context. The endpoint comes back with ``tls`` set when TLS is used.
    """
    if option is None:
        option = endpoint.tls
    if option is False:
        if endpoint.tls:
            raise ValueError(
                f"ssl=False contradicts the address {endpoint}: beanstalks:// always uses TLS "
                "(use beanstalk:// for plain TCP)"
            )
        return endpoint, None
    if endpoint.path is not None:
        raise ValueError(f"ssl= is for TCP connections, not the unix socket {endpoint}")
    import ssl  # only now: see the module's documentation

    if option is True:
        context = ssl.create_default_context()
    elif isinstance(option, ssl.SSLContext):
        if option.protocol == ssl.PROTOCOL_TLS_SERVER:
            raise ValueError("ssl= needs a client context; this one is for servers")
        context = option
    else:
        kind = type(option).__name__
        raise TypeError(f"ssl must be an ssl.SSLContext, a bool or None, not {kind}")
    return replace(endpoint, tls=True), context


def wrap(sock: socket.socket, context: ssl.SSLContext, endpoint: Endpoint) -> socket.socket:
    """Run the TLS handshake on the connected ``sock`` within its timeout; close it on failure."""
    try:
        return context.wrap_socket(sock, server_hostname=endpoint.host)
    except BaseException:
        # wrap_socket has taken over the descriptor and closed it; this covers a failure
        # before it got that far.
        sock.close()
        raise


def stream_options(
    endpoint: Endpoint, context: ssl.SSLContext | None, handshake_timeout: float | None
) -> dict[str, Any]:
    """The keyword arguments of ``loop.create_connection`` that wrap it in TLS (none for TCP)."""
    if context is None:
        return {}
    return {
        "ssl": context,
        "server_hostname": endpoint.host,
        "ssl_handshake_timeout": handshake_timeout,
    }


def failure(exc: BaseException, endpoint: Endpoint) -> str | None:
    """What went wrong, if ``exc`` is a TLS error raised while connecting; None otherwise."""
    if not endpoint.tls:
        return None
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or str(exc)
        return f"TLS verification failed for beanstalkd at {endpoint}: {why}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with beanstalkd at {endpoint} failed: {exc}"
    return None


def is_tls(sock: socket.socket) -> bool:
    """True for a TLS socket, which needs writes and reads of its own (see ``_io``)."""
    # No TLS socket can exist before something imported ssl, so looking for the module
    # instead of importing it keeps plain TCP free of OpenSSL.
    module = sys.modules.get("ssl")
    return module is not None and isinstance(sock, module.SSLSocket)


def next_write(views: list[memoryview]) -> memoryview:
    """The next piece of ``views`` to hand one TLS write, at most ``_TLS_WRITE`` bytes.

    Small leading buffers are merged into one (in ``views`` itself) so that a put's header,
    body and CRLF share records. Calling this again without advancing ``views`` returns the
    same bytes, as OpenSSL requires when a non-blocking write is retried.
    """
    head = views[0]
    if len(head) >= _TLS_WRITE or len(views) == 1:
        return head[:_TLS_WRITE]
    parts: list[memoryview] = []
    size = 0
    used = 0
    for view in views:
        take = min(len(view), _TLS_WRITE - size)
        parts.append(view[:take])
        size += take
        if take < len(view):
            views[used] = view[take:]
            break
        used += 1
        if size == _TLS_WRITE:
            break
    views[:used] = [memoryview(b"".join(parts))]
    return views[0]
