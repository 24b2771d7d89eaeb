"""Every example in examples/ runs against a real beanstalkd, and the README and docs show them.

The README quotes examples (each Python block names its file on its first line, and its lines
are checked against that file); the docs pages include them when the site is built
(``--8<-- "examples/NAME.py:SECTION"``), so they cannot drift. Together they show every one.

examples/ is not a package: each example is loaded from its file under a private module name,
with examples/ on sys.path for the imports between examples (worker imports producer).
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import jackd
from jackd.testing import BeanstalkdServer

ServerFactory = Callable[..., BeanstalkdServer]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: Each example, with lines its output must contain.
EXPECTED = {
    "quickstart": ["reserved job 1: Hello!", "reserved job 2: b'Hello again!'"],
    "connecting": ["connected to ", "reaches the same server"],
    "producer": ["put 10 jobs into 'jackd-example-jobs'", "pri 2048", "delayed", "ttr 600"],
    "worker": [
        "reserved 5, deleted 3, released 1, buried 1, lost 0",
        "results: [9, 16, 25]",
        "upstream service unavailable",
        "job 4 is buried",
    ],
    "tubes": ["watching 2 tubes", "from 'emails'", "from 'sms'", "last watched tube"],
    "inspecting": [
        "delayed, ready in 3",
        "1 ready, 1 delayed, 1 buried",
        "'reports' is paused",
        "kicked 1 buried job(s)",
        "ready after kicking: 3",
    ],
    "threads": [
        "4 threads put 200 jobs through one client",
        "processed 200 jobs, all present: True",
        "consumers stopped: True",
        "reserved 'last one'",
    ],
    "testing_your_code": [
        "test_welcome_email_is_queued passed",
        "test_queueing_fails_while_the_server_drains passed",
        '"to": "ada@example.com"',
    ],
    "asyncio_worker": [
        "100 tasks put jobs 1..100 through one client",
        "3 workers squared 100 jobs, sum 328350",
        "reserve cancelled after 0.2 s",
        "then reserved 'last one' (job True)",
    ],
    "batches": [
        "put_many: 10,000 jobs in ",
        "reserve_many + delete_many drained 10,000 jobs",
        "pipeline: put 10001 and 10002; delete -> NotFoundError",
        "pipeline: 2 ready in 'jackd-example-batches'",
        "execute() raised NotFoundError after reading every reply",
        "left in the tube: 0",
    ],
    "running_a_worker": [
        "sending to ada@example.com",
        "resized cat.png",
        "reserved 4, succeeded 2, retried 1, buried 1",
    ],
    "worker_metrics": [
        'jackd_worker_jobs_total{outcome="succeeded",tube="jackd-example-metered"} 2.0',
        'jackd_worker_jobs_total{outcome="buried",tube="jackd-example-metered"} 1.0',
    ],
    "many_servers": [
        "round-robin: [3, 3, 3] jobs per server",
        "customer-42 always on one server: True",
        "put_many: 300 refs; 312 ready in the pool",
        "the worker drained 312 jobs from 3 servers",
    ],
    "reconnecting": [
        "watching ['orders'] after 1 reconnect",
        "ReservationLostError: touch 1: not sent",
        "reserved b'order 1' again",
    ],
    "errors": [
        "TimedOutError",
        "NotFoundError (NOT_FOUND)",
        "DeadlineSoonError",
        "NotIgnoredError",
        "JobTooBigError",
        "still connected: True",
        "ValueError: invalid tube name",
        "TypeError: job body",
        "ConnectionLostError: cannot connect",
        "TimeoutError: no reply",
        "closed after the timeout: True",
    ],
}


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    module_name = f"jackd_example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, module_name, module)  # dataclasses look modules up here
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested() -> None:
    found = {path.stem for path in EXAMPLES.glob("*.py")}
    assert found == {*EXPECTED, "demo"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(
    name: str,
    server: BeanstalkdServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    load(name, monkeypatch).main(server.address)
    out = capsys.readouterr().out
    for expected in EXPECTED[name]:
        assert expected in out
    assert "Traceback" not in out


def test_examples_leave_no_jobs(server: BeanstalkdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Everything but the producer cleans up after itself, so a shared server stays as it was.
    for name in sorted(set(EXPECTED) - {"producer"}):
        load(name, monkeypatch).main(server.address)
    with jackd.connect(server.address) as client:
        stats = client.stats()
    assert stats.current_jobs_ready + stats.current_jobs_delayed == 0
    assert stats.current_jobs_reserved + stats.current_jobs_buried == 0


def test_connecting_over_a_unix_socket(
    start_server: ServerFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = start_server(unix_socket=True)
    load("connecting", monkeypatch).main(server.address)
    assert f"connected to unix://{server.socket_path}: beanstalkd" in capsys.readouterr().out


def test_connecting_over_ipv6(
    start_server: ServerFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        socket.socket(socket.AF_INET6).close()
        server = start_server(host="::1")
    except (OSError, RuntimeError, TimeoutError) as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    load("connecting", monkeypatch).main(server.address)
    out = capsys.readouterr().out
    assert f"connected to [::1]:{server.port}" in out
    assert f"'beanstalk://[::1]:{server.port}' reaches the same server" in out


def test_worker_loop_drains_the_producers_jobs(
    server: BeanstalkdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    producer = load("producer", monkeypatch)
    worker = load("worker", monkeypatch)
    with jackd.connect(server.address) as put_client, jackd.connect(server.address) as client:
        ids = producer.produce(put_client, 50, "drain-me")
        report = worker.work(client, worker.square, tube="drain-me", limit=50)
        assert report.deleted == len(ids) == 50
        assert report.results == [i * i for i in range(50)]
        assert put_client.stats_tube("drain-me").current_jobs_ready == 0


def run_demo(jobs: int, url: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BEANSTALKD_URL"}
    if url is not None:
        env["BEANSTALKD_URL"] = url
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "--jobs", str(jobs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_demo_output(result: subprocess.CompletedProcess[str], jobs: int) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"producer: put {jobs:,} jobs in " in out
    assert f"reserved, squared and deleted {jobs:,} jobs in " in out
    assert f"{jobs - 1:,} -> {(jobs - 1) ** 2:,}" in out
    assert f"all {jobs:,} results correct" in out
    assert f"{jobs:,} jobs put, {jobs:,} deleted; now 0 ready, 0 reserved" in out
    assert f"batches:  put_many {jobs:,} jobs in " in out
    assert f"reserve_many + delete_many {jobs:,} jobs in " in out
    assert re.search(r"\(\d[\d,]* jobs/s\)", out)
    assert out.rstrip().splitlines()[-1].startswith(f"OK: {jobs:,} jobs")
    return out


def test_demo_against_beanstalkd_url(server: BeanstalkdServer) -> None:
    out = check_demo_output(run_demo(500, server.address), 500)
    assert f"at {server.address} (named by BEANSTALKD_URL)" in out


def test_demo_starts_its_own_server() -> None:
    out = check_demo_output(run_demo(300, None), 300)
    assert "(a private server started for this demo)" in out


def test_demo_rejects_a_bad_job_count() -> None:
    result = run_demo(0, None)
    assert result.returncode == 2
    assert "--jobs must be at least 1" in result.stderr


# -- the README --------------------------------------------------------------------------

README = ROOT / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SOURCE = re.compile(r"^# (examples/\w+\.py)\n")


def readme_blocks() -> list[tuple[str, str]]:
    """Each Python block of the README with the example file its first line names."""
    blocks = []
    for match in _BLOCK.finditer(README.read_text()):
        code = match.group(1)
        source = _SOURCE.match(code)
        assert source, f"README block does not name its example file:\n{code}"
        blocks.append((source.group(1), code[source.end() :]))
    return blocks


def test_readme_names_an_example_for_every_python_block() -> None:
    # The README tours the main features, one short quote each; the docs show the rest.
    blocks = readme_blocks()
    named = {path for path, _ in blocks}
    assert named <= {f"examples/{name}.py" for name in EXPECTED}
    tour = {"quickstart", "running_a_worker", "reconnecting", "asyncio_worker", "batches"}
    assert {f"examples/{name}.py" for name in tour} <= named


@pytest.mark.parametrize(
    ("path", "code"), readme_blocks(), ids=[f"{p}:{i}" for i, (p, _) in enumerate(readme_blocks())]
)
def test_readme_block_is_quoted_from_its_example(path: str, code: str) -> None:
    # Every line of the block appears in the example, in the same order; lines in between may
    # be left out of the README.
    source = [line.strip() for line in (ROOT / path).read_text().splitlines()]
    at = 0
    for line in (line.strip() for line in code.splitlines()):
        if not line:
            continue
        try:
            at = source.index(line, at) + 1
        except ValueError:
            pytest.fail(f"{path} has no line {line!r} (after line {at})")


# -- the docs ----------------------------------------------------------------------------

DOCS = ROOT / "docs"
_INCLUDE = re.compile(r'^--8<-- "(examples/\w+\.py)(?::([\w-]+))?"$', re.MULTILINE)
_MARKER = re.compile(r"^\s*# --8<-- \[(start|end):([\w-]+)\]$", re.MULTILINE)


def docs_includes() -> list[tuple[str, str | None]]:
    """Each example file (and section) a docs page includes."""
    return [
        (m[1], m[2])
        for page in sorted(DOCS.rglob("*.md"))
        for m in _INCLUDE.finditer(page.read_text())
    ]


def test_readme_and_docs_show_every_example() -> None:
    shown = {path for path, _ in readme_blocks()} | {path for path, _ in docs_includes()}
    assert shown == {f"examples/{name}.py" for name in EXPECTED}


def test_every_example_section_is_included_and_well_formed() -> None:
    # The build fails on a missing section; an unused or unbalanced marker would only rot.
    included = {(path, section) for path, section in docs_includes() if section}
    for path in sorted(EXAMPLES.glob("*.py")):
        markers = _MARKER.findall(path.read_text())
        starts = [name for kind, name in markers if kind == "start"]
        ends = [name for kind, name in markers if kind == "end"]
        assert starts == ends, f"{path.name}: start and end markers do not pair up"
        for name in starts:
            assert (f"examples/{path.name}", name) in included, f"{path.name}:{name} is not shown"
