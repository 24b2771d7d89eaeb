"""The console's memory: snapshots of every server, sampled in the background, for an hour.

A ``History`` takes a ``jackd.observe`` snapshot every ``interval`` seconds on a thread of
its own and keeps, for each tube of each server, a series of samples over the last
``window`` seconds: its ready, reserved and buried counts and its put and delete rates. The
overview's rates are taken over ``rate_window`` seconds (the latest snapshot against one
about that old), so that they do not jump with every burst between two samples. It lives
only in the running console; a restart starts the charts afresh. ``chart`` turns a series
into the geometry of a small SVG chart, which a template draws.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..observe import Observer, ServerSnapshot, Snapshot, tube_rates

__all__ = ["Chart", "History", "Sample", "chart"]


@dataclass(frozen=True)
class Sample:
    """One tube on one server at one moment (``at`` in seconds of the monotonic clock)."""

    at: float
    ready: int
    reserved: int
    buried: int
    #: Jobs per second put into and deleted from the tube since the sample before; None when
    #: it cannot be known (the first sample, or a server that restarted in between).
    put: float | None
    delete: float | None


class History:
    """Samples every server's tubes in the background and remembers the last ``window``.

    ``servers`` maps display names to addresses, as ``jackd.observe.Observer`` takes them.
    Call ``start`` to sample on a thread, ``stop`` to end it; ``sample`` takes one now (the
    tests call it directly). Safe to use from several threads.
    """

    def __init__(
        self,
        servers: Mapping[str, str],
        *,
        interval: float = 2.0,
        window: float = 3600.0,
        rate_window: float = 10.0,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        """Seconds between samples."""
        self.window = window
        """Seconds of samples kept for the charts."""
        self.rate_window = rate_window
        """Seconds the overview's rates are measured over."""
        self._observer = Observer(servers, timeout=timeout, clock=clock)
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: deque[Snapshot] = deque()  # the last rate_window's snapshots
        self._series: dict[tuple[str, str], deque[Sample]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> Snapshot:
        """Read every server now, remember the samples, and return the snapshot."""
        with self._lock:
            snapshot = self._observer.snapshot()
            previous = self._recent[-1] if self._recent else None
            self._recent.append(snapshot)
            # Keep one snapshot at least rate_window old: the rates' starting point.
            while len(self._recent) > 2 and self._recent[1].at <= snapshot.at - self.rate_window:
                self._recent.popleft()
            horizon = snapshot.at - self.window
            for snap in snapshot.servers:
                earlier = previous.server(snap.server) if previous is not None else None
                self._remember(snap, earlier, horizon)
            for key, series in list(self._series.items()):
                while series and series[0].at < horizon:
                    series.popleft()
                if not series:
                    del self._series[key]
            return snapshot

    def _remember(
        self, snap: ServerSnapshot, earlier: ServerSnapshot | None, horizon: float
    ) -> None:
        for name, stats in snap.tubes.items():
            rates = tube_rates(earlier, snap, name)
            series = self._series.setdefault((snap.server, name), deque())
            series.append(
                Sample(
                    snap.at,
                    stats.current_jobs_ready,
                    stats.current_jobs_reserved,
                    stats.current_jobs_buried,
                    rates.put,
                    rates.delete,
                )
            )

    def current(self, max_age: float | None = None) -> tuple[Snapshot | None, Snapshot]:
        """A snapshot about ``rate_window`` old (None at first), and the latest.

        Samples first if the latest is older than ``max_age`` (by default ``interval``), so
        a page never shows numbers older than that.
        """
        limit = self.interval if max_age is None else max_age
        with self._lock:
            latest = self._recent[-1] if self._recent else None
        if latest is None or self._clock() - latest.at > limit:
            self.sample()
        with self._lock:
            before = self._recent[0] if len(self._recent) > 1 else None
            return before, self._recent[-1]

    def series(self, server: str, tube: str) -> list[Sample]:
        """The samples of ``tube`` on ``server`` over the window, oldest first."""
        with self._lock:
            return list(self._series.get((server, tube), ()))

    def now(self) -> float:
        """The clock the samples are stamped with."""
        return self._clock()

    # -- the background thread ---------------------------------------------------------------

    def start(self) -> None:
        """Sample every ``interval`` seconds on a daemon thread until ``stop``."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="jackd-web-history", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            # Server errors come back as data (a server marked down); anything else must not
            # end the sampling for the rest of the console's life.
            with contextlib.suppress(Exception):
                self.sample()
            self._stopping.wait(self.interval)

    def stop(self) -> None:
        """Stop sampling and close the connections."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.interval + 5)
        with self._lock:
            self._observer.close()


@dataclass(frozen=True)
class Chart:
    """A small chart's geometry: SVG polyline points, and the scales shown beside them."""

    width: int
    height: int
    #: ``"x,y x,y ..."`` for each line, in the top (counts) and bottom (rates) bands.
    ready: str
    reserved: str
    buried: str
    put: str
    delete: str
    #: The largest count and rate in the window (each band's top).
    max_count: int
    max_rate: float
    #: How many samples it draws, and over how many seconds.
    samples: int
    seconds: float


def _points(
    values: Sequence[float], xs: Sequence[float], top: float, height: float, scale: float
) -> str:
    return " ".join(
        f"{x:.1f},{top + height - (value / scale) * height:.1f}"
        for x, value in zip(xs, values, strict=True)
    )


def chart(
    samples: Sequence[Sample], now: float, window: float, width: int = 120, height: int = 36
) -> Chart:
    """The geometry of a chart of ``samples`` over the ``window`` seconds before ``now``.

    The top two thirds draw the ready, reserved and buried counts against the largest of
    them; the bottom third the put and delete rates against the largest rate. At most one
    sample per pixel column is drawn (the latest), so an hour of samples stays small.
    """
    columns: dict[int, Sample] = {}
    for sample in samples:
        column = round((sample.at - (now - window)) / window * (width - 1))
        if 0 <= column < width:
            columns[column] = sample
    picked = [columns[c] for c in sorted(columns)]
    xs = [float(c) for c in sorted(columns)]
    counts_height = height * 2 / 3 - 2
    rates_top = height * 2 / 3 + 1
    rates_height = height - rates_top - 1
    max_count = max((max(s.ready, s.reserved, s.buried) for s in picked), default=0)
    max_rate = max((max(s.put or 0.0, s.delete or 0.0) for s in picked), default=0.0)
    count_scale = float(max(max_count, 1))
    rate_scale = max_rate if max_rate > 0 else 1.0

    def counts(attr: str) -> str:
        return _points([getattr(s, attr) for s in picked], xs, 1, counts_height, count_scale)

    def rates(attr: str) -> str:
        return _points(
            [getattr(s, attr) or 0.0 for s in picked], xs, rates_top, rates_height, rate_scale
        )

    return Chart(
        width,
        height,
        ready=counts("ready"),
        reserved=counts("reserved"),
        buried=counts("buried"),
        put=rates("put"),
        delete=rates("delete"),
        max_count=max_count,
        max_rate=max_rate,
        samples=len(picked),
        seconds=(picked[-1].at - picked[0].at) if picked else 0.0,
    )
