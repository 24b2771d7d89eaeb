"""Server addresses: ``host:port``, ``host``, ``[::1]:11300``, ``beanstalk://``, ``unix://``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ._commands import DEFAULT_PORT

Address = str | tuple[str, int]


@dataclass(frozen=True)
class Endpoint:
    """Where to connect: a TCP host and port, or a unix socket path (``host`` is then None)."""

    host: str | None
    port: int
    path: str | None = None

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix://{self.path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{self.port}"


def _port(text: str, address: object) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise ValueError(f"invalid port in beanstalkd address {address!r}")
    return int(text)


def parse_address(address: Address | None) -> Endpoint:
    """Turn any accepted address form into an Endpoint; None means localhost:11300."""
    if address is None:
        return Endpoint("localhost", DEFAULT_PORT)
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
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in ("beanstalk", "beanstalkd"):
            raise ValueError(f"unknown scheme in beanstalkd address {address!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"unexpected path or query in beanstalkd address {address!r}")
        text = parts.netloc
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid IPv6 address in {address!r}")
        port = _port(rest[1:], address) if rest else DEFAULT_PORT
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, address)
    else:
        # No colon, or several (a bare IPv6 address, which cannot carry a port).
        host, port = text, DEFAULT_PORT
    if not host:
        raise ValueError(f"no host in beanstalkd address {address!r}")
    return Endpoint(host, port)
