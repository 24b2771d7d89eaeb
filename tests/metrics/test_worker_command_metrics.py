"""``jackd worker --metrics-port``: a real worker process serving its metrics on 127.0.0.1."""

from __future__ import annotations

import os
import re
import select
import signal
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
        base = None
        deadline = time.monotonic() + 20
        seen = []
        while base is None and time.monotonic() < deadline:
            if select.select([process.stderr], [], [], 0.2)[0]:
                line = process.stderr.readline()
                seen.append(line)
                found = re.search(r"metrics on (http://127\.0\.0\.1:\d+)/metrics", line)
                base = found.group(1) if found else None
        assert base is not None, seen
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
