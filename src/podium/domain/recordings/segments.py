"""Stopping a recording segment: the one step every way a recording stops goes through.

Apart from the service so that the conference lifecycle (which ends a recording with the meeting)
can call it without depending on plans and media.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from podium.domain.audit.service import log_action
from podium.domain.recordings.repository import RecordingRepository
from podium.kit.uow import room_event, wake_media
from podium.models.conference import Conference
from podium.models.recording import Recording, RecordingState


def stop_segment(session: Session, conference: Conference, at: datetime) -> Recording | None:
    """The one step every way a recording stops goes through (a moderator, the meeting's end): its
    segment is closed and goes to the media worker, and the room is told."""
    recording = RecordingRepository(session).active(conference.id)
    if recording is None:
        return None
    recording.ended_at = max(at, recording.started_at)
    recording.state = RecordingState.PROCESSING.value
    session.flush()
    wake_media(session)
    log_action(
        session,
        "conference.recording_stopped",
        actor="system",
        ref=f"conference:{conference.id}",
        company_id=conference.company_id,
        host_id=conference.host_id,
        conference_id=conference.id,
        recording_id=recording.id,
    )
    room_event(session, conference.id, {"type": "recording", "on": False})
    return recording
