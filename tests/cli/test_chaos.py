"""The chaos test in its short form (CI), and proof that it catches what it is there to catch.

The full form is ``python -m jackd.testing.chaos --jobs 50000 --workers 4 --kills 5``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import jackd
from jackd.testing import chaos
from jackd.testing.chaos import ChaosReport, run_chaos

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("kind", ["thread", "asyncio"])
def test_no_acknowledged_job_is_lost_through_server_kills(
    tmp_path: Path, beanstalkd_binary: str, kind: str
) -> None:
    # The CI form: 5,000 jobs, 2 kills, well under a minute.
    report = run_chaos(
        5_000,
        workers=2,
        kills=2,
        kind=kind,
        timeout=40,
        binary=beanstalkd_binary,
        directory=tmp_path,
    )
    assert report.ok, report.summary()
    assert report.kills == 2
    assert (report.acknowledged, report.distinct, report.missing) == (5_000, 5_000, [])
    assert report.duplicates == report.processed - 5_000
    assert report.left == {}
    assert report.seconds < 40


@pytest.mark.parametrize("kind", ["thread", "asyncio"])
def test_over_three_servers_with_one_killed_and_restarted(
    tmp_path: Path, beanstalkd_binary: str, kind: str
) -> None:
    # The pool issue's form: producers through a jackd.Pool, workers on every server.
    report = run_chaos(
        3_000,
        workers=2,
        kills=2,
        kind=kind,
        servers=3,
        timeout=40,
        binary=beanstalkd_binary,
        directory=tmp_path,
    )
    assert report.ok, report.summary()
    assert (report.acknowledged, report.distinct, report.missing, report.left) == (
        3_000,
        3_000,
        [],
        {},
    )


def test_the_command_line_runs_it_and_prints_the_report(
    beanstalkd_binary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--jobs", "300", "--workers", "1", "--kills", "1", "--timeout", "30"]
    assert chaos.main([*argv, "--beanstalkd", beanstalkd_binary]) == 0
    out = capsys.readouterr().out
    assert "kill 1/1:" in out
    assert "ok: 300 jobs, 1 thread worker process(es), 1 server kill(s)" in out
    assert "300 distinct bodies" in out


LOSSY = """
import os

import jackd

_FD = os.open(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), f"processed-{{os.getpid()}}.log"),
    os.O_WRONLY | os.O_APPEND | os.O_CREAT,
    0o644,
)
worker = jackd.Worker()


@worker.handler({tube!r})
def record(job):
    if job.body == b"7":
        return  # deleted, never recorded: a lost job
    if job.body == b"11":
        os.write(_FD, b"eleven\\n")  # a body nobody put
        return
    os.write(_FD, job.body + b"\\n")
"""


def test_a_lost_job_fails_the_run_and_is_named(
    tmp_path: Path, beanstalkd_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(chaos._WORKERS, "thread", LOSSY)
    report = run_chaos(
        20, workers=1, kills=0, timeout=3, binary=beanstalkd_binary, directory=tmp_path
    )
    assert not report.ok
    assert report.missing == ["7", "11"]
    assert report.unexpected == ["eleven"]
    summary = report.summary()
    assert "FAILED: 2 acknowledged job(s) never processed: 7, 11" in summary
    assert "FAILED: processed bodies nobody put: eleven" in summary
    assert "timed out after 3 s waiting for every job to be processed" in summary


DYING = """
import os

import jackd

worker = jackd.Worker()


@worker.handler({tube!r})
def record(job):
    os.write(2, f"dying on job {{job.id}}\\n".encode())  # one write: whole lines from each thread
    os._exit(9)
"""


def test_a_worker_process_that_dies_fails_the_run(
    tmp_path: Path, beanstalkd_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(chaos._WORKERS, "thread", DYING)
    report = run_chaos(
        5, workers=1, kills=0, timeout=20, binary=beanstalkd_binary, directory=tmp_path
    )
    assert not report.ok
    assert report.died == [(0, 9)]
    assert report.bad_exits == []
    assert "FAILED: worker 0 exited by itself with code 9" in report.summary()
    assert report.missing == [str(n) for n in range(5)]
    # Its slots each take a job at once, so any of them (even two, their lines mixed) may be
    # the one that dies first.
    assert "worker 0's log ends:\ndying on job" in report.summary()


def test_the_report_says_what_failed() -> None:
    report = ChaosReport(
        jobs=3,
        kind="thread",
        workers=1,
        acknowledged=3,
        left={"buried": 1},
        bad_exits=[(0, None)],
        logs={0: "the last line"},
        directory="/tmp/x",
    )
    text = report.summary()
    assert not report.ok
    assert "FAILED: jobs left in the server: {'buried': 1}" in text
    assert "FAILED: worker 0 exited with None when stopped, not 0" in text
    assert text.endswith("files: /tmp/x\nworker 0's log ends:\nthe last line")
    assert ChaosReport(jobs=1, kind="thread", workers=1, acknowledged=1).ok
    short = ChaosReport(jobs=3, kind="thread", workers=1, acknowledged=2)
    assert not short.ok
    assert "FAILED: only 2 of 3 puts acknowledged" in short.summary()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "fibers"}, "kind must be one of thread, asyncio"),
        ({"jobs": 0}, "jobs must be at least 1"),
        ({"workers": 0}, "workers must be at least 1"),
        ({"kills": -1}, "kills must be at least 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_chaos(**kwargs)  # type: ignore[arg-type]


def test_bad_arguments_on_the_command_line_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        chaos.main(["--jobs", "0"])
    assert exited.value.code == 2
    assert "jobs must be at least 1, got 0" in capsys.readouterr().err


def test_the_documented_command_runs(tmp_path: Path, beanstalkd_binary: str) -> None:
    # python -m jackd.testing.chaos, as the README has it, at a small scale.
    small = ["--jobs", "200", "--workers", "1", "--kills", "1", "--timeout", "30"]
    done = subprocess.run(
        [sys.executable, "-m", "jackd.testing.chaos", *small, "--beanstalkd", beanstalkd_binary],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: 200 jobs, 1 thread worker process(es), 1 server kill(s)" in done.stdout


def test_without_click_it_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match=r"pip install 'jackd\[cli\]'"):
        run_chaos(10)


def test_records_count_only_whole_lines(tmp_path: Path) -> None:
    records = chaos._Records(tmp_path)
    log = tmp_path / "processed-1.log"
    log.write_bytes(b"1\n2\n3")  # the last write is still under way
    records.scan()
    assert records.counts == {"1": 1, "2": 1}
    with open(log, "ab") as f:
        f.write(b"4\n1\n")
    records.scan()
    assert records.counts == {"1": 2, "2": 1, "34": 1}
    assert records.distinct == 3
    assert chaos._tail(tmp_path / "no such log") == ""


def test_a_failing_producer_fails_the_run(
    tmp_path: Path, beanstalkd_binary: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = jackd.Client

    def no_client(*args: Any, **kwargs: Any) -> jackd.Client:
        if threading.current_thread().name.startswith("chaos-producer"):
            raise RuntimeError("no client for producers")
        return real(*args, **kwargs)

    monkeypatch.setattr(chaos, "Client", no_client)
    report = run_chaos(
        10, workers=1, kills=1, timeout=20, binary=beanstalkd_binary, directory=tmp_path
    )
    assert not report.ok
    assert report.kills == 0  # the kill waited for progress that could not come
    assert report.acknowledged == 0
    summary = report.summary()
    assert "FAILED: a producer failed: [RuntimeError('no client for producers')" in summary
    assert "FAILED: only 0 of 10 puts acknowledged" in summary
