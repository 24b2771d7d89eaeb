"""Fixtures of the console's tests: ``make_web`` and ``web`` (see ``_support``), ``producer``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the web console's tests need the web extra")

from starlette.testclient import TestClient

import jackd
from jackd.testing import BeanstalkdServer
from jackd.web import create_app

from ._support import BASE_URL, MakeWeb, Web


@pytest.fixture
def make_web(beanstalkd: BeanstalkdServer) -> Iterator[MakeWeb]:
    """Make a console over ``beanstalkd`` (or ``servers=[...]``) with ``create_app``'s options."""
    made: list[Web] = []

    def make(servers: list[BeanstalkdServer] | None = None, **options: Any) -> Web:
        chosen = servers if servers is not None else [beanstalkd]
        options.setdefault("search_time_limit", 5.0)
        app = create_app([s.address for s in chosen], **options)
        web = Web(app, TestClient(app, base_url=BASE_URL), chosen)
        made.append(web)
        return web

    yield make
    for web in made:
        web.http.close()
        web.console.history.stop()
        web.console.collector.close()


@pytest.fixture
def web(make_web: MakeWeb) -> Web:
    """A console over the test's beanstalkd, read-write, without users."""
    return make_web()


@pytest.fixture
def producer(beanstalkd: BeanstalkdServer) -> Iterator[jackd.Client]:
    """Another client of the test's server: the jobs the console will show."""
    with jackd.connect(beanstalkd.address) as client:
        yield client
