"""Without the cli extra: the core imports without click, and the command says how to get it.

Each check runs in a fresh interpreter where ``sys.modules["click"] = None`` makes any import
of click fail, as if it were not installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import jackd.cli
from jackd.cli import EXIT_USAGE, INSTALL_HINT

pytestmark = pytest.mark.timeout(60)

# The cli extra brings click and rich: both are hidden.
HIDE_CLICK = "import sys; sys.modules['click'] = sys.modules['rich'] = None; "


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_the_core_never_imports_click() -> None:
    # Every module of jackd but the command's own (the subcommands; jackd.cli itself and the
    # click-free job logic in jackd.cli._ops stay in), imported with click hidden; and with
    # click there, none of them imports it.
    code = """
import importlib, pkgutil, sys
import jackd
import jackd.aio  # before jackd._aio_worker: see test_aio_worker_imports_on_its_own
names = sorted(
    m.name for m in pkgutil.walk_packages(jackd.__path__, "jackd.")
    if not m.name.startswith("jackd.cli.") or m.name == "jackd.cli._ops"
)
for name in names:
    importlib.import_module(name)
extra = [m for m in ("click", "rich") if sys.modules.get(m) is not None]
print(",".join(names), bool(extra))
"""
    for prefix in (HIDE_CLICK, ""):
        done = python(prefix + code)
        assert done.returncode == 0, done.stderr
        names, imported = done.stdout.split()
        # The walk found the package, not nothing.
        expected = {"jackd.worker", "jackd.aio", "jackd.client", "jackd.cli", "jackd.__main__"}
        assert expected <= set(names.split(","))
        assert imported == "False"


def test_aio_worker_imports_on_its_own() -> None:
    # What a tool that walks the package in name order does (pdoc, sphinx autodoc, pkgutil).
    done = python("import jackd._aio_worker")
    assert done.returncode == 0, done.stderr


def test_the_named_core_modules_import_without_click() -> None:
    done = python(HIDE_CLICK + "import jackd, jackd.aio, jackd.worker, jackd.client, jackd.cli")
    assert done.returncode == 0, done.stderr


def test_python_m_jackd_says_how_to_install_the_extra() -> None:
    code = HIDE_CLICK + "import runpy; runpy.run_module('jackd', run_name='__main__')"
    done = python(code, "worker", "myapp.jobs:worker")
    assert done.returncode == EXIT_USAGE
    assert done.stdout == ""
    assert done.stderr == INSTALL_HINT + "\n"
    assert "pip install 'jackd[cli]'" in INSTALL_HINT


def test_the_console_script_says_how_to_install_the_extra() -> None:
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name="jackd")
    assert entry.value == "jackd.cli:main"
    script = shutil.which("jackd", path=str(Path(sys.executable).parent))
    assert script is not None, "the jackd console script is not installed beside python"
    # The script as pip wrote it, run by this interpreter with click hidden.
    code = HIDE_CLICK + f"import runpy; runpy.run_path({script!r}, run_name='__main__')"
    done = python(code, "worker", "myapp.jobs:worker")
    assert done.returncode == EXIT_USAGE
    assert done.stderr == INSTALL_HINT + "\n"


def test_main_without_click_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same path as the subprocesses above, in this process, where coverage sees it.
    # group.py imports click first: importing it again fails there, before any subcommand
    # module is imported anew.
    monkeypatch.setitem(sys.modules, "click", None)
    monkeypatch.delitem(sys.modules, "jackd.cli.group")
    with pytest.raises(SystemExit) as exited:
        jackd.cli.main(["worker", "m:w"])
    assert exited.value.code == EXIT_USAGE
    assert capsys.readouterr().err == INSTALL_HINT + "\n"


def test_an_import_error_that_is_not_click_s_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jackd.cli.group", None)
    with pytest.raises(ImportError, match=r"jackd\.cli\.group"):
        jackd.cli.main(["--help"])


def test_main_runs_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        jackd.cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"jackd, version {jackd.__version__}\n"


def test_importing_jackd_main_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tools that walk the package (docs, the walk above) import it: only python -m runs it.
    monkeypatch.delitem(sys.modules, "jackd.__main__", raising=False)
    monkeypatch.setattr(sys, "argv", ["jackd", "--version"])
    module = importlib.import_module("jackd.__main__")
    assert module.main is jackd.cli.main


def test_rich_missing_alone_says_how_to_install_the_extra() -> None:
    # click may be there for another tool while the extra is not: still one line, exit 2.
    done = python("import sys; sys.modules['rich'] = None; import jackd.cli; jackd.cli.main()")
    assert done.returncode == EXIT_USAGE
    assert done.stderr == INSTALL_HINT + "\n"
