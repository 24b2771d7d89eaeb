"""Fixtures shared by every test, built on jackd's own pytest plugin (jackd.testing.plugin).

pytest loads the plugin through its entry point, as it does for any project with jackd
installed; its fixtures (``beanstalkd_factory`` and the rest) are the ones users get.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import cast

import pytest

import jackd
from jackd.testing import BeanstalkdFactory, BeanstalkdServer

from .async_adapter import SyncOverAsync

pytest_plugins = ["pytester"]  # for the plugin's own tests, in tests/plugin

ServerFactory = Callable[..., BeanstalkdServer]


@pytest.fixture
def start_server(beanstalkd_factory: BeanstalkdFactory) -> ServerFactory:
    """Start extra servers with their own flags: ``start_server("-z", "2000000")``.

    Keyword arguments are those of ``BeanstalkdServer`` (``unix_socket=True``, ``host="::1"``)
    and of ``beanstalkd_factory``; each server is stopped after the test.
    """
    return beanstalkd_factory


@pytest.fixture
def server(start_server: ServerFactory) -> BeanstalkdServer:
    """A fresh beanstalkd on a free loopback port, allowing 2 MB bodies (``-z 2000000``)."""
    return start_server(max_job_size=2_000_000)


#: Which clients the integration suite runs against: the sync Client, and the asyncio
#: AsyncClient driven through tests/async_adapter.py.
FLAVORS = os.environ.get("JACKD_TEST_CLIENTS", "sync,async").split(",")


@pytest.fixture(params=FLAVORS)
def flavor(request: pytest.FixtureRequest) -> str:
    """``"sync"`` or ``"async"``: the client implementation under test."""
    return str(request.param)


@pytest.fixture
def connect(server: BeanstalkdServer, flavor: str) -> Iterator[Callable[..., jackd.Client]]:
    """Open more clients to ``server``; all are closed after the test."""
    clients: list[jackd.Client] = []

    def open_client(**kwargs: object) -> jackd.Client:
        if flavor == "async":
            client = cast(jackd.Client, SyncOverAsync(server.address, **kwargs))
        else:
            client = jackd.connect(server.address, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        if isinstance(client, SyncOverAsync):
            client.shutdown()
        else:
            client.close()


@pytest.fixture
def client(connect: Callable[..., jackd.Client]) -> jackd.Client:
    """A client connected to ``server``."""
    return connect()
