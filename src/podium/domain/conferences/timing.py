"""Conference timing: start times and zones, the scheduled end, whether a conference is active, the
15-minute early entry, and how long a one-time access code stays valid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from podium.domain.attendance.repository import AttendanceRepository
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput
from podium.models.conference import Conference

DEFAULT_DURATION = 60  # minutes, when a conference has none
EARLY_ENTRY = timedelta(minutes=15)  # a room opens this long before its scheduled start
ONE_TIME_GRACE = timedelta(hours=72)  # a one-time code outlives its conference's end by this
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


# Conferences happen within these years; beyond them date arithmetic (zones, series, ends) overflows.
FIRST_YEAR, LAST_YEAR = 1970, 2999


def to_utc(moment: datetime, zone: ZoneInfo) -> datetime:
    """A start as given → naive UTC: a naive ``moment`` is a wall time in ``zone``; an aware one's
    own offset wins.

    Raises:
        InvalidInput: the start is outside the years 1970–2999.
    """
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise InvalidInput(f"start must be between {FIRST_YEAR} and {LAST_YEAR}", field="start")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """Naive UTC → the naive wall time in ``zone``."""
    return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def zone_of(conference: Conference) -> ZoneInfo:
    return ZoneInfo(conference.time_zone or "UTC")


def end_of(conference: Conference) -> datetime:
    """The scheduled end: start (or creation) plus the duration (an hour when it has none)."""
    start = conference.starts_at or conference.created_at
    return start + timedelta(minutes=conference.duration_minutes or DEFAULT_DURATION)


def set_validity(conference: Conference) -> None:
    """A one-time code opens rooms until about 72 hours after its scheduled conference ends."""
    if conference.one_time_code and conference.starts_at is not None:
        conference.code_valid_until = end_of(conference) + ONE_TIME_GRACE


def has_live_attendance(session: Session, conference: Conference) -> bool:
    return bool(AttendanceRepository(session).open_for_conference(conference.id))


def is_active(session: Session, conference: Conference, now: datetime | None = None) -> bool:
    """The reference's rule: scheduled for the current time, or has live participants.

    A deleted or ended conference is never active.
    """
    now = now or utcnow()
    if conference.deleted_at is not None or conference.ended_at is not None:
        return False
    if conference.starts_at is not None and conference.starts_at <= now < end_of(conference):
        return True
    return has_live_attendance(session, conference)


def opens_now(session: Session, conference: Conference, now: datetime) -> bool:
    """Whether a room link reaches this conference at ``now``: it is active, or it is scheduled and
    ``now`` is within the 15 minutes before its start (people may come in early)."""
    if is_active(session, conference, now):
        return True
    return (
        conference.deleted_at is None
        and conference.ended_at is None
        and conference.starts_at is not None
        and conference.starts_at - EARLY_ENTRY <= now < end_of(conference)
    )


def require_active(session: Session, conference: Conference) -> None:
    """Refuse a conference that is not active (messages, dial-outs and ``end`` need one).

    Raises:
        Conflict: the conference is not active.
    """
    if not is_active(session, conference):
        raise Conflict("Conference is not active")


def require_past(conference: Conference) -> None:
    """Refuse a conference that is not over (its recordings cannot be deleted yet).

    Raises:
        Conflict: the conference has neither ended nor reached its scheduled end.
    """
    if conference.ended_at is None and (conference.starts_at is None or end_of(conference) > utcnow()):
        raise Conflict("Conference has not ended yet")
