"""Engine, session factory and the declarative Base with a naming convention."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from podium.kit.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    # expire_on_commit=False: edges render objects after the commit that ends the request.
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
