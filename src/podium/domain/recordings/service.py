"""Recordings: when a conference records, what it records, who may start it, and where the files go.

The media server does the capturing (``rooms/`` asks it to, after ``begin``); this service keeps the
rules and the rows: one recording at a time per conference, each start and stop a segment of its
own, the product's features decide who may record, everyone in the room is told. A stopped segment
is the media worker's job (``processor.py``), which composes the tracks and publishes the file.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.audit.service import log_action
from podium.domain.hosts.conference_defaults import host_setting
from podium.domain.recordings.repository import RecordingRepository
from podium.domain.recordings.segments import stop_segment
from podium.domain.subscriptions.service import SubscriptionService
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, NotFound
from podium.kit.links import Links
from podium.kit.uow import room_event, wake_media
from podium.models.conference import Conference
from podium.models.recording import Recording, RecordingState, TranscriptState
from podium.models.subscription import Feature
from podium.models.tenancy import Host

log = logging.getLogger(__name__)

DOWNLOAD_AUDIENCE = "podium:recording"
DOWNLOAD_LIFETIME = timedelta(hours=24)
# The files a published recording serves (by name in its folder).
SERVED_FILES = {
    "recording.mp4": "video/mp4",
    "recording.mp3": "audio/mpeg",
    "transcript.vtt": "text/vtt; charset=utf-8",
    "transcript.txt": "text/plain; charset=utf-8",
}
# Screen shares during a segment, noted as the room reports them (the composer stages them).
STAGE_NOTES = "stage.jsonl"
TRANSCRIPT_FILES = ("transcript.vtt", "transcript.txt", "transcript.json")


def auto_record_of(session: Session, conference: Conference) -> str:
    """What the conference records by itself: its own ``auto_record``, or else its host's default."""
    if conference.auto_record and conference.auto_record != "none":
        return conference.auto_record
    return str(host_setting(session, conference, "auto_record", "none") or "none")


def host_initiated_of(session: Session, conference: Conference) -> bool:
    return bool(conference.host_initiated_recording) or bool(
        host_setting(session, conference, "host_initiated_recording", False)
    )


@dataclass(frozen=True)
class RecordingView:
    """A recording as the answers show it: its row, its links (None until published) and, once
    transcribed, its transcript's lines (``{start, end, speaker, text}``, seconds from its start)."""

    recording: Recording
    download_link: str | None
    transcript_link: str | None
    segments: list[dict[str, Any]]
    # Bytes of each published file by format (``{"mp4": …, "mp3": …}``).
    sizes: dict[str, int]

    @property
    def publishing_state(self) -> str:
        """Iotum's ``publishing_state``: processing (recording or being composed), published, failed."""
        state = self.recording.state
        return state if state in (RecordingState.PUBLISHED, RecordingState.FAILED) else "processing"


