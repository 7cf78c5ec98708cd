"""Ending a stream: the one step every way a stream stops goes through (a moderator, the API, a
compositor that cannot publish, the meeting's end).

Apart from the service so that the conference lifecycle can call it without depending on lives.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from podium.domain.audit.service import log_action
from podium.domain.streams.repository import StreamRepository
from podium.kit.uow import room_event, wake_streams
from podium.models.conference import Conference
from podium.models.stream import Stream, StreamState


def end_stream(
    session: Session, conference: Conference, at: datetime, *, actor: str, failure: str = ""
) -> Stream | None:
    """Close the conference's running stream (None when none runs): ``is_streaming`` turns false,
    the process running its compositor stops it, and the room is told."""
    stream = StreamRepository(session).running(conference.id)
    conference.is_streaming = False
    if stream is None:
        return None
    stream.ended_at = max(at, stream.started_at)
    stream.state = (StreamState.FAILED if failure else StreamState.ENDED).value
    stream.failure_reason = failure[:2000]
    session.flush()
    wake_streams(session)
    log_action(
        session,
        "conference.streaming_stopped",
        actor=actor,
        ref=f"conference:{conference.id}",
        company_id=conference.company_id,
        host_id=conference.host_id,
        conference_id=conference.id,
        stream_id=stream.id,
        **({"reason": failure[:200]} if failure else {}),
    )
    room_event(session, conference.id, {"type": "streaming", "on": False, "failure": failure[:200]})
    return stream
