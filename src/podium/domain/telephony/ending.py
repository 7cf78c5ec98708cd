"""Ending phone calls: the steps every way a call ends goes through (the meeting's end, a hang-up
asked for, the gateway's own report). Apart from the service so that the conference lifecycle can
end a meeting's calls without depending on plans and settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.audit.service import log_action
from podium.domain.telephony.repository import PhoneLegRepository
from podium.domain.telephony.views import view_of
from podium.kit.clock import utcnow
from podium.kit.uow import room_event, wake_phones
from podium.models.conference import Conference
from podium.models.phone_leg import LegStatus, PhoneLeg


def audit_leg(session: Session, leg: PhoneLeg, action: str, actor: str, **details: Any) -> None:
    conference = session.get(Conference, leg.conference_id)
    log_action(
        session,
        action,
        actor=actor or "system",
        ref=f"conference:{leg.conference_id}",
        company_id=leg.company_id,
        host_id=conference.host_id if conference is not None else None,
        conference_id=leg.conference_id,
        phone_leg_id=leg.id,
        phone_number=leg.phone_number,
        **details,
    )


def audit_prefix(leg: PhoneLeg) -> str:
    """Audit actions of a call: ``conference.dialout_*`` for dial-outs, ``conference.dialin_*`` else."""
    return "conference.dialout" if leg.direction == "out" else "conference.dialin"


def tell_room(session: Session, leg: PhoneLeg) -> None:
    """The room's pages show the meeting's calls (and moderators act on them)."""
    room_event(session, leg.conference_id, {"type": "phone", "phone": view_of(leg).in_room()})


def finish_leg(
    session: Session, leg: PhoneLeg, status: LegStatus, reason: str, code: int, at: datetime
) -> None:
    leg.status, leg.reason, leg.sip_code = status.value, reason[:2000], code
    leg.ended_at = max(at, leg.requested_at)
    leg.owner, leg.lease_until = None, None
    attendance = AttendanceRepository(session).by_id(leg.attendance_id) if leg.attendance_id else None
    if attendance is not None and attendance.left_at is None:
        attendance.left_at = max(at, attendance.joined_at)  # the phone left the room
    audit_leg(session, leg, f"{audit_prefix(leg)}_{status.value}", "system", reason=reason[:200])
    tell_room(session, leg)


def hang_up(session: Session, leg: PhoneLeg, actor: str) -> None:
    """Ask for the call's end: one not placed yet ends at once; the process running the others hangs
    them up at its next look (woken now on this process)."""
    if leg.hangup_requested_at is None:
        leg.hangup_requested_at = utcnow()
    if leg.owner is None and leg.status == LegStatus.NEW.value:
        finish_leg(session, leg, LegStatus.ENDED, "Cancelled before the call was placed", 0, utcnow())
    session.flush()
    wake_phones(session)
    audit_leg(session, leg, f"{audit_prefix(leg)}_hangup", actor)


def hang_up_calls(session: Session, conference: Conference, *, actor: str) -> int:
    """End every call of the conference (its meeting ends); how many were open."""
    legs = PhoneLegRepository(session).open_of(conference.id)
    for leg in legs:
        hang_up(session, leg, actor)
    return len(legs)
