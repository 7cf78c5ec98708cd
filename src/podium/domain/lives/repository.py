"""Lives: every SQL statement about them, and the count of viewers watching one now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.models.live import LIVE_MEDIA_TYPE, Live, LiveState
from podium.models.media import Media
from podium.models.paywall import ViewSession


class LiveRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, live: Live) -> None:
        self.session.add(live)
        self.session.flush()

    def for_media(self, media_id: int) -> Live | None:
        return self.session.scalar(select(Live).where(Live.media_id == media_id))

    def by_code(self, code: str, *, lock: bool = False) -> tuple[Live, Media] | None:
        """A live by its media's public code (the RTMP stream name), not deleted; ``lock`` holds its
        row until the transaction ends (two publishers at once: one wins)."""
        stmt = (
            select(Live, Media)
            .join(Media, Media.id == Live.media_id)
            .where(Media.code == code, Media.deleted_at.is_(None))
        )
        if lock:
            stmt = stmt.with_for_update(of=Live)
        row = self.session.execute(stmt).first()
        return (row[0], row[1]) if row else None

    def for_company(self, company_id: int, code: str) -> tuple[Live, Media] | None:
        row = self.session.execute(
            select(Live, Media)
            .join(Media, Media.id == Live.media_id)
            .where(Media.company_id == company_id, Media.code == code, Media.deleted_at.is_(None))
        ).first()
        return (row[0], row[1]) if row else None

    def page(self, company_id: int, limit: int, offset: int) -> tuple[Sequence[tuple[Live, Media]], int]:
        """A page of the company's lives, newest first (internal ones too: they are the company's)."""
        where = (
            Media.company_id == company_id,
            Media.deleted_at.is_(None),
            Media.media_type == LIVE_MEDIA_TYPE,
        )
        total = int(self.session.scalar(select(func.count(Media.id)).where(*where)) or 0)
        rows = self.session.execute(
            select(Live, Media)
            .join(Media, Media.id == Live.media_id)
            .where(*where)
            .order_by(Media.created_at.desc(), Media.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return [(row[0], row[1]) for row in rows], total

    def on_air(self) -> Sequence[tuple[Live, Media]]:
        """Every live marked on air (whatever RTMP server it was on)."""
        rows = self.session.execute(
            select(Live, Media)
            .join(Media, Media.id == Live.media_id)
            .where(Live.state == LiveState.LIVE.value)
        ).all()
        return [(row[0], row[1]) for row in rows]

    def media(self, media_id: int) -> Media | None:
        return self.session.get(Media, media_id)

    def watching(self, media_id: int, since: datetime) -> int:
        """View sessions of the media that are open and beat (or started) since ``since``."""
        stmt = select(func.count(ViewSession.id)).where(
            ViewSession.media_id == media_id,
            ViewSession.ended_at.is_(None),
            ViewSession.last_seen_at >= since,
        )
        return int(self.session.scalar(stmt) or 0)
