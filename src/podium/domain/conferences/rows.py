"""A conference row's birth and removal, the same for both entry points (Boomstream/LiveMinutes and
Iotum): the company's quota, fresh public codes and a moderator token, the audit; removal stops a
live conference first."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.audit.service import log_action
from podium.domain.conferences.access_codes import DRAW_ATTEMPTS, new_conference_codes
from podium.domain.conferences.lifecycle import stop_live
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.tenancy import usage
from podium.kit import ids, uow
from podium.kit.db import insert_drawing_again, with_scalar_defaults
from podium.kit.errors import Conflict, QuotaExceeded
from podium.models.conference import Conference
from podium.models.tenancy import Host


def admit(session: Session, settings: Settings, company_id: int, *, meeting_key: str = "") -> None:
    """Whether the company may open one more conference. The quota is checked when the work is
    done, just before the commit, under the company's lock (``uow.before_commit``): the count then
    sees every rival that committed first, and the lock is held for the count and the commit only.

    Raises:
        QuotaExceeded: the company holds ``quota_conferences`` live conferences (at the commit).
        Conflict: ``meeting_key`` is already used by a live conference of the company (a rival
            creating it at the same moment loses on the unique index instead).
    """
    repo = ConferenceRepository(session)
    if meeting_key and repo.live_by_meeting_key(company_id, meeting_key) is not None:
        raise Conflict("meetingKey already exists", field="meetingKey")

    def within_quota() -> None:
        # Under the company's lock (taken by reading its bounds); this transaction's own included.
        quota = settings.quota_conferences
        bound = usage.bounds(session, company_id).conference_rows
        if bound is not None and bound <= quota:
            return
        live = repo.count_live(company_id, up_to=quota + 1)
        if live > quota:
            raise QuotaExceeded(f"Session limit reached ({quota} sessions per account)")
        usage.rebase(session, company_id, conference_rows=live)

    uow.before_commit(session, ("company", company_id, "conferences"), within_quota)


def insert(
    session: Session,
    *,
    company_id: int,
    actor_label: str,
    host_id: int | None = None,
    meeting_key: str = "",
    **fields: Any,
) -> Conference:
    """A new conference row with its own public codes and moderator token; audited as created."""
    new = NewRow(company_id, actor_label, host_id, meeting_key, fields)
    return insert_many(session, [new])[0]


@dataclass(frozen=True)
class NewRow:
    """``insert``'s arguments, for ``insert_many``."""

    company_id: int
    actor_label: str
    host_id: int | None = None
    meeting_key: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


def insert_many(
    session: Session, rows: Sequence[NewRow], *, before_insert: Callable[[Conference], None] | None = None
) -> list[Conference]:
    """``insert`` for several rows at once, with one statement: their public codes are drawn, and
    the unique indexes refuse any a conference has already (such a one is drawn again and inserted
    again: a collision almost never comes, and asking first cost a query every batch). A meeting
    key given by the caller that a live conference of its company holds is refused (a rival that
    took it since ``admit`` looked). ``before_insert`` completes each conference before its INSERT.

    Raises:
        Conflict: a given meeting key is taken.
    """
    conferences = []
    for row, codes in zip(
        rows, ids.distinct_many(new_conference_codes, len(rows), "conference codes"), strict=True
    ):
        conference = Conference(
            company_id=row.company_id,
            host_id=row.host_id,
            moderator_token=secrets.token_urlsafe(9),
            **codes,
            **row.fields,
        )
        if row.meeting_key:
            conference.meeting_key = row.meeting_key
        conferences.append(conference)
    given_key = {
        id(conference): bool(row.meeting_key) for row, conference in zip(rows, conferences, strict=True)
    }

    def complete(made: list[Conference]) -> None:
        for conference in made:
            with_scalar_defaults(conference)  # what it is completed from is what will be stored
            if before_insert is not None:
                before_insert(conference)

    def draw_again(skipped: list[Conference]) -> None:
        repo = ConferenceRepository(session)
        for conference in skipped:
            key = conference.meeting_key
            if given_key[id(conference)] and key and repo.live_by_meeting_key(conference.company_id, key):
                raise Conflict("meetingKey already exists", field="meetingKey")
        for conference, codes in zip(
            skipped, ids.distinct_many(new_conference_codes, len(skipped), "conference codes"), strict=True
        ):
            if given_key[id(conference)]:
                del codes["meeting_key"]
            for name, value in codes.items():
                setattr(conference, name, value)
        complete(skipped)

    complete(conferences)
    insert_drawing_again(
        session,
        conferences,
        told_by="code",
        draw_again=draw_again,
        attempts=DRAW_ATTEMPTS,
        what="conference codes",
    )
    for conference in conferences:
        # Inserted without a flush: the quota's bounds are raised here (domain/tenancy/usage).
        usage.added(
            session, conference.company_id, conferences=1, users=int(conference.host_external_id is not None)
        )
    for row, conference in zip(rows, conferences, strict=True):
        log_action(
            session,
            "conference.created",
            actor=row.actor_label,
            ref=f"conference:{conference.id}",
            company_id=row.company_id,
            host_id=row.host_id,
            conference_id=conference.id,
            code=conference.code,
        )
    return conferences


def remove(
    session: Session, conference: Conference, at: datetime, *, actor_label: str, reason: str, cancelled: bool
) -> None:
    """Delete (or cancel) a conference: a live one stops first (room closed, attendance ended), then
    every link to it stops working and its meeting key is free again."""
    stop_live(session, conference, at, actor_label=actor_label, reason=reason)
    conference.deleted_at = at
    if cancelled:
        conference.cancelled_at = at


def insert_for_host(session: Session, settings: Settings, host: Host, *, actor_label: str) -> Conference:
    """A new conference organised by ``host``, in the host's own company (a reseller admin may act
    from another one), in the host's time zone.

    Raises:
        QuotaExceeded: the host's company holds ``quota_conferences`` live conferences.
    """
    admit(session, settings, host.company_id)
    return insert(
        session,
        company_id=host.company_id,
        actor_label=actor_label,
        host_id=host.id,
        title="",
        description="",
        host_nickname="",
        host_email="",
        lang="",
        time_zone=host.time_zone or "UTC",
    )


def audit(session: Session, action: str, conference: Conference, actor_label: str, **data: Any) -> None:
    """Audit an action on a host's conference; webhooks fan out from it with host, company and
    conference ids."""
    data.setdefault("host_id", conference.host_id)
    log_action(
        session,
        action,
        actor=actor_label,
        ref=f"conference:{conference.id}",
        company_id=conference.company_id,
        conference_id=conference.id,
        **data,
    )
