"""Run the benchmark suite: ``python -m bench [--quick] [--repeats N] [--placement ...]``.

Every measurement gets a fresh beanstalkd (so job ids, memory and counters start the same) and
a fresh worker process (``bench.worker``) that imports only the client it measures. The server
and the worker are pinned to CPUs as the placement says. Measurements are interleaved: each
round measures every case of every scenario once (in a rotated order), and rounds repeat, so
a burst of load from elsewhere on the machine spreads over all clients instead of hitting one.
The report gives medians over the rounds and ratios of medians, and checks the targets.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import jackd
from bench.cases import SCENARIOS, Case, Scenario, find
from bench.servers import RedisServer
from jackd.testing import BeanstalkdServer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
ANALYSIS = ROOT / "bench" / "ANALYSIS.md"
QUICK_SCALE = 0.05
WORKER_TIMEOUT = 600.0
COMPETITORS = ("rq", "dramatiq", "arq", "celery")
"""The job queues of the worker scenarios (a case "celery-prefork" is one of celery's)."""


@dataclass(frozen=True)
class Placement:
    """Where the server and the measured client run."""

    name: str
    server_cpu: int
    client_cpu: int

    def describe(self) -> str:
        where = "the same CPU" if self.server_cpu == self.client_cpu else "separate CPUs"
        return (
            f"beanstalkd pinned to CPU {self.server_cpu}, the client process to CPU "
            f"{self.client_cpu} ({where})"
        )


@dataclass
class Sample:
    """One measurement: a case, once, on a fresh server."""

    ok: bool
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    error: str = ""
    n: int = 0
    """Timed operations (the case's N)."""
    skipped: bool = False
    """The case could not run in this tree (``error`` says why): not a failure."""


@dataclass(frozen=True)
class Target:
    """A goal for jackd, checked on the split placement.

    ``client`` and ``reference`` name a case, or ``"best:GROUP"``: the best of the cases of
    that group (``Case.group``), per round and by median. A ``goal`` of None makes the row
    a ratio shown for scale, with nothing to pass.
    """

    text: str
    scenario: str
    client: str
    reference: str
    op: Literal[">=", "<="]
    goal: float | None


TARGETS = (
    Target("sync put, one at a time, vs greenstalk", "put", "jackd", "greenstalk", ">=", 1.05),
    Target("sync reserve+delete loop vs greenstalk", "reserve", "jackd", "greenstalk", ">=", 1.05),
    Target(
        "1 MiB put->reserve->delete, time vs greenstalk", "big", "jackd", "greenstalk", "<=", 0.8
    ),
    Target(
        "put_many of all N vs raw pipelined puts of all N",
        "put_many",
        "jackd-all",
        "raw",
        ">=",
        0.9,
    ),
    Target(
        "put_many of 1000 per call vs raw, 1000 puts per round trip",
        "put_many",
        "jackd",
        "raw-rounds",
        ">=",
        0.9,
    ),
    Target(
        "put_many of 1000 per call vs raw pipelined puts of all N (other calls)",
        "put_many",
        "jackd",
        "raw",
        ">=",
        None,
    ),
    Target(
        "reserve_many+delete_many drain vs raw pipelined drain", "drain", "jackd", "raw", ">=", 0.7
    ),
    Target(
        "reserve_many+delete_many drain vs raw, 1000 per round trip",
        "drain",
        "jackd",
        "raw-rounds",
        ">=",
        0.7,
    ),
    Target("asyncio sequential put vs aiostalk", "aio_put", "jackd.aio", "aiostalk", ">=", 1.3),
    Target(
        "asyncio 1000 tasks on one client, put, vs raw pipelined puts",
        "aio_shared",
        "jackd.aio",
        "raw",
        ">=",
        0.5,
    ),
    Target(
        "jackd.Worker(concurrency=1) vs the hand-written jackd loop",
        "worker1",
        "worker",
        "loop",
        ">=",
        0.9,
    ),
    Target(
        "jackd.Worker(concurrency=8) vs 8 threads of the hand-written loop",
        "worker8",
        "worker",
        "threads",
        ">=",
        0.8,
    ),
    Target(
        "jackd.aio.Worker(concurrency=200) vs the raw pipelined drain",
        "worker200",
        "aio-worker",
        "raw",
        ">=",
        0.5,
    ),
    Target(
        "concurrency 1: best jackd worker vs best of rq/dramatiq/arq/celery",
        "worker1",
        "best:jackd",
        "best:competitor",
        ">=",
        5.0,
    ),
    Target(
        "concurrency 8: best jackd worker vs best of rq/dramatiq/arq/celery",
        "worker8",
        "best:jackd",
        "best:competitor",
        ">=",
        5.0,
    ),
    Target(
        "concurrency 200: jackd.aio.Worker vs arq",
        "worker200",
        "best:jackd",
        "best:competitor",
        ">=",
        5.0,
    ),
    Target(
        "jackd.Pool put over 3 servers vs a direct client on one",
        "pool_put",
        "pool",
        "client",
        ">=",
        0.9,
    ),
    Target(
        "jackd.Pool put over 3 servers vs 3 clients taken in turn by hand",
        "pool_put",
        "pool",
        "rotated",
        ">=",
        0.9,
    ),
    Target(
        "jackd.Pool put_many of all N over 3 servers vs 3 raw pipelined clients at once",
        "pool_put_many",
        "pool-all",
        "raw-x3",
        ">=",
        0.8,
    ),
    Target(
        "jackd.Pool put_many of 1000 per call vs 3 raw clients, 333 per round trip each",
        "pool_put_many",
        "pool",
        "raw-x3-rounds",
        ">=",
        0.8,
    ),
    Target(
        "jackd.Pool put_many of 1000 per call vs 3 raw pipelined clients at once (other calls)",
        "pool_put_many",
        "pool",
        "raw-x3",
        ">=",
        None,
    ),
)


# -- measuring ------------------------------------------------------------------------------


def placements(choice: str) -> tuple[list[Placement], list[str]]:
    """The placements asked for that this machine allows, and notes about any it does not."""
    cpus = sorted(os.sched_getaffinity(0))
    found: list[Placement] = []
    notes: list[str] = []
    if choice in ("split", "both"):
        if len(cpus) >= 2:
            found.append(Placement("split", cpus[0], cpus[1]))
        else:
            notes.append(f"split placement skipped: this process may only use CPU(s) {cpus}")
    if choice in ("same", "both"):
        found.append(Placement("same", cpus[0], cpus[0]))
    return found, notes


def measure(
    scenario: Scenario,
    case: Case,
    scale: float,
    placement: Placement,
    source: Path,
    profile: bool = False,
) -> Sample:
    """Run one case on a fresh server in a fresh worker process, and check what it did.

    ``source`` holds the ``jackd`` package the worker imports (a snapshot of the tree). The
    server is a beanstalkd, or for a competitor a Redis (which the case checks itself: each
    library keeps its queue its own way). A scenario with several servers gets that many
    fresh beanstalkds, all pinned to the placement's server CPU; the worker is given their
    addresses joined by commas.
    """
    n, warm = scenario.sizes(scale, case)
    servers: list[BeanstalkdServer | RedisServer] = (
        [RedisServer()]
        if case.server == "redis"
        else [BeanstalkdServer(*scenario.server_args) for _ in range(scenario.servers)]
    )
    with contextlib.ExitStack() as stack:
        for server in servers:
            stack.enter_context(server)
            os.sched_setaffinity(server.pid, {placement.server_cpu})
        addresses = [server.address for server in servers]
        command = [
            sys.executable,
            "-m",
            "bench.worker",
            f"{scenario.key}/{case.client}",
            ",".join(addresses),
            str(n),
            str(warm),
            "--cpu",
            str(placement.client_cpu),
        ]
        if profile:
            command.append("--profile")
        path = [str(source), str(ROOT), *sys.path]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, path)))
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=WORKER_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Sample(ok=False, n=n, error=f"no result within {WORKER_TIMEOUT:.0f} s")
        lines = done.stdout.strip().splitlines()
        if profile:
            print("\n".join(lines[:-1]))
        if done.returncode != 0 or not lines:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return Sample(ok=False, n=n, error=f"worker exited {done.returncode}: {tail[0][:300]}")
        reply = json.loads(lines[-1])
        if not reply["ok"]:
            return Sample(
                ok=False, n=n, error=str(reply["error"]), skipped=bool(reply.get("skipped"))
            )
        imported = reply.get("jackd")
        if imported is not None and not imported.startswith(str(source)):
            return Sample(ok=False, n=n, error=f"the worker imported jackd from {imported}")
        if case.server == "beanstalkd":
            problem = check_server(addresses, scenario, n, warm)
            if problem:
                return Sample(ok=False, n=n, error=f"server state after the run: {problem}")
        return Sample(
            ok=True,
            n=n,
            seconds=reply["seconds"],
            server_cpu=reply["server_cpu"],
            client_cpu=reply["client_cpu"],
        )


