"""The unit of work: one transaction, and what it asks to happen once it is committed.

A request, a WebSocket command, a background job or a CLI command runs its work in one transaction
(``run``); the work never commits. What must happen only after a successful commit — room events
for connected browsers, waking the outbox or media worker — is queued on the session with the
typed helpers below (``room_event``, ``wake_outbox``, ``wake_media``) and handed to a ``Dispatcher``
when the commit succeeded; a rolled-back transaction asks for nothing. The running server's
dispatcher publishes room events to its hub and wakes its workers (see ``app.py``); a process with
no browsers and no workers of its own (the CLI) uses ``NO_DISPATCH``, since the server's workers
poll anyway.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from podium.config import Settings
from podium.kit.errors import Conflict, DomainError, RaceLost

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - a write's item, beside R its result
R = TypeVar("R")
A = TypeVar("A")  # what a handed write is answered with
_KEY = "podium.after_commit"
_CHECKS = "podium.before_commit"
_APPENDED = "podium.appended_rows"
RACE_ATTEMPTS = 3


@dataclass
class AfterCommit:
    """What a transaction asks for once it is committed."""

    room_events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    wake_outbox: bool = False
    wake_media: bool = False
    wake_streams: bool = False
    wake_phones: bool = False


def after_commit(session: Session) -> AfterCommit:
    """The session's pending after-commit effects (created on first use)."""
    pending = session.info.get(_KEY)
    if not isinstance(pending, AfterCommit):
        pending = session.info[_KEY] = AfterCommit()
    return pending


def room_event(session: Session, conference_id: int, event: dict[str, Any]) -> None:
    """Tell the conference's room (its connected browsers) ``event`` once the transaction commits."""
    after_commit(session).room_events.append((conference_id, event))


def wake_outbox(session: Session) -> None:
    """Mail, webhooks or jobs were queued: deliver them now rather than at the next poll."""
    after_commit(session).wake_outbox = True


def wake_media(session: Session) -> None:
    """A media job was queued: start it now rather than at the next poll."""
    after_commit(session).wake_media = True


def wake_streams(session: Session) -> None:
    """A stream was started or stopped: the stream keepers look now rather than at the next poll."""
    after_commit(session).wake_streams = True


def wake_phones(session: Session) -> None:
    """Phone legs were asked for or told to hang up: this process's phone keeper looks at once."""
    after_commit(session).wake_phones = True


def before_commit(session: Session, key: tuple[str | int, ...], check: Callable[[], None]) -> None:
    """Run ``check`` when the work is done, just before the commit (once per ``key``: a second
    registration under the same key is dropped). For a check that must see every rival's committed
    rows, such as a quota: the lock it takes is then held for the check and the commit, not for
    the whole request, so one company's writes overlap instead of queueing on its row. Checks run
    in the order of their keys, which is the order their locks are taken in (no two transactions
    wait on each other's). A check raises to refuse: the transaction is rolled back. A check
    registered within a savepoint that is rolled back is dropped with it."""
    checks: dict[tuple[str | int, ...], _Pending] = session.info.setdefault(_CHECKS, {})
    if key not in checks:
        checks[key] = _Pending(_transaction(session), check)


def append_row(session: Session, model: type[Any], values: dict[str, Any]) -> None:
    """Insert ``values`` into ``model``'s table with the transaction's next statement or its commit,
    in one ``executemany`` with every other row appended until then, fetching nothing back. For
    rows the work never changes again, such as the audit log's: the ORM's insert of an object (its
    identity and state, the id it asks back) costs more than the row. Like an added object, an
    appended row is in the database before any query of the session runs (and before the checks);
    column defaults apply as in any insert; a row appended within a savepoint that is rolled back
    is dropped with it."""
    appended: list[_Pending] = session.info.setdefault(_APPENDED, [])
    appended.append(_Pending(_transaction(session), (cast(Table, model.__table__), values)))


