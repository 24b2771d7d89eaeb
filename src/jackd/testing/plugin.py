"""jackd's pytest plugin: a private beanstalkd per test, and clients connected to it.

pytest loads this module through the ``pytest11`` entry point whenever jackd is installed;
nothing else imports it, so jackd itself never imports pytest. The fixtures:

``beanstalkd``
    A fresh ``BeanstalkdServer`` on a free loopback port, stopped after the test. Options come
    from a marker: ``@pytest.mark.beanstalkd(max_job_size=2_000_000, binlog=True, unix=True)``.
``beanstalkd_factory``
    A callable that starts more servers, ``beanstalkd_factory(*flags, max_job_size=None,
    binlog=False, unix=False, **more)``; every one is stopped after the test.
``jackd_client``
    A ``jackd.Client`` connected to ``beanstalkd``, closed after the test.
``jackd_async_client``
    A connected ``jackd.aio.AsyncClient``, for async tests run by pytest-asyncio
    (``@pytest.mark.asyncio``, strict or auto mode) or by anyio (``@pytest.mark.anyio``).
``beanstalkd_binary``
    The path of the beanstalkd executable; ``--beanstalkd-binary PATH`` chooses it.

Without a beanstalkd executable, every test that uses one of these is skipped, saying how to
install one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal, cast, get_args

import pytest

import jackd
import jackd.aio

from .server import BeanstalkdFactory, BeanstalkdServer

_INSTALL = (
    "install beanstalkd (Debian, Ubuntu: apt install beanstalkd; macOS: brew install "
    "beanstalkd) or name the executable with --beanstalkd-binary PATH"
)

# pytest-asyncio runs a fixture in the event loop of its loop_scope; the client must live in
# the loop the test runs in, so there is one fixture per scope and the test's picks one.
_LoopScope = Literal["function", "class", "module", "package", "session"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--beanstalkd-binary``."""
    group = parser.getgroup("jackd", "jackd: beanstalkd servers for tests")
    group.addoption(
        "--beanstalkd-binary",
        metavar="PATH",
        default=None,
        help="the beanstalkd executable jackd's fixtures start (default: beanstalkd on PATH)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``beanstalkd`` marker, so that ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        "beanstalkd(*flags, max_job_size=None, binlog=False, unix=False, **more): "
        "how jackd's beanstalkd fixture starts its server",
    )


@pytest.fixture(scope="session")
def beanstalkd_binary(pytestconfig: pytest.Config) -> str:
    """The beanstalkd executable's path (``--beanstalkd-binary``, else ``beanstalkd`` on PATH).

    Skips the test when there is none.
    """
    name = pytestconfig.getoption("beanstalkd_binary") or "beanstalkd"
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"beanstalkd executable {name!r} not found: {_INSTALL}")
    return path


@pytest.fixture
def beanstalkd_factory(beanstalkd_binary: str) -> Iterator[BeanstalkdFactory]:
    """Start beanstalkd servers: ``beanstalkd_factory(max_job_size=2_000_000, binlog=True)``.

    Each server gets a free loopback port of its own (or a unix socket with ``unix=True``);
    all of them are stopped, and their files removed, when the test ends.
    """
    servers: list[BeanstalkdServer] = []

    def start(
        *args: str,
        max_job_size: int | None = None,
        binlog: bool | str | os.PathLike[str] = False,
        unix: bool = False,
        **more: Any,
    ) -> BeanstalkdServer:
        more.setdefault("binary", beanstalkd_binary)
        unix_socket = bool(more.pop("unix_socket", False)) or unix
        server = BeanstalkdServer(
            *args, max_job_size=max_job_size, binlog=binlog, unix_socket=unix_socket, **more
        )
        servers.append(server)  # before start(): a server that fails to start is cleaned too
        return server.start()

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def beanstalkd(
    request: pytest.FixtureRequest, beanstalkd_factory: BeanstalkdFactory
) -> BeanstalkdServer:
    """A fresh beanstalkd for this test, on a free loopback port, without a binlog.

    ``@pytest.mark.beanstalkd(...)`` on the test (or its class or module) passes options to
    ``beanstalkd_factory``: ``max_job_size``, ``binlog``, ``unix`` and extra flags.
    """
    marker = request.node.get_closest_marker("beanstalkd")
    if marker is None:
        return beanstalkd_factory()
    return beanstalkd_factory(*marker.args, **marker.kwargs)


@pytest.fixture
def jackd_client(beanstalkd: BeanstalkdServer) -> Iterator[jackd.Client]:
    """A ``jackd.Client`` connected to the ``beanstalkd`` server, closed after the test."""
    with jackd.connect(beanstalkd.address) as client:
        yield client


@pytest.fixture
def jackd_async_client(request: pytest.FixtureRequest) -> jackd.aio.AsyncClient:
    """A ``jackd.aio.AsyncClient`` connected to the ``beanstalkd`` server, closed after the test.

    For async tests run by pytest-asyncio (``@pytest.mark.asyncio``, in strict or auto mode)
    or by anyio (``@pytest.mark.anyio``; the client needs its asyncio backend, so the test is
    skipped on trio). The client is opened in the test's own event loop.
    """
    # Each async plugin runs only the async fixtures it owns, so this one hands the work to
    # the fixture of the plugin that runs this test.
    if "anyio_backend" in request.fixturenames:
        backend = request.getfixturevalue("anyio_backend")
        name = backend if isinstance(backend, str) else backend[0]
        if name != "asyncio":
            pytest.skip(f"jackd.aio.AsyncClient needs asyncio, not anyio's {name!r} backend")
        client = request.getfixturevalue("_jackd_async_client_anyio")
    else:
        marker = request.node.get_closest_marker("asyncio")
        if marker is None or not request.config.pluginmanager.has_plugin("asyncio"):
            pytest.fail(
                "jackd_async_client needs an async test run by pytest-asyncio "
                "(@pytest.mark.asyncio) or anyio (@pytest.mark.anyio)",
                pytrace=False,
            )
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
        if scope is None:
            try:
                scope = request.config.getini("asyncio_default_test_loop_scope")
            except ValueError:  # pytest-asyncio before 0.26 has no such option
                scope = None
        scope = scope or "function"
        client = request.getfixturevalue(f"_jackd_async_client_asyncio_{scope}")
    return cast(jackd.aio.AsyncClient, client)


@pytest.fixture(name="_jackd_async_client_anyio")
async def _jackd_async_client_anyio(
    beanstalkd: BeanstalkdServer,
) -> AsyncIterator[jackd.aio.AsyncClient]:
    # anyio runs any async fixture of a test that uses its anyio_backend fixture.
    async with jackd.aio.connect(beanstalkd.address) as client:
        yield client


def _asyncio_fixture(scope: _LoopScope) -> object:
    import pytest_asyncio

    # A new function for each scope: pytest_asyncio.fixture marks the function object itself.
    async def client(beanstalkd: BeanstalkdServer) -> AsyncIterator[jackd.aio.AsyncClient]:
        async with jackd.aio.connect(beanstalkd.address) as opened:
            yield opened

    return pytest_asyncio.fixture(
        client, loop_scope=scope, name=f"_jackd_async_client_asyncio_{scope}"
    )


try:
    import pytest_asyncio  # noqa: F401
except ImportError:  # pragma: no cover - the dev extra installs it
    pass
else:
    for _scope in get_args(_LoopScope):
        globals()[f"_jackd_async_client_asyncio_{_scope}"] = _asyncio_fixture(_scope)