def check_server(addresses: Sequence[str], scenario: Scenario, n: int, warm: int) -> str:
    """Whether the server shows exactly the work the case claims to have done.

    With several servers, their counts added up: the jobs put are ready somewhere, and a
    drained or worked queue is empty on every server (a sum of counts is 0 only if each is).
    """
    found = []
    for address in addresses:
        with jackd.connect(address, timeout=30) as client:
            found.append(client.stats())
    total = warm + n
    expected = {"total-jobs": total, "current-jobs-reserved": 0}
    if scenario.kind == "put":
        expected["current-jobs-ready"] = total
    else:
        expected["current-jobs-ready"] = 0
        expected["cmd-delete"] = total
    actual = {
        "total-jobs": sum(stats.total_jobs for stats in found),
        "current-jobs-reserved": sum(stats.current_jobs_reserved for stats in found),
        "current-jobs-ready": sum(stats.current_jobs_ready for stats in found),
        "cmd-delete": sum(stats.cmd_delete for stats in found),
    }
    wrong = [f"{k} {actual[k]} (expected {v})" for k, v in expected.items() if actual[k] != v]
    if wrong and len(found) > 1:
        wrong.append(f"summed over {len(found)} servers")
    return ", ".join(wrong)


def value(scenario: Scenario, sample: Sample) -> float:
    """The sample in the scenario's unit: jobs per second, or milliseconds per job."""
    if scenario.unit == "ms/job":
        return sample.seconds * 1000 / sample.n
    return sample.n / sample.seconds


