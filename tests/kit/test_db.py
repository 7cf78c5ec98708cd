"""SQLite's writer gate (kit/db.SqliteWriterGate) on a real database file: concurrent writers queue on
it instead of in SQLite's sleeping busy handler, every write lands, and neither a commit nor a
rollback leaves it held."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from podium.kit.db import SqliteWriterGate, make_engine, make_sessionmaker, writer_gate

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String, unique=True))


@pytest.fixture
def database(tmp_path: Path) -> tuple[sessionmaker[Session], SqliteWriterGate]:
    """A SQLite file with the ``notes`` table, its sessions and its writer gate."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.sqlite3'}")
    metadata.create_all(engine)
    gate = writer_gate(engine)
    assert gate is not None
    return make_sessionmaker(engine), gate


def test_concurrent_writers_all_land_and_the_gate_is_released(
    database: tuple[sessionmaker[Session], SqliteWriterGate],
) -> None:
    sessions, gate = database
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for k in range(20):
                with sessions() as session:
                    session.execute(insert(notes).values(text=f"{n}-{k}"))
                    session.execute(select(func.count()).select_from(notes)).scalar()
                    session.commit()
            # A rolled-back write (a unique clash) must not keep the gate.
            with sessions() as session, pytest.raises(IntegrityError):
                session.execute(insert(notes).values(text=f"{n}-0"))
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(notes)).scalar() == 160
    assert not gate.held and gate.waiting == 0


def test_a_second_writer_waits_for_the_first_ones_commit(
    database: tuple[sessionmaker[Session], SqliteWriterGate],
) -> None:
    sessions, gate = database
    second_done = threading.Event()

    def second() -> None:
        with sessions() as session:
            session.execute(insert(notes).values(text="second"))
            session.commit()
        second_done.set()

    with sessions() as first:
        first.execute(insert(notes).values(text="first"))
        assert gate.held
        thread = threading.Thread(target=second)
        thread.start()
        while gate.waiting == 0:  # the second writer is queued on the gate (not in SQLite)
            assert thread.is_alive()
            threading.Event().wait(0.01)
        assert not second_done.is_set()
        first.commit()
    assert second_done.wait(10)
    thread.join(10)
    with sessions() as session:
        assert [row.text for row in session.execute(select(notes.c.text).order_by(notes.c.id))] == [
            "first",
            "second",
        ]
    assert not gate.held


def test_postgresql_has_no_gate() -> None:
    assert writer_gate(make_engine("postgresql://nobody@127.0.0.1:1/none")) is None
