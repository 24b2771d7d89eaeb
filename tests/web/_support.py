"""Helpers of the console's tests: the app over real beanstalkd servers, through a test client.

A ``Web`` is an app over the test's server(s) and a Starlette TestClient for it, whose
requests name ``localhost`` in their Host header, as a browser on the same machine does.
The functions pull what the tests look at out of the HTML: the CSRF token of a form, the
message shown after an action, a cell of the overview by its key.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

import jackd
from jackd.testing import BeanstalkdServer
from jackd.web import Console

#: What a browser on this machine sends as the Host of a console on 127.0.0.1.
BASE_URL = "http://localhost"


@dataclass
class Web:
    """An app, its test client and the beanstalkd server(s) behind it."""

    app: Starlette
    http: TestClient
    servers: list[BeanstalkdServer]

    @property
    def console(self) -> Console:
        console: Console = self.app.state.console
        return console

    def sample(self) -> None:
        """Take a history sample now, so the overview shows the server as it is."""
        self.console.history.sample()

    def csrf(self, path: str = "/s/0/tubes/default") -> str:
        """The CSRF token of this client's session, from the forms of ``path``."""
        return csrf_of(self.http.get(path).text)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with the session's CSRF token; redirects are not followed."""
        fields = {"csrf": self.csrf(), **(data or {})}
        return self.http.post(path, data=fields, follow_redirects=False, **kwargs)

    def act(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> str:
        """POST an action, follow it back and return the message it shows."""
        response = self.post(path, data, **kwargs)
        assert response.status_code == 303, response.text
        page = self.http.get(response.headers["location"])
        return flash_of(page.text)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def flash_of(page: str) -> str:
    match = re.search(r'<p class="flash (?:ok|error)"[^>]*>(.*?)</p>', page, re.S)
    assert match, "the page shows no message"
    return html.unescape(match.group(1))


def cell(page: str, key: str) -> str:
    """The text of the overview cell whose ``data-k`` is ``key``."""
    match = re.search(rf'data-k="{re.escape(html.escape(key))}">([^<]*)<', page)
    assert match, f"no cell {key!r} on the page"
    return html.unescape(match.group(1))


def bury(client: jackd.Client, tube: str, body: bytes, priority: int = 0) -> int:
    """Put a job into ``tube`` and bury it; its id."""
    client.use(tube)
    job_id = client.put(body, priority)
    client.reserve_job(job_id)
    client.bury(job_id, priority)
    return job_id


def job_states(client: jackd.Client, ids: list[int]) -> list[tuple[Any, ...]]:
    """Everything about each job that an action could change (None for one that is gone)."""
    out: list[tuple[Any, ...]] = []
    for job_id in ids:
        try:
            s = client.stats_job(job_id)
        except jackd.NotFoundError:
            out.append((job_id, None))
            continue
        out.append((job_id, s.tube, s.state, s.pri, s.ttr, s.reserves, s.releases, s.kicks))
    return out


MakeWeb = Callable[..., Web]