# -- the results ----------------------------------------------------------------------------

Results = dict[tuple[str, str, str], list[Sample | None]]
"""(placement, scenario key, client) -> one sample per round (None: not measured)."""


def values(results: Results, place: str, scenario: Scenario, client: str) -> list[float]:
    return [
        value(scenario, s) for s in results.get((place, scenario.key, client), []) if s and s.ok
    ]


def failures(results: Results, place: str, scenario: Scenario, client: str) -> list[Sample]:
    return [s for s in results.get((place, scenario.key, client), []) if s and not s.ok]


def _members(scenario: Scenario, who: str) -> list[str]:
    """The clients ``who`` stands for: one case, or ``best:GROUP``'s cases."""
    if who.startswith("best:"):
        group = who.removeprefix("best:")
        return [c.client for c in scenario.cases if c.group == group]
    return [who]


def _best(scenario: Scenario, got: list[float]) -> float:
    return min(got) if scenario.unit == "ms/job" else max(got)


def series(
    results: Results, place: str, scenario: Scenario, who: str
) -> tuple[float | None, list[float | None]]:
    """(median, one value per round) of a client, or of the best of a group.

    For a group, the median is its best member's median and a round's value is the best
    member's value in that round.
    """
    members = _members(scenario, who)
    medians = [statistics.median(v) for c in members if (v := values(results, place, scenario, c))]
    rounds = max((len(results.get((place, scenario.key, c), [])) for c in members), default=0)
    per_round: list[float | None] = []
    for i in range(rounds):
        got = []
        for c in members:
            samples = results.get((place, scenario.key, c), [])
            if i < len(samples) and (s := samples[i]) is not None and s.ok:
                got.append(value(scenario, s))
        per_round.append(_best(scenario, got) if got else None)
    return (_best(scenario, medians) if medians else None), per_round


def ratio(
    results: Results, place: str, scenario: Scenario, client: str, ref: str
) -> tuple[float, float, float] | None:
    """(ratio of medians, lowest and highest ratio within one round), or None."""
    mine, my_rounds = series(results, place, scenario, client)
    theirs, their_rounds = series(results, place, scenario, ref)
    if mine is None or theirs is None:
        return None
    rounds = [a / b for a, b in zip(my_rounds, their_rounds, strict=False) if a is not None and b]
    median = mine / theirs
    return median, min(rounds, default=median), max(rounds, default=median)


def fmt(number: float) -> str:
    if number >= 100:
        return f"{number:,.0f}"
    if number >= 10:
        return f"{number:.1f}"
    return f"{number:.2f}"


