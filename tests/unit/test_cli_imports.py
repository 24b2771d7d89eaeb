"""The core, jackd.observe and the job logic import without click or rich; the rest needs them."""

from __future__ import annotations

import subprocess
import sys

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("click", "rich"):
            raise ImportError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=60
    )


def test_core_observe_and_ops_import_without_click_or_rich() -> None:
    done = run(
        "import jackd, jackd.aio, jackd.observe, jackd.cli, jackd.cli._ops\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('click', 'rich')]\n"
        "print('ok')"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_command_without_the_extra_says_how_to_get_it() -> None:
    done = run("import jackd.cli; jackd.cli.main(['tubes'])")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "jackd: the jackd command needs the cli extra: pip install 'jackd[cli]'"
    )
