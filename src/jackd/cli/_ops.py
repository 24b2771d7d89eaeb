"""Reading, copying and removing jobs: the work behind ``jackd export``, ``move``, ``clear`` ...

Pure jackd: no click, no rich, no printing, so the web console can reuse it. Progress is
reported through an optional callback taking how many jobs were just handled.

Strategy for reading jobs the protocol cannot peek past. ``peek-ready``, ``peek-delayed`` and
``peek-buried`` show one job per tube, and the only ways to see the next one change the
first (reserve it, kick it, delete it). Reserving and kicking are not safe for buried and
delayed jobs: if the reader dies holding a job reserved, the server makes it *ready*, so a
buried job (buried, often, because it fails) would run. But ``peek <id>`` and
``stats-job <id>`` read any job in any state and change nothing, and ids only grow. So
``scan_jobs`` walks the ids from the lowest upwards in pipelined batches of ``stats-job``
(then ``peek`` for the jobs it wants), and stops once it has seen as many jobs as the server
held when it started and is past the server's ``total-jobs``, or, if jobs were deleted
meanwhile, once ``SCAN_GAP`` ids in a row past ``total-jobs`` held none. Nothing is reserved,
kicked, released or reordered; a job's counters (reserves, releases) are not touched. The
cost is one ``stats-job`` per id ever handed out (about 35,000 ids a second here), so
``start`` lets a caller skip ids known to be gone.

``move_jobs`` and ``clear_jobs`` change jobs anyway, so they take them one at a time from
the front of each state with ``peek-<state>``, which is exact and costs one or a few round
trips per job, not per id.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import NotFoundError
from .._stats import JobStats
from ..client import Client, Pipeline

#: The states a job can be read, moved or cleared in (reserved jobs belong to a worker).
STATES = ("ready", "delayed", "buried")
#: The longest delay beanstalkd takes (2**32 - 1 seconds, some 136 years): a copy that must
#: end up buried waits delayed this long, out of every worker's reach, until it is buried.
MAX_DELAY = 2**32 - 1
#: ``scan_jobs`` stops after this many ids in a row past ``total-jobs`` with no job.
SCAN_GAP = 10_000
#: How many ids ``scan_jobs`` asks about in one pipelined round trip.
SCAN_CHUNK = 1000
#: How many jobs ``import_jobs`` puts in one pipelined round trip.
IMPORT_CHUNK = 500

Progress = Callable[[int], None]
"""Called with how many more jobs were handled."""


def _nothing(count: int) -> None:
    pass


# -- bodies ----------------------------------------------------------------------------------


def encode_body(body: bytes) -> tuple[str, str]:
    """The body as JSON can carry it: ``(text, "utf-8")``, or ``(base64, "base64")``."""
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def decode_body(text: str, encoding: str) -> bytes:
    """The bytes ``encode_body`` was given; ValueError for an unknown encoding or bad base64."""
    if encoding == "utf-8":
        return text.encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ValueError(f"body is not valid base64: {exc}") from None
    raise ValueError(f"unknown body encoding {encoding!r} (utf-8 or base64)")


def hex_dump(data: bytes, width: int = 16) -> str:
    """Offset, hex bytes and printable ASCII, ``width`` bytes a line (as ``hexdump -C``)."""
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset : offset + width]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<{width * 3 - 1}}  |{text}|")
    return "\n".join(lines)


def describe_body(body: bytes) -> tuple[str, str]:
    """How to show a body to a person: ``(kind, text)``.

    ``kind`` is ``"json"`` (the text pretty-printed), ``"text"`` (UTF-8 as it is), or
    ``"binary"`` (a hex dump).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "binary", hex_dump(body)
    try:
        parsed = json.loads(text)
    except ValueError:
        return "text", text
    if isinstance(parsed, (dict, list)):
        return "json", json.dumps(parsed, indent=2, ensure_ascii=False)
    return "text", text


