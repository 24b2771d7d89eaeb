"""The benchmark suite still works: its quick mode runs every scenario with tiny sizes.

This proves the suite runs (every client, every scenario, the report), not how fast anything
is: no target decides the outcome, and bench/RESULTS.md is left alone. Of the job queues the
worker scenarios compare jackd with, only dramatiq runs here (on a Redis the suite starts):
one is enough to prove that path works, and the others would take the test past a minute.
The multi-server scenarios (7a-7c: jackd.Pool and jackd.Worker over three beanstalkds) run
too, and every one of their cases must show a row with a number.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench.cases import SCENARIOS, THREE_SERVERS
from bench.run import RESULTS, TARGETS

import jackd
import jackd.aio

ROOT = Path(__file__).resolve().parents[2]
COMPETITOR = "dramatiq"


def _may_skip(client: str) -> bool:
    """A jackd.Worker case may only skip while the class does not exist in this tree."""
    if client == "worker":
        return not hasattr(jackd, "Worker")
    if client == "aio-worker":
        return not hasattr(jackd.aio, "Worker")
    return False


@pytest.mark.timeout(120)
def test_quick_mode_runs_every_scenario(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: scripts/setup.sh installs it")
    before = RESULTS.read_bytes() if RESULTS.exists() else None
    placement = "split" if len(os.sched_getaffinity(0)) >= 2 else "same"
    samples_file = tmp_path / "samples.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--scale",
            "0.01",
            "--placement",
            placement,
            "--competitors",
            COMPETITOR,
            "--json",
            str(samples_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for scenario in SCENARIOS:
        assert f"#### {scenario.number}. {scenario.title}" in out
    pooled = [s for s in SCENARIOS if s.servers > 1]
    assert {s.key for s in pooled} == {"pool_put", "pool_put_many", "pool_worker"}
    assert THREE_SERVERS.strip() in out
    for scenario in pooled:
        for case in scenario.cases:
            assert f"| {case.title} | **" in out, case.title
    if placement == "split":
        for target in TARGETS:
            assert target.text in out
    assert "wrote" not in out

    samples = json.loads(samples_file.read_text())["samples"]
    measured = {(s["scenario"], s["client"]): s for s in samples}
    for scenario in SCENARIOS:
        for case in scenario.cases:
            if case.group == "competitor" and case.client.split("-")[0] != COMPETITOR:
                assert (scenario.key, case.client) not in measured
                continue
            sample = measured[(scenario.key, case.client)]
            if sample["skipped"] and _may_skip(case.client):
                continue
            if not case.may_fail:
                assert sample["ok"], sample
                assert sample["seconds"] > 0
                assert sample["n"] > 0
            if scenario.servers > 1:
                assert sample["n"] % scenario.servers == 0, sample
                assert sample["server_cpu"] > 0, sample

    after = RESULTS.read_bytes() if RESULTS.exists() else None
    assert after == before
