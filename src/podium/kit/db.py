"""Engine, session factory and the declarative Base with a naming convention."""

from __future__ import annotations

import enum
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence, Set
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    Engine,
    MetaData,
    String,
    and_,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    or_,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    make_transient_to_detached,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.selectable import CompoundSelect, Select

from podium.kit.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


M = TypeVar("M")
Row = TypeVar("Row", bound="Base")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def with_scalar_defaults(row: Base) -> None:
    """Give a new row's unset columns their plain (non-callable) defaults now, as its INSERT would:
    what is worked out from the row before its flush then sees what will be stored."""
    for attribute in sa_inspect(row).mapper.column_attrs:
        default = attribute.columns[0].default
        if default is not None and default.is_scalar and attribute.key not in row.__dict__:
            setattr(row, attribute.key, default.arg)


def insert_values(row: Base) -> dict[str, Any]:
    """Every column of a new row but its generated id, as its INSERT would store it: what is set,
    else the column's default (a callable one called now), else NULL."""
    values: dict[str, Any] = {}
    for attribute in sa_inspect(row).mapper.column_attrs:
        column = attribute.columns[0]
        if column.primary_key and column.autoincrement is not False:
            continue
        default = column.default
        if attribute.key in row.__dict__:
            values[column.key] = row.__dict__[attribute.key]
        elif default is not None and default.is_scalar:
            values[column.key] = default.arg
        elif default is not None and default.is_callable:
            values[column.key] = default.arg(None)
        else:
            values[column.key] = None
    return values


def insert_skipping_taken(session: Session, rows: Sequence[Row], *, told_by: str) -> list[Row]:
    """Insert new ORM rows with one statement, each row that a unique index would refuse skipped
    instead (``ON CONFLICT DO NOTHING``, on both databases): the inserted rows get their ids and
    belong to the session as if loaded (no flush inserts them again); the skipped ones are returned,
    for their caller to change and insert again. ``told_by`` is a unique column that tells the
    inserted rows apart in what the database answers.

    For rows whose unique values are drawn at random (public codes): asking whether a batch's drawn
    values are free costs a query for every batch, for a collision that almost never comes; here the
    indexes answer with the insert itself. Nothing but this function sees such rows go in: the
    session's flush events (``before_flush``, ``after_flush``) do not fire for them."""
    if not rows:
        return []
    table = sa_inspect(rows[0]).mapper.local_table
    insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    key = table.c[told_by]
    stmt = insert(table).on_conflict_do_nothing().returning(table.c.id, key)
    stored = {id(row): insert_values(row) for row in rows}
    found = {told: row_id for row_id, told in session.connection().execute(stmt, list(stored.values()))}
    skipped = []
    for row in rows:
        row_id = found.get(getattr(row, told_by))
        if row_id is None:
            skipped.append(row)
            continue
        for name, value in stored[id(row)].items():  # loaded, as the database has them: no query later
            set_committed_value(row, name, value)
        set_committed_value(row, "id", row_id)
        make_transient_to_detached(row)
        session.add(row)
    return skipped


def insert_drawing_again(
    session: Session,
    rows: Sequence[Row],
    *,
    told_by: str,
    draw_again: Callable[[list[Row]], None],
    attempts: int,
    what: str,
) -> None:
    """``insert_skipping_taken`` until every row is in: the rows skipped are given to
    ``draw_again`` (which draws their codes again, or raises when drawing cannot cure the skip) and
    inserted again, up to ``attempts`` inserts."""
    pending = list(rows)
    for _ in range(attempts):
        pending = insert_skipping_taken(session, pending, told_by=told_by)
        if not pending:
            return
        draw_again(pending)
    raise RuntimeError(f"could not draw free {what}")


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqliteWriterGate:
    """One writing transaction at a time per process on SQLite, queued on a Python lock.

    SQLite has one writer. A connection that finds the write lock taken waits in SQLite's busy
    handler, which sleeps in steps that grow to 100 ms and does not wake when the lock frees: under
    concurrent writes most of a request's time was such sleep. Here a connection about to write
    (its first INSERT, UPDATE or DELETE: Python's sqlite3 begins the transaction there) takes this
    lock first and holds it until the connection goes back to the pool — which a session does as it
    commits or rolls back, after the database's own commit (SQLAlchemy's ``commit`` event comes
    before it) — so the next writer starts the moment the previous one ends. Other processes (the
    CLI, `podium worker`) still meet SQLite's busy timeout.

    A thread that already writes on another connection is not queued behind itself: SQLite's busy
    timeout decides for it, as without the gate; and a writer that waited longer than that timeout
    goes on and meets SQLite's own answer, so the gate can delay but never deadlock.
    """

    _HOLDS = "podium.writer_gate"
    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._count = threading.Lock()
        self.waiting = 0  # writers queued now

    @property
    def held(self) -> bool:
        return self._lock.locked()

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine.pool, "checkin", self._checked_in)

    def _before_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        info = conn.info
        if info.get(self._HOLDS) or not statement.lstrip()[:7].upper().startswith(self.WRITES):
            return
        me = threading.get_ident()
        if self._owner == me:
            return
        with self._count:
            self.waiting += 1
        try:
            acquired = self._lock.acquire(timeout=self.timeout)
        finally:
            with self._count:
                self.waiting -= 1
        if acquired:
            self._owner = me
            info[self._HOLDS] = True

    def _checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(self._HOLDS, False):
            self._owner = None
            self._lock.release()


