"""Room events raised in a transaction and delivered to connected browsers once it commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def room_event(session: Session, conference_id: int, event: dict[str, Any]) -> None:
    """Queue ``event`` for the conference's room; the edge publishes it after the commit."""
    session.info.setdefault("room_events", []).append((conference_id, event))


def take_room_events(session: Session) -> list[tuple[int, dict[str, Any]]]:
    events: list[tuple[int, dict[str, Any]]] = session.info.pop("room_events", [])
    return events
