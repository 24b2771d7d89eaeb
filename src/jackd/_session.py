"""What a connection is, as far as the client's commands made it: the session model.

A beanstalkd connection carries state of its own: the tube it uses, the tubes it watches, and
the jobs it holds reserved. The server forgets all of it when the connection drops (and
releases the jobs). ``Session`` follows that state from the replies (``Core.deliver`` calls
``apply`` for every command whose kind changes it), and knows which commands bring a fresh
connection back to it (``steps_to``). Both shells use it: to restore the tubes after a
reconnect, and (asyncio) to repair what a cancelled command changed.

Jobs reserved on a connection that was lost are remembered as lost: ``touch``, ``release``
and ``bury`` of them are refused without being sent (``refuse``), and a ``delete`` of one that
the server answers ``NOT_FOUND`` becomes a ``ReservationLostError``.

Nothing here does I/O.
"""

from __future__ import annotations

from typing import Any

from . import _commands as cmds
from ._commands import DEFAULT_TUBE
from ._errors import (
    BuriedError,
    ConnectionLostError,
    CorruptJobError,
    NotFoundError,
    ReservationLostError,
)
from ._protocol import Command
from ._stats import JobStats

_LOST = (
    "the job was reserved on a connection that has since been lost, and beanstalkd released "
    "it then; another worker may hold it now"
)


class Session:
    """The used tube, the watch list and the reserved jobs of one client's connection."""

    __slots__ = ("lost", "reserved", "used", "watched")

    def __init__(self, used: str = DEFAULT_TUBE, watched: tuple[str, ...] = (DEFAULT_TUBE,)):
        #: The tube puts go to.
        self.used = used
        #: The watched tubes, in the order they were watched (a dict used as an ordered set).
        self.watched: dict[str, None] = dict.fromkeys(watched)
        #: Jobs this connection holds reserved, as far as the replies tell.
        self.reserved: set[int] = set()
        #: Jobs reserved on an earlier connection of the same client, since lost.
        self.lost: set[int] = set()

    def __repr__(self) -> str:
        return (
            f"<Session using {self.used!r} watching {list(self.watched)!r} "
            f"reserved {sorted(self.reserved)!r} lost {sorted(self.lost)!r}>"
        )

    def tubes(self) -> Session:
        """A copy of the used tube and watch list alone (no jobs)."""
        return Session(self.used, tuple(self.watched))

    def same_tubes(self, other: Session) -> bool:
        """Whether both use the same tube and watch the same set of tubes."""
        return self.used == other.used and self.watched.keys() == other.watched.keys()

    # -- following replies -------------------------------------------------------------------

    def apply(self, cmd: Command[Any]) -> None:
        """Take in the effect of an answered command (one whose kind is ``tracked``)."""
        kind = cmd.kind
        error = cmd.error
        if error is None:
            if kind.reserves:
                jid: int = cmd.result.id
                self.reserved.add(jid)
                # Ids are reused after a restart without a binlog; this one is ours now.
                self.lost.discard(jid)
            elif kind.settles_job:
                self.reserved.discard(cmd.arg)
                self.lost.discard(cmd.arg)
            elif kind.changes == "use":
                self.used = cmd.result
            elif kind.changes == "watch":
                self.watched[cmd.arg] = None  # type: ignore[index]
            elif kind.changes == "ignore":
                self.watched.pop(cmd.arg, None)  # type: ignore[arg-type]
        elif isinstance(error, NotFoundError) and (kind.settles_job or kind.holds_job):
            jid = cmd.arg  # type: ignore[assignment]
            # Not ours (any more): its TTR ran out, or it was reserved on a lost connection.
            self.reserved.discard(jid)
            if jid in self.lost:
                if kind.settles_job:
                    self.lost.discard(jid)
                cmd.error = ReservationLostError(f"{cmd.describe()}: NOT_FOUND ({_LOST})")
        elif isinstance(error, CorruptJobError) and kind.reserves:
            self.reserved.add(error.job_id)  # damaged, but reserved by this connection all the same
        elif isinstance(error, BuriedError) and kind.settles_job:
            self.reserved.discard(cmd.arg)

    def refuse(self, cmd: Command[Any]) -> ReservationLostError | None:
        """The error for a command that must not be sent: one about a lost reservation.

        ``touch``, ``release`` and ``bury`` act only on a job this connection holds, and a
        job reserved on a lost connection is not held by any connection of this client.
        """
        if cmd.kind.holds_job and cmd.arg in self.lost:
            if cmd.kind.settles_job:
                self.lost.discard(cmd.arg)
            return ReservationLostError(f"{cmd.describe()}: not sent ({_LOST})")
        return None

    def connection_lost(self) -> Session:
        """The server dropped this connection: return its tubes, then start afresh.

        What the server knew goes: the tubes are the defaults again, and every reserved job
        is now lost. The returned copy is what a new connection must be brought back to.
        """
        target = self.tubes()
        self.used = DEFAULT_TUBE
        self.watched = dict.fromkeys((DEFAULT_TUBE,))
        self.lost |= self.reserved
        self.reserved = set()
        return target

    # -- getting back ------------------------------------------------------------------------

    def steps_to(self, target: Session) -> list[Command[Any]]:
        """The commands that take this connection's tubes to ``target``'s.

        Watches go before ignores, so no ignore can meet NOT_IGNORED.
        """
        steps: list[Command[Any]] = []
        if self.used != target.used:
            steps.append(cmds.use(target.used))
        steps.extend(cmds.watch(tube) for tube in target.watched if tube not in self.watched)
        steps.extend(cmds.ignore(tube) for tube in self.watched if tube not in target.watched)
        return steps


def unknown_fate(cmd: Command[Any], label: str, why: str) -> ConnectionLostError:
    """The error for a command that was sent but not answered before the connection dropped.

    ``why`` says what became of the client (reconnected, or why not).
    """
    error = ConnectionLostError(
        f"{cmd.describe()}: the connection to {label} was lost after the command was sent, "
        f"so it may or may not have taken effect; {why}"
    )
    error.maybe_applied = True
    return error


def put_back(job_id: int, stats: JobStats) -> Command[None]:
    """The command that returns a job nobody will get to the state ``stats`` found it in.

    ``stats`` were read before it was reserved (by a ``reserve-job``): a buried job is
    buried again, a delayed one delayed by what was left of its delay. Read after a plain
    reserve, they say ``reserved``, and the job goes back to ready. Its priority is kept.
    """
    if stats.state == "buried":
        return cmds.bury(job_id, stats.pri)
    if stats.state == "delayed":
        return cmds.release(job_id, stats.pri, max(0, stats.time_left))
    return cmds.release(job_id, stats.pri, 0)
