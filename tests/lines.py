"""Waiting for a line of a child process's output, with a timeout.

A thread reads the stream, so that waiting never depends on how the pipe is buffered:
``select`` on the pipe cannot see lines already read into Python's buffer.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from typing import IO


class Lines:
    """The lines of ``stream``, read on a daemon thread as they come."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The match of the first line (from here on) matching ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r} in {self.seen!r}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the stream ended without {pattern!r}: {self.seen!r}")
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
