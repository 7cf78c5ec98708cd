"""Rooms: from a validated join link to a seat in the conference's media room, and attendance."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.attendance.service import AttendanceService
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.joining.service import JoinTicket
from podium.domain.participants.repository import ParticipantRepository
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, LinkRevoked, NotFound
from podium.models.conference import Conference
from podium.rooms.janus import JanusClient, JanusUnavailable

TICKET_AUDIENCE = "podium:room"
SOCKET_AUDIENCE = "podium:room-socket"
TICKET_LIFETIME = timedelta(hours=12)


class MediaUnavailable(Conflict):
    """The media server is down or not configured: the page says so, the API keeps working."""

    code = "media_unavailable"


MODERATOR_ROLES = ("host", "moderator")


def is_moderator(role: str) -> bool:
    return role in MODERATOR_ROLES


@dataclass(frozen=True)
class RoomRules:
    """How a conference's room behaves, from its options and its host's settings."""

    mute_mode: str
    waiting_room: bool

    def may_publish(self, role: str) -> bool:
        """In presentation mode only moderators are seen and heard."""
        return is_moderator(role) or self.mute_mode != "presentation"

    def starts_muted(self, role: str) -> bool:
        return not is_moderator(role) and self.mute_mode in ("q&a", "presentation")

    def waits(self, role: str) -> bool:
        return self.waiting_room and not is_moderator(role)


@dataclass(frozen=True)
class RoomEntry:
    janus_url: str
    room: int
    media_token: str | None  # None until a moderator admits the visitor from the waiting room
    display: str
    role: str
    socket_key: str
    conference_id: int
    rules: RoomRules

    def as_json(self) -> dict[str, Any]:
        return {
            "janus_url": self.janus_url,
            "room": self.room,
            "token": self.media_token,
            "display": self.display,
            "role": self.role,
            "socket_key": self.socket_key,
            "conference_id": self.conference_id,
            "may_publish": self.rules.may_publish(self.role),
            "start_muted": self.rules.starts_muted(self.role),
            "waiting": self.media_token is None,
            "moderator": is_moderator(self.role),
        }


@dataclass(frozen=True)
class Seat:
    """Who a socket key admits: the conference, their name and role, their media token."""

    conference_id: int
    participant_id: int | None
    host_id: int | None
    name: str
    role: str
    media_token: str


class RoomService:
    def __init__(self, session: Session, settings: Settings, media: JanusClient | None) -> None:
        self.session = session
        self.settings = settings
        self.media = media
        self.conferences = ConferenceRepository(session)

    def ticket_for(self, ticket: JoinTicket) -> str:
        """The lobby's ticket to the room (the link was checked when the lobby was shown)."""
        participant = ticket.participant
        return tokens.sign(
            {
                "aud": TICKET_AUDIENCE,
                "conf": ticket.conference.id,
                "pid": participant.id if participant else None,
                "host": ticket.host_id or (participant.host_id if participant else None),
                "role": ticket.role,
                "name": ticket.display_name,
            },
            self.settings.signing_key(),
            expires_at=utcnow() + TICKET_LIFETIME,
        )

    def _live(self, conference_id: int) -> Conference:
        conference = self.conferences.by_id(conference_id)
        if conference is None or conference.deleted_at is not None:
            raise LinkRevoked("This meeting has been cancelled")
        if conference.ended_at is not None:
            raise LinkRevoked("This meeting has ended")
        return conference

    def rules(self, conference: Conference) -> RoomRules:
        from podium.domain.hosts.repository import HostRepository

        host = HostRepository(self.session).by_id(conference.host_id) if conference.host_id else None
        waiting = bool((host.settings or {}).get("waiting_room")) if host is not None else False
        return RoomRules(conference.mute_mode or "conversation", waiting)

    def rules_for(self, conference_id: int) -> RoomRules:
        return self.rules(self._live(conference_id))

    def ensure_room(self, conference: Conference) -> int:
        """The conference's VideoRoom, created on first join with its own secret."""
        if self.media is None:
            raise MediaUnavailable("Audio and video are not available on this server right now")
        try:
            if conference.media_room is not None and self.media.room_exists(conference.media_room):
                return conference.media_room
            room = secrets.randbelow(2**52) + 1
            secret = secrets.token_hex(16)
            self.media.create_room(
                room, secret=secret, publishers=self.settings.room_publishers, description=conference.title
            )
        except JanusUnavailable as exc:
            raise MediaUnavailable("Audio and video are not available on this server right now") from exc
        conference.media_room, conference.media_secret = room, secret
        self.session.flush()
        return room

    def enter(self, ticket: str, name: str) -> RoomEntry:
        """Turn a lobby ticket into a media seat: the room exists, a token of the visitor's own."""
        claims = tokens.verify(ticket, self.settings.signing_key(), audience=TICKET_AUDIENCE)
        conference = self._live(int(claims["conf"]))
        display = (claims.get("name") or name or "").strip()
        if not display:
            raise InvalidInput("Please give your name", field="name")
        if len(display) > 255:
            raise InvalidInput("name is longer than 255 characters", field="name")
        participant_id = claims.get("pid")
        if participant_id is not None:
            participant = ParticipantRepository(self.session).by_code_id(int(participant_id))
            if participant is None or participant.deleted_at is not None:
                raise LinkRevoked("This invitation has been withdrawn")
        room = self.ensure_room(conference)
        rules = self.rules(conference)
        role = str(claims.get("role", "guest"))
        media_token = secrets.token_urlsafe(24)
        if not rules.waits(role):
            self.grant_media(media_token)
        socket_key = tokens.sign(
            {
                "aud": SOCKET_AUDIENCE,
                "conf": conference.id,
                "pid": participant_id,
                "host": claims.get("host"),
                "role": claims.get("role", "guest"),
                "name": display,
                "media": media_token,
            },
            self.settings.signing_key(),
            expires_at=utcnow() + timedelta(minutes=10),
        )
        assert self.media is not None
        return RoomEntry(
            self.media.endpoint.api_url,
            room,
            None if rules.waits(role) else media_token,
            display,
            role,
            socket_key,
            conference.id,
            rules,
        )

    def grant_media(self, media_token: str) -> None:
        """Let a visitor's token reach the media server (on entry, or when admitted)."""
        if self.media is None:
            raise MediaUnavailable("Audio and video are not available on this server right now")
        try:
            self.media.add_token(media_token)
        except JanusUnavailable as exc:
            raise MediaUnavailable("Audio and video are not available on this server right now") from exc

    def room_of(self, conference_id: int) -> tuple[int, str] | None:
        conference = self.conferences.by_id(conference_id)
        if conference is None or conference.media_room is None:
            return None
        return conference.media_room, conference.media_secret or ""

    def end(self, conference_id: int) -> None:
        """A moderator ends the meeting for everyone."""
        from podium.domain.conferences.scheduling import SchedulingService

        conference = self._live(conference_id)
        SchedulingService(self.session, self.settings).end(None, conference)

    def seat(self, socket_key: str) -> Seat:
        claims = tokens.verify(socket_key, self.settings.signing_key(), audience=SOCKET_AUDIENCE)
        return Seat(
            int(claims["conf"]),
            claims.get("pid"),
            claims.get("host"),
            str(claims["name"]),
            str(claims["role"]),
            str(claims["media"]),
        )

    def arrive(self, seat: Seat) -> int:
        """Record the join (the first one starts the conference); returns the attendance id."""
        conference = self._live(seat.conference_id)
        participant = (
            ParticipantRepository(self.session).by_code_id(seat.participant_id)
            if seat.participant_id is not None
            else None
        )
        attendance = AttendanceService(self.session).record_join(
            conference, participant=participant, host_id=seat.host_id, name=seat.name
        )
        return attendance.id

    def depart(self, attendance_id: int, media_token: str) -> None:
        AttendanceService(self.session).record_leave(attendance_id)
        if self.media is not None:
            self.media.remove_token(media_token)

    def close(self, conference_id: int) -> None:
        """The conference ended: its media room goes."""
        conference = self.conferences.by_id(conference_id)
        if conference is None or conference.media_room is None:
            raise NotFound("No room")
        if self.media is not None:
            self.media.destroy_room(conference.media_room, secret=conference.media_secret or "")
