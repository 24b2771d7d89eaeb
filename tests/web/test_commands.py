"""``jackd web`` and ``jackd exporter``: the bind refusal, auth files, and real processes."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from jackd.cli.group import jackd as jackd_command
from jackd.testing import BeanstalkdServer
from jackd.web.security import check_password, hash_password

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``jackd web`` would have served: uvicorn.run's arguments, nothing listening."""
    calls: list[dict[str, Any]] = []

    def run(app: Any, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(jackd_command, ["web", *args], input=input)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.invalid"])
def test_refuses_a_non_loopback_address_without_an_auth_file(
    served: list[dict[str, Any]], host: str
) -> None:
    result = invoke("--host", host)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines == [
        f"jackd web: refusing to listen on {host}, which is not a loopback address, without "
        "--auth-file FILE (or --insecure, if something else guards it)"
    ]
    assert served == []  # nothing was served


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_serves_on_loopback_addresses(served: list[dict[str, Any]], host: str) -> None:
    result = invoke("--host", host, "--port", "8123")
    assert result.exit_code == 0, result.output
    (call,) = served
    assert (call["host"], call["port"]) == (host, 8123)
    assert call["app"].state.console.users is None


def test_binds_127_0_0_1_port_8080_by_default(served: list[dict[str, Any]]) -> None:
    assert invoke().exit_code == 0
    assert (served[0]["host"], served[0]["port"]) == ("127.0.0.1", 8080)
    assert served[0]["app"].state.console.read_only is False
    assert invoke("--read-only").exit_code == 0
    assert served[1]["app"].state.console.read_only is True


def test_any_address_with_an_auth_file_or_insecure(
    served: list[dict[str, Any]], tmp_path: Path
) -> None:
    auth = tmp_path / "users"
    auth.write_text(f"# who may log in\nann:{hash_password('pw')}\n")
    assert invoke("--host", "0.0.0.0", "--auth-file", str(auth)).exit_code == 0
    assert served[-1]["host"] == "0.0.0.0"
    assert check_password(served[-1]["app"].state.console.users, "ann", "pw")
    assert invoke("--host", "0.0.0.0", "--insecure").exit_code == 0
    assert served[-1]["app"].state.console.users is None


def test_a_bad_auth_file_is_one_line_and_exit_2(
    served: list[dict[str, Any]], tmp_path: Path
) -> None:
    auth = tmp_path / "users"
    auth.write_text("ann:hunter2\n")
    result = invoke("--auth-file", str(auth))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"jackd web: {auth}, line 1: not a hash of jackd web --hash-password "
        "(unknown password hash scheme 'hunter2' (scrypt or pbkdf2_sha256))"
    ]
    assert invoke("--auth-file", str(tmp_path / "missing")).exit_code == 2
    assert served == []


def test_hash_password_prints_an_auth_file_line() -> None:
    result = invoke("--hash-password", input="ann\ns3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[-1]
    user, _, stored = line.partition(":")
    assert user == "ann"
    assert check_password({"ann": stored}, "ann", "s3cret")
    assert "s3cret" not in result.stdout
    bad = invoke("--hash-password", input="a:b\n")
    assert bad.exit_code == 2


def lines_until(stream: Any, pattern: str, timeout: float = 20) -> re.Match[str]:
    """Read ``stream`` until a line matches ``pattern``."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if not ready:
            continue
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern!r} in {seen!r}")


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "jackd", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(15)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_jackd_web_serves_the_console_and_stops_on_sigterm(beanstalkd: BeanstalkdServer) -> None:
    process = start("web", "-s", beanstalkd.address, "--port", "0")
    try:
        assert process.stderr is not None
        found = lines_until(process.stderr, r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
        base = f"http://127.0.0.1:{found.group(1)}"
        with urllib.request.urlopen(base + "/") as response:
            page = response.read().decode()
            assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert f"<td>{beanstalkd.address}</td>" in page
        with urllib.request.urlopen(base + "/metrics") as response:
            names = {f.name for f in text_string_to_metric_families(response.read().decode())}
        assert "beanstalkd_current_jobs_ready" in names
    finally:
        code = stop(process)
    assert code == 0


def test_jackd_exporter_serves_metrics_on_loopback_and_stops_on_sigterm(
    beanstalkd: BeanstalkdServer, jackd_client: Any
) -> None:
    jackd_client.use("exported")
    jackd_client.put(b"x")
    process = start("exporter", "-s", beanstalkd.address, "--port", "0")
    try:
        assert process.stderr is not None
        found = lines_until(process.stderr, r"on http://(127\.0\.0\.1):(\d+)/metrics")
        with urllib.request.urlopen(f"http://127.0.0.1:{found.group(2)}/metrics") as response:
            text = response.read().decode()
        samples = {
            (s.name, s.labels.get("tube")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        assert samples[("beanstalkd_tube_current_jobs_ready", "exported")] == 1
        assert samples[("beanstalkd_up", None)] == 1
    finally:
        code = stop(process)
    assert code == 0


def test_jackd_exporter_says_so_when_the_port_is_taken(beanstalkd: BeanstalkdServer) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "jackd",
                "exporter",
                "-s",
                beanstalkd.address,
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.startswith(f"jackd exporter: cannot listen on 127.0.0.1:{port}")
