"""Recording rules (domain/recordings): who may record and what, one segment at a time, the meeting's
end stops it, deleting, signed file links, and the grid the composer lays out. The capture and the
composition themselves run against a real Janus in tests/e2e/test_recordings_browser.py."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from podium.domain.conferences.lifecycle import end_active, mark_started
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions
from podium.domain.recordings import composer
from podium.domain.recordings.service import RecordingService
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, LinkInvalid, NotFound
from podium.models.audit import AuditEntry
from podium.models.conference import Conference
from podium.models.recording import RecordingState, TranscriptState
from tests.domain.conferences.conftest import Scene


def _live(scheduling: SchedulingService, scene: Scene, organiser: int, **fields: object) -> Conference:
    """A started conference of ``organiser`` (made before the test's session writes: SQLite has one
    writer)."""
    given = ConferenceOptions(duration=60, time_zone=ZoneInfo("UTC"), **fields)  # type: ignore[arg-type]
    conference = scheduling.create_reservationless(scene.ca, organiser, given)
    mark_started(scheduling.session, conference, utcnow(), actor_label="test")
    return conference


def test_the_plan_decides_what_may_be_recorded(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    large, small = scene.organiser(), scene.organiser(plan="small_plan")
    recordings = RecordingService(session, scene.settings)
    assert recordings.kind_for(_live(scheduling, scene, large)) == "video"  # large_plan: the best it allows
    assert recordings.kind_for(_live(scheduling, scene, large, auto_record="audio")) == "audio"
    with pytest.raises(Forbidden, match="Recording feature not enabled"):
        recordings.kind_for(_live(scheduling, scene, small))


def test_one_segment_at_a_time_and_the_end_of_the_meeting_stops_it(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = _live(scheduling, scene, scene.organiser(), auto_transcribe=True)
    recordings = RecordingService(session, scene.settings)
    first = recordings.begin(conference, started_by="auto", media_server=None)
    assert (first.state, first.kind, first.transcript_state) == (
        "recording",
        "video",
        TranscriptState.PENDING,
    )
    assert recordings.raw_dir(first).is_dir()
    with pytest.raises(Conflict, match="already being recorded"):
        recordings.begin(conference, started_by="moderator:x", media_server=None)
    started = session.query(AuditEntry).filter_by(action="conference.recording_started").all()[-1]
    assert started.data["conference_id"] == conference.id and started.data["type"] == "video"

    stopped = recordings.finish(conference)
    assert stopped is first and first.state == RecordingState.PROCESSING and first.ended_at is not None
    assert recordings.finish(conference) is None
    second = recordings.begin(conference, started_by="moderator:x", media_server=None)
    end_active(session, conference, actor_label="test")
    assert second.state == RecordingState.PROCESSING  # the meeting's end closes the segment
    assert [r.id for r in recordings.of_conference(conference.id)] == [first.id, second.id]
    with pytest.raises(Conflict, match="not live"):
        recordings.begin(conference, started_by="auto", media_server=None)


def test_deleting_recordings_and_transcripts(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = _live(scheduling, scene, scene.organiser(), auto_transcribe=True)
    recordings = RecordingService(session, scene.settings)
    recording = recordings.begin(conference, started_by="auto", media_server=None)
    with pytest.raises(Conflict, match="still being recorded"):
        recordings.delete_all(conference, actor_label="test")
    recordings.finish(conference)
    folder = recordings.storage_dir(recording)
    (folder / "transcript.vtt").write_text("WEBVTT\n")
    recording.transcript_state = TranscriptState.READY.value
    assert recordings.delete_transcripts(conference, actor_label="test") == 1
    assert not (folder / "transcript.vtt").exists() and recording.transcript_state == TranscriptState.NONE
    assert recordings.delete_all(conference, actor_label="test") == 1
    assert not folder.exists() and recordings.of_conference(conference.id) == []


def test_file_links_are_signed_per_recording_and_file(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = _live(scheduling, scene, scene.organiser())
    recordings = RecordingService(session, scene.settings)
    recording = recordings.begin(conference, started_by="auto", media_server=None)
    assert recordings.download_link(recording) is None  # nothing to download before it is published
    recordings.finish(conference)
    recording.state, recording.file_name = RecordingState.PUBLISHED.value, "recording.mp4"
    (recordings.storage_dir(recording) / "recording.mp4").write_bytes(b"mp4")
    link = recordings.download_link(recording)
    assert link is not None and f"/recordings/{recording.id}/recording.mp4?token=" in link
    token = link.split("token=")[1]
    path, media_type = recordings.file_for_link(recording.id, "recording.mp4", token)
    assert path.read_bytes() == b"mp4" and media_type == "video/mp4"
    with pytest.raises(NotFound):
        recordings.file_for_link(recording.id, "recording.mp3", token)  # signed for another file
    with pytest.raises(NotFound):
        recordings.file_for_link(recording.id + 1, "recording.mp4", token)
    with pytest.raises(LinkInvalid):
        recordings.file_for_link(recording.id, "recording.mp4", token[:-4] + "AAAA")
    forged = tokens.sign(
        {"aud": "podium:room", "rec": recording.id, "file": "recording.mp4"},
        scene.settings.signing_key(),
        expires_at=utcnow(),
    )
    with pytest.raises(LinkInvalid):
        recordings.file_for_link(recording.id, "recording.mp4", forged)


def test_the_grid_follows_who_is_there() -> None:
    assert composer.grid(1) == [(0, 0, 1280, 720)]
    assert composer.grid(2) == [(0, 0, 640, 720), (640, 0, 640, 720)]
    three = composer.grid(3)  # two on top, the third centred below
    assert three[:2] == [(0, 0, 640, 360), (640, 0, 640, 360)] and three[2] == (320, 360, 640, 360)
    assert len({tile for tile in composer.grid(6)}) == 6

    def track(start: float, end: float) -> composer.Track:
        return composer.Track("p", "video", composer.Path("x"), start, end - start)

    # A arrives, B joins at 10 s, A leaves at 20 s: full screen, side by side, then B alone.
    stretches = composer.layout([track(0, 20), track(10, 30)], 30)
    assert [(start, end, [index for index, _ in tiles]) for start, end, tiles in stretches] == [
        (0.0, 10.0, [0]),
        (10.0, 20.0, [0, 1]),
        (20.0, 30.0, [1]),
    ]
    assert stretches[0][2][0][1] == (0, 0, 1280, 720) and stretches[2][2][0][1] == (0, 0, 1280, 720)


def test_a_screen_share_takes_the_stage() -> None:
    def track(publisher: str, start: float, end: float) -> composer.Track:
        return composer.Track(publisher, "video", composer.Path("x"), start, end - start)

    videos = [track("a", 0, 30), track("b", 0, 30), track("c", 0, 30)]
    stretches = composer.layout(videos, 30, [composer.Share("b", 10, 20)])
    assert [(start, end) for start, end, _ in stretches] == [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]
    shared = dict(stretches[1][2])
    assert shared[1] == composer.STAGE == (0, 0, 1280, 540)
    assert shared[0][1] == shared[2][1] == 540 and shared[0][2] <= 320  # the others in a strip below
    assert dict(stretches[0][2])[1] != composer.STAGE and dict(stretches[2][2])[1] != composer.STAGE


def test_screen_share_notes_become_stage_time(tmp_path: composer.Path) -> None:
    notes = tmp_path / "stage.jsonl"
    epoch = 1_000_000_000_000_000
    lines = [
        {"publisher": "7", "on": True, "at": epoch + 2_000_000},
        "not json",
        {"publisher": "7", "on": False, "at": epoch + 5_500_000},
        {"publisher": "9", "on": True, "at": epoch + 8_000_000},
    ]
    import json

    notes.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    shares = composer.read_shares(notes, epoch)
    assert shares[0] == composer.Share("7", 2.0, 5.5)
    assert shares[1].publisher == "9" and shares[1].start == 8.0 and shares[1].end == float("inf")
    assert composer.read_shares(tmp_path / "missing.jsonl", epoch) == []


def test_a_job_left_by_a_dead_worker_is_taken_again(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    from datetime import timedelta

    from podium.domain.recordings.repository import RecordingRepository

    conference = _live(scheduling, scene, scene.organiser())
    recordings = RecordingService(session, scene.settings)
    recording = recordings.begin(conference, started_by="auto", media_server=None)
    queue = RecordingRepository(session)
    now = utcnow()
    assert recording.id not in queue.due(now)  # still recording: nothing to compose yet
    recordings.finish(conference)
    assert recording.id in queue.due(now)
    taken = queue.claim(recording.id, now, now + timedelta(minutes=2))
    assert taken is not None and taken.attempts == 1
    assert queue.claim(recording.id, now, now + timedelta(minutes=2)) is None  # held by its worker
    assert recording.id not in queue.due(now + timedelta(minutes=1))
    # The worker died: its lease runs out and the next worker takes the job.
    later = now + timedelta(minutes=3)
    assert recording.id in queue.due(later)
    again = queue.claim(recording.id, later, later + timedelta(minutes=2))
    assert again is not None and again.attempts == 2