def _sizes_text(scenario: Scenario, scale: float) -> str:
    n, warm = scenario.sizes(scale)
    text = f"N = {n:,} timed operations after {warm:,} warm-up ones"
    others = sorted({scenario.sizes(scale, c) for c in scenario.cases} - {(n, warm)}, reverse=True)
    for other_n, other_warm in others:
        who = ", ".join(
            c.client for c in scenario.cases if scenario.sizes(scale, c) == (other_n, other_warm)
        )
        text += f" ({who}: N = {other_n:,} after {other_warm:,})"
    return text


def scenario_table(results: Results, place: str, scenario: Scenario, scale: float) -> list[str]:
    better = "lower is better" if scenario.unit == "ms/job" else "higher is better"
    ref_title = scenario.case(scenario.reference).title
    has_raw = any(c.client == "raw" for c in scenario.cases) and scenario.reference != "raw"
    lines = [
        f"#### {scenario.number}. {scenario.title}",
        "",
        f"{scenario.what} {_sizes_text(scenario, scale)}; {scenario.unit}, {better}.",
        "",
        f"| client | median {scenario.unit} | min | max | vs {ref_title} (per-round range) "
        + ("| vs raw " if has_raw else "")
        + "| server CPU busy | server CPU µs/job | client CPU µs/job |",
        "|---|---:|---:|---:|---:|" + ("---:|" if has_raw else "") + "---:|---:|---:|",
    ]
    for case in scenario.cases:
        got = values(results, place, scenario, case.client)
        errors = failures(results, place, scenario, case.client)
        if not got:
            if errors:
                why = ("skipped: " if errors[0].skipped else "fails: ") + errors[0].error
            else:
                why = "not measured"
            cols = 7 if has_raw else 6
            lines.append(f"| {case.title} | {why} |" + " |" * cols)
            continue
        r = ratio(results, place, scenario, case.client, scenario.reference)
        rel = "" if r is None else f"{r[0]:.2f}x ({r[1]:.2f}-{r[2]:.2f})"
        raw_col = ""
        if has_raw:
            rr = ratio(results, place, scenario, case.client, "raw")
            raw_col = "" if rr is None else f"{rr[0]:.2f}x"
        samples = [s for s in results.get((place, scenario.key, case.client), []) if s and s.ok]
        busy = statistics.median(s.server_cpu / s.seconds for s in samples)
        server = statistics.median(s.server_cpu / s.n for s in samples) * 1e6
        cpu = statistics.median(s.client_cpu / s.n for s in samples) * 1e6
        lines.append(
            f"| {case.title} | **{fmt(statistics.median(got))}** | {fmt(min(got))} | "
            f"{fmt(max(got))} | {rel} |"
            + (f" {raw_col} |" if has_raw else "")
            + f" {busy:.0%} | {fmt(server)} | {fmt(cpu)} |"
        )
        if errors:
            lines[-1] += f" ({len(errors)} failed: {errors[0].error})"
    lines.append("")
    return lines


def target_lines(results: Results, place: str, scenarios: Sequence[Scenario]) -> list[str]:
    lines = [
        "| target | measured (per-round range) | goal | result |",
        "|---|---:|---:|:---:|",
    ]
    by_key = {s.key: s for s in scenarios}
    for target in TARGETS:
        scenario = by_key.get(target.scenario)
        r = (
            None
            if scenario is None
            else ratio(results, place, scenario, target.client, target.reference)
        )
        goal = "for scale" if target.goal is None else f"{target.op} {target.goal}x"
        if r is None:
            lines.append(f"| {target.text} | not measured | {goal} | - |")
            continue
        if target.goal is None:
            result = "-"
        elif r[0] >= target.goal if target.op == ">=" else r[0] <= target.goal:
            result = "PASS"
        else:
            result = "MISS"
        lines.append(f"| {target.text} | {r[0]:.2f}x ({r[1]:.2f}-{r[2]:.2f}) | {goal} | {result} |")
    return lines


