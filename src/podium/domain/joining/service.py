"""Joining: every link any dialect hands out resolves here to a conference and a seat in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.conferences.access_codes import AccessCodes
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.conferences.room_urls import RoomUrls
from podium.domain.conferences.timing import opens_now
from podium.domain.conferences.walk_ins import WalkIns
from podium.domain.hosts.repository import HostRepository
from podium.domain.participants.repository import ParticipantRepository
from podium.domain.participants.service import INVITE_AUDIENCE
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput, LinkExpired, LinkInvalid, LinkRevoked, LinkUnknown
from podium.kit.text import ascii_digits
from podium.models.conference import Conference
from podium.models.participant import Participant

GUEST = "guest"
HOST = "host"
MODERATOR = "moderator"


@dataclass(frozen=True)
class JoinTicket:
    """What a join link grants: a conference, a role, and the participant when it is personal."""

    conference: Conference
    role: str
    participant: Participant | None = None
    display_name: str = ""
    host_id: int | None = None  # the organising host, when it is the one joining

    @property
    def asks_for_name(self) -> bool:
        return self.participant is None and not self.display_name


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

    def as_organiser(self, ticket: JoinTicket, signed_in_host_id: int | None) -> JoinTicket:
        """The conference's own host, signed in to the web app, joins as its host.

        Args:
            ticket: What the link granted.
            signed_in_host_id: The host signed in to the web app, if any.

        Returns:
            A host's ticket when the signed-in host organises the conference, else ``ticket``.
        """
        conference = ticket.conference
        if signed_in_host_id is None or conference.host_id != signed_in_host_id:
            return ticket
        host = HostRepository(self.session).by_id(signed_in_host_id)
        if host is None or host.deleted_at is not None:
            return ticket
        organiser = next(
            (
                p
                for p in self.participants.for_conference(conference.id)
                if p.host_id == host.id and p.deleted_at is None
            ),
            None,
        )
        return JoinTicket(conference, HOST, organiser, host.name, host.id)

    def resolve_invite(self, token: str) -> JoinTicket:
        """A Boomstream invite JWT: signature, expiry, participant and conference still live.

        Raises:
            InvalidInput: no token.
            LinkInvalid, LinkExpired: a token not signed by us, or expired.
            LinkUnknown: no such invitation.
            LinkRevoked: the participant was removed (or its links renewed), or the conference deleted.
        """
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
        """A LiveMinutes meeting URL: anyone with it joins as a guest and gives a name.

        Raises:
            LinkUnknown: no such meeting.
            LinkRevoked: the meeting was cancelled.
        """
        conference = self._live_conference(self.conferences.by_short_code(short_code))
        return JoinTicket(conference, GUEST)

    def resolve_personal_token(self, token: str) -> JoinTicket:
        """A LiveMinutes host URL or participant URL.

        Raises:
            LinkUnknown: no such meeting or participant.
            LinkRevoked: the meeting was cancelled, or the participant removed.
        """
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

    # --- Iotum room URLs: /conf/call/{access_code}[?moderator_token=…] ----------------------------

    def code_from_secure_url(self, token: str) -> str:
        """The access code a secure room URL carries.

        Raises:
            LinkInvalid: the token is not one of ours.
        """
        code = RoomUrls(self.settings).code_in(token)
        if code is None:
            raise LinkInvalid("This link is not valid")
        return code

    def security_pin_for(self, code: str) -> str | None:
        """The PIN a visitor must give for this code (a dedicated code has none)."""
        codes = AccessCodes(self.session)
        if codes.dedicated_owner(code) is not None:
            return None
        series = codes.conferences_on(code)
        return series[-1].security_pin if series else None

    def is_moderator_token(self, code: str, token: str) -> bool:
        """Whether ``token`` is the moderator token of a conference on ``code`` (a series shares one)."""
        if not token:
            return False
        return any(c.moderator_token == token for c in self.conferences.with_access_code(code))

    def resolve_access_code(
        self, code: str, moderator_token: str = "", now: datetime | None = None
    ) -> JoinTicket:
        """The conference behind a room URL now, following the access code life cycle.

        A host's dedicated code opens the conference scheduled on it now, else a reservationless one.
        A one-time code opens its conference during its time (and 15 minutes before); outside it,
        until about 72 hours after the end, a visit makes a new instance
        (one_time_access_code_reused); after that it expired.

        Raises:
            LinkUnknown: no host or conference answers on ``code``.
            LinkExpired: the one-time code is past its validity.
        """
        now = now or utcnow()
        if not ascii_digits(code, max_length=16):
            raise LinkUnknown("This link does not lead to a meeting")
        codes = AccessCodes(self.session)
        walk_ins = WalkIns(self.session, self.settings)
        host = codes.dedicated_owner(code)
        if host is not None:
            conference = walk_ins.dedicated_room(host, now)
        else:
            series = codes.conferences_on(code)
            if not series:
                raise LinkUnknown("This link does not lead to a meeting")
            current = next((c for c in series if opens_now(self.session, c, now)), None)
            if current is not None:
                conference = current
            else:
                valid_until = max((c.code_valid_until for c in series if c.code_valid_until), default=None)
                if valid_until is None or now > valid_until:
                    raise LinkExpired("This meeting link has expired")
                conference = walk_ins.reuse(series[0], now)
        moderator = bool(moderator_token) and moderator_token == conference.moderator_token
        return JoinTicket(conference, MODERATOR if moderator else GUEST)
