"""Stream rules (domain/streams): who may stream, one run at a time, the meeting's end stops it, the
keepers' leases (one process wins a claim; a stopping process lets go), a compositor that keeps
failing ends the stream as failed, the streaming page's key, and viewers' questions. The compositor,
the RTMP server and the page run for real in tests/e2e/test_conference_streams.py."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from podium.domain.conferences.lifecycle import end_active, mark_started
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions
from podium.domain.streams.service import (
    QUESTIONS_PER_MEETING,
    QUESTIONS_PER_VIEWER,
    StreamService,
    conference_of_page_key,
    streaming_page_key,
)
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts
from podium.kit.uow import after_commit
from podium.models.activity import ChatMessage
from podium.models.audit import AuditEntry
from podium.models.conference import Conference
from podium.models.stream import StreamState
from podium.rooms.service import RoomService, screen_sharers
from tests.domain.conferences.conftest import Scene, a_live_media


def _live(scheduling: SchedulingService, scene: Scene, organiser: int, **fields: object) -> Conference:
    given = ConferenceOptions(duration=60, time_zone=ZoneInfo("UTC"), **fields)  # type: ignore[arg-type]
    conference = scheduling.create_reservationless(scene.ca, organiser, given)
    mark_started(scheduling.session, conference, utcnow(), actor_label="test")
    return conference


def test_a_host_streams_only_with_native_streaming(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    # Hosts first: SQLite has one writer, and the test's session writes from the first conference on.
    off_host, on_host = scene.organiser(), scene.organiser(native_streaming=True, auto_stream="audio")
    streams = StreamService(session, scene.settings)
    off = _live(scheduling, scene, off_host)
    with pytest.raises(Forbidden, match="native_streaming"):
        streams.start(off, started_by="moderator:x", live_media_id=a_live_media(session, off))
    on = _live(scheduling, scene, on_host)
    stream = streams.start(on, started_by="auto", live_media_id=a_live_media(session, on))
    assert (stream.kind, stream.state, on.is_streaming) == ("audio", StreamState.STARTING, True)
    events = after_commit(session).room_events
    assert (on.id, "streaming") in [(c, e["type"]) for c, e in events]
    assert after_commit(session).wake_streams


def test_one_run_at_a_time_and_the_end_of_the_meeting_stops_it(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = _live(scheduling, scene, scene.organiser(native_streaming=True))
    streams = StreamService(session, scene.settings)
    live_id = a_live_media(session, conference)
    first = streams.start(conference, started_by="auto", live_media_id=live_id)
    with pytest.raises(Conflict, match="already streaming"):
        streams.start(conference, started_by="moderator:x", live_media_id=live_id)
    assert streams.stop(conference, actor="api") is first
    assert (first.state, conference.is_streaming) == (StreamState.ENDED, False)
    assert streams.stop(conference, actor="api") is None  # nothing runs: nothing to stop
    # The conference keeps its live across its runs (its streaming page does not move).
    assert streams.live_media_id(conference.id) == live_id
    second = streams.start(conference, started_by="moderator:x", live_media_id=live_id)
    end_active(session, conference, actor_label="test")
    assert second.ended_at is not None and conference.is_streaming is False
    with pytest.raises(Conflict, match="not live"):
        streams.start(conference, started_by="auto", live_media_id=live_id)
    actions = [a.action for a in session.query(AuditEntry).filter_by(ref=f"conference:{conference.id}")]
    assert actions.count("conference.streaming_started") == 2
    assert actions.count("conference.streaming_stopped") == 2


def test_one_keeper_wins_a_claim_and_a_stopping_one_lets_go(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = _live(scheduling, scene, scene.organiser(native_streaming=True))
    streams = StreamService(session, scene.settings)
    stream = streams.start(conference, started_by="auto", live_media_id=a_live_media(session, conference))
    now = utcnow()
    assert stream.id in streams.unheld(now)
    assert streams.claim(stream.id, "a", now, now + timedelta(seconds=15))
    assert not streams.claim(stream.id, "b", now, now + timedelta(seconds=15))  # held
    assert stream.id not in streams.unheld(now)
    assert streams.renew("a", [stream.id], now + timedelta(seconds=30)) == {stream.id}
    assert streams.renew("b", [stream.id], now + timedelta(seconds=30)) == set()
    # A lapsed lease (a killed process) is claimed by another.
    later = now + timedelta(seconds=31)
    assert stream.id in streams.unheld(later)
    assert streams.claim(stream.id, "b", later, later + timedelta(seconds=15))
    streams.release("b", [stream.id])
    assert stream.id in streams.unheld(later)
    # An ended stream is nobody's to renew.
    streams.stop(conference, actor="api")
    assert streams.renew("b", [stream.id], later) == set()


def test_a_compositor_that_keeps_failing_ends_the_stream_as_failed(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = _live(scheduling, scene, scene.organiser(native_streaming=True))
    streams = StreamService(session, scene.settings)
    stream = streams.start(conference, started_by="auto", live_media_id=a_live_media(session, conference))
    now = utcnow()
    for attempt in (1, 2):
        assert streams.claim(stream.id, "a", now, now + timedelta(seconds=15))
        streams.attempt_failed(stream.id, "connection refused", attempts=3)
        assert (stream.attempts, stream.owner, stream.ended_at) == (attempt, None, None)
    assert streams.claim(stream.id, "a", now, now + timedelta(seconds=15))
    streams.attempt_failed(stream.id, "connection refused", attempts=3)
    assert (stream.state, stream.failure_reason) == (StreamState.FAILED, "connection refused")
    assert conference.is_streaming is False
    told = [
        e for c, e in after_commit(session).room_events if c == conference.id and e["type"] == "streaming"
    ]
    assert told[-1] == {"type": "streaming", "on": False, "failure": "connection refused"}
    # The compositor publishing marks the stream live (and tells the room) only while it runs.
    again = streams.start(conference, started_by="moderator:x", live_media_id=stream.media_id)
    streams.publishing(again.id)
    assert again.state == StreamState.LIVE


def test_the_streaming_page_key_names_one_conference(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    settings = scene.settings
    key = streaming_page_key(settings, 42)
    assert conference_of_page_key(settings, key) == 42
    assert streaming_page_key(settings, 42) == key  # stable: it can be announced
    for forged in (
        streaming_page_key(settings, 43).replace("43-", "42-"),
        "42",
        "42-",
        key + "0",
        "x-" + key,
    ):
        with pytest.raises(NotFound):
            conference_of_page_key(settings, forged)


def test_viewers_ask_while_the_meeting_streams(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = _live(scheduling, scene, scene.organiser(native_streaming=True))
    streams = StreamService(session, scene.settings)
    with pytest.raises(Conflict, match="not streaming"):
        streams.ask(conference.id, "Vera", "Hello?", viewer="10.0.0.1")
    streams.start(conference, started_by="auto", live_media_id=a_live_media(session, conference))
    with pytest.raises(InvalidInput, match="Write a question"):
        streams.ask(conference.id, "Vera", "   ", viewer="10.0.0.1")
    with pytest.raises(InvalidInput, match="at most 1000"):
        streams.ask(conference.id, "Vera", "?" * 1001, viewer="10.0.0.1")
    assert streams.ask(conference.id, "  Vera \n Q ", " Slides? ", viewer="10.0.0.1") == ("Vera Q", "Slides?")
    assert streams.ask(conference.id, "", "And the recording?", viewer="10.0.0.2")[0] == "A viewer"
    kept = session.query(ChatMessage).filter_by(conference_id=conference.id).all()
    assert [(m.sender, m.content) for m in kept] == [
        ("Vera Q (viewer)", "Slides?"),
        ("A viewer (viewer)", "And the recording?"),
    ]
    # The address is kept only as a keyed hash (for the limits below).
    assert all(m.viewer_key and "10.0.0" not in m.viewer_key for m in kept)
    with pytest.raises(NotFound):
        streams.page(10**9)


def test_viewers_questions_are_limited_per_viewer_and_per_meeting(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = _live(scheduling, scene, scene.organiser(native_streaming=True))
    streams = StreamService(session, scene.settings)
    streams.start(conference, started_by="auto", live_media_id=a_live_media(session, conference))
    for n in range(QUESTIONS_PER_VIEWER):
        streams.ask(conference.id, "Flo", f"Question {n}?", viewer="10.0.0.9")
    with pytest.raises(TooManyAttempts, match="You have asked 3 questions this minute") as refused:
        streams.ask(conference.id, "Flo", "One more?", viewer="10.0.0.9")
    assert 1 <= refused.value.retry_after <= 61
    streams.ask(conference.id, "Other", "Mine?", viewer="10.0.0.10")  # someone else still may
    # A minute later the viewer asks again (their questions are older than the window).
    session.query(ChatMessage).filter_by(conference_id=conference.id).update(
        {ChatMessage.created_at: utcnow() - timedelta(seconds=61)}
    )
    streams.ask(conference.id, "Flo", "Back again?", viewer="10.0.0.9")
    # The whole meeting takes QUESTIONS_PER_MEETING a minute, however many viewers ask.
    for n in range(QUESTIONS_PER_MEETING - 1):
        streams.ask(conference.id, "Crowd", f"Q{n}?", viewer=f"10.1.{n // 250}.{n % 250}")
    with pytest.raises(TooManyAttempts, match="Viewers have asked 60 questions"):
        streams.ask(conference.id, "Late", "Still open?", viewer="10.2.0.1")


def test_a_conference_remembers_who_shares_a_screen(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    """A stream's compositor (or a recording) that starts mid-share reads who shares from the
    conference, so the share is on stage from its first frame."""
    conference = _live(scheduling, scene, scene.organiser(native_streaming=True))
    rooms = RoomService(session, scene.settings, None)
    rooms.note_screen_share(conference.id, 11, True)
    rooms.note_screen_share(conference.id, 12, True)
    rooms.note_screen_share(conference.id, 12, True)  # told twice: still one share
    assert screen_sharers(conference) == [11, 12]
    rooms.note_screen_share(conference.id, 11, False)
    assert screen_sharers(conference) == [12]
    stages = [e for c, e in after_commit(session).room_events if c == conference.id and e["type"] == "stage"]
    assert [(e["publisher"], e["on"]) for e in stages] == [(11, True), (12, True), (12, True), (11, False)]