def machine() -> dict[str, str]:
    """What the report says about where it ran."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        server = subprocess.run(
            ["beanstalkd", "-v"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        server = "not found"
    try:
        redis = (
            subprocess.run(
                ["redis-server", "--version"], capture_output=True, text=True, check=False
            )
            .stdout.split(" sha=")[0]
            .strip()
        )
    except OSError:
        redis = "redis-server not found"
    versions = []
    for package in (
        "jackd",
        "greenstalk",
        "pystalk",
        "aiostalk",
        "rq",
        "dramatiq",
        "arq",
        "celery",
        "kombu",
        "redis",
    ):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    git = _git("rev-parse", "--short", "HEAD")
    if git and _git("status", "--porcelain"):
        git += " plus uncommitted changes"
    return {
        "cpu": f"{model}; {os.cpu_count()} logical CPUs, this run allowed CPUs "
        f"{sorted(os.sched_getaffinity(0))}",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}, "
        "default asyncio event loop",
        "beanstalkd": server,
        "redis": redis,
        "clients": ", ".join(versions),
        "tree": git or "unknown",
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def source_digest(package: Path = ROOT / "src" / "jackd") -> str:
    """A digest of the Python files of a ``jackd`` package directory."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def snapshot() -> Path:
    """Copy jackd's source to a private directory for the workers to import.

    Others may edit the tree while a run takes minutes; every measurement of a run must see
    the same code.
    """
    where = Path(tempfile.mkdtemp(prefix="jackd-bench-"))
    shutil.copytree(
        ROOT / "src" / "jackd", where / "jackd", ignore=shutil.ignore_patterns("__pycache__")
    )
    return where


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _first_float(text: str) -> float:
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return 0.0


def report(
    results: Results,
    scenarios: Sequence[Scenario],
    used: Sequence[Placement],
    notes: Sequence[str],
    info: dict[str, str],
    *,
    command: str,
    repeats: int,
    scale: float,
    started: datetime.datetime,
    minutes: float,
    load: tuple[str, str],
    sources: tuple[str, str],
) -> str:
    lines = [
        "# jackd benchmark results",
        "",
        f"Produced by `{command}` on {started:%Y-%m-%d %H:%M} UTC "
        f"({repeats} interleaved round(s), sizes x{scale:g}, {minutes:.1f} min). "
        "See bench/README.md for what each scenario measures and how to run it.",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}",
        f"- OS: {info['os']}",
        f"- Python: {info['python']}",
        f"- Server: {info['beanstalkd']} (a fresh server per measurement, on 127.0.0.1); the "
        f"job queues compared in scenarios 6a-6c on {info['redis']} (likewise)",
        f"- Clients: {info['clients']}",
        f"- jackd tree: {info['tree']}; the workers imported a copy of src/jackd taken at "
        f"the start (digest {sources[0]})",
        f"- Load average (1, 5, 15 min) at the start: {load[0]}; at the end: {load[1]}",
        "",
    ]
    if sources[0] != sources[1]:
        lines += [
            f"src/jackd changed during the run (digest {sources[1]} at the end); every "
            "measurement used the copy taken at the start.",
            "",
        ]
    busiest = max(_first_float(load[0]), _first_float(load[1]))
    if busiest >= 1.0:
        lines += [
            f"**The machine was loaded** (load average up to {busiest:.1f} on "
            f"{os.cpu_count()} CPUs at the start or end of the run): other processes competed "
            "with the server and the client for the CPUs, so absolute numbers are lower, and "
            "round-trip-bound ones much lower, than on a quiet machine; only ratios within one "
            "round are meaningful.",
            "",
        ]
    lines += [
        "The machine is shared: other processes (other agents' test runs, say) may have been "
        "running during the measurements, so absolute numbers are noisy. Measurements are "
        "interleaved (every case once per round, rounds repeated) and each table gives the "
        "median over the rounds; ratios are ratios of medians, with the lowest and highest "
        'ratio seen within a single round in parentheses. "Server CPU busy" is the '
        "server's CPU time (beanstalkd's `rusage`, or Redis's `used_cpu_*`) over the wall "
        "time of the timed part: near 100% means the server itself was the bottleneck; "
        '"server CPU µs/job" is the same time per job, what the client\'s way of talking '
        'costs the server. "Client CPU" is the CPU time (user + system, all threads and '
        "child processes) of the measuring process over the timed part, per job: the "
        "client's own cost, which noise from other processes disturbs less than wall time.",
        "",
        "## CPU placement",
        "",
    ]
    lines += [f"- **{p.name}**: {p.describe()}." for p in used]
    lines += [f"- {note}." for note in notes]
    lines += [""]
    split = next((p.name for p in used if p.name == "split"), None)
    lines += ["## Targets (split placement, ratios from this run)", ""]
    if split is None:
        lines += ["Not evaluated: the split placement was not measured.", ""]
    else:
        lines += [*target_lines(results, split, scenarios), ""]
    if ANALYSIS.exists():
        # Written by hand after profiling, so that it survives every --write.
        lines += ["## Where the time goes", "", ANALYSIS.read_text().strip(), ""]
    for p in used:
        lines += [f"## Results: {p.name} placement", "", f"{p.describe()}.", ""]
        for scenario in scenarios:
            lines += scenario_table(results, p.name, scenario, scale)
    return "\n".join(lines).rstrip() + "\n"


