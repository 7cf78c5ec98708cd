"""Recording rows: a conference's segments, the active one, and the media worker's queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from podium.models.activity import Attendance
from podium.models.recording import Recording, RecordingState, TranscriptState


class RecordingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, recording: Recording) -> Recording:
        self.session.add(recording)
        self.session.flush()
        return recording

    def by_id(self, recording_id: int) -> Recording | None:
        return self.session.get(Recording, recording_id)

    def of_conference(self, conference_id: int) -> Sequence[Recording]:
        stmt = (
            select(Recording).where(Recording.conference_id == conference_id).order_by(Recording.started_at)
        )
        return self.session.scalars(stmt).all()

    def of_conferences(self, conference_ids: Sequence[int]) -> dict[int, list[Recording]]:
        found: dict[int, list[Recording]] = {conference_id: [] for conference_id in conference_ids}
        if conference_ids:
            stmt = (
                select(Recording)
                .where(Recording.conference_id.in_(conference_ids))
                .order_by(Recording.started_at, Recording.id)
            )
            for recording in self.session.scalars(stmt):
                found[recording.conference_id].append(recording)
        return found

    def active(self, conference_id: int) -> Recording | None:
        stmt = select(Recording).where(
            Recording.conference_id == conference_id, Recording.state == RecordingState.RECORDING.value
        )
        return self.session.scalars(stmt).first()

    def all_recording(self) -> Sequence[Recording]:
        stmt = select(Recording).where(Recording.state == RecordingState.RECORDING.value)
        return self.session.scalars(stmt).all()

    def delete(self, recording: Recording) -> None:
        self.session.execute(delete(Recording).where(Recording.id == recording.id))

    # --- the media worker's queue ---------------------------------------------------------------

    @staticmethod
    def _due(now: datetime) -> object:
        waiting = or_(
            Recording.state == RecordingState.PROCESSING.value,
            and_(
                Recording.state == RecordingState.PUBLISHED.value,
                Recording.transcript_state == TranscriptState.PENDING.value,
            ),
        )
        return and_(waiting, or_(Recording.lease_until.is_(None), Recording.lease_until <= now))

    def due(self, now: datetime, limit: int = 10) -> Sequence[int]:
        stmt = select(Recording.id).where(self._due(now)).order_by(Recording.id).limit(limit)  # type: ignore[arg-type]
        return self.session.scalars(stmt).all()

    def jobs_waiting(self) -> tuple[int, int]:
        """(compose, transcribe): recordings whose tracks are still to be composed, and published ones
        whose transcript is still to be made, leased or not (``/metrics``; the due index)."""
        stmt = (
            select(Recording.state, func.count())
            .where(
                or_(
                    Recording.state == RecordingState.PROCESSING.value,
                    and_(
                        Recording.state == RecordingState.PUBLISHED.value,
                        Recording.transcript_state == TranscriptState.PENDING.value,
                    ),
                )
            )
            .group_by(Recording.state)
        )
        counts = dict(self.session.execute(stmt).all())
        return (
            int(counts.get(RecordingState.PROCESSING.value, 0)),
            int(counts.get(RecordingState.PUBLISHED.value, 0)),
        )

    def claim(self, recording_id: int, now: datetime, lease_until: datetime) -> Recording | None:
        """Take a recording's job; None when another worker holds it (or it is no longer due)."""
        result = self.session.execute(
            update(Recording)
            .where(Recording.id == recording_id, self._due(now))  # type: ignore[arg-type]
            .values(lease_until=lease_until, attempts=Recording.attempts + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return self.session.get(Recording, recording_id, populate_existing=True)

    def renew_lease(self, recording_id: int, lease_until: datetime) -> bool:
        result = self.session.execute(
            update(Recording).where(Recording.id == recording_id).values(lease_until=lease_until)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # --- who spoke --------------------------------------------------------------------------------

    def speakers(self, conference_id: int) -> dict[str, str]:
        """Media publisher id → the name of the attendance that published it."""
        stmt = select(Attendance.media_publisher_id, Attendance.name).where(
            Attendance.conference_id == conference_id, Attendance.media_publisher_id.is_not(None)
        )
        return {str(publisher): name for publisher, name in self.session.execute(stmt)}

    def note_publisher(self, attendance_id: int, publisher_id: int | None) -> None:
        self.session.execute(
            update(Attendance).where(Attendance.id == attendance_id).values(media_publisher_id=publisher_id)
        )
