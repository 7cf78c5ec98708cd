from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from podium.kit.db import Base, Timestamped


class Attendance(Timestamped, Base):
    """One join…leave span of someone in a conference: the source of every report and status."""

    __tablename__ = "attendances"
    __table_args__ = (Index("ix_attendances_conference", "conference_id", "joined_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("hosts.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    via: Mapped[str] = mapped_column(String(16), default="web")  # web | phone
    # What the link that admitted them made them: host (a LiveMinutes host URL, the organiser),
    # moderator, participant (a personal link) or guest (a shared link; the name is typed).
    # The host is recognised by this, never by a display name anyone can type.
    role: Mapped[str] = mapped_column(String(16), default="guest", server_default="guest")
    caller: Mapped[str | None] = mapped_column(String(32))  # the number dialled from, for phone legs
    # Their publisher in the media room, as their page reports it: names the tracks of recordings.
    media_publisher_id: Mapped[int | None] = mapped_column(BigInteger)
    joined_at: Mapped[datetime] = mapped_column(DateTime)
    left_at: Mapped[datetime | None] = mapped_column(DateTime)


class RoomRemoval(Timestamped, Base):
    """A moderator removed someone from a conference's room: that seat (its media token) cannot
    connect again, and a personal link's participant cannot enter that conference again."""

    __tablename__ = "room_removals"
    __table_args__ = (Index("ix_room_removals_seat", "conference_id", "seat_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    seat_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the seat's media token
    name: Mapped[str] = mapped_column(String(255), default="")
    removed_by: Mapped[str] = mapped_column(String(255), default="")
    removed_at: Mapped[datetime] = mapped_column(DateTime)


class ChatRoom(Timestamped, Base):
    """A company's chat room: a direct-message room (by id) or a channel (by slug)."""

    __tablename__ = "chat_rooms"
    __table_args__ = (UniqueConstraint("company_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    kind: Mapped[str] = mapped_column(String(8))  # dm | channel
    slug: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")


class ChatMessage(Timestamped, Base):
    """A message in a chat room or in a conference's chat; ``sender`` "System" for API messages."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_room", "room_id", "id"),
        Index("ix_chat_messages_conference", "conference_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("chat_rooms.id"))
    conference_id: Mapped[int | None] = mapped_column(ForeignKey("conferences.id"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    sender: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    # A streaming page viewer's question: who asked (a hash of their address), for the rate limits.
    viewer_key: Mapped[str | None] = mapped_column(String(64))


class DriveFile(Timestamped, Base):
    __tablename__ = "drive_files"
    __table_args__ = (UniqueConstraint("storage_key"), Index("ix_drive_files_host", "host_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    mimetype: Mapped[str | None] = mapped_column(String(127))
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    presentation_status: Mapped[str | None] = mapped_column(String(12))
    page_count: Mapped[int | None] = mapped_column(Integer)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebhookEndpoint(Timestamped, Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Sent as x-signing-token so the receiver knows the call is ours; kept to be sent again.
    signing_token: Mapped[str] = mapped_column(String(64))
    # iotum: JSON body with x-signing-token; boomstream: form-encoded POST, retried every 10 minutes.
    style: Mapped[str] = mapped_column(String(12), default="iotum", server_default="iotum")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebhookDelivery(Timestamped, Base):
    """One attempt to deliver one event to one endpoint (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
