"""What a company's quotas count, kept as upper bounds on its row (ADR 0017).

A quota check must not count the company's rows on every write: the count would grow with the
company, and it runs under the company's lock. So the company row holds an upper bound of each
count (``conference_rows_bound``: its live conferences; ``user_rows_bound``: its live participant rows
plus hosted meetings, what ``ParticipantRepository.count_user_rows`` counts):

- every transaction that adds such a row — a new conference or participant, one brought back from
  deletion, a meeting given a host — raises the bounds by as much, under the company's lock, just
  before its commit (a ``before_flush`` listener sees every row the ORM writes, whatever the path;
  conferences and participants inserted without a flush, ``rows.insert_many`` and
  ``roster.new_participants``, are counted there with ``added``);
- removing a row leaves them alone: they stay upper bounds, only looser;
- a check under the quota is answered by the bound alone; above it, the check counts (up to the
  quota) and, when the count is under the quota, sets the bound to it.

``None`` means not known yet: the first check counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, event, inspect, update
from sqlalchemy.orm import Session

from podium.kit import uow
from podium.models.conference import Conference
from podium.models.participant import Participant
from podium.models.tenancy import Company

_ADDED = "podium.usage.added"  # company id -> [conference rows, user rows] added by the transaction
_BOUNDS = "podium.usage.bounds"  # company id -> Bounds, once locked and raised in this transaction


@dataclass(frozen=True)
class Bounds:
    conference_rows: int | None
    user_rows: int | None


def bounds(session: Session, company_id: int) -> Bounds:
    """The company's bounds, this transaction's rows included, read under the company's lock (taken
    now if this transaction added nothing to it). For checks that run before the commit."""
    known: dict[int, Bounds] = session.info.setdefault(_BOUNDS, {})
    if company_id not in known:
        _raise(session, company_id)
    return known[company_id]


def rebase(
    session: Session, company_id: int, *, conference_rows: int | None = None, user_rows: int | None = None
) -> None:
    """Set a bound to an exact count made under the company's lock."""
    values: dict[str, Any] = {}
    if conference_rows is not None:
        values["conference_rows_bound"] = conference_rows
    if user_rows is not None:
        values["user_rows_bound"] = user_rows
    if values:
        session.connection().execute(update(Company).where(Company.id == company_id).values(**values))


# Built once: the statement is the same for every company, only its parameters change.
_RAISE = (
    update(Company)
    .where(Company.id == bindparam("company"))
    .values(
        conference_rows_bound=Company.conference_rows_bound + bindparam("conferences"),
        user_rows_bound=Company.user_rows_bound + bindparam("users"),
    )
    .returning(Company.conference_rows_bound, Company.user_rows_bound)
)


def _raise(session: Session, company_id: int) -> None:
    """Lock the company's row and raise its bounds by what this transaction added to it."""
    conferences, users = session.info.get(_ADDED, {}).pop(company_id, (0, 0))
    # On the session's connection, not through the ORM: a check runs after the flush, and a company
    # loaded in the session keeps its old bounds (nothing reads them but these functions).
    row = (
        session.connection()
        .execute(_RAISE, {"company": company_id, "conferences": conferences, "users": users})
        .one_or_none()
    )
    found = Bounds(row[0], row[1]) if row is not None else Bounds(None, None)
    session.info.setdefault(_BOUNDS, {})[company_id] = found


def added(session: Session, company_id: int | None, *, conferences: int = 0, users: int = 0) -> None:
    """Rows this transaction adds to the company: its bounds are raised by as many before the
    commit. The ORM's rows are counted by the ``before_flush`` listener below; a row inserted
    without a flush (``kit.db.insert_skipping_taken``) is counted by whoever inserts it."""
    if company_id is None or not (conferences or users):
        return
    added: dict[int, list[int]] = session.info.setdefault(_ADDED, {})
    counts = added.setdefault(company_id, [0, 0])
    counts[0] += conferences
    counts[1] += users
    known: dict[int, Bounds] = session.info.get(_BOUNDS, {})
    if company_id in known:  # raised already (a check ran): raise again, it holds the lock
        del known[company_id]
        _raise(session, company_id)
        return

    def raised() -> None:
        bounds(session, company_id)

    uow.before_commit(session, ("company", company_id), raised)


def _brought_back(obj: Any) -> bool:
    """Whether the object's ``deleted_at`` goes from a time to none in this flush."""
    history = inspect(obj).attrs.deleted_at.history
    return obj.deleted_at is None and any(old is not None for old in history.deleted)


def _given_a_host(obj: Conference) -> bool:
    history = inspect(obj).attrs.host_external_id.history
    return obj.host_external_id is not None and bool(history.deleted or history.added)


@event.listens_for(Session, "before_flush")
def _count_added(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.new:
        if isinstance(obj, Conference) and obj.deleted_at is None:
            added(session, obj.company_id, conferences=1, users=int(obj.host_external_id is not None))
        elif isinstance(obj, Participant) and obj.deleted_at is None:
            added(session, _company_of(session, obj.conference_id), users=1)
    for obj in session.dirty:
        if isinstance(obj, Conference):
            if _brought_back(obj):
                added(session, obj.company_id, conferences=1, users=int(obj.host_external_id is not None))
            elif obj.deleted_at is None and _given_a_host(obj):
                added(session, obj.company_id, users=1)
        elif isinstance(obj, Participant) and _brought_back(obj):
            added(session, _company_of(session, obj.conference_id), users=1)


def _company_of(session: Session, conference_id: int | None) -> int | None:
    if conference_id is None:
        return None
    with session.no_autoflush:
        conference = session.get(Conference, conference_id)  # most often in the session already
    return conference.company_id if conference is not None else None


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_ADDED, None)
    session.info.pop(_BOUNDS, None)
