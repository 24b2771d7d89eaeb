"""The pool's decisions, pure: which server a job goes to, and which servers count as down.

Placement is round-robin over the live servers (or random, on request); a job with a key goes
to the live server that ranks highest for that key by rendezvous (highest-random-weight)
hashing, so a key moves only when its server is down, and removing a server moves only the
keys that were on it. A server that refuses connections, drops one or drains is down until
a backoff that grows while it stays down; then it is tried again, and is back as soon as it
answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from ._reconnect import JITTER

Strategy = Literal["round-robin", "random"]


class JobRef(NamedTuple):
    """A job across a pool: the server it is on (``host:port``) and its id there.

    Ids are unique per server only, so a job is named by both.
    """

    server: str
    id: int


def rank(key: str | bytes, servers: Sequence[str]) -> list[str]:
    """``servers`` ordered by their rendezvous weight for ``key``, highest first."""
    data = key.encode() if isinstance(key, str) else bytes(key)

    def weight(server: str) -> bytes:
        return hashlib.blake2b(data + b"\0" + server.encode(), digest_size=8).digest()

    return sorted(servers, key=weight, reverse=True)


#: How long a server stays down after its first failure, and the most after many.
FIRST_DOWN = 0.5
MAX_DOWN = 30.0


@dataclass
class Health:
    """Whether one server is up, and if not, until when it is left alone and why."""

    failures: int = 0
    down_until: float = 0.0
    reason: str = ""

    def up(self, now: float) -> bool:
        """Whether the server may be used now: up, or due for another try."""
        return now >= self.down_until

    @property
    def down(self) -> bool:
        """Whether the last thing it did was fail."""
        return self.failures > 0

    def failed(self, now: float, reason: str, rand: Callable[[], float] = JITTER.random) -> None:
        """Mark the server down: for a backoff that doubles with each failure in a row."""
        delay = min(MAX_DOWN, FIRST_DOWN * 2 ** min(self.failures, 16))
        self.failures += 1
        self.down_until = now + delay * (0.8 + 0.4 * rand())
        self.reason = reason

    def answered(self) -> None:
        """The server answered: it is up."""
        self.failures = 0
        self.down_until = 0.0
        self.reason = ""


class Placer:
    """Which server the next job goes to, among those up now."""

    def __init__(self, servers: Sequence[str], strategy: Strategy = "round-robin") -> None:
        if strategy not in ("round-robin", "random"):
            raise ValueError(f"strategy must be 'round-robin' or 'random', not {strategy!r}")
        self.servers = list(servers)
        self.strategy: Strategy = strategy
        self._next = 0

    def order(
        self,
        live: Sequence[str],
        key: str | bytes | None = None,
        rand: Callable[[int], int] = JITTER.randrange,
    ) -> list[str]:
        """The live servers in the order to try them for one job: the choice, then the rest."""
        if not live:
            return []
        if key is not None:
            return rank(key, live)
        first = self.first(len(live), rand)
        return [*live[first:], *live[:first]]

    def first(self, count: int, rand: Callable[[int], int] = JITTER.randrange) -> int:
        """Where among ``count`` live servers a job without a key starts (then the next)."""
        if self.strategy == "random":
            return rand(count)
        first = self._next % count
        self._next += 1
        return first


def split_servers(servers: str | Sequence[str]) -> list[str]:
    """The server list a pool takes: a list, or one comma-separated string."""
    if isinstance(servers, str):
        found = [part.strip() for part in servers.split(",")]
    else:
        found = [str(part).strip() for part in servers]
    found = [part for part in found if part]
    if not found:
        raise ValueError("a pool needs at least one server")
    if len(set(found)) != len(found):
        raise ValueError(f"a server is named twice in {found!r}")
    return found
