"""Typed inputs of the chat service."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoomRef:
    """Which company room: a DM room by id, or a channel by slug (the id wins when both are given)."""

    room_id: int | None = None
    slug: str | None = None
