"""Finding jobs by what their body contains: a bounded walk over the ids, read-only.

beanstalkd cannot search, and shows only the front job of each state. Like ``jackd
export`` (``jackd.cli._ops.Scan``), this asks ``stats-job`` about every id in turn, in
pipelined chunks, and ``peek``s only the jobs of the wanted tube and states, so nothing is
reserved, kicked or reordered. Unlike it, the walk must answer a web request in time: it
stops at a time limit or once it found enough, between any two chunks, and says where it
stopped so that the next search can go on from there. ``Scan`` yields only when it finds
a job, so it could not be stopped on time over a long run of deleted ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._errors import NotFoundError
from .._stats import JobStats
from ..cli._ops import SCAN_GAP, STATES
from ..client import Client

__all__ = ["Match", "SearchResult", "search"]

#: How many ids one pipelined round trip asks about: small, so the time limit is kept.
CHUNK = 500


@dataclass(frozen=True)
class Match:
    """A job whose body contains the text, with a piece of the body around the first hit."""

    stats: JobStats
    snippet: str
    size: int


@dataclass
class SearchResult:
    """What a search found and how far it got.

    ``first_id`` to ``last_id`` are the ids looked at. ``stopped`` says why it ended:
    ``"end"`` (no job past ``last_id``), ``"time"`` (the time limit), or ``"matches"``
    (enough found); after ``"time"`` or ``"matches"``, search again from ``last_id + 1``.
    ``highest_id`` is how far the ids went when it started, for a sense of the rest.
    """

    first_id: int
    last_id: int = 0
    highest_id: int = 0
    jobs_seen: int = 0
    candidates: int = 0
    seconds: float = 0.0
    stopped: Literal["end", "time", "matches"] = "end"
    matches: list[Match] = field(default_factory=list)


def _snippet(body: bytes, at: int, length: int, width: int = 60) -> str:
    start = max(0, at - width)
    end = min(len(body), at + length + width)
    text = body[start:end].decode("utf-8", "replace")
    return ("…" if start else "") + text + ("…" if end < len(body) else "")


def search(
    client: Client,
    tube: str,
    text: str,
    states: Sequence[str] = STATES,
    *,
    start: int = 1,
    time_limit: float = 3.0,
    max_matches: int = 50,
    ignore_case: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> SearchResult:
    """The jobs of ``tube`` in ``states`` whose body contains ``text`` (UTF-8), from id ``start``.

    Stops after about ``time_limit`` seconds, after ``max_matches`` matches, or at the end
    of the ids (as ``Scan`` decides it: past ``total-jobs``, with every job seen or
    ``SCAN_GAP`` ids in a row free).
    """
    began = clock()
    needle = text.encode("utf-8")
    if ignore_case:
        needle = needle.lower()
    stats = client.stats()
    expected = (
        stats.current_jobs_ready
        + stats.current_jobs_reserved
        + stats.current_jobs_delayed
        + stats.current_jobs_buried
    )
    floor = stats.total_jobs
    result = SearchResult(first_id=max(1, start), highest_id=floor)
    next_id = result.first_id
    last_found = next_id - 1
    seen_total = 0
    while True:
        if next_id > floor and (seen_total >= expected or next_id - last_found > SCAN_GAP):
            result.stopped = "end"
            break
        if clock() - began >= time_limit:
            result.stopped = "time"
            break
        ids = range(next_id, next_id + CHUNK)
        found = _stats(client, ids)
        seen_total += len(found)
        if found:
            last_found = found[-1].id
        wanted = [job for job in found if job.tube == tube and job.state in states]
        result.jobs_seen += len(found)
        result.candidates += len(wanted)
        for job, body in _bodies(client, wanted):
            haystack = body.lower() if ignore_case else body
            at = haystack.find(needle)
            if at < 0:
                continue
            result.matches.append(Match(job, _snippet(body, at, len(needle)), len(body)))
            if len(result.matches) >= max_matches:
                result.last_id = job.id
                result.stopped = "matches"
                result.seconds = clock() - began
                return result
        result.last_id = ids[-1]
        next_id = ids[-1] + 1
    result.last_id = max(result.last_id, result.first_id - 1)
    result.seconds = clock() - began
    return result


def _stats(client: Client, ids: range) -> list[JobStats]:
    pipe = client.pipeline()
    for job_id in ids:
        pipe.stats_job(job_id)
    found = []
    for reply in pipe.execute(raise_on_error=False):
        if isinstance(reply, NotFoundError):
            continue
        if isinstance(reply, BaseException):
            raise reply
        found.append(reply)
    return found


def _bodies(client: Client, jobs: list[JobStats]) -> list[tuple[JobStats, bytes]]:
    if not jobs:
        return []
    pipe = client.pipeline()
    for job in jobs:
        pipe.peek(job.id)
    out = []
    for job, reply in zip(jobs, pipe.execute(raise_on_error=False), strict=True):
        if isinstance(reply, NotFoundError):
            continue  # deleted between its stats-job and its peek
        if isinstance(reply, BaseException):
            raise reply
        out.append((job, reply.body))
    return out
