from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.models.activity import ChatMessage, ChatRoom


class ChatRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def viewer_questions_since(
        self, conference_id: int, since: datetime, viewer_key: str | None = None
    ) -> tuple[int, datetime | None]:
        """How many viewers' questions (from ``viewer_key`` only, when given) the conference got since
        ``since``, and when the oldest of them came."""
        stmt = select(func.count(), func.min(ChatMessage.created_at)).where(
            ChatMessage.conference_id == conference_id,
            ChatMessage.created_at >= since,
            ChatMessage.viewer_key.is_not(None),
        )
        if viewer_key is not None:
            stmt = stmt.where(ChatMessage.viewer_key == viewer_key)
        count, oldest = self.session.execute(stmt).one()
        return int(count), oldest

    def add(self, obj: ChatRoom | ChatMessage) -> None:
        self.session.add(obj)
        self.session.flush()

    def room(self, room_id: int) -> ChatRoom | None:
        return self.session.get(ChatRoom, room_id)

    def channel(self, company_id: int, slug: str) -> ChatRoom | None:
        stmt = select(ChatRoom).where(
            ChatRoom.company_id == company_id, ChatRoom.slug == slug, ChatRoom.kind == "channel"
        )
        return self.session.scalar(stmt)

    def slug_taken(self, company_id: int, slug: str) -> bool:
        stmt = select(ChatRoom.id).where(ChatRoom.company_id == company_id, ChatRoom.slug == slug)
        return self.session.scalar(stmt.limit(1)) is not None

    def latest(
        self, *, room_id: int | None = None, conference_id: int | None = None, limit: int = 200
    ) -> Sequence[ChatMessage]:
        """The latest ``limit`` messages of a room (or of a conference), oldest first."""
        stmt = select(ChatMessage)
        stmt = (
            stmt.where(ChatMessage.room_id == room_id)
            if room_id is not None
            else stmt.where(ChatMessage.conference_id == conference_id)
        )
        return self.session.scalars(stmt.order_by(ChatMessage.id.desc()).limit(limit)).all()[::-1]
