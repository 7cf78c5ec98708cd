"""What the room layer (``rooms/``) reads and records of a conference: the conference and its
participants, the organiser's room settings, and which media room the conference lives in.

Rooms act on links already resolved by ``joining`` and on signed seats, so there is no actor here.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.hosts.repository import HostRepository
from podium.domain.participants.repository import ParticipantRepository
from podium.models.conference import Conference
from podium.models.participant import Participant


class RoomRecords:
    def __init__(self, session: Session) -> None:
        self.conferences = ConferenceRepository(session)
        self.participants = ParticipantRepository(session)
        self.hosts = HostRepository(session)

    def by_id(self, conference_id: int) -> Conference | None:
        return self.conferences.by_id(conference_id)

    def participant(self, participant_id: int) -> Participant | None:
        return self.participants.by_code_id(participant_id)

    def waiting_room(self, conference: Conference) -> bool:
        """Whether the organiser keeps visitors waiting until a moderator lets them in."""
        host = self.hosts.by_id(conference.host_id) if conference.host_id else None
        return bool((host.settings or {}).get("waiting_room")) if host is not None else False

    def claim_media_room(self, conference_id: int, room: int, secret: str, server: str) -> bool:
        """Record the conference's media room unless another request already did (first one wins)."""
        return self.conferences.claim_media_room(conference_id, room, secret, server)

    def forget_media_room(self, conference_id: int, room: int) -> None:
        """The media room is gone (e.g. the media server restarted): the next join makes another."""
        self.conferences.forget_media_room(conference_id, room)
