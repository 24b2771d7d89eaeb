"""Connecting: the address forms ``jackd.connect`` accepts, its timeouts, and TLS.

``main`` connects to the address it is given, then, for a TCP address, to the same server
spelled in the other forms, and checks by the server's random ``id`` that each reached it.
``connect_with_tls`` connects to a TLS proxy in front of beanstalkd.
"""

from __future__ import annotations

import os
import ssl

import jackd

# --8<-- [start:forms]
ADDRESS_FORMS: list[str | tuple[str, int]] = [
    "localhost:11300",  # host:port
    "localhost",  # host alone: port 11300
    ("localhost", 11300),  # a (host, port) tuple, as the socket module takes
    "192.0.2.7:11300",  # IPv4
    "[::1]:11300",  # IPv6 in brackets, with a port
    "::1",  # IPv6 without brackets: port 11300
    "beanstalk://queue.example.com:11300",  # URL form (beanstalkd:// works too)
    "beanstalks://queue.example.com",  # TLS: port 11400 unless given (see connect_with_tls)
    "unix:///run/beanstalkd/beanstalkd.sock",  # a unix socket (beanstalkd -l unix:PATH)
]
# --8<-- [end:forms]


def other_forms(client: jackd.Client) -> list[str | tuple[str, int]]:
    """Other spellings of the TCP address ``client`` is connected to."""
    endpoint = client.endpoint
    if endpoint.host is None or endpoint.tls:  # a unix socket has only the one spelling
        return []  # and the plain spellings of a TLS address would skip TLS
    bracketed = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    forms: list[str | tuple[str, int]] = [
        (endpoint.host, endpoint.port),
        f"beanstalk://{bracketed}:{endpoint.port}",
    ]
    if endpoint.port == jackd.DEFAULT_PORT:
        forms.append(endpoint.host)
    return forms


# --8<-- [start:tls]
def connect_with_tls(
    address: str = "beanstalks://queue.example.com", cafile: str | None = None
) -> jackd.Client:
    # beanstalkd speaks no TLS itself: it runs behind stunnel, HAProxy or a TLS load
    # balancer. The certificate must be valid for the address's host name.
    ctx = ssl.create_default_context(cafile=cafile)  # the system's CAs, or your own
    return jackd.connect(address, ssl=ctx)
    # --8<-- [end:tls]


def main(address: str) -> None:
    # --8<-- [start:timeouts]
    # timeout bounds every wait for a reply (TimeoutError, and the connection is closed);
    # connect_timeout bounds connecting (10 s unless given).
    with jackd.connect(address, timeout=5, connect_timeout=2) as client:
        server = client.stats()
        print(f"connected to {client.endpoint}: beanstalkd {server.version}, id {server.id}")
        # --8<-- [end:timeouts]
        for form in other_forms(client):
            with jackd.connect(form) as again:
                same = again.stats().id == server.id
                print(f"  {form!r} reaches {'the same' if same else 'ANOTHER'} server")


if __name__ == "__main__":
    main(os.environ.get("BEANSTALKD_URL", "localhost:11300"))
