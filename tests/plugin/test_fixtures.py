"""The plugin as its users meet it: pytest runs of their own test files, through pytester.

Each inner run loads the plugin the way a user's does, through jackd's ``pytest11`` entry
point, in a directory of its own with nothing of this project's configuration.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

# hypothesis's plugin would import hypothesis afresh in each inner run (pytester forgets
# modules an inner run imported), a second or two each time.
INI = """
[pytest]
addopts = -p no:cacheprovider -p no:hypothesispytest --strict-markers
asyncio_default_fixture_loop_scope = function
"""


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose runs see this configuration."""
    pytester.makeini(INI)
    return pytester


def test_the_entry_point_loads_the_plugin(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_loaded(request):
            assert request.config.pluginmanager.has_plugin("jackd")
        """
    )
    result = inner.runpytest("--fixtures")
    listed = result.stdout.str()
    assert "fixtures defined from jackd.testing.plugin" in listed
    for name in ("beanstalkd", "beanstalkd_factory", "jackd_client", "jackd_async_client"):
        assert f"\n{name} -- " in listed
    assert "_jackd_async_client" not in listed  # the helpers stay out of sight
    inner.runpytest().assert_outcomes(passed=1)
    help_text = inner.runpytest("--help").stdout.str()
    assert "--beanstalkd-binary=PATH" in help_text
    markers = inner.runpytest("--markers").stdout.str()
    assert "@pytest.mark.beanstalkd(*flags, max_job_size=None" in markers


def test_sync_fixtures(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import os
        import pytest
        import jackd

        seen = {}

        def test_client(jackd_client, beanstalkd):
            seen["client"], seen["pid"] = jackd_client, beanstalkd.pid
            assert jackd_client.put(b"job") == 1  # a fresh server: ids start at 1
            assert jackd_client.stats().pid == beanstalkd.pid
            assert beanstalkd.port != 11300

        def test_a_new_server_each_test(jackd_client, beanstalkd):
            assert jackd_client.put(b"job") == 1
            assert beanstalkd.pid != seen["pid"]
            # The last test's client was closed, and its server stopped.
            assert seen["client"].closed
            with pytest.raises(ProcessLookupError):
                os.kill(seen["pid"], 0)

        @pytest.mark.beanstalkd(max_job_size=2_000_000, binlog=True)
        def test_marker(jackd_client, beanstalkd):
            assert jackd_client.stats().max_job_size == 2_000_000
            assert os.path.isdir(beanstalkd.binlog_dir)
            assert jackd_client.stats().binlog_current_index > 0

        @pytest.mark.beanstalkd(unix=True)
        class TestUnix:
            def test_class_marker(self, jackd_client, beanstalkd):
                assert beanstalkd.address.startswith("unix://")
                assert jackd_client.put(b"x") == 1

        def test_factory(beanstalkd_factory, tmp_path):
            servers = [beanstalkd_factory(), beanstalkd_factory(max_job_size=10, unix=True)]
            (tmp_path.parent / "pids").write_text(" ".join(str(s.pid) for s in servers))
            with jackd.connect(servers[1].address) as client:
                assert client.stats().max_job_size == 10

        def test_factory_stopped_its_servers(tmp_path):
            for pid in (tmp_path.parent / "pids").read_text().split():
                with pytest.raises(ProcessLookupError):
                    os.kill(int(pid), 0)
        """
    )
    inner.runpytest().assert_outcomes(passed=6, warnings=0)


ASYNC_TESTS = """
import asyncio
import pytest
import jackd.aio

seen = []

{mark}
async def test_put_and_reserve(jackd_async_client, beanstalkd):
    assert isinstance(jackd_async_client, jackd.aio.AsyncClient)
    assert jackd_async_client.endpoint.port == beanstalkd.port
    assert await jackd_async_client.put(b"job") == 1
    job = await jackd_async_client.reserve(timeout=0)
    await jackd_async_client.delete(job)
    seen.append(jackd_async_client)

{mark}
async def test_closed_after_the_test(jackd_async_client):
    assert seen[0].closed and not jackd_async_client.closed
    # The client belongs to this test's event loop.
    results = await asyncio.gather(*(jackd_async_client.put(b"x") for _ in range(10)))
    assert sorted(results) == list(range(1, 11))
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_async_client_under_pytest_asyncio(inner: pytest.Pytester, mode: str) -> None:
    mark = "@pytest.mark.asyncio" if mode == "strict" else ""
    inner.makepyfile(ASYNC_TESTS.format(mark=mark))
    result = inner.runpytest(f"--asyncio-mode={mode}", "-p", "no:anyio")
    result.assert_outcomes(passed=2, warnings=0)


def test_async_client_in_a_wider_loop_scope(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import asyncio
        import pytest

        loops = []

        @pytest.mark.asyncio(loop_scope="module")
        async def test_one(jackd_async_client):
            loops.append(asyncio.get_running_loop())
            assert await jackd_async_client.put(b"x") == 1

        @pytest.mark.asyncio(loop_scope="module")
        async def test_two(jackd_async_client):
            assert asyncio.get_running_loop() is loops[0]
            assert await jackd_async_client.put(b"x") == 1
        """
    )
    inner.runpytest("--asyncio-mode=strict").assert_outcomes(passed=2, warnings=0)