# -- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRecord:
    """One job as ``jackd export`` writes it and ``jackd import`` reads it.

    ``delay`` is the delay left when it was read, in whole seconds (0 unless delayed);
    ``id`` and ``server`` say where it came from and are not used to put it back.
    """

    tube: str
    state: str
    priority: int
    ttr: int
    delay: int
    body: bytes
    id: int | None = None
    server: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object (one line of an export file)."""
        text, encoding = encode_body(self.body)
        out: dict[str, Any] = {}
        if self.server is not None:
            out["server"] = self.server
        if self.id is not None:
            out["id"] = self.id
        out.update(
            tube=self.tube,
            state=self.state,
            priority=self.priority,
            ttr=self.ttr,
            delay=self.delay,
            encoding=encoding,
            body=text,
        )
        return out

    @classmethod
    def from_json(cls, obj: object) -> JobRecord:
        """Read a record from a parsed JSON object; ValueError saying what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        try:
            tube, state, body = obj["tube"], obj["state"], obj["body"]
            numbers = {key: obj[key] for key in ("priority", "ttr", "delay")}
        except KeyError as exc:
            raise ValueError(f"missing key {exc.args[0]!r}") from None
        encoding = obj.get("encoding", "utf-8")
        if not isinstance(tube, str) or not isinstance(body, str) or not isinstance(encoding, str):
            raise ValueError("tube, body and encoding must be strings")
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        for key, value in numbers.items():
            if type(value) is not int or not 0 <= value <= MAX_DELAY:
                raise ValueError(f"{key} must be an integer from 0 to {MAX_DELAY}")
        return cls(
            tube=tube,
            state=state,
            priority=numbers["priority"],
            ttr=numbers["ttr"],
            delay=numbers["delay"],
            body=decode_body(body, encoding),
        )


def _record(stats: JobStats, body: bytes, server: str | None) -> JobRecord:
    return JobRecord(
        tube=stats.tube,
        state=stats.state,
        priority=stats.pri,
        ttr=stats.ttr,
        delay=max(stats.time_left, 0) if stats.state == "delayed" else 0,
        body=body,
        id=stats.id,
        server=server,
    )


# -- tubes -----------------------------------------------------------------------------------


def matching_tubes(client: Client, pattern: str | re.Pattern[str]) -> list[str]:
    """The names of the server's tubes that ``pattern`` matches whole, sorted."""
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    return sorted(name for name in client.list_tubes() if compiled.fullmatch(name))


def count_jobs(client: Client, tubes: Iterable[str], states: Iterable[str]) -> dict[str, int]:
    """How many jobs each state of ``states`` (and ``reserved``) holds, summed over ``tubes``.

    Tubes that no longer exist count as empty.
    """
    names = list(tubes)
    counts = dict.fromkeys([*states, "reserved"], 0)
    if not names:
        return counts
    pipe = client.pipeline()
    for name in names:
        pipe.stats_tube(name)
    for result in pipe.execute(raise_on_error=False):
        if isinstance(result, NotFoundError):
            continue
        if isinstance(result, BaseException):
            raise result
        for state in counts:
            counts[state] += getattr(result, f"current_jobs_{state}")
    return counts


# -- reading every job -----------------------------------------------------------------------


@dataclass
class Scan:
    """Reads jobs by walking the ids (see the module's strategy); iterate it for records.

    ``tubes`` says which tubes' jobs to yield (a set of names, or a predicate on the name),
    ``states`` which states. After the iteration, ``reserved`` is how many jobs of those
    tubes were skipped because a worker had them reserved, and ``last_id`` the highest id
    looked at.
    """

    client: Client
    tubes: Callable[[str], bool] | frozenset[str]
    states: Sequence[str] = STATES
    start: int = 1
    server: str | None = None
    progress: Progress = _nothing
    chunk: int = SCAN_CHUNK
    reserved: int = 0
    last_id: int = 0
    _wanted: Callable[[str], bool] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        tubes = self.tubes
        self._wanted = tubes.__contains__ if isinstance(tubes, frozenset) else tubes

    def __iter__(self) -> Iterator[JobRecord]:
        stats = self.client.stats()
        expected = (
            stats.current_jobs_ready
            + stats.current_jobs_reserved
            + stats.current_jobs_delayed
            + stats.current_jobs_buried
        )
        # ids start at 1; total-jobs counts successful puts, and a failed put uses an id
        # too, so the highest id is at least total-jobs.
        floor = stats.total_jobs
        seen = 0
        last_found = self.start - 1
        next_id = max(self.start, 1)
        while True:
            past_floor = next_id > floor
            if past_floor and (seen >= expected or next_id - last_found > SCAN_GAP):
                return
            ids = range(next_id, next_id + self.chunk)
            next_id += self.chunk
            found = self._stats(ids)
            if found:
                seen += len(found)
                last_found = found[-1].id
            wanted = []
            for job in found:
                if not self._wanted(job.tube):
                    continue
                if job.state == "reserved":
                    self.reserved += 1
                elif job.state in self.states:
                    wanted.append(job)
            self.last_id = ids[-1]
            yield from self._records(wanted)

    def _stats(self, ids: range) -> list[JobStats]:
        pipe = self.client.pipeline()
        for job_id in ids:
            pipe.stats_job(job_id)
        found = []
        for result in pipe.execute(raise_on_error=False):
            if isinstance(result, NotFoundError):
                continue
            if isinstance(result, BaseException):
                raise result
            found.append(result)
        return found

    def _records(self, wanted: list[JobStats]) -> Iterator[JobRecord]:
        if not wanted:
            return
        pipe = self.client.pipeline()
        for job in wanted:
            pipe.peek(job.id)
        bodies = pipe.execute(raise_on_error=False)
        for job, peeked in zip(wanted, bodies, strict=True):
            if isinstance(peeked, NotFoundError):
                continue  # deleted between its stats-job and its peek
            if isinstance(peeked, BaseException):
                raise peeked
            self.progress(1)
            yield _record(job, peeked.body, self.server)