def write_outputs(text: str, write: bool, output: Path | None) -> None:
    outputs = [RESULTS] if write else []
    if output is not None:
        outputs.append(output)
    for path in outputs:
        path.write_text(text)
        print(f"wrote {path}")


def merged_report(paths: Sequence[Path], argv: Sequence[str] | None) -> str:
    """The report of one or more runs saved with ``--json``, as if they were one run.

    Each scenario should come from one run only: its ratios are then ratios within one run.
    """
    runs = [json.loads(path.read_text()) for path in paths]
    results: Results = {}
    present: dict[str, set[str]] = {}
    for run in runs:
        for sample in run["samples"]:
            fields = {
                f.name: sample[f.name] for f in dataclasses.fields(Sample) if f.name in sample
            }
            key = (sample["placement"], sample["scenario"], sample["client"])
            rounds = results.setdefault(key, [])
            rounds.extend([None] * (sample["round"] + 1 - len(rounds)))
            rounds[sample["round"]] = Sample(**fields)
            present.setdefault(sample["scenario"], set()).add(sample["client"])
    scenarios = [
        dataclasses.replace(s, cases=tuple(c for c in s.cases if c.client in present[s.key]))
        for s in SCENARIOS
        if s.key in present
    ]
    used: list[Placement] = []
    notes: list[str] = []
    for run in runs:
        for place in run["run"]["placements"]:
            if Placement(**place) not in used:
                used.append(Placement(**place))
        notes += [n for n in run["run"]["notes"] if n not in notes]
    metas = [run["run"] for run in runs]
    scales = {m["scale"] for m in metas}
    if len(scales) > 1:
        raise SystemExit(f"the runs used different sizes ({sorted(scales)}): not one report")
    args = list(argv if argv is not None else sys.argv[1:])
    this = " ".join(["python -m bench", *args])
    command = f"{this}` from the samples of `" + "`, `".join(m["command"] for m in metas)
    return report(
        results,
        scenarios,
        used,
        notes,
        metas[0]["info"],
        command=command,
        repeats=max(m["repeats"] for m in metas),
        scale=metas[0]["scale"],
        started=min(datetime.datetime.fromisoformat(m["started"]) for m in metas),
        minutes=sum(m["minutes"] for m in metas),
        load=(metas[0]["load"][0], metas[-1]["load"][1]),
        sources=(metas[0]["sources"][0], metas[-1]["sources"][1]),
    )