def test_async_client_under_anyio(inner: pytest.Pytester) -> None:
    inner.makeini(INI.replace("asyncio_default_fixture_loop_scope", "# (no pytest-asyncio)"))
    inner.makepyfile(ASYNC_TESTS.format(mark="@pytest.mark.anyio"))
    # anyio runs each test on every backend installed: where trio is (selenium, of the dev
    # extra, brings it), each test's trio run is skipped, the client needing asyncio.
    skipped = 2 if importlib.util.find_spec("trio") is not None else 0
    inner.runpytest("-p", "no:asyncio").assert_outcomes(passed=2, skipped=skipped, warnings=0)


def test_anyio_and_pytest_asyncio_side_by_side(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        import pytest

        @pytest.fixture(params=["asyncio", "trio"])
        def anyio_backend(request):
            return request.param

        @pytest.mark.anyio
        async def test_anyio(jackd_async_client):
            assert await jackd_async_client.put(b"x") == 1

        @pytest.mark.asyncio
        async def test_asyncio(jackd_async_client):
            assert await jackd_async_client.put(b"x") == 1
        """
    )
    result = inner.runpytest("--asyncio-mode=strict", "-rs")
    # anyio's trio run is skipped: jackd's asyncio client cannot run there.
    result.assert_outcomes(passed=2, skipped=1, warnings=0)
    result.stdout.fnmatch_lines(["*needs asyncio, not anyio's 'trio' backend*"])


def test_async_client_in_a_sync_test_says_what_to_do(inner: pytest.Pytester) -> None:
    inner.makepyfile(
        """
        def test_sync(jackd_async_client):
            pass
        """
    )
    result = inner.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*jackd_async_client needs an async test run by pytest-asyncio*"])


USES_EVERY_FIXTURE = """
import pytest

def test_server(beanstalkd):
    pass

def test_factory(beanstalkd_factory):
    beanstalkd_factory()

def test_client(jackd_client):
    pass

@pytest.mark.asyncio
async def test_async_client(jackd_async_client):
    pass

def test_without_beanstalkd():
    pass
"""


def test_skipped_without_beanstalkd(inner: pytest.Pytester) -> None:
    inner.makepyfile(USES_EVERY_FIXTURE)
    result = inner.runpytest("--beanstalkd-binary=/nonexistent/beanstalkd", "-rs")
    result.assert_outcomes(passed=1, skipped=4)
    result.stdout.fnmatch_lines(
        ["SKIPPED*'/nonexistent/beanstalkd' not found*apt install beanstalkd*"]
    )


def test_skipped_when_beanstalkd_is_not_on_path(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(inner.path / "empty"))
    inner.makepyfile(USES_EVERY_FIXTURE)
    result = inner.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=4)
    result.stdout.fnmatch_lines(["SKIPPED*'beanstalkd' not found*apt install beanstalkd*"])


def test_every_fixture_starts_the_chosen_binary(inner: pytest.Pytester, tmp_path: Path) -> None:
    real = shutil.which("beanstalkd")
    assert real is not None
    calls = tmp_path / "calls"
    wrapper = tmp_path / "my-beanstalkd"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    inner.makepyfile(USES_EVERY_FIXTURE)
    result = inner.runpytest(f"--beanstalkd-binary={wrapper}")
    result.assert_outcomes(passed=5)
    started = calls.read_text().splitlines()
    assert len(started) == 4, started
    assert all(line.startswith("-V -l 127.0.0.1 -p 0") for line in started)


def test_beanstalkd_binary_by_name_on_path(
    inner: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.which("beanstalkd")
    assert real is not None
    (tmp_path / "bin").mkdir()
    os.symlink(real, tmp_path / "bin" / "beanstalkd-1.12")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    inner.makepyfile(
        """
        def test_path(beanstalkd_binary, beanstalkd):
            assert beanstalkd_binary.endswith("/bin/beanstalkd-1.12")
            assert beanstalkd.binary == beanstalkd_binary
        """
    )
    inner.runpytest("--beanstalkd-binary=beanstalkd-1.12").assert_outcomes(passed=1)
