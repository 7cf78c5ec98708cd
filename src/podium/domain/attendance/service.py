"""Attendance: who was in which conference from when to when. Rooms record joins and leaves here;
statuses and reports are computed from it, never made up."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.audit.service import log_action
from podium.domain.conferences.lifecycle import mark_started
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, NotFound
from podium.kit.ids import hash_secret
from podium.models.activity import Attendance, RoomRemoval
from podium.models.conference import Conference
from podium.models.participant import Participant, ParticipantRole

# What the link that admitted someone made them (Attendance.role). A shared link (a LiveMinutes meeting
# URL, an Iotum room URL without the moderator token) admits guests, who type their own name.
HOST = ParticipantRole.HOST.value
GUEST = "guest"


def minutes(attendance: Attendance, now: datetime) -> int:
    """Billed minutes of one span, rounded up (a started minute counts)."""
    end = attendance.left_at or now
    return max(0, math.ceil((end - attendance.joined_at).total_seconds() / 60))


@dataclass(frozen=True)
class ConferenceUsage:
    conference: Conference
    attendances: list[Attendance]

    def total_participants(self) -> int:
        """Distinct people, by invitation, host and email or name; the host who came by its link and
        a guest who typed the same name are two people."""
        people = {
            (a.participant_id, a.host_id, a.role == HOST, a.email.lower() or a.name) for a in self.attendances
        }
        return len(people)

    def total_minutes(self, now: datetime) -> int:
        return sum(minutes(a, now) for a in self.attendances)

    def first_join(self) -> datetime | None:
        return min((a.joined_at for a in self.attendances), default=None)

    def last_leave(self) -> datetime | None:
        if not self.attendances or any(a.left_at is None for a in self.attendances):
            return None
        return max(a.left_at for a in self.attendances if a.left_at is not None)


class AttendanceService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = AttendanceRepository(session)

    def record_join(
        self,
        conference: Conference,
        *,
        participant: Participant | None = None,
        host_id: int | None = None,
        name: str = "",
        email: str = "",
        via: str = "web",
        caller: str | None = None,
        role: str | None = None,
        at: datetime | None = None,
    ) -> Attendance:
        """Someone entered the room; the first join starts the conference.

        Args:
            role: what the link that admitted them made them (host, moderator, participant, guest),
                as the room's signed seat carries it. When not given: the host for the conference's
                organising host, else the participant's role, else a guest.
        """
        if conference.deleted_at is not None or conference.ended_at is not None:
            raise Conflict("The conference is over")
        now = at or utcnow()
        host_id = host_id if host_id is not None else (participant.host_id if participant else None)
        if role is None:
            if host_id is not None and host_id == conference.host_id:
                role = HOST
            else:
                role = participant.role.value if participant is not None else GUEST
        attendance = Attendance(
            conference_id=conference.id,
            participant_id=participant.id if participant else None,
            host_id=host_id,
            name=name or (participant.name if participant else ""),
            email=email or (participant.email if participant else ""),
            via=via,
            caller=caller,
            role=role,
            joined_at=now,
        )
        self.repo.add(attendance)
        mark_started(self.session, conference, now, actor_label="room")
        return attendance

    def record_removal(
        self,
        conference: Conference,
        *,
        media_token: str,
        participant_id: int | None,
        name: str,
        removed_by: str,
    ) -> None:
        """A moderator removed someone: that seat stays out, and so does a personal link's
        participant (a guest of a shared link can come back through it: the waiting room is the
        way to keep unknown guests out)."""
        self.repo.add_removal(
            RoomRemoval(
                conference_id=conference.id,
                participant_id=participant_id,
                seat_hash=hash_secret(media_token),
                name=name[:255],
                removed_by=removed_by[:255],
                removed_at=utcnow(),
            )
        )
        log_action(
            self.session,
            "participant.removed",
            actor=removed_by,
            ref=f"conference:{conference.id}",
            company_id=conference.company_id,
            conference_id=conference.id,
            participant_id=participant_id,
            name=name,
        )

    def check_not_removed(
        self, conference_id: int, *, media_token: str | None, participant_id: int | None
    ) -> None:
        """Refuse a seat, or a personal link's participant, that a moderator removed from this room."""
        seat_hash = hash_secret(media_token) if media_token is not None else ""
        if self.repo.removal(conference_id, seat_hash=seat_hash, participant_id=participant_id) is not None:
            raise Forbidden("A moderator removed you from this meeting")

    def record_leave(self, attendance_id: int, at: datetime | None = None) -> Attendance:
        attendance = self.repo.by_id(attendance_id)
        if attendance is None:
            raise NotFound("Attendance not found")
        if attendance.left_at is None:
            attendance.left_at = max(at or utcnow(), attendance.joined_at)
            self.session.flush()
        return attendance

    def close_all(self, conference: Conference, at: datetime) -> None:
        """Everyone still in the room leaves (the conference ended)."""
        for attendance in self.repo.open_for_conference(conference.id):
            attendance.left_at = max(at, attendance.joined_at)
        self.session.flush()

    def meeting_state(self, conference: Conference) -> str:
        """scheduled (nobody came yet), in_progress, host_quit (the host left, others remain), finished.

        The host is whoever a host link admitted (``Attendance.role``): a guest who types the host's
        name is still a guest, and a host with no display name of its own is still the host.
        """
        spans = self.repo.for_conferences([conference.id])[conference.id]
        if conference.ended_at is not None:
            return "finished"
        if not spans:
            return "scheduled"
        open_spans = [a for a in spans if a.left_at is None]
        if not open_spans:
            return "finished"
        host_spans = [a for a in spans if a.role == HOST]
        if host_spans and all(a.left_at is not None for a in host_spans):
            return "host_quit"
        return "in_progress"

    def participant_state(self, participant: Participant) -> str:
        """invited (never joined), in_progress, or quit."""
        return self.participant_states(participant.conference_id, [participant])[participant.id]

    def participant_states(self, conference_id: int, participants: Sequence[Participant]) -> dict[int, str]:
        """Each participant's state (by id), from one grouped query over the conference's attendance."""
        present = self.repo.presence(conference_id, [p.id for p in participants])
        return {
            p.id: "invited" if p.id not in present else "in_progress" if present[p.id] else "quit"
            for p in participants
        }

    def usage(self, conferences: Sequence[Conference]) -> list[ConferenceUsage]:
        by_conference = self.repo.for_conferences([c.id for c in conferences])
        return [ConferenceUsage(c, by_conference[c.id]) for c in conferences]
