"""The benchmark suite still works: its quick mode runs every scenario with tiny sizes.

This proves the suite runs (every client, every scenario, the report), not how fast anything
is: no target decides the outcome, and bench/RESULTS.md is left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.cases import SCENARIOS
from bench.run import RESULTS, TARGETS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_quick_mode_runs_every_scenario(tmp_path: Path) -> None:
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
    if placement == "split":
        for target in TARGETS:
            assert target.text in out
    assert "wrote" not in out

    samples = json.loads(samples_file.read_text())
    measured = {(s["scenario"], s["client"]): s for s in samples}
    for scenario in SCENARIOS:
        for case in scenario.cases:
            sample = measured[(scenario.key, case.client)]
            if not case.may_fail:
                assert sample["ok"], sample
                assert sample["seconds"] > 0

    after = RESULTS.read_bytes() if RESULTS.exists() else None
    assert after == before
