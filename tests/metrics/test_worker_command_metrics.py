"""``jackd worker --metrics-port``: a real worker process serving its metrics on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")
pytest.importorskip("click")

from prometheus_client.parser import text_string_to_metric_families

import jackd
from jackd.testing import BeanstalkdServer

from ..lines import Lines

pytestmark = pytest.mark.timeout(60)

APP = """
import jackd

worker = jackd.Worker(concurrency=2, grace=1)

@worker.handler("metered")
def handle(job):
    if job.body == b"bury":
        raise jackd.Bury("asked to")
"""


def jobs_total(base: str, outcome: str) -> float:
    with urllib.request.urlopen(base + "/metrics") as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "jackd_worker_jobs_total" and sample.labels == {
                "tube": "metered",
                "outcome": outcome,
            }:
                return sample.value
    raise AssertionError(f"no jackd_worker_jobs_total for {outcome}")


def test_the_worker_serves_its_metrics_and_they_move(
    beanstalkd: BeanstalkdServer, jackd_client: jackd.Client, tmp_path: Path
) -> None:
    (tmp_path / "meteredapp.py").write_text(textwrap.dedent(APP))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jackd",
            "worker",
            "meteredapp:worker",
            "--server",
            beanstalkd.address,
            "--metrics-port",
            "0",
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    try:
        found = Lines(process.stderr).wait_for(r"metrics on (http://127\.0\.0\.1:\d+)/metrics")
        base = found.group(1)
        assert jobs_total(base, "succeeded") == 0
        jackd_client.use("metered")
        for body in (b"a", b"b", b"c", b"bury"):
            jackd_client.put(body)
        deadline = time.monotonic() + 15
        while jobs_total(base, "succeeded") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert jobs_total(base, "succeeded") == 3
        assert jobs_total(base, "buried") == 1
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(15)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
    assert code == 0


def test_the_worker_command_in_process_instruments_the_worker(
    beanstalkd: BeanstalkdServer,
    jackd_client: jackd.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In this interpreter, so that coverage sees it; the default registry is left as it was.
    import prometheus_client
    from click.testing import CliRunner

    from jackd.cli.group import jackd as jackd_command

    (tmp_path / "meteredapp2.py").write_text(textwrap.dedent(APP))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = prometheus_client.REGISTRY
    before = set(registry._collector_to_names)
    servers: list[object] = []
    real = prometheus_client.start_http_server

    def recording(*args: object, **kwargs: object) -> object:
        servers.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return servers[-1]

    monkeypatch.setattr(prometheus_client, "start_http_server", recording)
    jackd_client.use("metered")
    jackd_client.put(b"a")
    command = ["worker", "meteredapp2:worker", "-s", beanstalkd.address, "--burst"]
    try:
        result = CliRunner().invoke(jackd_command, [*command, "--metrics-port", "0"])
        assert result.exit_code == 0, result.output
        assert (
            registry.get_sample_value(
                "jackd_worker_jobs_total", {"tube": "metered", "outcome": "succeeded"}
            )
            == 1
        )
        for collector in set(registry._collector_to_names) - before:
            registry.unregister(collector)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = CliRunner().invoke(jackd_command, [*command, "--metrics-port", str(port)])
        assert result.exit_code == 1
        assert f"cannot serve metrics on 127.0.0.1:{port}" in result.output
    finally:
        for collector in set(registry._collector_to_names) - before:
            registry.unregister(collector)
        for server in servers:
            server[0].shutdown()  # type: ignore[index]
            server[0].server_close()  # type: ignore[index]
