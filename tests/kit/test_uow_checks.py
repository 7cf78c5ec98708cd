"""Checks before the commit (kit/uow.before_commit) on a real database file: they run once per key,
in key order, after the work's rows are flushed; one that refuses rolls the work back; a rolled-back
transaction's checks are not the next one's; a race lost runs the work again. A savepoint's release
is not the commit, and its rollback drops only what was asked for within it. Rows appended
(kit/uow.append_row) go in before the session's next query or the checks, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from podium.config import Settings
from podium.kit import uow
from podium.kit.db import bounded_count, make_engine, make_sessionmaker
from podium.kit.errors import Conflict, QuotaExceeded, RaceLost

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String))


class _Base(DeclarativeBase):
    pass


class Note(_Base):
    __table__ = notes


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'checks.sqlite3'}")
    metadata.create_all(engine)
    return make_sessionmaker(engine)


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(notes)) or 0)


SETTINGS = Settings()


def test_checks_run_once_per_key_in_key_order_and_see_the_works_rows(sessions: sessionmaker[Session]) -> None:
    seen: list[tuple[str, int]] = []

    def work(ctx: uow.Context) -> None:
        ctx.session.execute(insert(notes).values(text="a"))
        for name in ("b", "a", "b"):
            uow.before_commit(
                ctx.session,
                ("note", name),
                lambda name=name: seen.append(
                    (name, int(ctx.session.scalar(select(func.count()).select_from(notes)) or 0))
                ),
            )

    uow.run(sessions, SETTINGS, work)
    assert seen == [("a", 1), ("b", 1)]
    assert _count(sessions) == 1


def test_a_refusing_check_rolls_the_work_back_and_is_not_the_next_transactions(
    sessions: sessionmaker[Session],
) -> None:
    def refused(ctx: uow.Context) -> None:
        ctx.session.execute(insert(notes).values(text="over"))

        def over() -> None:
            raise QuotaExceeded("limit reached")

        uow.before_commit(ctx.session, ("quota",), over)

    with pytest.raises(QuotaExceeded):
        uow.run(sessions, SETTINGS, refused)
    assert _count(sessions) == 0
    # The same session object, rolled back by hand: its next commit does not run the old check.
    with sessions() as session:
        uow.before_commit(session, ("quota",), lambda: (_ for _ in ()).throw(QuotaExceeded("stale")))
        session.rollback()
        session.execute(insert(notes).values(text="fine"))
        session.commit()
    assert _count(sessions) == 1


def test_a_race_lost_runs_the_work_again_until_the_attempts_are_spent(
    sessions: sessionmaker[Session],
) -> None:
    attempts: list[int] = []

    def work(lose: int) -> uow.Context | None:
        def run(ctx: uow.Context) -> None:
            attempts.append(1)
            ctx.session.execute(insert(notes).values(text=f"try {len(attempts)}"))
            if len(attempts) <= lose:
                raise RaceLost("lost")

        uow.run(sessions, SETTINGS, run)
        return None

    work(lose=uow.RACE_ATTEMPTS - 1)
    assert len(attempts) == uow.RACE_ATTEMPTS and _count(sessions) == 1  # only the last try stayed
    attempts.clear()
    with pytest.raises(Conflict):  # a RaceLost is a conflict once the attempts are spent
        work(lose=uow.RACE_ATTEMPTS)
    assert len(attempts) == uow.RACE_ATTEMPTS and _count(sessions) == 1


def test_a_bounded_count_stops_at_its_bound(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        session.execute(insert(notes), [{"text": str(n)} for n in range(7)])
        everything = select(notes.c.id)
        assert bounded_count(session, everything, 100) == 7
        assert bounded_count(session, everything, 3) == 3
        assert bounded_count(session, everything.where(notes.c.text == "none"), 3) == 0


def _texts(session: Session) -> list[str]:
    return [str(text) for text in session.scalars(select(notes.c.text).order_by(notes.c.id))]


def test_a_savepoints_rollback_drops_what_was_asked_within_it_and_nothing_else(
    sessions: sessionmaker[Session],
) -> None:
    ran: list[str] = []

    def work(ctx: uow.Context) -> None:
        uow.before_commit(ctx.session, ("outer",), lambda: ran.append("outer"))
        uow.append_row(ctx.session, Note, {"text": "outer"})
        with pytest.raises(QuotaExceeded), ctx.session.begin_nested():
            uow.before_commit(ctx.session, ("inner",), lambda: ran.append("inner"))
            uow.append_row(ctx.session, Note, {"text": "inner"})
            raise QuotaExceeded("refused within the savepoint")
        with ctx.session.begin_nested():  # released: what it asked for stays
            uow.append_row(ctx.session, Note, {"text": "kept"})

    uow.run(sessions, SETTINGS, work)
    assert ran == ["outer"]
    with sessions() as session:
        assert _texts(session) == ["outer", "kept"]


def test_checks_run_at_the_commit_not_at_a_savepoints_release(sessions: sessionmaker[Session]) -> None:
    counted: list[int] = []

    def work(ctx: uow.Context) -> None:
        uow.before_commit(
            ctx.session,
            ("count",),
            lambda: counted.append(int(ctx.session.scalar(select(func.count()).select_from(notes)) or 0)),
        )
        with ctx.session.begin_nested():
            ctx.session.execute(insert(notes).values(text="in the savepoint"))
        ctx.session.execute(insert(notes).values(text="after it"))

    uow.run(sessions, SETTINGS, work)
    assert counted == [2]


def test_appended_rows_go_in_before_the_next_query_or_the_checks(sessions: sessionmaker[Session]) -> None:
    counted: list[int] = []

    def work(ctx: uow.Context) -> None:
        for text in ("a", "b"):
            uow.append_row(ctx.session, Note, {"text": text})
        uow.before_commit(
            ctx.session,
            ("count",),
            lambda: counted.append(int(ctx.session.scalar(select(func.count()).select_from(notes)) or 0)),
        )

    uow.run(sessions, SETTINGS, work)
    assert counted == [2]
    with sessions() as session:
        assert _texts(session) == ["a", "b"]

    def read_back(ctx: uow.Context) -> list[str]:
        uow.append_row(ctx.session, Note, {"text": "c"})
        return _texts(ctx.session)

    assert uow.run(sessions, SETTINGS, read_back) == ["a", "b", "c"]
    with sessions() as session:
        assert _texts(session) == ["a", "b", "c"]  # written once


def test_a_refused_commit_inserts_no_appended_row(sessions: sessionmaker[Session]) -> None:
    def refused(ctx: uow.Context) -> None:
        uow.append_row(ctx.session, Note, {"text": "never"})
        uow.before_commit(ctx.session, ("quota",), lambda: (_ for _ in ()).throw(QuotaExceeded("no")))

    with pytest.raises(QuotaExceeded):
        uow.run(sessions, SETTINGS, refused)
    with sessions() as session:
        uow.append_row(session, Note, {"text": "dropped"})
        session.rollback()
        session.commit()
        assert _texts(session) == []