# -- putting jobs back -----------------------------------------------------------------------


def _put_copy(pipe: Pipeline, record: JobRecord) -> None:
    # A copy meant to be buried must never be ready, not even for a moment: it waits
    # delayed (out of reach of reserve) until reserve-job and bury take it.
    delay = MAX_DELAY if record.state == "buried" else record.delay
    pipe.put(record.body, record.priority, delay, record.ttr)


def _bury_copies(client: Client, copies: list[tuple[int, int]]) -> None:
    if not copies:
        return
    pipe = client.pipeline()
    for job_id, priority in copies:
        pipe.reserve_job(job_id).bury(job_id, priority)
    pipe.execute()


def import_jobs(
    client: Client,
    records: Iterable[JobRecord],
    *,
    tube: str | None = None,
    progress: Progress = _nothing,
    chunk: int = IMPORT_CHUNK,
) -> dict[str, int]:
    """Put records back, in their order, each in its state; returns how many per state.

    Each record goes into its own tube, or ``tube`` when given. A batch of puts goes out in
    one pipelined write (what ``put_many`` does, with each job's own priority, delay and
    TTR), then the batch's buried ones are reserved by id and buried with their priority.
    """
    counts = dict.fromkeys(STATES, 0)
    batch: list[JobRecord] = []

    def flush() -> None:
        pipe = client.pipeline()
        used = None
        for record in batch:
            target = tube or record.tube
            if target != used:
                pipe.use(target)
                used = target
            _put_copy(pipe, record)
        ids = [r for r in pipe.execute() if not isinstance(r, str)]
        _bury_copies(
            client,
            [
                (jid, rec.priority)
                for jid, rec in zip(ids, batch, strict=True)
                if rec.state == "buried"
            ],
        )
        for record in batch:
            counts[record.state] += 1
        progress(len(batch))
        batch.clear()

    for record in records:
        batch.append(record)
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return counts


# -- moving and clearing ---------------------------------------------------------------------


def _peek_front(client: Client, state: str) -> int | None:
    try:
        if state == "ready":
            return client.peek_ready().id
        if state == "delayed":
            return client.peek_delayed().id
        return client.peek_buried().id
    except NotFoundError:
        return None


@dataclass
class MoveResult:
    """What ``move_jobs`` did: jobs moved per state, and what it left or doubled."""

    moved: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    #: Jobs of the source tube left alone because a worker had them reserved.
    reserved: int = 0
    #: Originals that went away (a worker took one) after their copy was put: now twice.
    duplicates: int = 0

    @property
    def total(self) -> int:
        """How many jobs were moved."""
        return sum(self.moved.values())


def move_jobs(
    client: Client,
    source: str,
    target: str,
    states: Sequence[str] = STATES,
    *,
    limit: int | None = None,
    progress: Progress = _nothing,
) -> MoveResult:
    """Move jobs from tube ``source`` to ``target``, keeping priority, TTR and delay left.

    Each copy is put (and, for a buried job, buried) before its original is deleted, so a
    crash between the two leaves the job twice, never nowhere. A ready original is reserved
    by id first, so no worker runs it while it moves (and a crash gives it back, ready, as it
    was); delayed and buried ones are out of workers' reach already. Moved jobs keep their
    order: ready ones by priority then age, buried ones oldest first, delayed ones soonest
    first. Reserved jobs are left where they are and counted.
    """
    if source == target:
        raise ValueError("the source and the target tube are the same")
    result = MoveResult()
    client.use(source)
    for state in states:
        last: int | None = None
        while limit is None or result.total < limit:
            job_id = _peek_front(client, state)
            if job_id is None:
                break
            if job_id == last:
                raise RuntimeError(f"job {job_id} is still at the front of {source} after moving")
            last = job_id
            if not _move_one(client, source, target, state, job_id, result):
                continue
            result.moved[state] += 1
            progress(1)
    try:
        result.reserved = client.stats_tube(source).current_jobs_reserved
    except NotFoundError:
        result.reserved = 0
    return result


