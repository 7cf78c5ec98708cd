"""Joining: every link any dialect hands out resolves here to a conference and a seat in it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.participants.repository import ParticipantRepository
from podium.domain.participants.service import INVITE_AUDIENCE
from podium.kit import tokens
from podium.kit.errors import InvalidInput, LinkRevoked, LinkUnknown
from podium.models.conference import Conference
from podium.models.participant import Participant

GUEST = "guest"
HOST = "host"


@dataclass(frozen=True)
class JoinTicket:
    """What a join link grants: a conference, a role, and the participant when it is personal."""

    conference: Conference
    role: str
    participant: Participant | None = None
    display_name: str = ""

    @property
    def asks_for_name(self) -> bool:
        return self.participant is None and self.role == GUEST


class JoiningService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.conferences = ConferenceRepository(session)
        self.participants = ParticipantRepository(session)

    def _live_conference(self, conference: Conference | None) -> Conference:
        if conference is None:
            raise LinkUnknown("This link does not lead to a meeting")
        if conference.deleted_at is not None:
            raise LinkRevoked("This meeting has been cancelled")
        return conference

    def resolve_invite(self, token: str) -> JoinTicket:
        """A Boomstream invite JWT: signature, expiry, participant and conference still live."""
        if not token:
            raise InvalidInput("This link has no invitation token")
        claims = tokens.verify(token, self.settings.signing_key(), audience=INVITE_AUDIENCE)
        participant = self.participants.by_code(str(claims.get("sub", "")))
        if participant is None:
            raise LinkUnknown("This invitation does not exist")
        conference = self._live_conference(self.conferences.by_id(participant.conference_id))
        if conference.code != claims.get("conf"):
            raise LinkUnknown("This invitation does not exist")
        if participant.deleted_at is not None or participant.token_revision != claims.get("rev"):
            raise LinkRevoked("This invitation has been withdrawn")
        return JoinTicket(conference, participant.role.value, participant, participant.name)

    def resolve_meeting_code(self, short_code: str) -> JoinTicket:
        """A LiveMinutes meeting URL: anyone with it joins as a guest and gives a name."""
        conference = self._live_conference(self.conferences.by_short_code(short_code))
        return JoinTicket(conference, GUEST)

    def resolve_personal_token(self, token: str) -> JoinTicket:
        """A LiveMinutes host URL or participant URL."""
        conference = self.conferences.by_host_token(token)
        if conference is not None:
            conference = self._live_conference(conference)
            return JoinTicket(conference, HOST, None, conference.host_nickname or "Host")
        participant = self.participants.by_url_token(token)
        if participant is None:
            raise LinkUnknown("This link does not lead to a meeting")
        conference = self._live_conference(self.conferences.by_id(participant.conference_id))
        if participant.deleted_at is not None:
            raise LinkRevoked("This invitation has been withdrawn")
        return JoinTicket(conference, participant.role.value, participant, participant.name)
