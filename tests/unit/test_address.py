"""Parsing every accepted form of a server address, and rejecting the rest."""

from __future__ import annotations

import pytest

from jackd._address import Endpoint, parse_address
from jackd._commands import DEFAULT_PORT


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (None, Endpoint("localhost", 11300)),
        ("localhost", Endpoint("localhost", 11300)),
        ("example.com", Endpoint("example.com", 11300)),
        ("127.0.0.1", Endpoint("127.0.0.1", 11300)),
        ("host:1234", Endpoint("host", 1234)),
        ("127.0.0.1:11301", Endpoint("127.0.0.1", 11301)),
        ("host:1", Endpoint("host", 1)),
        ("host:65535", Endpoint("host", 65535)),
        ("  host:1234  ", Endpoint("host", 1234)),
        ("[::1]:11300", Endpoint("::1", 11300)),
        ("[::1]:4000", Endpoint("::1", 4000)),
        ("[::1]", Endpoint("::1", 11300)),
        ("[fe80::1%eth0]:5", Endpoint("fe80::1%eth0", 5)),
        ("::1", Endpoint("::1", 11300)),
        ("2001:db8::1", Endpoint("2001:db8::1", 11300)),
        (("host", 1234), Endpoint("host", 1234)),
        (("::1", 11300), Endpoint("::1", 11300)),
        ("beanstalk://host", Endpoint("host", 11300)),
        ("beanstalk://host/", Endpoint("host", 11300)),
        ("beanstalk://host:1234", Endpoint("host", 1234)),
        ("beanstalk://[::1]:1234", Endpoint("::1", 1234)),
        ("beanstalk://[::1]", Endpoint("::1", 11300)),
        ("beanstalkd://host:1234", Endpoint("host", 1234)),
        ("unix:///path/to.sock", Endpoint(None, 0, "/path/to.sock")),
        ("unix:///tmp/with%20space.sock", Endpoint(None, 0, "/tmp/with space.sock")),
        ("unix://relative.sock", Endpoint(None, 0, "relative.sock")),
    ],
)
def test_accepted_forms(address: str | tuple[str, int] | None, expected: Endpoint) -> None:
    endpoint = parse_address(address)
    assert endpoint == expected
    assert type(endpoint.port) is int


def test_default_port() -> None:
    assert DEFAULT_PORT == 11300


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        ":11300",
        "host:",
        "host:abc",
        "host:0",
        "host:65536",
        "host:-1",
        "host:+80",
        "host: 80",
        "host:80x",
        "host:1.5",
        "host:١١٣٠٠",  # Arabic-Indic digits are not a port
        "[::1",
        "[::1]x",
        "[::1]:",
        "[::1]:abc",
        "[]:11300",
        "[]",
        "http://host:1234",
        "tcp://host",
        "beanstalk://",
        "beanstalk://:1234",
        "beanstalk://host:99999",
        "beanstalk://host/path",
        "beanstalk://host?x=1",
        "beanstalk://host#frag",
        "unix://",
        ("host", 0),
        ("host", 65536),
        ("host", -1),
        ("host", "11300"),
        ("host", 1.0),
        ("host", True),
        ("host",),
        ("host", 1, 2),
        (1234, 11300),
        (None, 11300),
    ],
)
def test_rejected_forms(address: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        parse_address(address)  # type: ignore[arg-type]


@pytest.mark.parametrize("address", [11300, b"host:1", ["host", 1], 1.5, object()])
def test_wrong_types_are_type_errors(address: object) -> None:
    with pytest.raises(TypeError):
        parse_address(address)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("endpoint", "text"),
    [
        (Endpoint("host", 1234), "host:1234"),
        (Endpoint("::1", 11300), "[::1]:11300"),
        (Endpoint(None, 0, "/run/beanstalkd.sock"), "unix:///run/beanstalkd.sock"),
    ],
)
def test_endpoint_str(endpoint: Endpoint, text: str) -> None:
    assert str(endpoint) == text
    assert parse_address(text) == endpoint


def test_endpoint_is_frozen() -> None:
    endpoint = parse_address("host:1")
    with pytest.raises(AttributeError):
        endpoint.port = 2  # type: ignore[misc]