def _move_one(
    client: Client, source: str, target: str, state: str, job_id: int, result: MoveResult
) -> bool:
    pipe = client.pipeline()
    if state == "ready":
        pipe.reserve_job(job_id)
    else:
        pipe.peek(job_id)
    pipe.stats_job(job_id)
    got, stats = pipe.execute(raise_on_error=False)
    if isinstance(got, NotFoundError) or isinstance(stats, NotFoundError):
        return False  # a worker took it, or it went, between the peek and now
    for outcome in (got, stats):
        if isinstance(outcome, BaseException):
            raise outcome
    # A ready original is ours now (stats-job says reserved); any other moved on its own
    # since the peek, perhaps made ready by its delay ending: copy it as it is now.
    current = "ready" if state == "ready" else stats.state
    if current == "reserved":
        return False  # a worker has it: it is the worker's to finish
    delay = max(stats.time_left, 0) if current == "delayed" else 0
    record = JobRecord(stats.tube, current, stats.pri, stats.ttr, delay, got.body)
    pipe = client.pipeline().use(target)
    _put_copy(pipe, record)
    copy_id = pipe.use(source).execute()[1]
    if record.state == "buried":
        _bury_copies(client, [(copy_id, record.priority)])
    try:
        client.delete(job_id)
    except NotFoundError:
        # Only a delayed or buried original can vanish here (a ready one is ours): kicked
        # and taken by a worker, or deleted by someone else. Its copy stays.
        result.duplicates += 1
    return True


def clear_jobs(
    client: Client,
    tubes: Iterable[str],
    states: Sequence[str] = STATES,
    *,
    progress: Progress = _nothing,
) -> dict[tuple[str, str], int]:
    """Delete every job in ``states`` of each tube; returns how many per (tube, state).

    Takes the front job of each state with ``peek-<state>`` and deletes it, pipelining the
    delete with the next peek, so only jobs seen in that state are deleted; jobs reserved by
    a worker in the meantime are left alone.
    """
    deleted: dict[tuple[str, str], int] = {}
    peeks = {"ready": "peek_ready", "delayed": "peek_delayed", "buried": "peek_buried"}
    for tube in tubes:
        client.use(tube)
        for state in states:
            count = 0
            job_id = _peek_front(client, state)
            repeats = 0
            while job_id is not None:
                pipe = client.pipeline().delete(job_id)
                getattr(pipe, peeks[state])()
                gone, front = pipe.execute(raise_on_error=False)
                if gone is None:
                    count += 1
                    progress(1)
                elif not isinstance(gone, NotFoundError):
                    raise gone
                if isinstance(front, NotFoundError):
                    break
                if isinstance(front, BaseException):
                    raise front
                repeats = repeats + 1 if front.id == job_id else 0
                if repeats > 3:
                    raise RuntimeError(f"job {job_id} of {tube} cannot be deleted")
                job_id = front.id
            deleted[(tube, state)] = count
    return deleted


# -- single jobs -----------------------------------------------------------------------------


def peek_front(client: Client, tube: str, state: str) -> int | None:
    """The id of the job at the front of ``state`` in ``tube`` (None when it has none)."""
    client.use(tube)
    return _peek_front(client, state)


def bury_job(client: Client, job_id: int) -> str:
    """Bury a job by id, keeping its priority; returns the state it was in.

    A ready or delayed job is reserved by id, then buried. A buried one is left as it is,
    and so is a reserved one (``"reserved"``: a worker has it). ``NotFoundError`` when there
    is no such job.
    """
    stats = client.stats_job(job_id)
    if stats.state in ("buried", "reserved"):
        return stats.state
    client.reserve_job(job_id)
    client.bury(job_id, stats.pri)
    return stats.state


def job_json(stats: JobStats, body: bytes, server: str) -> dict[str, Any]:
    """A job and its stats as one JSON object: the stat names with ``_``, body, encoding."""
    text, encoding = encode_body(body)
    out: dict[str, Any] = {"server": server}
    out.update(stats_dict(stats))
    out.update(encoding=encoding, body=text)
    return out


def stats_dict(stats: Any) -> dict[str, Any]:
    """A stats dataclass as a dict: the protocol's names with ``-`` as ``_``, extras too."""
    values: dict[str, Any] = {
        name: getattr(stats, name) for name in stats.__dataclass_fields__ if name != "extra"
    }
    extra: Mapping[str, str] = stats.extra
    for key, value in extra.items():
        values.setdefault(key.replace("-", "_"), value)
    return values
