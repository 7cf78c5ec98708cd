from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.models.activity import DriveFile


class DriveRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, file: DriveFile) -> None:
        self.session.add(file)
        self.session.flush()

    def by_id(self, file_id: int) -> DriveFile | None:
        return self.session.get(DriveFile, file_id)

    def finished_page(self, host_id: int, offset: int, limit: int) -> tuple[Sequence[DriveFile], int]:
        """A slice of the host's live, finished files, newest first, and how many there are."""
        where = (
            DriveFile.host_id == host_id,
            DriveFile.deleted_at.is_(None),
            DriveFile.finished_at.is_not(None),
        )
        total = int(self.session.scalar(select(func.count(DriveFile.id)).where(*where)) or 0)
        stmt = select(DriveFile).where(*where).order_by(DriveFile.id.desc()).offset(offset).limit(limit)
        return self.session.scalars(stmt).all(), total
