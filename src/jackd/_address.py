"""Server addresses: every form a client accepts, and ``BEANSTALKD_URL`` when it is given none.

The forms: ``host:port``, ``host``, ``[::1]:11300``, ``("host", port)``, ``beanstalk://``
(or ``beanstalkd://``), ``beanstalks://`` (TLS, port 11400 unless given) and ``unix://``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ._commands import DEFAULT_PORT

Address = str | tuple[str, int]

DEFAULT_TLS_PORT = 11400
"""The port of a ``beanstalks://`` address that names none."""

URL_VARIABLE = "BEANSTALKD_URL"
"""The environment variable naming the server when a client is given no address."""


@dataclass(frozen=True)
class Endpoint:
    """Where to connect: a TCP host and port, or a unix socket path (``host`` is then None).

    ``tls`` is True when the connection is wrapped in TLS (``beanstalks://``, or ``ssl=``).
    """

    host: str | None
    port: int
    path: str | None = None
    tls: bool = False

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix://{self.path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        # Plain TCP keeps the bare host:port it always had; TLS says so, as its URL.
        return f"beanstalks://{host}:{self.port}" if self.tls else f"{host}:{self.port}"


def _port(text: str, address: object) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise ValueError(f"invalid port in beanstalkd address {address!r}")
    return int(text)


def parse_address(address: Address | None) -> Endpoint:
    """Turn any accepted address form into an Endpoint.

    None means the server ``BEANSTALKD_URL`` names (any form accepted here), or localhost:11300
    when it is unset or empty.
    """
    if address is None:
        url = os.environ.get(URL_VARIABLE, "").strip()
        if not url:
            return Endpoint("localhost", DEFAULT_PORT)
        if "," in url:
            # The form a multi-server pool will read; a single client must not pick one.
            raise ValueError(
                f"{URL_VARIABLE}={url!r} names several servers; one client takes one server"
            )
        try:
            return parse_address(url)
        except ValueError as exc:
            # Say where the address came from: the caller's code names no address at all.
            raise ValueError(f"{URL_VARIABLE}: {exc}") from None
    if isinstance(address, tuple):
        if len(address) != 2 or not isinstance(address[0], str):
            raise ValueError(f"address tuple must be (host, port), got {address!r}")
        host, port = address
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"invalid port in beanstalkd address {address!r}")
        return Endpoint(host, port)
    if not isinstance(address, str):
        raise TypeError(
            f"address must be a str or a (host, port) tuple, not {type(address).__name__}"
        )
    text = address.strip()
    if text.startswith("unix://"):
        path = unquote(text[len("unix://") :])
        if not path:
            raise ValueError(f"no socket path in beanstalkd address {address!r}")
        return Endpoint(None, 0, path)
    if "," in text:
        # A comma in a host name is never valid; it is someone's list of servers.
        raise ValueError(
            f"beanstalkd address {address!r} names several servers; one client takes one server"
        )
    tls = False
    default_port = DEFAULT_PORT
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme == "beanstalks":
            tls, default_port = True, DEFAULT_TLS_PORT
        elif parts.scheme not in ("beanstalk", "beanstalkd"):
            raise ValueError(f"unknown scheme in beanstalkd address {address!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"unexpected path or query in beanstalkd address {address!r}")
        text = parts.netloc
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid IPv6 address in {address!r}")
        port = _port(rest[1:], address) if rest else default_port
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, address)
    else:
        # No colon, or several (a bare IPv6 address, which cannot carry a port).
        host, port = text, default_port
    if not host:
        raise ValueError(f"no host in beanstalkd address {address!r}")
    return Endpoint(host, port, tls=tls)