# -- the command line -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark jackd beside greenstalk, pystalk, aiostalk and raw sockets.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: sizes x{QUICK_SCALE}, 1 round (writes nothing unless asked)",
    )
    parser.add_argument("--repeats", type=int, help="rounds of measurements (default 5; quick 1)")
    parser.add_argument(
        "--placement",
        choices=("split", "same", "both"),
        default="both",
        help="split: server on CPU 0, client on CPU 1; same: both on CPU 0 (default both)",
    )
    parser.add_argument("--scale", type=float, help="multiply every scenario's N by this")
    parser.add_argument(
        "--only", help="comma-separated scenario keys: " + ",".join(s.key for s in SCENARIOS)
    )
    parser.add_argument(
        "--competitors",
        help="comma-separated job queues to measure in the worker scenarios: "
        f"{','.join(COMPETITORS)} (default all; 'none' for none)",
    )
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--output", type=Path, help="write the report to this file")
    parser.add_argument("--json", type=Path, help="also write every sample as JSON here")
    parser.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="instead of measuring: the report of runs saved with --json (several: one report "
        "of them all, e.g. scenarios measured in separate runs)",
    )
    parser.add_argument(
        "--profile",
        metavar="CASE",
        help="instead: run one case (e.g. put/jackd) once under cProfile and print the top "
        "functions of its timed part",
    )
    args = parser.parse_args(argv)

    scale = args.scale if args.scale is not None else (QUICK_SCALE if args.quick else 1.0)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    if scale <= 0 or repeats < 1:
        parser.error("--scale must be positive and --repeats at least 1")
    used, notes = placements(args.placement)
    if not used:
        parser.error("; ".join(notes))

    if args.from_json:
        text = merged_report(args.from_json, argv)
        print(text)
        write_outputs(text, args.write, args.output)
        return 0

    if args.profile:
        try:
            scenario, case = find(args.profile)
        except KeyError as exc:
            parser.error(str(exc.args[0]))
        n, _ = scenario.sizes(scale, case)
        print(f"# profiling {args.profile}, N = {n:,}, {used[0].describe()}")
        source = snapshot()
        try:
            sample = measure(scenario, case, scale, used[0], source, profile=True)
        finally:
            shutil.rmtree(source, ignore_errors=True)
        if not sample.ok:
            print(f"failed: {sample.error}")
            return 1
        print(f"{fmt(value(scenario, sample))} {scenario.unit} (under cProfile)")
        return 0

    scenarios = list(SCENARIOS)
    if args.only:
        keys = [k.strip() for k in args.only.split(",") if k.strip()]
        unknown = [k for k in keys if k not in {s.key for s in SCENARIOS}]
        if unknown:
            parser.error(f"unknown scenario(s) {unknown}")
        scenarios = [s for s in SCENARIOS if s.key in keys]
    if args.competitors:
        wanted = {c.strip() for c in args.competitors.split(",") if c.strip()} - {"none"}
        unknown = sorted(wanted - set(COMPETITORS))
        if unknown:
            parser.error(f"unknown competitor(s) {unknown}; known: {', '.join(COMPETITORS)}")
        scenarios = [
            dataclasses.replace(
                s,
                cases=tuple(
                    c
                    for c in s.cases
                    if c.group != "competitor" or c.client.split("-")[0] in wanted
                ),
            )
            for s in scenarios
        ]

    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.monotonic()
    load_start = loadavg()
    source = snapshot()
    digest_start = source_digest(source / "jackd")
    info = machine()
    for note in notes:
        print(f"note: {note}")
    results: Results = {}
    broken: list[str] = []
    for rnd in range(repeats):
        order = used[rnd % len(used) :] + used[: rnd % len(used)]
        for place in order:
            for scenario in scenarios:
                shift = rnd % len(scenario.cases)
                for case in scenario.cases[shift:] + scenario.cases[:shift]:
                    n, _ = scenario.sizes(scale, case)
                    sample = measure(scenario, case, scale, place, source)
                    samples = results.setdefault((place.name, scenario.key, case.client), [])
                    samples.extend([None] * (rnd - len(samples)))
                    samples.append(sample)
                    if sample.ok:
                        shown = f"{fmt(value(scenario, sample))} {scenario.unit}"
                    elif sample.skipped:
                        shown = f"skipped: {sample.error}"
                    else:
                        shown = f"fails: {sample.error}"
                        if not case.may_fail:
                            broken.append(f"{place.name} {scenario.key}/{case.client}: {shown}")
                    name = f"{scenario.key}/{case.client}"
                    print(
                        f"[round {rnd + 1}/{repeats}] {place.name:5} {name:26} N={n:<8,} {shown}",
                        flush=True,
                    )
    shutil.rmtree(source, ignore_errors=True)
    minutes = (time.monotonic() - clock) / 60
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    load_end, digest_end = loadavg(), source_digest()
    text = report(
        results,
        scenarios,
        used,
        notes,
        info,
        command=command,
        repeats=repeats,
        scale=scale,
        started=started,
        minutes=minutes,
        load=(load_start, load_end),
        sources=(digest_start, digest_end),
    )
    print()
    print(text)
    write_outputs(text, args.write, args.output)
    if args.json is not None:
        flat = [
            {"placement": p, "scenario": k, "client": c, "round": i, **asdict(s)}
            for (p, k, c), samples in results.items()
            for i, s in enumerate(samples)
            if s is not None
        ]
        run = {
            "command": command,
            "repeats": repeats,
            "scale": scale,
            "started": started.isoformat(),
            "minutes": minutes,
            "load": [load_start, load_end],
            "sources": [digest_start, digest_end],
            "info": info,
            "placements": [asdict(p) for p in used],
            "notes": list(notes),
        }
        args.json.write_text(json.dumps({"run": run, "samples": flat}, indent=1))
    if broken:
        print("measurements that failed:", *broken, sep="\n  ", file=sys.stderr)
        return 1
    return 0
