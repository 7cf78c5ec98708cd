"""Chat: company rooms (DMs by id, channels by slug) and conference chat; API messages come from System."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.domain.attendance.repository import AttendanceRepository
from podium.domain.audit.service import log_action
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


class ChatService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create_room(self, company_id: int, kind: str, *, slug: str | None = None, name: str = "") -> ChatRoom:
        if kind not in ("dm", "channel"):
            raise InvalidInput("kind must be dm or channel")
        if kind == "channel":
            if not slug or not SLUG_RE.match(slug):
                raise InvalidInput("a channel needs a slug of lowercase letters, digits, '-' or '_'")
            if (
                self.session.scalar(
                    select(ChatRoom.id).where(ChatRoom.company_id == company_id, ChatRoom.slug == slug)
                )
                is not None
            ):
                raise Conflict("A channel with this slug exists")
        room = ChatRoom(
            company_id=company_id,
            kind=kind,
            slug=slug if kind == "channel" else None,
            name=name or (slug or "Direct messages"),
        )
        self.session.add(room)
        self.session.flush()
        return room

    def room(self, company_id: int, *, room_id: int | None, slug: str | None) -> ChatRoom:
        """A DM room by id or a channel by slug, in this company."""
        if room_id is not None:
            room = self.session.get(ChatRoom, room_id)
            if room is None or room.company_id != company_id or room.kind != "dm":
                raise NotFound("Chat room not found")
            return room
        if slug:
            found = self.session.scalar(
                select(ChatRoom).where(
                    ChatRoom.company_id == company_id, ChatRoom.slug == slug, ChatRoom.kind == "channel"
                )
            )
            if found is None:
                raise NotFound("Chat room not found")
            return found
        raise InvalidInput("id or slug is required", field="id")

    def post_system(self, actor_label: str, room: ChatRoom, message: str) -> ChatMessage:
        posted = ChatMessage(room_id=room.id, sender=SYSTEM, content=_text(message))
        self.session.add(posted)
        self.session.flush()
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
        posted = ChatMessage(conference_id=conference_id, sender=SYSTEM, content=_text(message))
        self.session.add(posted)
        self.session.flush()
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
        self, conference_id: int, sender: str, participant_id: int | None, text: str
    ) -> ChatMessage:
        """Someone in the meeting wrote to everyone: kept for the conference's detail and summary."""
        posted = ChatMessage(
            conference_id=conference_id,
            sender=sender[:255],
            participant_id=participant_id,
            content=_text(text),
        )
        self.session.add(posted)
        self.session.flush()
        return posted

    def messages(
        self, *, room_id: int | None = None, conference_id: int | None = None, limit: int = 200
    ) -> Sequence[ChatMessage]:
        stmt = select(ChatMessage)
        stmt = (
            stmt.where(ChatMessage.room_id == room_id)
            if room_id is not None
            else stmt.where(ChatMessage.conference_id == conference_id)
        )
        return self.session.scalars(stmt.order_by(ChatMessage.id.desc()).limit(limit)).all()[::-1]