_gates: weakref.WeakKeyDictionary[Engine, SqliteWriterGate] = weakref.WeakKeyDictionary()


def writer_gate(engine: Engine) -> SqliteWriterGate | None:
    """The SQLite engine's writer gate (None on PostgreSQL, which has row locks)."""
    return _gates.get(engine)


# Threads that run requests' database work at once (the server sets its thread pool to this). More
# threads than this only queue on the GIL and the database; fewer leave the database idle while one
# thread waits on I/O.
REQUEST_THREADS = 16
# Connections beyond the requests' threads: the outbox and media workers, start-up jobs.
BACKGROUND_CONNECTIONS = 8


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # Every thread that can hold a connection keeps one open: a connection opened per request (and,
    # on SQLite, its PRAGMAs) cost more than the request's query.
    pool = {"pool_size": REQUEST_THREADS, "max_overflow": BACKGROUND_CONNECTIONS}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        gate = _gates[engine] = SqliteWriterGate(timeout=10)
        gate.attach(engine)
        return engine
    import psycopg  # the PostgreSQL driver, needed only here

    # psycopg's default cursor turns each query's %(name)s placeholders into PostgreSQL's $n in
    # Python, and keeps the result only for short queries (4 KB, 50 parameters): a batch of 25
    # conferences inserted at once (45 KB, 1,400 parameters) spent two fifths of its CPU there.
    # SQLAlchemy writes $n itself, and the raw cursor sends the query as it is (ADR 0019).
    return create_engine(
        url,
        pool_pre_ping=True,
        paramstyle="numeric_dollar",
        connect_args={"cursor_factory": psycopg.RawCursor},
        **pool,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker:
    # expire_on_commit=False: edges render objects after the commit that ends the request.
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def bounded_count(session: Session, rows: Select[Any] | CompoundSelect, up_to: int) -> int:
    """How many rows ``rows`` yields, counting no further than ``up_to`` (the database stops there:
    a check against a limit costs at most the limit, however many rows there are)."""
    limited = rows.limit(up_to).subquery()
    return int(session.scalar(select(func.count()).select_from(limited)) or 0)


class HeldKey(enum.IntEnum):
    """What a lock of ``hold_until_commit`` stands for (the first half of its PostgreSQL key)."""

    CONFERENCE_EMAILS = 1  # the emails of a conference's participants (second half: its id)


def hold_until_commit(session: Session, space: HeldKey, key: int) -> None:
    """Hold a lock on ``(space, key)`` until the transaction ends: one transaction at a time per key
    checks what rivals may have added meanwhile (a ``uow.before_commit`` check). A lock on a name, not
    on a row: rows a work updated are locked from its flush, in no order the checks know, so a row
    lock taken here could wait on a rival that waits on a lock this one holds; a name lock only ever
    meets the checks' own, taken in the checks' order. PostgreSQL: a transaction-level advisory lock.
    SQLite: nothing to take — a check runs after its work's flush, and a transaction that has written
    holds SQLite's one write lock until it ends (a check with nothing written has no rows to guard)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(int(space), key)))


def any_matches(
    session: Session,
    model: type[Any],
    drawn: Sequence[dict[str, Any]],
    *,
    within: Mapping[str, ColumnElement[bool]] | None = None,
) -> bool:
    """Whether any ``model`` row has, in any column, a value one of the ``drawn`` rows (each a
    column: value) has there: one query for a batch of drawn codes that must all be unused.
    ``within`` narrows a column's search to the rows its uniqueness covers (a column unique among a
    tenant's live rows is asked there, through the index that guards it).

    On PostgreSQL a column's values go as ``column = ANY(array)``, one parameter: an IN list is
    written out again into the statement's text for each execution (a batch's 25 codes cost more to
    render than to look up), and the same text lets the driver prepare it. No LIMIT 1: PostgreSQL
    would take each value for a likely match and scan the table in order to stop at the first (drawn
    codes match nothing, so the scan reads it all); without it, each column's index is asked."""
    on_postgres = session.get_bind().dialect.name == "postgresql"
    matches = []
    for column in drawn[0]:
        values = [row[column] for row in drawn]
        attribute = getattr(model, column)
        found = (
            attribute == any_(bindparam(None, values, type_=ARRAY(String)))
            if on_postgres
            else attribute.in_(values)
        )
        scope = (within or {}).get(column)
        matches.append(found if scope is None else and_(scope, found))
    return session.scalars(select(model.id).where(or_(*matches))).first() is not None


def live_by_company_codes(
    session: Session, model: type[M], wanted: Set[tuple[int, str]]
) -> dict[tuple[int, str], M]:
    """Live rows of a tenant's ``model`` (``company_id``, ``code``, ``deleted_at``) by (company id,
    code), several at once, keyed by them: one query (a batch of writes naming what they act on)."""
    if not wanted:
        return {}
    rows: Any = model  # any tenant model with those three columns
    stmt = select(rows).where(
        rows.company_id.in_(sorted({company_id for company_id, _ in wanted})),
        rows.code.in_(sorted({code for _, code in wanted})),
        rows.deleted_at.is_(None),
    )
    found = {(row.company_id, row.code): row for row in session.scalars(stmt)}
    return {key: found[key] for key in wanted if key in found}
