"""Chat: company rooms (DMs by id, channels by slug) and conference chat; API messages come from System."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.audit.service import log_action
from podium.domain.chat.repository import ChatRepository
from podium.domain.chat.schemas import RoomRef
from podium.kit.errors import Conflict, InvalidInput, NotFound
from podium.kit.uow import room_event
from podium.models.activity import ChatMessage, ChatRoom

SYSTEM = "System"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_MESSAGE = 4000


def _text(message: str) -> str:
    message = message.strip()
    if not message:
        raise InvalidInput("message is required", field="message")
    if len(message) > MAX_MESSAGE:
        raise InvalidInput(f"message is longer than {MAX_MESSAGE} characters", field="message")
    return message


@dataclass(frozen=True)
class RoomLog:
    """A company room and its latest messages, oldest first."""

    room: ChatRoom
    messages: Sequence[ChatMessage]


class ChatService:
    """Company rooms and conference chat.

    The API methods (``post_to_room``, ``room_log``) take the actor and check the company through
    the access policy. The others are trusted: ``create_room`` is the command line's,
    ``post_to_conference`` is called once the conference has been checked, ``post_from_room`` by the
    meeting room for a participant it admitted, ``messages`` reads for views already checked.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = ChatRepository(session)

    # --- the API: the actor's scope is checked here ------------------------------------------

    def post_to_room(self, actor: Actor, company_id: int, ref: RoomRef, message: str) -> ChatMessage:
        """A System message to a DM room or channel of a company (reseller admins only).

        A channel message also reaches the company's meetings in progress.

        Args:
            actor: who is calling.
            company_id: the company whose room it is.
            ref: the room, by id (DM) or slug (channel).
            message: the text, 1 to 4000 characters.

        Raises:
            Forbidden: not a reseller admin, or a company beyond its tree.
            NotFound: the company or the room does not exist.
            InvalidInput: no room named, or an empty or too long message.
        """
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()
        company = policy.company(company_id)
        return self._post_system(actor.label, self._room(company.id, ref), message)

    def room_log(self, actor: Actor, company_id: int | None, ref: RoomRef) -> RoomLog:
        """A DM room or channel of a company with its latest messages.

        Raises:
            Forbidden: a plain host, or a company beyond the actor's scope.
            NotFound: the company or the room does not exist.
            InvalidInput: no room named.
        """
        company = AccessPolicy(self.session, actor).company(company_id)
        room = self._room(company.id, ref)
        return RoomLog(room, self.messages(room_id=room.id))

    # --- trusted ---------------------------------------------------------------------------

    def create_room(self, company_id: int, kind: str, *, slug: str | None = None, name: str = "") -> ChatRoom:
        """Create a DM room or a channel (the command line's).

        Raises:
            InvalidInput: an unknown kind or a malformed channel slug.
            Conflict: the company already has a channel with this slug.
        """
        if kind not in ("dm", "channel"):
            raise InvalidInput("kind must be dm or channel")
        if kind == "channel":
            if not slug or not SLUG_RE.match(slug):
                raise InvalidInput("a channel needs a slug of lowercase letters, digits, '-' or '_'")
            if self.repo.slug_taken(company_id, slug):
                raise Conflict("A channel with this slug exists")
        room = ChatRoom(
            company_id=company_id,
            kind=kind,
            slug=slug if kind == "channel" else None,
            name=name or (slug or "Direct messages"),
        )
        self.repo.add(room)
        return room

    def _room(self, company_id: int, ref: RoomRef) -> ChatRoom:
        """A DM room by id or a channel by slug, in this company."""
        if ref.room_id is not None:
            room = self.repo.room(ref.room_id)
            if room is None or room.company_id != company_id or room.kind != "dm":
                raise NotFound("Chat room not found")
            return room
        if ref.slug:
            found = self.repo.channel(company_id, ref.slug)
            if found is None:
                raise NotFound("Chat room not found")
            return found
        raise InvalidInput("id or slug is required", field="id")

    def _post_system(self, actor_label: str, room: ChatRoom, message: str) -> ChatMessage:
        posted = ChatMessage(room_id=room.id, sender=SYSTEM, content=_text(message))
        self.repo.add(posted)
        if room.kind == "channel":
            # A channel announcement also reaches the company's meetings in progress, as System.
            for conference_id in AttendanceRepository(self.session).live_conference_ids(room.company_id):
                room_event(
                    self.session,
                    conference_id,
                    {
                        "type": "chat",
                        "from": SYSTEM,
                        "text": posted.content,
                        "system": True,
                        "channel": room.slug,
                    },
                )
        log_action(
            self.session,
            "chat.system_message",
            actor=actor_label,
            ref=f"chat_room:{room.id}",
            company_id=room.company_id,
            message_id=posted.id,
        )
        return posted

    def post_to_conference(
        self, actor_label: str, company_id: int, conference_id: int, message: str
    ) -> ChatMessage:
        """A System message in a conference the caller has already checked.

        Raises:
            InvalidInput: an empty or too long message.
        """
        posted = ChatMessage(conference_id=conference_id, sender=SYSTEM, content=_text(message))
        self.repo.add(posted)
        room_event(
            self.session,
            conference_id,
            {"type": "chat", "from": SYSTEM, "text": posted.content, "system": True},
        )
        log_action(
            self.session,
            "conference.system_message",
            actor=actor_label,
            ref=f"conference:{conference_id}",
            company_id=company_id,
            conference_id=conference_id,
            message_id=posted.id,
        )
        return posted

    def post_from_room(
        self,
        conference_id: int,
        sender: str,
        participant_id: int | None,
        text: str,
        *,
        viewer_key: str | None = None,
    ) -> ChatMessage:
        """Someone in the meeting (or a viewer of its stream, ``viewer_key``) wrote to everyone: kept
        for the conference's detail and summary."""
        posted = ChatMessage(
            conference_id=conference_id,
            sender=sender[:255],
            participant_id=participant_id,
            content=_text(text),
            viewer_key=viewer_key,
        )
        self.repo.add(posted)
        return posted

    def viewer_questions_since(
        self, conference_id: int, since: datetime, viewer_key: str | None = None
    ) -> tuple[int, datetime | None]:
        """Viewers' questions to the conference since ``since`` (one viewer's, with ``viewer_key``):
        how many, and when the oldest came."""
        return self.repo.viewer_questions_since(conference_id, since, viewer_key)

    def messages(
        self, *, room_id: int | None = None, conference_id: int | None = None, limit: int = 200
    ) -> Sequence[ChatMessage]:
        """The latest messages of a room or a conference, oldest first."""
        return self.repo.latest(room_id=room_id, conference_id=conference_id, limit=limit)
