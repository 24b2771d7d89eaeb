"""Parsing every accepted form of a server address, and rejecting the rest."""

from __future__ import annotations

import pytest

from jackd._address import DEFAULT_TLS_PORT, Endpoint, parse_address
from jackd._commands import DEFAULT_PORT


@pytest.fixture(autouse=True)
def _no_beanstalkd_url(monkeypatch: pytest.MonkeyPatch) -> None:
    # parse_address(None) reads BEANSTALKD_URL: the tests must not see the caller's.
    monkeypatch.delenv("BEANSTALKD_URL", raising=False)


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
        ("beanstalks://host", Endpoint("host", 11400, tls=True)),
        ("beanstalks://host/", Endpoint("host", 11400, tls=True)),
        ("beanstalks://host:1234", Endpoint("host", 1234, tls=True)),
        ("beanstalks://host:11300", Endpoint("host", 11300, tls=True)),
        ("BEANSTALKS://host", Endpoint("host", 11400, tls=True)),
        ("  beanstalks://queue.example.com  ", Endpoint("queue.example.com", 11400, tls=True)),
        ("beanstalks://127.0.0.1:5", Endpoint("127.0.0.1", 5, tls=True)),
        ("beanstalks://[::1]", Endpoint("::1", 11400, tls=True)),
        ("beanstalks://[::1]:1234", Endpoint("::1", 1234, tls=True)),
        ("unix:///tmp/a,b.sock", Endpoint(None, 0, "/tmp/a,b.sock")),
        ("unix:///path/to.sock", Endpoint(None, 0, "/path/to.sock")),
        ("unix:///tmp/with%20space.sock", Endpoint(None, 0, "/tmp/with space.sock")),
        ("unix://relative.sock", Endpoint(None, 0, "relative.sock")),
    ],
)
def test_accepted_forms(address: str | tuple[str, int] | None, expected: Endpoint) -> None:
    endpoint = parse_address(address)
    assert endpoint == expected
    assert type(endpoint.port) is int


def test_default_ports() -> None:
    assert DEFAULT_PORT == 11300
    assert DEFAULT_TLS_PORT == 11400


@pytest.mark.parametrize("address", ["host", "host:1", "beanstalk://host", ("host", 1), "[::1]"])
def test_only_beanstalks_means_tls(address: str | tuple[str, int]) -> None:
    assert parse_address(address).tls is False


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
        "beanstalks://",
        "beanstalks://:1234",
        "beanstalks://host:0",
        "beanstalks://host:99999",
        "beanstalks://host/path",
        "beanstalks://host?x=1",
        "beanstalkss://host",
        "beanstalk+tls://host",
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
        (Endpoint("host", 11400, tls=True), "beanstalks://host:11400"),
        (Endpoint("host", 1234, tls=True), "beanstalks://host:1234"),
        (Endpoint("::1", 5, tls=True), "beanstalks://[::1]:5"),
    ],
)
def test_endpoint_str(endpoint: Endpoint, text: str) -> None:
    assert str(endpoint) == text
    assert parse_address(text) == endpoint


def test_endpoint_is_frozen() -> None:
    endpoint = parse_address("host:1")
    with pytest.raises(AttributeError):
        endpoint.port = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "address",
    ["host1:11300,host2:11300", "beanstalk://a,beanstalk://b", "beanstalks://a:1,b:2", "a,b"],
)
def test_a_list_of_servers_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="several servers; one client takes one server"):
        parse_address(address)


# -- BEANSTALKD_URL --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("queue.example.com", Endpoint("queue.example.com", 11300)),
        ("10.0.0.7:11301", Endpoint("10.0.0.7", 11301)),
        ("[::1]:4000", Endpoint("::1", 4000)),
        ("beanstalk://queue:1234", Endpoint("queue", 1234)),
        ("beanstalks://queue.example.com", Endpoint("queue.example.com", 11400, tls=True)),
        ("beanstalks://queue:5000", Endpoint("queue", 5000, tls=True)),
        ("unix:///run/beanstalkd.sock", Endpoint(None, 0, "/run/beanstalkd.sock")),
        (" queue:7 \n", Endpoint("queue", 7)),
    ],
)
def test_no_address_means_beanstalkd_url(
    url: str, expected: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", url)
    assert parse_address(None) == expected


def test_an_address_given_wins_over_beanstalkd_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", "beanstalks://elsewhere:1")
    assert parse_address("here:2") == Endpoint("here", 2)


@pytest.mark.parametrize("url", ["", "   "])
def test_an_empty_beanstalkd_url_means_the_default(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", url)
    assert parse_address(None) == Endpoint("localhost", 11300)


def test_unset_beanstalkd_url_means_localhost() -> None:
    assert parse_address(None) == Endpoint("localhost", 11300)


@pytest.mark.parametrize(
    "url", ["host1:11300,host2:11300", "beanstalks://a,beanstalks://b", "unix:///a.sock,b:1", "a,"]
)
def test_beanstalkd_url_with_several_servers_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", url)
    with pytest.raises(ValueError, match=r"^BEANSTALKD_URL=.*several servers; one client takes"):
        parse_address(None)


@pytest.mark.parametrize("url", ["host:abc", "http://host", "beanstalks://host:0", "[::1"])
def test_a_bad_beanstalkd_url_is_named_in_the_error(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEANSTALKD_URL", url)
    with pytest.raises(ValueError, match=r"^BEANSTALKD_URL: ") as caught:
        parse_address(None)
    assert repr(url) in str(caught.value)
