"""The chaos test: jobs through ``jackd worker`` processes while beanstalkd crashes and returns.

Run it with::

    python -m jackd.testing.chaos --jobs 50000 --workers 4 --kills 5

Producers put ``--jobs`` jobs, each body unique (its number), while ``--workers`` processes
of ``jackd worker`` reserve them, and beanstalkd, keeping a binlog, is killed with SIGKILL
and restarted on the same port ``--kills`` times, spread over the run. Producers reconnect;
a put whose fate the lost connection left unknown is put again (at least once), and each
body is counted once, when the server acknowledges it. Each handler appends the body it got
to a file of its process (O_APPEND, one unbuffered write a line, so a killed process keeps
every line it wrote).

The run passes when every acknowledged job was processed at least once and none is left in
the server (no job ready, reserved, delayed or buried). Duplicates are expected (a put or a
delete whose reply was lost) and counted. It fails, saying which bodies are missing, when
that does not happen within ``--timeout`` seconds, or when a worker process exits on its own.
Needs beanstalkd, and click for ``jackd worker`` (``pip install 'jackd[cli]'``).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import ConnectionLostError, CorruptJobError, NotFoundError
from .._reconnect import Reconnect
from ..client import Client
from ..pool import Pool
from .server import BeanstalkdServer

TUBE = "jackd-chaos"
"""The tube the chaos jobs go through."""

_MODULE = "jackd_chaos_jobs"
_WORKERS = {
    "thread": """
import os

import jackd

_FD = os.open(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), f"processed-{{os.getpid()}}.log"),
    os.O_WRONLY | os.O_APPEND | os.O_CREAT,
    0o644,
)
worker = jackd.Worker()  # jackd worker --server says where


@worker.handler({tube!r})
def record(job):
    os.write(_FD, job.body + b"\\n")
""",
    "asyncio": """
import os

import jackd.aio

_FD = os.open(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), f"processed-{{os.getpid()}}.log"),
    os.O_WRONLY | os.O_APPEND | os.O_CREAT,
    0o644,
)
worker = jackd.aio.Worker()  # jackd worker --server says where


@worker.handler({tube!r})
async def record(job):
    os.write(_FD, job.body + b"\\n")
""",
}
#: The worker kinds: ``thread`` runs a ``jackd.Worker``, ``asyncio`` a ``jackd.aio.Worker``.
KINDS = tuple(_WORKERS)

# Producers reconnect quickly, and give up on one call after about a minute: the run's own
# deadline says when to stop, and a thread must not hang on a server that never returns.
_PRODUCER_RECONNECT = Reconnect(attempts=250, first_delay=0.01, max_delay=0.25)
_POLL = 0.01
#: Seconds the worker processes get to exit after SIGTERM at the end, all together.
_STOP_TIMEOUT = 15.0


@dataclass
class ChaosReport:
    """What a chaos run saw; ``ok`` says whether it passed, ``summary()`` tells it."""

    jobs: int
    kind: str
    workers: int
    #: Server kills (each followed by a restart) actually made.
    kills: int = 0
    #: Puts the server acknowledged with an id: one per body.
    acknowledged: int = 0
    #: Puts whose fate a lost connection left unknown (the job may be stored): put again.
    unknown_fate: int = 0
    #: Puts that failed before they were sent (the reconnect gave up): put again.
    not_sent: int = 0
    #: Lines the handlers wrote: every processing, duplicates included.
    processed: int = 0
    #: Bodies processed at least once.
    distinct: int = 0
    #: Processings beyond the first of their body (at least once: expected, fine).
    duplicates: int = 0
    #: Acknowledged bodies never processed: lost jobs. Must be empty.
    missing: list[str] = field(default_factory=list)
    #: Bodies processed that no producer put. Must be empty.
    unexpected: list[str] = field(default_factory=list)
    #: Jobs left in the server at the end, by state; only non-zero counts.
    left: dict[str, int] = field(default_factory=dict)
    #: Jobs the workers buried because the server's copy of their body was damaged (a
    #: binlog written by a server killed mid-put: beanstalkd's fault, not a lost job). Each
    #: was a put of unknown fate, put again; they are deleted at the end.
    damaged: int = 0
    #: Worker processes that exited before they were stopped: (number, exit code).
    died: list[tuple[int, int]] = field(default_factory=list)
    #: Worker processes that did not exit 0 when stopped at the end: (number, exit code).
    bad_exits: list[tuple[int, int | None]] = field(default_factory=list)
    #: Why the run failed (a timeout, a stalled stage), if it did.
    errors: list[str] = field(default_factory=list)
    #: The last lines each worker process logged, kept when the run failed.
    logs: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    #: Where the run's files were (the worker logs and the processed files).
    directory: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing was lost, nothing is left, and every process behaved."""
        return not (
            self.missing
            or self.unexpected
            or self.left
            or self.died
            or self.bad_exits
            or self.errors
            or self.acknowledged < self.jobs
        )

    def summary(self) -> str:
        """The report as a few lines of text, with what is wrong first when it failed."""
        lines = [] if self.ok else [f"FAILED: {error}" for error in self.errors]
        if self.missing:
            shown = ", ".join(self.missing[:50]) + (" ..." if len(self.missing) > 50 else "")
            lines.append(
                f"FAILED: {len(self.missing)} acknowledged job(s) never processed: {shown}"
            )
        if self.unexpected:
            lines.append(f"FAILED: processed bodies nobody put: {', '.join(self.unexpected[:50])}")
        if self.left:
            lines.append(f"FAILED: jobs left in the server: {self.left}")
        if self.acknowledged < self.jobs:
            lines.append(f"FAILED: only {self.acknowledged} of {self.jobs} puts acknowledged")
        for number, died in self.died:
            lines.append(f"FAILED: worker {number} exited by itself with code {died}")
        for number, code in self.bad_exits:
            lines.append(f"FAILED: worker {number} exited with {code} when stopped, not 0")
        lines.append(
            f"{'ok' if self.ok else 'failed'}: {self.jobs:,} jobs, {self.workers} {self.kind} "
            f"worker process(es), {self.kills} server kill(s) in {self.seconds:.1f} s"
        )
        lines.append(
            f"puts: {self.acknowledged:,} acknowledged, {self.unknown_fate:,} of unknown fate "
            f"and {self.not_sent:,} not sent (both put again)"
            + (
                f"; {self.damaged} put(s) of unknown fate left damaged by the server's "
                "binlog, buried by the workers"
                if self.damaged
                else ""
            )
        )
        lines.append(
            f"processed: {self.processed:,} times, {self.distinct:,} distinct bodies, "
            f"{self.duplicates:,} duplicate(s) (at least once), {len(self.missing):,} missing"
        )
        if not self.ok and self.directory:
            lines.append(f"files: {self.directory}")
        for number, tail in self.logs.items():
            lines.append(f"worker {number}'s log ends:\n{tail}")
        return "\n".join(lines)