def _write_appended(session: Session) -> None:
    """Insert the rows appended so far, one ``executemany`` per table, in the order they were appended."""
    appended: list[_Pending] | None = session.info.pop(_APPENDED, None)
    if not appended:
        return
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for pending in appended:
        table, values = pending.what
        by_table.setdefault(table, []).append(values)
    connection = session.connection()
    for table, rows in by_table.items():
        connection.execute(insert(table), rows)


@event.listens_for(Session, "do_orm_execute")
def _appended_before_a_query(state: ORMExecuteState) -> None:
    """The session's statements see its appended rows, as they see its added objects (autoflush)."""
    if state.session.info.get(_APPENDED):
        _write_appended(state.session)


@dataclass(frozen=True)
class _Pending:
    """A check or an appended row, with the transaction or savepoint it was asked for in."""

    transaction: SessionTransaction
    what: Any


def _transaction(session: Session) -> SessionTransaction:
    """The innermost transaction of ``session``, begun now if none is (its rollback drops what was
    asked for in it)."""
    current = session.get_nested_transaction() or session.get_transaction()
    if current is None:
        session.connection()
        current = session.get_transaction()
        assert current is not None
    return current


@event.listens_for(Session, "before_commit")
def _run_checks(session: Session) -> None:
    """Every commit runs its checks (a job or a command that commits itself too), after a flush:
    what they count includes the transaction's own rows. The flush comes first, always (the commit
    would make it next anyway): its listeners may add checks of their own; the appended rows go in
    with it (and those the checks append, after them). A savepoint's release is not the commit:
    what was asked for in it waits for the commit."""
    if session.in_nested_transaction():
        return
    session.flush()
    _write_appended(session)
    checks: dict[tuple[str | int, ...], _Pending] = session.info.pop(_CHECKS, {})
    for key in sorted(checks, key=lambda k: tuple(str(part) for part in k)):
        checks[key].what()
    _write_appended(session)


@event.listens_for(Session, "after_soft_rollback")
def _drop_undone(session: Session, previous: SessionTransaction) -> None:
    """What a rolled-back transaction or savepoint asked for is not asked any more (a savepoint's
    rollback leaves what its enclosing transaction asked for)."""

    def undone(pending: _Pending) -> bool:
        transaction: SessionTransaction | None = pending.transaction
        while transaction is not None:
            if transaction is previous:
                return True
            transaction = transaction.parent
        return False

    checks: dict[tuple[str | int, ...], _Pending] = session.info.get(_CHECKS, {})
    for key in [key for key, pending in checks.items() if undone(pending)]:
        del checks[key]
    appended: list[_Pending] = session.info.get(_APPENDED, [])
    appended[:] = [pending for pending in appended if not undone(pending)]


def take_after_commit(session: Session) -> AfterCommit:
    """Remove and return the session's pending effects (a rolled-back session's are discarded)."""
    pending = session.info.pop(_KEY, None)
    return pending if isinstance(pending, AfterCommit) else AfterCommit()


class Dispatcher(Protocol):
    def deliver(self, effects: AfterCommit) -> None:
        """Carry out a committed transaction's effects (called from any thread)."""


class _NoDispatch:
    def deliver(self, effects: AfterCommit) -> None:
        return None


NO_DISPATCH: Dispatcher = _NoDispatch()


@dataclass(frozen=True)
class Refused:
    """A write's answer for an item it refused before changing anything for it (say, its conference
    is not found): that item's own error, while the batch's others are committed."""

    error: DomainError


def made(result: R | Refused) -> R:
    """One item's result, or its refusal raised."""
    if isinstance(result, Refused):
        raise result.error
    return result


@dataclass(frozen=True)
class WriteKind(Generic[I, R]):
    """A kind of hot write (kit/group_commit): ``write`` makes a batch of checked items in the unit
    of work it is given and returns one result (or ``Refused``) per item, in order."""

    name: str
    write: Callable[[Context, Sequence[I]], Sequence[R | Refused]]


