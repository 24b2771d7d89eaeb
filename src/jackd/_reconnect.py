"""The reconnect policy: how often and how patiently a client reconnects. Pure: no I/O."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

#: Every jitter of jackd's comes from this generator of its own: drawing from the random
#: module's shared one would disturb programs (and test tools) that seed it or watch it.
JITTER = random.Random()


@dataclass(frozen=True)
class Reconnect:
    """How a client reconnects after it lost its connection.

    ``attempts`` connection attempts are made for each loss (None: for ever). The first is
    made at once; before each next one the client waits ``first_delay`` seconds, doubled
    every time up to ``max_delay``, each wait shortened by a random part of up to ``jitter``
    (0.5: by up to half), so that many clients cut off together do not return together.
    """

    attempts: int | None = 10
    first_delay: float = 0.05
    max_delay: float = 5.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        attempts = self.attempts
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            raise ValueError(f"attempts must be a positive int or None, got {attempts!r}")
        for name in ("first_delay", "max_delay", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, not {type(value).__name__}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.first_delay > self.max_delay:
            raise ValueError("first_delay must not be larger than max_delay")
        if self.jitter > 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter!r}")

    def waits(self, rand: Callable[[], float] = JITTER.random) -> Iterator[float]:
        """The seconds to wait before each attempt: 0 for the first, then growing."""
        yield 0.0
        delay = self.first_delay
        made = 1
        while self.attempts is None or made < self.attempts:
            yield delay * (1 - self.jitter * rand())
            delay = min(self.max_delay, delay * 2)
            made += 1


def reconnect_policy(reconnect: bool | Reconnect | None) -> Reconnect | None:
    """The policy a ``reconnect=`` argument stands for: True is the default one."""
    if reconnect is None or reconnect is False:
        return None
    if reconnect is True:
        return Reconnect()
    if isinstance(reconnect, Reconnect):
        return reconnect
    kind = type(reconnect).__name__
    raise TypeError(f"reconnect must be a bool or a jackd.Reconnect, not {kind}")
