"""Running the jackd command in tests: in-process through click's CliRunner, or as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

click_testing = pytest.importorskip("click.testing")
pytest.importorskip("rich")

from jackd.cli.group import jackd as jackd_group  # noqa: E402


@dataclass
class Ran:
    """What a run of the command left: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Ran:
    """Run ``jackd ARGS`` in this process (click's CliRunner)."""
    runner = click_testing.CliRunner()
    result = runner.invoke(jackd_group, list(args), input=input, env=env, catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


def run(*args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> Ran:
    """Run ``python -m jackd ARGS`` as a real process, stdin a pipe (or nothing)."""
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "jackd", *args],
        input=input if input is not None else b"",
        capture_output=True,
        env=full_env,
        timeout=60,
    )
    return Ran(done.returncode, done.stdout.decode(), done.stderr.decode())
