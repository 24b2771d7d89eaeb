"""The session model, from tables: what each reply does to the used tube, the watch list and
the reserved and lost jobs, how a fresh connection is brought back to the same tubes, and what
is refused or replayed after a loss. No sockets: real reply bytes go through ``Core.feed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jackd
from jackd import _commands as cmds
from jackd._commands import Job
from jackd._errors import (
    BuriedError,
    ConnectionLostError,
    DeadlineSoonError,
    NotFoundError,
    NotIgnoredError,
    ReservationLostError,
    TimedOutError,
)
from jackd._protocol import Command, Core, Kind
from jackd._session import Session, put_back, unknown_fate
from jackd._stats import JobStats

JOB_STATS_BODY = b"---\nid: 3\ntube: default\nstate: reserved\npri: 0\n"
STATS_JOB_REPLY = b"OK %d\r\n%s\r\n" % (len(JOB_STATS_BODY), JOB_STATS_BODY)
LIST_BODY = b"---\n- default\n- extra\n"
LIST_REPLY = b"OK %d\r\n%s\r\n" % (len(LIST_BODY), LIST_BODY)


def session_of(
    used: str = "default",
    watched: tuple[str, ...] = ("default",),
    reserved: frozenset[int] = frozenset(),
    lost: frozenset[int] = frozenset(),
) -> Session:
    session = Session(used, watched)
    session.reserved = set(reserved)
    session.lost = set(lost)
    return session


def answer(session: Session, cmd: Command[Any], reply: bytes) -> Command[Any]:
    """Feed ``reply`` to a core whose one pending command is ``cmd``; return it answered."""
    core = Core(session=session)
    core.pending.append(cmd)
    done = core.feed(reply)
    assert done == [cmd]
    assert not core.pending
    assert core.failure is None
    assert core.session is session
    return cmd


# -- every command's effect on the session ---------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """One command, the reply it got, and the session before and after it."""

    name: str
    make: Callable[[], Command[Any]]
    reply: bytes
    reserved_before: frozenset[int] = frozenset()
    lost_before: frozenset[int] = frozenset()
    used: str = "default"
    watched: tuple[str, ...] = ("default", "extra")
    reserved: frozenset[int] = frozenset()
    lost: frozenset[int] = frozenset()
    error: type[Exception] | None = None


def _ids(*ids: int) -> frozenset[int]:
    return frozenset(ids)


EFFECTS = [
    # Reserves: the job is this connection's now.
    Effect("reserve", lambda: cmds.reserve(), b"RESERVED 7 2\r\nhi\r\n", reserved=_ids(7)),
    Effect(
        "reserve-with-timeout", lambda: cmds.reserve(0), b"RESERVED 7 0\r\n\r\n", reserved=_ids(7)
    ),
    Effect("reserve-job", lambda: cmds.reserve_job(7), b"RESERVED 7 1\r\nx\r\n", reserved=_ids(7)),
    Effect(
        "reserve adds to the held jobs",
        lambda: cmds.reserve(),
        b"RESERVED 7 1\r\nx\r\n",
        reserved_before=_ids(3),
        reserved=_ids(3, 7),
    ),
    Effect(
        "reserve of an id that was lost takes it out of lost",
        lambda: cmds.reserve(5),
        b"RESERVED 7 1\r\nx\r\n",
        lost_before=_ids(7, 8),
        reserved=_ids(7),
        lost=_ids(8),
    ),
    Effect(
        "reserve-job of a lost id takes it out of lost",
        lambda: cmds.reserve_job(7),
        b"RESERVED 7 1\r\nx\r\n",
        lost_before=_ids(7),
        reserved=_ids(7),
    ),
    Effect(
        "reserve timed out",
        lambda: cmds.reserve(0),
        b"TIMED_OUT\r\n",
        reserved_before=_ids(3),
        reserved=_ids(3),
        error=TimedOutError,
    ),
    Effect(
        "reserve deadline soon",
        lambda: cmds.reserve(),
        b"DEADLINE_SOON\r\n",
        reserved_before=_ids(3),
        reserved=_ids(3),
        error=DeadlineSoonError,
    ),
    Effect(
        "reserve-job not found",
        lambda: cmds.reserve_job(7),
        b"NOT_FOUND\r\n",
        reserved_before=_ids(3),
        reserved=_ids(3),
        error=NotFoundError,
    ),
    # Settling a job: it is no longer held.
    Effect(
        "delete",
        lambda: cmds.delete(3),
        b"DELETED\r\n",
        reserved_before=_ids(3, 4),
        reserved=_ids(4),
    ),
    Effect(
        "delete of a job not held",
        lambda: cmds.delete(9),
        b"DELETED\r\n",
        reserved_before=_ids(3),
        reserved=_ids(3),
    ),
    Effect(
        "delete of a lost job that nobody took",
        lambda: cmds.delete(3),
        b"DELETED\r\n",
        lost_before=_ids(3),
    ),
    Effect(
        "delete not found: TTR ran out",
        lambda: cmds.delete(3),
        b"NOT_FOUND\r\n",
        reserved_before=_ids(3),
        error=NotFoundError,
    ),
    Effect(
        "delete of a lost job not found",
        lambda: cmds.delete(3),
        b"NOT_FOUND\r\n",
        lost_before=_ids(3, 4),
        lost=_ids(4),
        error=ReservationLostError,
    ),
    Effect(
        "release",
        lambda: cmds.release(3, 0, 0),
        b"RELEASED\r\n",
        reserved_before=_ids(3),
        reserved=frozenset(),
    ),
    Effect(
        "release buried for want of memory",
        lambda: cmds.release(3, 0, 0),
        b"BURIED\r\n",
        reserved_before=_ids(3),
        error=BuriedError,
    ),
    Effect(
        "release not found",
        lambda: cmds.release(3, 0, 0),
        b"NOT_FOUND\r\n",
        reserved_before=_ids(3),
        error=NotFoundError,
    ),
    Effect("bury", lambda: cmds.bury(3, 0), b"BURIED\r\n", reserved_before=_ids(3)),
    Effect(
        "bury not found",
        lambda: cmds.bury(3, 0),
        b"NOT_FOUND\r\n",
        reserved_before=_ids(3),
        error=NotFoundError,
    ),
    Effect(
        "touch keeps the job",
        lambda: cmds.touch(3),
        b"TOUCHED\r\n",
        reserved_before=_ids(3),
        reserved=_ids(3),
    ),
    Effect(
        "touch not found: the job is not held any more",
        lambda: cmds.touch(3),
        b"NOT_FOUND\r\n",
        reserved_before=_ids(3, 4),
        reserved=_ids(4),
        error=NotFoundError,
    ),
    # Tubes.
    Effect("use", lambda: cmds.use("emails"), b"USING emails\r\n", used="emails"),
    Effect(
        "watch", lambda: cmds.watch("more"), b"WATCHING 3\r\n", watched=("default", "extra", "more")
    ),
    Effect("watch of a watched tube", lambda: cmds.watch("extra"), b"WATCHING 2\r\n"),
    Effect("ignore", lambda: cmds.ignore("extra"), b"WATCHING 1\r\n", watched=("default",)),
    Effect("ignore default", lambda: cmds.ignore("default"), b"WATCHING 1\r\n", watched=("extra",)),
    Effect(
        "ignore refused", lambda: cmds.ignore("extra"), b"NOT_IGNORED\r\n", error=NotIgnoredError
    ),
    # Everything else leaves the session alone.
    Effect(
        "put",
        lambda: cmds.put(b"x", 0, 0, 60),
        b"INSERTED 9\r\n",
        reserved_before=_ids(3),
        reserved=_ids(3),
    ),
    Effect(
        "peek",
        lambda: cmds.peek(3),
        b"FOUND 3 1\r\nx\r\n",
        reserved_before=_ids(3),
        reserved=_ids(3),
    ),
    Effect("peek-ready does not reserve", lambda: cmds.peek_ready(), b"FOUND 8 1\r\nx\r\n"),
    Effect("peek-delayed", lambda: cmds.peek_delayed(), b"NOT_FOUND\r\n", error=NotFoundError),
    Effect("peek-buried", lambda: cmds.peek_buried(), b"FOUND 8 1\r\nx\r\n"),
    Effect(
        "stats-job",
        lambda: cmds.stats_job(3),
        STATS_JOB_REPLY,
        reserved_before=_ids(3),
        reserved=_ids(3),
    ),
    Effect(
        "stats-job not found",
        lambda: cmds.stats_job(3),
        b"NOT_FOUND\r\n",
        reserved_before=_ids(3),
        reserved=_ids(3),
        error=NotFoundError,
    ),
    Effect("kick-job", lambda: cmds.kick_job(3), b"KICKED\r\n", lost_before=_ids(3), lost=_ids(3)),
    Effect("kick", lambda: cmds.kick(5), b"KICKED 2\r\n"),
    Effect("list-tube-used is no use", lambda: cmds.list_tube_used(), b"USING other\r\n"),
    Effect("list-tubes-watched", lambda: cmds.list_tubes_watched(), LIST_REPLY),
    Effect("pause-tube", lambda: cmds.pause_tube("extra", 10), b"PAUSED\r\n"),
]


@pytest.mark.parametrize("effect", EFFECTS, ids=[e.name for e in EFFECTS])
def test_reply_effect_on_session(effect: Effect) -> None:
    session = session_of(
        watched=("default", "extra"), reserved=effect.reserved_before, lost=effect.lost_before
    )
    cmd = answer(session, effect.make(), effect.reply)
    if effect.error is None:
        assert cmd.error is None, cmd.error
    else:
        assert type(cmd.error) is effect.error
    assert session.used == effect.used
    assert tuple(session.watched) == effect.watched
    assert session.reserved == set(effect.reserved)
    assert session.lost == set(effect.lost)


def test_deliver_updates_the_session_without_the_pending_fifo() -> None:
    # The blocking shell frames a reply itself and hands it to deliver: same effect.
    session = Session()
    core = Core(session=session)
    cmd = core.deliver(cmds.reserve(), [b"RESERVED", b"12", b"3"], b"abc")
    assert cmd.result == Job(12, b"abc")
    assert session.reserved == {12}
    core.deliver(cmds.use("x"), [b"USING", b"x"], None)
    core.deliver(cmds.watch("y"), [b"WATCHING", b"2"], None)
    core.deliver(cmds.delete(12), [b"DELETED"], None)
    assert (session.used, list(session.watched), session.reserved) == ("x", ["default", "y"], set())


def test_replies_of_a_pipeline_update_the_session_in_order() -> None:
    session = Session()
    core = Core(session=session)
    batch: list[Command[Any]] = [
        cmds.use("a"),
        cmds.watch("a"),
        cmds.ignore("default"),
        cmds.reserve(0),
        cmds.bury(4, 0),
    ]
    core.pending.extend(batch)
    done = core.feed(b"USING a\r\nWATCHING 2\r\nWATCHING 1\r\nRESERVED 4 1\r\nx\r\nBURIED\r\n")
    assert done == batch
    assert (session.used, list(session.watched), session.reserved) == ("a", ["a"], set())


def test_lost_delete_not_found_is_a_reservation_lost_error_naming_the_command() -> None:
    session = session_of(lost=_ids(42))
    cmd = answer(session, cmds.delete(42), b"NOT_FOUND\r\n")
    assert isinstance(cmd.error, ReservationLostError)
    assert isinstance(cmd.error, NotFoundError)  # an except NotFoundError still catches it
    assert str(cmd.error).startswith("delete 42: NOT_FOUND (")
    assert "lost" in str(cmd.error)
    # Asked again, the job is nobody's to this client: a plain NOT_FOUND.
    again = answer(session, cmds.delete(42), b"NOT_FOUND\r\n")
    assert type(again.error) is NotFoundError


def test_delete_not_found_of_a_job_never_lost_stays_not_found() -> None:
    cmd = answer(session_of(), cmds.delete(42), b"NOT_FOUND\r\n")
    assert type(cmd.error) is NotFoundError
    assert str(cmd.error) == (
        "delete 42: NOT_FOUND (no such job, or it is reserved by another connection)"
    )


# -- steps_to: bringing a new connection back ------------------------------------------------


@dataclass(frozen=True)
class Steps:
    name: str
    now: tuple[str, tuple[str, ...]]
    target: tuple[str, tuple[str, ...]]
    steps: list[str]


STEPS = [
    Steps("equal", ("default", ("default",)), ("default", ("default",)), []),
    Steps("equal, several tubes", ("a", ("b", "c")), ("a", ("b", "c")), []),
    Steps("same tubes watched in another order", ("a", ("b", "c")), ("a", ("c", "b")), []),
    Steps("use", ("default", ("default",)), ("emails", ("default",)), ["use emails"]),
    Steps("watch", ("default", ("default",)), ("default", ("default", "x")), ["watch x"]),
    Steps("ignore", ("default", ("default", "x")), ("default", ("default",)), ["ignore x"]),
    Steps(
        "replace the only tube: watch before ignore",
        ("default", ("default",)),
        ("default", ("x",)),
        ["watch x", "ignore default"],
    ),
    Steps(
        "everything: use first, watches before ignores, in watch order",
        ("default", ("default", "old")),
        ("out", ("z", "y", "old")),
        ["use out", "watch z", "watch y", "ignore default"],
    ),
]


@pytest.mark.parametrize("case", STEPS, ids=[s.name for s in STEPS])
def test_steps_to(case: Steps) -> None:
    now = Session(*case.now)
    target = Session(*case.target)
    steps = now.steps_to(target)
    assert [step.describe() for step in steps] == case.steps
    for step in steps:
        assert step.data == step.describe().encode() + b"\r\n"
        assert step.kind in (cmds.USE, cmds.WATCH, cmds.IGNORE)
    assert now.same_tubes(target) == (not case.steps)
    # steps_to only says what to send: neither session changes.
    assert (now.used, tuple(now.watched)) == case.now
    assert (target.used, tuple(target.watched)) == case.target


_TUBES = st.lists(st.sampled_from(["default", "a", "b", "c", "d"]), min_size=1, unique=True)


@given(
    st.sampled_from(["default", "a", "b"]), _TUBES, st.sampled_from(["default", "a", "b"]), _TUBES
)
def test_steps_to_reach_the_target_and_never_empty_the_watch_list(
    used: str, watched: list[str], target_used: str, target_watched: list[str]
) -> None:
    session = Session(used, tuple(watched))
    target = Session(target_used, tuple(target_watched))
    core = Core(session=session)
    for step in session.steps_to(target):
        if step.kind is cmds.USE:
            reply = b"USING %s\r\n" % step.arg.encode()  # type: ignore[union-attr]
        else:
            assert step.kind in (cmds.WATCH, cmds.IGNORE)
            count = len(session.watched) + (1 if step.kind is cmds.WATCH else -1)
            # The server refuses to ignore its last tube; steps must never ask it to.
            assert count >= 1, f"{step.describe()} would meet NOT_IGNORED"
            reply = b"WATCHING %d\r\n" % count
        core.pending.append(step)
        assert core.feed(reply) == [step]
        assert step.error is None
    assert session.same_tubes(target)
    assert session.steps_to(target) == []


def test_tubes_copies_tubes_alone() -> None:
    session = session_of("a", ("b", "c"), reserved=_ids(1), lost=_ids(2))
    copy = session.tubes()
    assert copy is not session
    assert (copy.used, list(copy.watched), copy.reserved, copy.lost) == (
        "a",
        ["b", "c"],
        set(),
        set(),
    )
    copy.watched["d"] = None
    assert list(session.watched) == ["b", "c"]


# -- losing the connection -------------------------------------------------------------------


def test_connection_lost_moves_reserved_to_lost_and_returns_the_old_tubes() -> None:
    session = session_of("emails", ("default", "jobs"), reserved=_ids(1, 2), lost=_ids(9))
    target = session.connection_lost()
    assert (target.used, list(target.watched)) == ("emails", ["default", "jobs"])
    assert (target.reserved, target.lost) == (set(), set())
    # A new connection starts from the server's defaults, holding nothing.
    assert (session.used, list(session.watched)) == ("default", ["default"])
    assert session.reserved == set()
    assert session.lost == {1, 2, 9}
    assert [s.describe() for s in session.steps_to(target)] == ["use emails", "watch jobs"]


def test_core_reset_forgets_the_stream_and_keeps_the_session() -> None:
    session = session_of("emails", ("default",))
    core = Core(session=session)
    core.pending.append(cmds.reserve())
    assert core.feed(b"RESERVED 5 1\r\nx\r\n") != []
    stranded = cmds.stats()
    core.pending.append(stranded)
    assert core.feed(b"OK 100\r\n---\npart") == []  # half a reply when the line dropped
    target = core.reset()
    assert core.session is session
    assert not core.pending
    assert (target.used, list(target.watched)) == ("emails", ["default"])
    assert (session.used, session.reserved, session.lost) == ("default", set(), {5})
    # Nothing of the old stream is left: a fresh reply frames on its own.
    fresh = cmds.list_tube_used()
    core.pending.append(fresh)
    assert core.feed(b"USING default\r\n") == [fresh]
    assert fresh.result == "default"


# -- refusing commands about lost jobs -------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "still_lost"),
    [
        pytest.param(lambda: cmds.touch(5), True, id="touch"),
        pytest.param(lambda: cmds.release(5, 3, 0), False, id="release"),
        pytest.param(lambda: cmds.bury(5, 3), False, id="bury"),
    ],
)
def test_refuse_a_command_on_a_lost_job(make: Callable[[], Command[Any]], still_lost: bool) -> None:
    session = session_of(lost=_ids(5, 6))
    cmd = make()
    error = session.refuse(cmd)
    assert isinstance(error, ReservationLostError)
    assert isinstance(error, NotFoundError)
    assert str(error).startswith(f"{cmd.describe()}: not sent (")
    assert (5 in session.lost) == still_lost
    assert 6 in session.lost
    assert session.reserved == set()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: cmds.touch(7), id="touch of a job not lost"),
        pytest.param(lambda: cmds.release(7, 0, 0), id="release of a job not lost"),
        pytest.param(lambda: cmds.bury(7, 0), id="bury of a job not lost"),
        # delete is sent: it works if nobody took the job meanwhile.
        pytest.param(lambda: cmds.delete(5), id="delete of a lost job"),
        pytest.param(lambda: cmds.reserve_job(5), id="reserve-job of a lost job"),
        pytest.param(lambda: cmds.kick_job(5), id="kick-job of a lost job"),
        pytest.param(lambda: cmds.peek(5), id="peek of a lost job"),
    ],
)
def test_refuse_lets_other_commands_through(make: Callable[[], Command[Any]]) -> None:
    session = session_of(reserved=_ids(7), lost=_ids(5))
    assert session.refuse(make()) is None
    assert (session.reserved, session.lost) == ({7}, {5})


def test_reservation_lost_error_is_public_as_jackd_name() -> None:
    assert ReservationLostError.__module__ == "jackd"
    assert issubclass(ReservationLostError, NotFoundError)


def test_reservation_lost_error_is_exported() -> None:
    assert jackd.ReservationLostError is ReservationLostError
    assert "ReservationLostError" in jackd.__all__


# -- which commands may be sent again --------------------------------------------------------

REPLAYABLE: dict[str, tuple[Kind[Any], bool]] = {
    "use": (cmds.USE, True),
    "watch": (cmds.WATCH, True),
    "ignore": (cmds.IGNORE, True),
    "list-tubes": (cmds.LIST_TUBES, True),
    "list-tube-used": (cmds.LIST_TUBE_USED, True),
    "list-tubes-watched": (cmds.LIST_TUBES_WATCHED, True),
    "stats": (cmds.STATS, True),
    "stats (max-job-size)": (cmds.MAX_JOB_SIZE, True),
    "stats-job": (cmds.STATS_JOB, True),
    "stats-tube": (cmds.STATS_TUBE, True),
    "peek": (cmds.PEEK, True),
    "peek-ready": (cmds.PEEK_READY, True),
    "peek-delayed": (cmds.PEEK_DELAYED, True),
    "peek-buried": (cmds.PEEK_BURIED, True),
    "reserve": (cmds.RESERVE, True),
    "reserve-with-timeout": (cmds.RESERVE_WITH_TIMEOUT, True),
    "reserve-job": (cmds.RESERVE_JOB, True),
    "put": (cmds.PUT, False),
    "delete": (cmds.DELETE, False),
    "release": (cmds.RELEASE, False),
    "bury": (cmds.BURY, False),
    "touch": (cmds.TOUCH, False),
    "kick": (cmds.KICK, False),
    "kick-job": (cmds.KICK_JOB, False),
    "pause-tube": (cmds.PAUSE_TUBE, False),
}


@pytest.mark.parametrize(("kind", "replayable"), REPLAYABLE.values(), ids=REPLAYABLE.keys())
def test_replayable(kind: Kind[Any], replayable: bool) -> None:
    assert kind.replayable is replayable


def test_replayable_table_covers_every_kind() -> None:
    kinds = {id(v) for v in vars(cmds).values() if isinstance(v, Kind)}
    assert kinds == {id(kind) for kind, _ in REPLAYABLE.values()}


# -- rearm: a replayed reserve-with-timeout waits only for what is left -----------------------


def test_rearm_gives_reserve_with_timeout_the_time_it_has_left() -> None:
    cmd = cmds.reserve(10)
    cmd.error = ConnectionLostError("lost")
    cmds.rearm(cmd, 3.4)
    assert cmd.error is None
    assert cmd.arg == 7
    assert cmd.data == b"reserve-with-timeout 7\r\n"
    assert cmd.describe() == "reserve-with-timeout 7"
    cmds.rearm(cmd, 3.0)  # replayed again: counted from its latest send
    assert (cmd.arg, cmd.data) == (4, b"reserve-with-timeout 4\r\n")


def test_rearm_never_asks_for_negative_time() -> None:
    cmd = cmds.reserve(2)
    cmds.rearm(cmd, 30.0)
    assert (cmd.arg, cmd.data) == (0, b"reserve-with-timeout 0\r\n")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: cmds.reserve(), id="reserve"),
        pytest.param(lambda: cmds.reserve_job(5), id="reserve-job"),
        pytest.param(lambda: cmds.use("a"), id="use"),
        pytest.param(lambda: cmds.stats_job(5), id="stats-job"),
        pytest.param(lambda: cmds.list_tubes_watched(), id="list-tubes-watched"),
    ],
)
def test_rearm_sends_other_kinds_as_they_were(make: Callable[[], Command[Any]]) -> None:
    cmd = make()
    data, arg = cmd.data, cmd.arg
    cmd.error = ConnectionLostError("lost")
    cmds.rearm(cmd, 100.0)
    assert (cmd.data, cmd.arg) == (data, arg)
    assert cmd.error is None


# -- put_back: a job nobody will get goes back as it was --------------------------------------


@pytest.mark.parametrize(
    ("stats", "line", "kind"),
    [
        pytest.param(
            JobStats(id=5, state="buried", pri=7), b"bury 5 7\r\n", cmds.BURY, id="buried"
        ),
        pytest.param(
            JobStats(id=5, state="delayed", pri=3, delay=60, time_left=12),
            b"release 5 3 12\r\n",
            cmds.RELEASE,
            id="delayed",
        ),
        pytest.param(
            JobStats(id=5, state="delayed", pri=3, delay=60, time_left=-1),
            b"release 5 3 0\r\n",
            cmds.RELEASE,
            id="delayed and overdue",
        ),
        pytest.param(
            JobStats(id=5, state="ready", pri=9), b"release 5 9 0\r\n", cmds.RELEASE, id="ready"
        ),
        pytest.param(
            JobStats(id=5, state="reserved", pri=9, time_left=50),
            b"release 5 9 0\r\n",
            cmds.RELEASE,
            id="reserved",
        ),
    ],
)
def test_put_back(stats: JobStats, line: bytes, kind: Kind[Any]) -> None:
    cmd = put_back(5, stats)
    assert cmd.kind is kind
    assert cmd.data == line
    assert cmd.arg == 5


def test_unknown_fate_says_the_command_may_have_taken_effect() -> None:
    error = unknown_fate(cmds.delete(8), "beanstalkd at h:1", "the client has reconnected")
    assert isinstance(error, ConnectionLostError)
    message = str(error)
    assert message.startswith("delete 8: the connection to beanstalkd at h:1 was lost")
    assert "may or may not have taken effect; the client has reconnected" in message
