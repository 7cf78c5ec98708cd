"""The group commit (kit/group_commit) on a real database file: writes handed over together from
many threads are made in few transactions and each gets its own result; a batch with a failing item
is made again item by item, so only that item fails and the others are committed; after the writer
stops, a write is made on its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from podium.kit import uow
from podium.kit.db import make_sessionmaker
from podium.kit.errors import InvalidInput
from podium.kit.group_commit import GroupCommit
from tests.conftest import make_settings

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String))


def _write_notes(ctx: uow.Context, texts: Sequence[str]) -> list[int | uow.Refused]:
    """Insert the notes; a note "bad" raises, as a domain check would; a note "refused" is refused
    before anything is written for it."""
    ids: list[int | uow.Refused] = []
    for text in texts:
        if text == "bad":
            raise InvalidInput("a bad note")
        if text == "refused":
            ids.append(uow.Refused(InvalidInput("a refused note")))
            continue
        ids.append(
            int(ctx.session.execute(insert(notes).values(text=text).returning(notes.c.id)).scalar_one())
        )
    return ids


NOTES = uow.WriteKind("notes", _write_notes)


def _sessions(path: Path, **pool: int) -> sessionmaker[Session]:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False}, **pool)
    metadata.create_all(engine)
    return make_sessionmaker(engine)


def _texts(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(notes.c.text).order_by(notes.c.id)))


def _transactions(sessions: sessionmaker[Session]) -> list[int]:
    """Commits seen by the engine (one listener per test's engine)."""
    found: list[int] = []
    event.listen(sessions.kw["bind"], "commit", lambda _conn: found.append(1))
    return found


def _together(writes: GroupCommit, texts: list[str]) -> list[object]:
    """Every text handed over at once from its own thread: its note's id, or its error."""
    gate = threading.Barrier(len(texts))

    def one(text: str) -> Future[int]:
        gate.wait()
        return writes.hand(NOTES, text)

    with ThreadPoolExecutor(len(texts)) as pool:
        handed = list(pool.map(one, texts))
    answers: list[object] = []
    for future in handed:
        try:
            answers.append(future.result(timeout=30))
        except InvalidInput as error:
            answers.append(error)
    return answers


def test_writes_handed_together_share_transactions_and_a_failing_one_fails_alone(tmp_path: Path) -> None:
    sessions = _sessions(tmp_path / "notes.sqlite3", pool_size=30)
    settings = make_settings(tmp_path, "sqlite://")
    writes = GroupCommit(sessions, settings)
    commits = _transactions(sessions)
    try:
        texts = [f"note {i}" for i in range(24)]
        ids = _together(writes, texts)
        assert all(isinstance(i, int) for i in ids), ids
        assert len(set(ids)) == len(texts)
        assert sorted(_texts(sessions)) == sorted(texts)
        assert len(commits) < len(texts), commits  # some committed together

        # One bad note among good ones: it alone fails; every good one is written once.
        answers = _together(writes, ["bad"] + [f"more {i}" for i in range(11)])
        assert isinstance(answers[0], InvalidInput), answers
        assert all(isinstance(a, int) for a in answers[1:]), answers
        assert sorted(t for t in _texts(sessions) if t.startswith("more")) == sorted(
            f"more {i}" for i in range(11)
        )

        # A refused note fails alone without spoiling its batch: no one is made again alone.
        before = len(commits)
        answers = _together(writes, ["refused"] + [f"still {i}" for i in range(11)])
        assert isinstance(answers[0], InvalidInput) and "refused" in answers[0].message, answers
        assert all(isinstance(a, int) for a in answers[1:]), answers
        assert sum(t.startswith("still") for t in _texts(sessions)) == 11
        assert len(commits) - before < 12, commits
    finally:
        writes.stop()
    # After stop, a write is made at once, on its own.
    assert isinstance(writes.hand(NOTES, "late").result(timeout=30), int)
    assert _texts(sessions)[-1] == "late"


def test_a_write_given_up_before_the_writer_took_it_is_not_made_and_spoils_no_batch(tmp_path: Path) -> None:
    """A request that stops waiting (its client went away: the awaited future is cancelled) before
    the writer took its write: that write is left out; the others of its batch are made and
    answered. Once taken, a write's future runs and cannot be cancelled any more."""
    sessions = _sessions(tmp_path / "given-up.sqlite3", pool_size=5)
    writes = GroupCommit(sessions, make_settings(tmp_path, "sqlite://"))
    release = threading.Event()

    def held(ctx: uow.Context, texts: Sequence[str]) -> list[int | uow.Refused]:
        release.wait(timeout=30)  # the writer is busy with this batch while the next writes queue
        return _write_notes(ctx, texts)

    try:
        first = writes.hand(uow.WriteKind("held notes", held), "first")
        for _ in range(300):
            if first.running():
                break
            time.sleep(0.01)
        assert first.running() and not first.cancel()
        given_up, kept = writes.hand(NOTES, "given up"), writes.hand(NOTES, "kept")
        assert given_up.cancel()
        release.set()
        assert isinstance(first.result(timeout=30), int) and isinstance(kept.result(timeout=30), int)
        assert given_up.cancelled()
    finally:
        release.set()
        writes.stop()
    assert _texts(sessions) == ["first", "kept"]
