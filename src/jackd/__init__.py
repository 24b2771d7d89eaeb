"""jackd: a complete, fast, typed beanstalkd client.

>>> import jackd
>>> with jackd.connect("localhost:11300") as client:  # doctest: +SKIP
...     jid = client.put(b"Hello!")
...     job = client.reserve()
...     client.delete(job)
"""

from ._commands import (
    DEFAULT_DELAY,
    DEFAULT_PORT,
    DEFAULT_PRIORITY,
    DEFAULT_TTR,
    DEFAULT_TUBE,
    Job,
)
from ._errors import (
    BadFormatError,
    BuriedError,
    ConnectionLostError,
    CorruptJobError,
    DeadlineSoonError,
    DrainingError,
    ExpectedCRLFError,
    InternalError,
    JackdError,
    JobTooBigError,
    NotFoundError,
    NotIgnoredError,
    OutOfMemoryError,
    ProtocolError,
    ReservationLostError,
    ServerError,
    TimedOutError,
    UnknownCommandError,
)
from ._placement import JobRef
from ._reconnect import Reconnect
from ._stats import JobStats, ServerStats, TubeStats
from ._work import Backoff, Bury, JobContext, JobEvent, Retry, WorkerStats, current_job
from .client import Client, Pipeline, connect
from .pool import Pool, ServerState
from .worker import Worker

for _public in (
    Job,
    JobStats,
    ServerStats,
    TubeStats,
    Reconnect,
    Backoff,
    Bury,
    JobEvent,
    JobContext,
    Retry,
    WorkerStats,
    JobRef,
    ServerState,
):
    # Tracebacks, reprs and docs show the public name: jackd.Job, not jackd._commands.Job.
    _public.__module__ = "jackd"
del _public

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_DELAY",
    "DEFAULT_PORT",
    "DEFAULT_PRIORITY",
    "DEFAULT_TTR",
    "DEFAULT_TUBE",
    "Backoff",
    "BadFormatError",
    "BuriedError",
    "Bury",
    "Client",
    "ConnectionLostError",
    "CorruptJobError",
    "DeadlineSoonError",
    "DrainingError",
    "ExpectedCRLFError",
    "InternalError",
    "JackdError",
    "Job",
    "JobContext",
    "JobEvent",
    "JobRef",
    "JobStats",
    "JobTooBigError",
    "NotFoundError",
    "NotIgnoredError",
    "OutOfMemoryError",
    "Pipeline",
    "Pool",
    "ProtocolError",
    "Reconnect",
    "ReservationLostError",
    "Retry",
    "ServerError",
    "ServerState",
    "ServerStats",
    "TimedOutError",
    "TubeStats",
    "UnknownCommandError",
    "Worker",
    "WorkerStats",
    "__version__",
    "connect",
    "current_job",
]
