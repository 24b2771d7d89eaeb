"""The core imports without any extra's dependency, and the extras say how to get them.

Each check runs in a fresh interpreter where ``sys.modules[name] = None`` makes any import of
those modules fail, as if they were not installed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

#: Every dependency of the web, metrics and cli extras (and what their tests use).
EXTRAS = (
    "starlette",
    "jinja2",
    "uvicorn",
    "prometheus_client",
    "multipart",
    "python_multipart",
    "click",
    "rich",
    "httpx",
    "selenium",
)


def hide(*names: str) -> str:
    return "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in names)


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_the_core_imports_without_any_extra() -> None:
    code = hide(*EXTRAS) + (
        "import jackd, jackd.aio, jackd.worker, jackd.pool, jackd.client, jackd.observe\n"
        "import jackd.testing, jackd.cli\n"
        f"loaded = [n for n in {EXTRAS!r} if sys.modules.get(n) is not None]\n"
        "print('loaded:', loaded)\n"
    )
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "loaded: []"


def test_the_core_does_not_import_them_even_when_they_are_there() -> None:
    code = (
        "import sys\n"
        "import jackd, jackd.aio, jackd.worker, jackd.pool, jackd.observe\n"
        f"print([n for n in {EXTRAS!r} if n in sys.modules])\n"
    )
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_jackd_metrics_without_prometheus_client_says_how_to_install_it() -> None:
    done = python(hide("prometheus_client") + "import jackd.metrics")
    assert done.returncode == 1
    assert "jackd.metrics needs prometheus-client: pip install 'jackd[metrics]'" in done.stderr


def test_jackd_web_without_the_web_extra_says_how_to_install_it() -> None:
    run = "import runpy; runpy.run_module('jackd', run_name='__main__')"
    done = python(hide("starlette") + run, "web")
    assert done.returncode == 2
    assert done.stderr == "jackd web: the console needs the web extra: pip install 'jackd[web]'\n"
    done = python(hide("prometheus_client") + run, "exporter")
    assert done.returncode == 2
    assert done.stderr == (
        "jackd exporter: it needs the metrics extra: pip install 'jackd[metrics]'\n"
    )