class RecordingService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.recordings = RecordingRepository(session)

    # --- files ----------------------------------------------------------------------------------

    def storage_dir(self, recording: Recording) -> Path:
        return self.settings.data_dir.resolve() / "recordings" / recording.storage_key

    def raw_dir(self, recording: Recording) -> Path:
        """Where the media server writes this segment's tracks."""
        return self.storage_dir(recording) / "raw"

    # --- starting and stopping ------------------------------------------------------------------

    def kind_for(self, conference: Conference) -> str:
        """``video`` or ``audio``: the conference's automatic mode, else the best the plan allows
        (a conference of a dialect without plans records video).

        Raises:
            Forbidden: the organiser's plan has no recording (the reference's message).
        """
        if conference.host_id is None:
            # Boomstream and LiveMinutes conferences have no plans: their moderators may record video.
            return "video"
        host = self.session.get(Host, conference.host_id)
        if host is None:
            raise Forbidden("Recording feature not enabled")
        features = SubscriptionService(self.session).host_plan(host).features()
        wanted = auto_record_of(self.session, conference)
        if wanted == "video" and Feature.VIDEO_RECORDING not in features:
            raise Forbidden("Video recording feature not enabled")
        if wanted == "audio" and Feature.RECORDING not in features:
            raise Forbidden("Recording feature not enabled")
        if wanted != "none":
            return wanted
        if Feature.VIDEO_RECORDING in features:
            return "video"
        if Feature.RECORDING in features:
            return "audio"
        raise Forbidden("Recording feature not enabled")

    def active(self, conference_id: int) -> Recording | None:
        return self.recordings.active(conference_id)

    def begin(self, conference: Conference, *, started_by: str, media_server: str | None) -> Recording:
        """A new segment, recording from now (the caller then has the media server record into
        ``raw_dir``, in the same unit of work: if it cannot, nothing was begun).

        Raises:
            Conflict: the conference is already recording, or is not live.
            Forbidden: the plan has no recording.
        """
        if conference.ended_at is not None or conference.deleted_at is not None:
            raise Conflict("The meeting is not live")
        if self.recordings.active(conference.id) is not None:
            raise Conflict("This meeting is already being recorded")
        kind = self.kind_for(conference)
        recording = self.recordings.add(
            Recording(
                conference_id=conference.id,
                company_id=conference.company_id,
                kind=kind,
                state=RecordingState.RECORDING.value,
                started_by=started_by[:64],
                started_at=utcnow(),
                storage_key=secrets.token_hex(16),
                media_server=media_server,
                transcript_state=(
                    TranscriptState.PENDING if conference.auto_transcribe else TranscriptState.NONE
                ),
            )
        )
        self.raw_dir(recording).mkdir(parents=True, exist_ok=True)
        log_action(
            self.session,
            "conference.recording_started",
            actor=started_by or "system",
            ref=f"conference:{conference.id}",
            company_id=conference.company_id,
            host_id=conference.host_id,
            conference_id=conference.id,
            recording_id=recording.id,
            type=kind,
        )
        room_event(self.session, conference.id, {"type": "recording", "on": True, "kind": kind})
        return recording

    def finish(self, conference: Conference, *, at: datetime | None = None) -> Recording | None:
        """Stop the conference's recording (if any): its segment goes to the media worker."""
        return stop_segment(self.session, conference, at or utcnow())

    def recover_interrupted(self, is_live: Any) -> list[int]:
        """After a restart: a segment still marked recording whose conference is no longer live in a
        media room (``is_live(conference)`` says) was cut off by the crash. What its tracks hold up to
        then is published: it ends at its last written packet."""
        recovered = []
        for recording in self.recordings.all_recording():
            conference = self.session.get(Conference, recording.conference_id)
            if conference is not None and conference.ended_at is None and is_live(conference):
                continue
            written = [f.stat().st_mtime for f in self.raw_dir(recording).glob("*.mjr")]
            last = datetime.utcfromtimestamp(max(written)) if written else recording.started_at
            recording.ended_at = max(last, recording.started_at)
            recording.state = RecordingState.PROCESSING.value
            recovered.append(recording.id)
        if recovered:
            self.session.flush()
            wake_media(self.session)
            log.info("recordings %s were cut off by a restart: publishing what they hold", recovered)
        return recovered

    # --- reading ----------------------------------------------------------------------------------

    def note_screen_share(self, conference_id: int, publisher_id: int, on: bool) -> None:
        """A participant started or stopped sharing their screen: if the conference is recording,
        the segment notes when (the composer gives the share the stage for that time)."""
        recording = self.recordings.active(conference_id)
        if recording is None:
            return
        note = {"publisher": str(publisher_id), "on": on, "at": int(time.time() * 1_000_000)}
        with (self.storage_dir(recording) / STAGE_NOTES).open("a") as notes:
            notes.write(json.dumps(note) + "\n")

    def note_publisher(self, attendance_id: int, publisher_id: int | None) -> None:
        """Whose tracks a media publisher's are (its page reports it): names transcript lines."""
        self.recordings.note_publisher(attendance_id, publisher_id)

    def of_conference(self, conference_id: int) -> list[Recording]:
        return list(self.recordings.of_conference(conference_id))

    def of_conferences(self, conference_ids: list[int]) -> dict[int, list[Recording]]:
        return self.recordings.of_conferences(conference_ids)

    def views(self, conference_ids: list[int]) -> dict[int, list[RecordingView]]:
        """Each conference's recordings with their links, oldest first."""
        return {
            conference_id: [self.view(r) for r in recordings]
            for conference_id, recordings in self.of_conferences(conference_ids).items()
        }

    def view(self, recording: Recording) -> RecordingView:
        segments: list[dict[str, Any]] = []
        if recording.transcript_state == TranscriptState.READY.value:
            try:
                segments = json.loads((self.storage_dir(recording) / "transcript.json").read_text())
            except (OSError, ValueError):
                segments = []
        sizes = {}
        if recording.state == RecordingState.PUBLISHED.value:
            for name in ("recording.mp4", "recording.mp3"):
                path = self.storage_dir(recording) / name
                if path.is_file():
                    sizes[name.rsplit(".", 1)[1]] = path.stat().st_size
        links = self.download_link(recording), self.transcript_link(recording)
        return RecordingView(recording, *links, segments, sizes)

    def download_link(self, recording: Recording, file_name: str | None = None) -> str | None:
        """A signed, expiring link to a published recording's file (its composed file by default)."""
        name = file_name or recording.file_name
        if recording.state != RecordingState.PUBLISHED.value or not name:
            return None
        token = tokens.sign(
            {"aud": DOWNLOAD_AUDIENCE, "rec": recording.id, "file": name},
            self.settings.signing_key(),
            expires_at=utcnow() + DOWNLOAD_LIFETIME,
        )
        return Links(self.settings).recording_file(recording.id, name, token)

    def transcript_link(self, recording: Recording, kind: str = "vtt") -> str | None:
        if recording.transcript_state != TranscriptState.READY.value:
            return None
        return self.download_link(recording, f"transcript.{kind}")

    def file_for_link(self, recording_id: int, file_name: str, token: str) -> tuple[Path, str]:
        """The file a download link names, once its signature and expiry are checked.

        Raises:
            LinkInvalid / LinkExpired: the token is not ours, or is too old.
            NotFound: the recording or the file is gone.
        """
        claims = tokens.verify(token, self.settings.signing_key(), audience=DOWNLOAD_AUDIENCE)
        if claims.get("rec") != recording_id or claims.get("file") != file_name:
            raise NotFound("No such recording")
        recording = self.recordings.by_id(recording_id)
        media_type = SERVED_FILES.get(file_name)
        if recording is None or media_type is None:
            raise NotFound("No such recording")
        path = self.storage_dir(recording) / file_name
        if not path.is_file():
            raise NotFound("No such recording")
        return path, media_type

    # --- deleting ---------------------------------------------------------------------------------

    def delete_all(self, conference: Conference, *, actor_label: str) -> int:
        """Delete the conference's recordings: their files and rows (transcripts go with them).
        A segment still recording is refused (stop it first)."""
        recordings = self.of_conference(conference.id)
        if any(r.state == RecordingState.RECORDING.value for r in recordings):
            raise Conflict("The meeting is still being recorded")
        for recording in recordings:
            shutil.rmtree(self.storage_dir(recording), ignore_errors=True)
            self.recordings.delete(recording)
        if recordings:
            log_action(
                self.session,
                "conference.recordings_deleted",
                actor=actor_label,
                ref=f"conference:{conference.id}",
                company_id=conference.company_id,
                count=len(recordings),
            )
        return len(recordings)

    def delete_transcripts(self, conference: Conference, *, actor_label: str) -> int:
        """Delete the conference's transcripts (files and text); the recordings stay."""
        count = 0
        for recording in self.of_conference(conference.id):
            if recording.transcript_state == TranscriptState.NONE.value:
                continue
            for name in TRANSCRIPT_FILES:
                (self.storage_dir(recording) / name).unlink(missing_ok=True)
            recording.transcript_state = TranscriptState.NONE.value
            recording.transcript_text = ""
            count += 1
        if count:
            log_action(
                self.session,
                "conference.transcripts_deleted",
                actor=actor_label,
                ref=f"conference:{conference.id}",
                company_id=conference.company_id,
                count=count,
            )
        return count
