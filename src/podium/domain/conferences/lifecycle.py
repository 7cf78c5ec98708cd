"""A conference's life: the one place it starts and the one step through which it stops."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.audit.service import log_action
from podium.domain.conferences.timing import end_of, has_live_attendance, require_active
from podium.domain.outbox.service import enqueue
from podium.domain.recordings.segments import stop_segment
from podium.domain.streams.ending import end_stream
from podium.domain.telephony.ending import hang_up_calls
from podium.kit.clock import utcnow
from podium.kit.uow import room_event
from podium.models.conference import Conference

__all__ = ["SUMMARY_JOB", "end_active", "end_if_empty", "mark_started", "stop_live"]

SUMMARY_JOB = "conferences.summary"


def mark_started(session: Session, conference: Conference, at: datetime, *, actor_label: str) -> None:
    """The one place a conference becomes started (its conference_start webhook fans out from here)."""
    if conference.started_at is not None:
        return
    conference.started_at = at
    session.flush()
    log_action(
        session,
        "conference.started",
        actor=actor_label,
        ref=f"conference:{conference.id}",
        company_id=conference.company_id,
        host_id=conference.host_id,
        conference_id=conference.id,
    )


def stop_live(
    session: Session, conference: Conference, at: datetime, *, actor_label: str, reason: str
) -> bool:
    """The one step every way a conference stops goes through (end, delete, cancel, last one out,
    subscription suspended): everyone's attendance ends, the room closes (its browsers are told
    and its media room is destroyed after the commit) and ``conference_end`` fans out.

    Returns whether the conference was live; one that never started has nothing to close.
    """
    if conference.ended_at is not None or conference.started_at is None:
        return False
    conference.ended_at = at
    stop_segment(session, conference, at)  # a recording ends with the meeting
    end_stream(session, conference, at, actor=actor_label)  # so does a stream
    hang_up_calls(session, conference, actor=actor_label)  # and every phone call
    for attendance in AttendanceRepository(session).open_for_conference(conference.id):
        attendance.left_at = max(at, attendance.joined_at)
    session.flush()
    room_event(session, conference.id, {"type": "ended"})
    log_action(
        session,
        "conference.ended",
        actor=actor_label,
        ref=f"conference:{conference.id}",
        company_id=conference.company_id,
        host_id=conference.host_id,
        conference_id=conference.id,
        reason=reason,
    )
    # The host's summary (domain/conferences/emails.py), by the outbox worker once this commits.
    enqueue(session, "job", {"job": SUMMARY_JOB, "conference_id": conference.id})
    return True


def end_active(session: Session, conference: Conference, *, actor_label: str) -> None:
    """End an active conference now (an API call, or a moderator in the room): everyone leaves and
    the room closes. One still waiting for its first visitor counts as started then ended.

    Raises:
        Conflict: the conference is not active.
    """
    require_active(session, conference)
    now = utcnow()
    if conference.started_at is None:
        mark_started(session, conference, now, actor_label="system")
    stop_live(session, conference, now, actor_label=actor_label, reason="ended")


def end_if_empty(session: Session, conference: Conference) -> bool:
    """The last one out of a host's reservationless (or overrun) conference ends it; a scheduled one
    within its time stays open (people may come back). Returns whether it ended."""
    if conference.host_id is None or conference.ended_at is not None or conference.started_at is None:
        return False
    if has_live_attendance(session, conference):
        return False
    now = utcnow()
    if not conference.reservationless and now < end_of(conference):
        return False
    return stop_live(session, conference, now, actor_label="room", reason="empty")
