"""Generations of cached families (kit/stamped) on a real database file: a poll that falls due is read
by one thread while the others go on with the generation known; a read that began before a change
was committed here is not kept, so this process never trusts a generation older than its own change."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from podium.kit import stamped
from podium.kit.db import make_engine, make_sessionmaker

FAMILY = "test-family"
THREADS = 16


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'stamped.sqlite3'}")
    stamped.CacheGeneration.__table__.create(engine)
    yield engine
    engine.dispose()


def _reads(engine: Engine) -> list[str]:
    """Every read of a generation on ``engine``, by the thread that made it (kept in the list)."""
    reads: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "cache_generations" in statement:
            reads.append(threading.current_thread().name)
            time.sleep(0.2)  # a slow read: the other threads arrive while it is under way

    return reads


def _move(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        stamped.move(session, FAMILY)
        session.commit()


def test_a_due_poll_is_read_by_one_thread_while_the_others_use_the_generation_known(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    _move(sessions)
    with sessions() as session:
        assert stamped.generation(session, FAMILY) == 1
    time.sleep(stamped.POLL_SECONDS + 0.05)  # the poll falls due
    reads = _reads(engine)
    start = threading.Barrier(THREADS)

    def look(_: int) -> int:
        start.wait()
        with sessions() as session:
            return stamped.generation(session, FAMILY)

    with ThreadPoolExecutor(THREADS) as pool:
        seen = list(pool.map(look, range(THREADS)))
    assert seen == [1] * THREADS
    assert len(reads) == 1, reads


def test_a_read_begun_before_a_change_committed_here_is_not_kept(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        assert stamped.generation(session, FAMILY) == 0
    time.sleep(stamped.POLL_SECONDS + 0.05)
    read, moved = threading.Event(), threading.Event()

    @event.listens_for(engine, "after_cursor_execute")
    def _hold(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name == "slow-reader" and "cache_generations" in statement:
            read.set()
            assert moved.wait(10)  # the row was read (generation 0); a change commits meanwhile

    def slow_read() -> None:
        with sessions() as session:
            assert stamped.generation(session, FAMILY) == 0

    reader = threading.Thread(target=slow_read, name="slow-reader")
    reader.start()
    assert read.wait(10)
    _move(sessions)  # generation 1, committed here: this process forgets what it knew
    moved.set()
    reader.join(10)
    with sessions() as session:
        assert stamped.generation(session, FAMILY) == 1
