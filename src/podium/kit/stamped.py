"""Caches on the request path that every process can trust: answers kept while the generation of
the rows they were read from stands still (ADR 0007).

Every API call authenticates and checks the guessing guard; reading a credential, its host, its
company and the guard's locks was most of a read's cost. A ``StampedCache`` keeps such answers in the
process, stamped with the generation of their *family* (one row of ``cache_generations``). A
transaction that changes a row of the family moves the generation in the same commit — either
explicitly (``move``) or because the family ``watch``es that model's columns — so:

- the process that made the change forgets at once (its next read re-reads the generation);
- every other process sees the new generation at its next poll, at most ``POLL_SECONDS`` later;
- an answer read while a change was committing is never kept under the new generation (``put`` takes
  the stamp read *before* the answer).

Entries also expire after ``ttl`` seconds, so the cache holds what is in use, not what once was.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, Engine, String, event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from podium.kit.db import Base

V = TypeVar("V")

# How stale another process's change may look here: the generation is re-read at most this often.
POLL_SECONDS = 1.0
_MOVED = "podium.stamped.moved"


class CacheGeneration(Base):
    """The generation of one family of cached rows; moved by every transaction that changes them."""

    __tablename__ = "cache_generations"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


@dataclass
class _Known:
    generation: int
    read_at: float


_lock = threading.Lock()
# (database, family) -> the generation this process last read, and when.
_known: dict[tuple[str, str], _Known] = {}
# (database, family) -> how many times a commit here made this process forget it: a read that began
# before such a commit must not be kept (it may be older than the commit's move).
_forgotten: dict[tuple[str, str], int] = {}
# (database, family) being read again now by one thread (the others go on with what is known).
_reading: set[tuple[str, str]] = set()
# model class -> (family, the columns whose change matters; None: any change)
_watched: dict[type, list[tuple[str, frozenset[str] | None, bool]]] = {}


_names: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_of(engine: Engine) -> str:
    """Which database: processes (and tests) may hold several engines on several databases. Its URL
    is rendered once per engine: a SQLAlchemy URL renders (and quotes) itself again on every hash."""
    name = _names.get(engine)
    if name is None:
        name = _names[engine] = engine.url.render_as_string(hide_password=True)
    return name


def _database(session: Session) -> str:
    return database_of(session.get_bind().engine)


def generation(session: Session, family: str) -> int:
    """The family's generation as this process knows it (re-read when older than ``POLL_SECONDS``).

    One thread at a time polls a family: while it reads, the others go on with the generation
    known, up to two polls old. Every thread that found the poll due used to read it at once — under
    load, dozens of requests each took a connection for the same row, once a second per family. After
    a change committed here nothing is known, and every thread reads (as before)."""
    key = (_database(session), family)
    now = time.monotonic()
    known = _known.get(key)
    if known is not None and now - known.read_at < POLL_SECONDS:
        return known.generation
    with _lock:
        if known is not None and now - known.read_at < 2 * POLL_SECONDS and key in _reading:
            return known.generation
        _reading.add(key)
        forgotten = _forgotten.get(key, 0)
    current: int | None = None
    try:
        stmt = select(CacheGeneration.generation).where(CacheGeneration.name == family)
        current = int(session.scalar(stmt) or 0)
        return current
    finally:
        with _lock:
            _reading.discard(key)
            if (
                current is not None and _forgotten.get(key, 0) == forgotten
            ):  # nothing committed here meanwhile
                _known[key] = _Known(current, now)


def known(database: str, family: str) -> int | None:
    """The family's generation as this process last read it (``database``: ``database_of``), without
    a query: None when that read is older than two polls (or a change was committed here since), so
    the caller must read again through a session (``generation``). For code on the event loop that
    keeps it fresh elsewhere."""
    entry = _known.get((database, family))
    if entry is None or time.monotonic() - entry.read_at > 2 * POLL_SECONDS:
        return None
    return entry.generation


def move(session: Session, family: str) -> None:
    """Move the family's generation in this transaction (once per transaction is enough)."""
    moved: set[str] = session.info.setdefault(_MOVED, set())
    if family in moved:
        return
    moved.add(family)
    insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(CacheGeneration).values(name=family, generation=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[CacheGeneration.name], set_={"generation": CacheGeneration.generation + 1}
    )
    # On the connection, not the session: this runs inside the flush events.
    session.connection().execute(stmt)


def watch(family: str, model: type, columns: frozenset[str] | None = None, *, new_rows: bool = False) -> None:
    """Move ``family`` whenever a transaction changes a ``model`` row through the ORM (any column,
    or one of ``columns``) or deletes one. New rows move it only with ``new_rows`` (a row that
    changes what other rows mean, such as a media added to a paywall). A bulk UPDATE or DELETE of
    such rows calls ``move`` itself (a write used as a lock, like a quota check's, must not
    move it: it runs on every creation)."""
    _watched.setdefault(model, []).append((family, columns, new_rows))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    for obj in session.new:
        for family, _, new_rows in _watched.get(type(obj), ()):
            if new_rows:
                move(session, family)
    for obj in list(session.dirty) + list(session.deleted):
        for family, columns, _ in _watched.get(type(obj), ()):
            if obj in session.deleted or columns is None:
                move(session, family)
                continue
            state = inspect(obj)
            if any(state.attrs[column].history.has_changes() for column in columns):
                move(session, family)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    moved = session.info.pop(_MOVED, None)
    if not moved:
        return
    database = _database(session)
    with _lock:
        for family in moved:
            _known.pop((database, family), None)
            _forgotten[(database, family)] = _forgotten.get((database, family), 0) + 1


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_MOVED, None)


@dataclass
class _Entry(Generic[V]):
    generation: int
    expires: float
    value: V


class StampedCache(Generic[V]):
    """Answers read from a family's rows, per database, valid while the family's generation holds.

    Use: ``stamp = cache.stamp(session)``; ``cache.get(session, key)``; on a miss read the rows and
    ``cache.put(session, key, value, stamp)`` with the stamp taken before reading them.
    """

    def __init__(self, family: str, *, ttl: float = 60.0, max_entries: int = 10_000) -> None:
        self.family = family
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[str, Hashable], _Entry[V]] = {}

    def stamp(self, session: Session) -> int:
        return generation(session, self.family)

    def _moved_here(self, session: Session) -> bool:
        """This transaction changed the family: its reads must not come from (or go into) the cache
        — they see its own uncommitted rows, which a rollback would take back."""
        return self.family in session.info.get(_MOVED, ())

    def get(self, session: Session, key: Hashable) -> V | None:
        if self._moved_here(session):
            return None
        entry = self._entries.get((_database(session), key))
        if entry is None or entry.expires < time.monotonic() or entry.generation != self.stamp(session):
            return None
        return entry.value

    def put(self, session: Session, key: Hashable, value: V, stamp: int) -> None:
        if stamp != self.stamp(session) or self._moved_here(session):
            return  # the family changed while the value was read: it may already be stale
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare (that many live credentials): start afresh
        self._entries[(_database(session), key)] = _Entry(stamp, time.monotonic() + self.ttl, value)

    def drop(self, session: Session, key: Hashable) -> None:
        self._entries.pop((_database(session), key), None)
