"""Checks before the commit (kit/uow.before_commit) on a real database file: they run once per key,
in key order, after the work's rows are flushed; one that refuses rolls the work back; a rolled-back
transaction's checks are not the next one's; a race lost runs the work again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.kit import uow
from podium.kit.db import bounded_count, make_engine, make_sessionmaker
from podium.kit.errors import Conflict, QuotaExceeded, RaceLost

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String))


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