class _Records:
    """The bodies the handlers wrote, read as the files grow, counted by body."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.counts: Counter[str] = Counter()
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}

    def scan(self) -> None:
        """Read what was appended since the last scan."""
        for path in sorted(self.directory.glob("processed-*.log")):
            with open(path, "rb") as f:
                f.seek(self._offsets.get(path, 0))
                data = self._partial.pop(path, b"") + f.read()
                self._offsets[path] = f.tell()
            lines = data.split(b"\n")
            if lines[-1]:
                # A line whose write is still under way: counted once it is whole.
                self._partial[path] = lines[-1]
            self.counts.update(line.decode() for line in lines[:-1])

    @property
    def distinct(self) -> int:
        """How many different bodies were processed."""
        return len(self.counts)


class _Producer(threading.Thread):
    """Puts its share of the bodies, putting again each one whose put was not acknowledged."""

    def __init__(self, address: str, bodies: range, stop: threading.Event) -> None:
        super().__init__(name=f"chaos-producer-{bodies.start}", daemon=True)
        self.address = address
        self.bodies = bodies
        self.stop = stop
        self.acknowledged = 0
        self.unknown_fate = 0
        self.not_sent = 0
        self.error: BaseException | None = None
        self.client: Client | None = None
        self.pool: Pool | None = None

    def run(self) -> None:
        try:
            if "," in self.address:
                # Several servers: a pool, which fails over; a put it could not place on any
                # live server was not sent (the servers come back), like one of unknown fate
                # is retried here, at least once.
                pool = self.pool = Pool(self.address, timeout=10)
                pool.use(TUBE)
                put: Callable[..., object] = pool.put
            else:
                client = self.client = Client(
                    self.address, reconnect=_PRODUCER_RECONNECT, timeout=10
                )
                client.use(TUBE)
                put = client.put
            for body in self.bodies:
                while not self.stop.is_set():
                    try:
                        put(str(body), ttr=60)
                    except (ConnectionLostError, TimeoutError) as exc:
                        if isinstance(exc, TimeoutError) or exc.maybe_applied:
                            self.unknown_fate += 1
                        else:
                            self.not_sent += 1
                            if self.pool is not None:
                                time.sleep(0.01)  # every server down: wait for one to be due
                        continue
                    self.acknowledged += 1
                    break
                if self.stop.is_set():
                    return
        except BaseException as exc:  # reported by the run, which then fails
            self.error = exc
        finally:
            if self.client is not None:
                self.client.close()
            if self.pool is not None:
                self.pool.close()


def _clear_damaged(clients: Sequence[Client]) -> int:
    """Delete the buried jobs whose stored body is damaged; return how many there were.

    Only those: a buried job with a good body stays, and fails the run.
    """
    cleared = 0
    for client in clients:
        client.use(TUBE)
        while True:
            try:
                client.peek_buried()
            except CorruptJobError as exc:
                client.delete(exc.job_id)
                cleared += 1
                continue
            except NotFoundError:
                pass
            break
    return cleared


def _left_in(clients: Sequence[Client]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for client in clients:
        stats = client.stats()
        counts["ready"] += stats.current_jobs_ready
        counts["reserved"] += stats.current_jobs_reserved
        counts["delayed"] += stats.current_jobs_delayed
        counts["buried"] += stats.current_jobs_buried
    return {state: n for state, n in counts.items() if n}


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_chaos(
    jobs: int = 50_000,
    workers: int = 4,
    kills: int = 5,
    *,
    kind: str = "thread",
    servers: int = 1,
    concurrency: int = 4,
    producers: int = 2,
    down: float = 0.1,
    timeout: float = 600.0,
    binary: str = "beanstalkd",
    directory: str | os.PathLike[str] | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> ChaosReport:
    """Run the chaos test and return what it saw (see the module doc).

    ``kind`` is ``thread`` or ``asyncio``, the worker the processes run, each with
    ``concurrency``. With ``servers`` above 1 the producers put through a ``jackd.Pool`` and
    the workers consume from every server, while the first server is the one killed; it stays
    down ``down`` seconds each time. Everything
    must be done within ``timeout`` seconds. The files go to ``directory`` (kept), else to a
    temporary directory removed when the run passed. ``say`` gets a line at each stage.
    """
    if kind not in _WORKERS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    checks = (("jobs", jobs), ("workers", workers), ("producers", producers), ("servers", servers))
    for name, value in checks:
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if kills < 0:
        raise ValueError(f"kills must be at least 0, got {kills}")
    if importlib.util.find_spec("click") is None:
        raise RuntimeError(
            "the chaos test runs jackd worker, which needs click: pip install 'jackd[cli]'"
        )
    keep = directory is not None
    work = (
        Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="jackd-chaos-"))
    )
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{_MODULE}.py").write_text(_WORKERS[kind].format(tube=TUBE))
    report = ChaosReport(jobs, kind, workers, directory=str(work))
    started = time.monotonic()
    deadline = started + timeout
    fleet = [
        BeanstalkdServer(binary=binary, binlog=work / f"binlog-{n}" if n else work / "binlog")
        for n in range(servers)
    ]
    server = fleet[0]
    records = _Records(work)
    stop = threading.Event()
    processes: list[subprocess.Popen[bytes]] = []
    threads: list[_Producer] = []
    env = {k: v for k, v in os.environ.items() if k != "BEANSTALKD_URL"}

    def acknowledged() -> int:
        return sum(t.acknowledged for t in threads)

    try:
        for each in fleet:
            each.start()
            say(f"beanstalkd at {each.address}, binlog in {each.binlog_dir}")
        addresses = ",".join(each.address for each in fleet)
        for n in range(workers):
            with open(work / f"worker-{n}.log", "wb") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "jackd",
                            "worker",
                            f"{_MODULE}:worker",
                            "--server",
                            addresses,
                            "--concurrency",
                            str(concurrency),
                            "--log-level",
                            "warning",
                            "--grace",
                            "5",
                        ],
                        cwd=work,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        threads += [_Producer(addresses, range(p, jobs, producers), stop) for p in range(producers)]
        for thread in threads:
            thread.start()

        def check_workers() -> None:
            for n, process in enumerate(processes):
                code = process.poll()
                if code is not None and (n, code) not in report.died:
                    report.died.append((n, code))

        def wait(what: str, done: Callable[[], bool]) -> bool:
            while not done():
                records.scan()
                check_workers()
                if report.died:
                    report.errors.append(f"a worker process exited while waiting for {what}")
                    return False
                if any(t.error for t in threads):
                    report.errors.append(f"a producer failed: {[t.error for t in threads]}")
                    return False
                if time.monotonic() > deadline:
                    report.errors.append(f"timed out after {timeout} s waiting for {what}")
                    return False
                time.sleep(_POLL)
            return True

        # Each kill comes once the run has gone that much further, counting puts and
        # processings together: early kills hit the producers, later ones the workers alone.
        def progress() -> int:
            return acknowledged() + records.distinct

        passed = True
        for k in range(1, kills + 1):
            target = 2 * jobs * k // (kills + 1)
            passed = wait(
                f"kill {k} of {kills} (progress {target:,} of {2 * jobs:,})",
                lambda: progress() >= target,  # noqa: B023 - called before target changes
            )
            if not passed:
                break
            server.kill()
            report.kills += 1
            say(f"kill {k}/{kills}: {acknowledged():,} put, {records.distinct:,} processed")
            time.sleep(down)  # the outage itself: clients meet a refused port meanwhile
            server.restart()
        passed = passed and wait("the producers", lambda: all(not t.is_alive() for t in threads))
        if passed:
            say(f"all {acknowledged():,} puts acknowledged; waiting for the workers")
        watchers = [Client(each.address, reconnect=True) for each in fleet]
        try:

            def finished() -> bool:
                if records.distinct < jobs:
                    return False
                report.damaged += _clear_damaged(watchers)
                report.left = _left_in(watchers)
                return not report.left

            passed = passed and wait("every job to be processed and the server empty", finished)
            report.left = _left_in(watchers)
        finally:
            for watcher in watchers:
                watcher.close()
    finally:
        stop.set()
        for thread in threads:
            if thread.client is not None:
                thread.client.close()  # stops a reconnect under way
            if thread.pool is not None:
                thread.pool.close()
            thread.join(10)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        # Their handlers are instant: a clean stop takes a moment, not the grace period.
        stop_by = time.monotonic() + _STOP_TIMEOUT
        for n, process in enumerate(processes):
            try:
                code: int | None = process.wait(max(0.0, stop_by - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                code = None
            if code != 0 and all(n != died for died, _ in report.died):
                report.bad_exits.append((n, code))
        for each in fleet:
            each.stop()
    records.scan()
    report.seconds = time.monotonic() - started
    report.acknowledged = acknowledged()
    report.unknown_fate = sum(t.unknown_fate for t in threads)
    report.not_sent = sum(t.not_sent for t in threads)
    report.processed = sum(records.counts.values())
    report.distinct = records.distinct
    report.duplicates = report.processed - report.distinct
    put_bodies = {str(n) for n in range(jobs)}
    report.missing = sorted(put_bodies - set(records.counts), key=int)
    report.unexpected = sorted(set(records.counts) - put_bodies)
    if not report.ok:
        for n in range(len(processes)):
            tail = _tail(work / f"worker-{n}.log")
            if tail:
                report.logs[n] = tail
    elif not keep:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jackd.testing.chaos``: run the chaos test, print its report, exit 0 or 1."""
    parser = argparse.ArgumentParser(
        prog="python -m jackd.testing.chaos",
        description="Put jobs through jackd worker processes while beanstalkd is killed "
        "(SIGKILL) and restarted; check that no acknowledged job is lost.",
    )
    parser.add_argument("--jobs", type=int, default=50_000, help="jobs to put (50000)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (4)")
    parser.add_argument("--kills", type=int, default=5, help="server kills and restarts (5)")
    parser.add_argument(
        "--servers", type=int, default=1, help="servers (1); with more, the first is killed"
    )
    parser.add_argument("--kind", choices=KINDS, default="thread", help="the worker (thread)")
    parser.add_argument("--concurrency", type=int, default=4, help="per worker process (4)")
    parser.add_argument("--producers", type=int, default=2, help="producer threads (2)")
    parser.add_argument("--down", type=float, default=0.1, help="seconds down per kill (0.1)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for it all (600)")
    parser.add_argument("--beanstalkd", default="beanstalkd", help="the server's executable")
    parser.add_argument("--keep", metavar="DIR", help="keep the files (logs, records) in DIR")
    parser.add_argument("--verbose", action="store_true", help="log the producers' reconnects too")
    args = parser.parse_args(argv)
    # The producers' clients log each lost connection at WARNING: expected here, so shown
    # only when asked for.
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.INFO if args.verbose else logging.ERROR,
    )
    try:
        report = run_chaos(
            args.jobs,
            args.workers,
            args.kills,
            kind=args.kind,
            servers=args.servers,
            concurrency=args.concurrency,
            producers=args.producers,
            down=args.down,
            timeout=args.timeout,
            binary=args.beanstalkd,
            directory=args.keep,
            say=lambda line: print(line, flush=True),
        )
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        parser.error(str(exc))
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover - python -m, tested in a subprocess
    sys.exit(main())