@dataclass(frozen=True)
class Handed(Generic[I, R, A]):
    """What a request's work returns when its whole change is one hot write (kit/group_commit): the
    checked ``item`` of its ``kind``, to be made once the request's unit of work has ended, with
    others of its kind; ``answer`` turns what was made into the request's result. It runs on the
    event loop, so it reads only what was made and writes nothing (no database)."""

    kind: WriteKind[I, R]
    item: I
    answer: Callable[[R], A]


class Writes(Protocol):
    """Where a request's hot write is made with others of its kind (``GroupCommit``)."""

    def hand(self, kind: WriteKind[I, R], item: I) -> Future[R]:
        """``item`` to be made with whatever of its kind waits: its result once committed, or its
        own error."""


@dataclass
class Context:
    """What the work gets: the transaction's session and the settings."""

    session: Session
    settings: Settings


def run(
    sessions: sessionmaker[Session],
    settings: Settings,
    work: Callable[[Context], T],
    dispatcher: Dispatcher = NO_DISPATCH,
) -> T:
    """Run ``work`` in one transaction: committed when it returns, rolled back when it raises; the
    effects it queued are delivered after the commit. A check that finds a race lost (``RaceLost``)
    runs the work again in a new transaction, which sees the rival's rows (``RACE_ATTEMPTS`` in all)."""
    for attempt in range(1, RACE_ATTEMPTS + 1):
        try:
            return _run_once(sessions, settings, work, dispatcher)
        except RaceLost:
            if attempt == RACE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _run_once(
    sessions: sessionmaker[Session],
    settings: Settings,
    work: Callable[[Context], T],
    dispatcher: Dispatcher,
) -> T:
    with sessions() as session:
        try:
            result = work(Context(session=session, settings=settings))
            if session.in_transaction():  # else nothing was read or written (a kept credential)
                session.commit()
        except IntegrityError as exc:
            # Two callers raced past the same check (e.g. one meetingKey created twice at once); the
            # database's unique constraint decided, and the loser gets a clean conflict.
            session.rollback()
            take_after_commit(session)
            raise Conflict("A conflicting change was made at the same time; please retry") from exc
        except BaseException:
            session.rollback()
            take_after_commit(session)
            raise
        effects = take_after_commit(session)
    dispatcher.deliver(effects)
    return result


def unit_of_work(connection: HTTPConnection, work: Callable[[Context], T]) -> T:
    """``run`` for a request or a WebSocket, on its app's database, settings and dispatcher."""
    state = connection.app.state
    dispatcher: Dispatcher = getattr(state, "dispatcher", NO_DISPATCH)
    return run(state.sessions, state.settings, work, dispatcher)


async def run_unit_of_work(connection: HTTPConnection, work: Callable[[Context], T]) -> T:
    """The same, off the event loop: database calls are blocking. It runs on the app's
    ``unit_threads``, as few as the database and the GIL serve best.

    Plain executors, not anyio's ``to_thread``: its hop cost the event loop about 55 µs of CPU per
    request against 20 µs (10,000 hops, 50 at a time, on uvloop), and the loop is one thread."""
    state = connection.app.state
    threads: Executor | None = getattr(state, "unit_threads", None)
    if threads is None:  # an app used without its lifespan (a bare test client)
        return await run_in_threadpool(unit_of_work, connection, work)
    context = contextvars.copy_context()  # the request's log context goes with it
    return await asyncio.get_running_loop().run_in_executor(
        threads, context.run, unit_of_work, connection, work
    )


async def made_and_answered(connection: HTTPConnection, handed: Handed[Any, Any, A]) -> A:
    """A request's handed write made by its app's group commit (awaited on the event loop: no thread
    waits for it), and answered."""
    writes: Writes = connection.app.state.writes
    return handed.answer(await asyncio.wrap_future(writes.hand(handed.kind, handed.item)))
