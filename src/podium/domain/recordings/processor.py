"""The media worker's recording jobs: compose a stopped segment, publish it, then transcribe it.

Like transcoding, a job is held by a lease renewed while it runs; a worker that dies leaves a lease
that runs out and the next worker takes the job again (``media_max_attempts`` in all). The media
server may still be closing a segment's files when it is stopped: a job whose tracks were written
in the last few seconds waits for them to settle.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from podium.config import Settings
from podium.domain.audit.service import log_action
from podium.domain.conferences.emails import ConferenceEmails
from podium.domain.media.service import MediaService
from podium.domain.media.transcoder import TranscodeError
from podium.domain.recordings import composer
from podium.domain.recordings.repository import RecordingRepository
from podium.domain.recordings.service import STAGE_NOTES, RecordingService
from podium.kit import speech
from podium.kit.clock import utcnow
from podium.kit.uow import NO_DISPATCH, Dispatcher, take_after_commit
from podium.models.conference import Conference
from podium.models.recording import Recording, RecordingState, TranscriptState

log = logging.getLogger(__name__)

SETTLE_SECONDS = 3.0
# How far past its stop a segment's media is kept: the media server and Podium may read clocks a
# little apart (the stop's moment is Podium's, the tracks' the media server's).
STOP_GRACE_SECONDS = 0.5
FILE_BY_KIND = {"video": "recording.mp4", "audio": "recording.mp3"}


class RecordingProcessor:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker,
        dispatcher: Dispatcher = NO_DISPATCH,
        stopping: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.dispatcher = dispatcher
        self.stopping = stopping or threading.Event()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.media_lease_seconds)

    def process_due(self) -> int:
        """Every recording job due now; returns how many finished a step."""
        with self.sessions() as session:
            due = RecordingRepository(session).due(utcnow())
        done = 0
        for recording_id in due:
            if self.stopping.is_set():
                break
            if self.process(recording_id):
                done += 1
        return done

    def process(self, recording_id: int) -> bool:
        with self.sessions() as session:
            now = utcnow()
            recording = RecordingRepository(session).claim(recording_id, now, now + self.lease)
            session.commit()
            if recording is None:
                return False
            service = RecordingService(session, self.settings)
            folder, state, attempts = service.storage_dir(recording), recording.state, recording.attempts
        if attempts > self.settings.media_max_attempts:
            self._fail(recording_id, state, f"Processing did not finish after {attempts - 1} attempts")
            return True
        try:
            with self._leased(recording_id):
                if state == RecordingState.PROCESSING.value:
                    if not self._settled(folder / "raw"):
                        self._release(recording_id, retry_in=SETTLE_SECONDS, attempt_counts=False)
                        return False
                    self._compose(recording_id, folder)
                else:
                    self._transcribe(recording_id, folder)
        except (TranscodeError, speech.TranscriptionError) as error:
            log.info("recording %s failed: %s", recording_id, error)
            self._fail(recording_id, state, str(error))
            return True
        except Exception:  # noqa: BLE001 - a bug or a full disk: retry later, then give up
            log.exception("processing recording %s crashed", recording_id)
            if attempts >= self.settings.media_max_attempts:
                self._fail(recording_id, state, "Processing failed with an internal error")
                return True
            self._release(recording_id, retry_in=30, attempt_counts=True)
            return False
        return True

    # --- steps ----------------------------------------------------------------------------------

    @staticmethod
    def _settled(raw: Path) -> bool:
        newest = max((f.stat().st_mtime for f in raw.glob("*.mjr")), default=0.0)
        return time.time() - newest >= SETTLE_SECONDS

    def _compose(self, recording_id: int, folder: Path) -> None:
        with self.sessions() as session:
            recording = session.get(Recording, recording_id)
            if recording is None:
                return
            kind, ended_at = recording.kind, recording.ended_at
        timeout = float(self.settings.transcode_timeout_seconds)
        work = folder / "work"
        shutil.rmtree(work, ignore_errors=True)
        tracks, epoch = composer.convert_tracks(
            folder / "raw", work / "tracks", ffprobe=self.settings.ffprobe, timeout=timeout
        )
        shares = composer.read_shares(folder / STAGE_NOTES, epoch)
        # The segment ends when it was stopped: the media people send while their pages hear of the
        # meeting's end (each in its own time) is not part of it.
        until = None
        if ended_at is not None and epoch:
            until = ended_at.replace(tzinfo=UTC).timestamp() - epoch / 1_000_000 + STOP_GRACE_SECONDS
        target = work / FILE_BY_KIND[kind]
        duration, has_video, has_audio = composer.compose(
            tracks, kind, target, ffmpeg=self.settings.ffmpeg, timeout=timeout, shares=shares, until=until
        )
        extra = []
        if kind == "video" and has_audio:
            # A video recording's sound as an MP3 too (the reference's sizes name both).
            audio_only = work / FILE_BY_KIND["audio"]
            composer.compose(
                tracks, "audio", audio_only, ffmpeg=self.settings.ffmpeg, timeout=timeout, until=until
            )
            extra.append(audio_only)
        # The finished files replace any earlier attempt's in one rename each.
        final_tracks = folder / "tracks"
        shutil.rmtree(final_tracks, ignore_errors=True)
        (work / "tracks").rename(final_tracks)
        for made in (*extra, target):
            made.replace(folder / made.name)
        shutil.rmtree(work, ignore_errors=True)
        with self.sessions() as session:
            recording = session.get(Recording, recording_id)
            if recording is None:
                return
            conference = session.get(Conference, recording.conference_id)
            recording.file_name = target.name
            recording.file_size = (folder / target.name).stat().st_size
            recording.duration = round(duration, 3)
            recording.has_video, recording.has_audio = has_video, has_audio
            recording.state = RecordingState.PUBLISHED.value
            recording.published_at = utcnow()
            recording.lease_until = None
            recording.attempts = 0
            recording.failure_reason = ""
            if conference is not None and conference.host_id is None and has_video:
                # A Boomstream (or LiveMinutes) conference's recording joins the company's library:
                # transcoded to HLS like an upload, sellable with ppv/addmedia, counted by the stats.
                media = MediaService(session, self.settings).adopt_file(
                    recording.company_id,
                    title=f"{conference.title or 'Meeting'} ({recording.started_at:%Y-%m-%d %H:%M} UTC)",
                    description=f"Recording of conference {conference.code}",
                    file=folder / target.name,
                    actor_label="system:recorder",
                )
                recording.media_id = media.id
            log_action(
                session,
                "conference.recording_published",
                actor="system:recorder",
                ref=f"conference:{recording.conference_id}",
                company_id=recording.company_id,
                conference_id=recording.conference_id,
                recording_id=recording.id,
                duration=recording.duration,
            )
            session.commit()
        self.dispatcher.deliver(take_after_commit(session))

    def _transcribe(self, recording_id: int, folder: Path) -> None:
        transcriber = speech.make_transcriber(self.settings.transcriber)
        with self.sessions() as session:
            recording = session.get(Recording, recording_id)
            if recording is None:
                return
            speakers = RecordingRepository(session).speakers(recording.conference_id)
        if transcriber is None:
            off = "Transcription is turned off on this server"
            self._fail(recording_id, RecordingState.PUBLISHED.value, off)
            return
        timeline = composer.audio_timeline(folder / "tracks")
        tracks: list[tuple[str, float, list[speech.Cue]]] = []
        for publisher, offset, path in timeline:
            name = speakers.get(publisher, f"Speaker {len({p for p, _, _ in tracks}) + 1}")
            tracks.append((name, offset, transcriber.transcribe(path)))
        lines = speech.merge_speakers(tracks)
        (folder / "transcript.vtt").write_text(speech.to_webvtt(lines))
        segments = [
            {
                "start": round(line.start, 2),
                "end": round(line.end, 2),
                "speaker": line.speaker,
                "text": line.text,
            }
            for line in lines
        ]
        (folder / "transcript.json").write_text(json.dumps(segments, ensure_ascii=False))
        text = speech.to_text(lines)
        (folder / "transcript.txt").write_text(text)
        with self.sessions() as session:
            recording = session.get(Recording, recording_id)
            if recording is None:
                return
            recording.transcript_state = TranscriptState.READY.value
            recording.transcript_text = text
            recording.transcript_engine = transcriber.name
            recording.lease_until = None
            recording.attempts = 0
            conference = session.get(Conference, recording.conference_id)
            link = RecordingService(session, self.settings).download_link(recording, "transcript.txt")
            if conference is not None and link is not None:
                ConferenceEmails(session, self.settings).transcription_summary(conference, text, link)
            log_action(
                session,
                "conference.transcript_ready",
                actor="system:transcriber",
                ref=f"conference:{recording.conference_id}",
                company_id=recording.company_id,
                conference_id=recording.conference_id,
                recording_id=recording.id,
            )
            session.commit()
        self.dispatcher.deliver(take_after_commit(session))

    # --- leases ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _leased(self, recording_id: int) -> Iterator[None]:
        """Renew the job's lease every few seconds while the block runs."""
        done = threading.Event()

        def keep() -> None:
            every = max(1.0, self.settings.media_lease_seconds / 4)
            while not done.wait(every):
                with self.sessions() as session:
                    RecordingRepository(session).renew_lease(recording_id, utcnow() + self.lease)
                    session.commit()

        keeper = threading.Thread(target=keep, name=f"recording-{recording_id}-lease", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join(timeout=5)

    def _release(self, recording_id: int, *, retry_in: float, attempt_counts: bool) -> None:
        with self.sessions() as session:
            recording = session.get(Recording, recording_id)
            if recording is None:
                return
            recording.lease_until = utcnow() + timedelta(seconds=retry_in)
            if not attempt_counts:
                recording.attempts = max(0, recording.attempts - 1)
            session.commit()

    def _fail(self, recording_id: int, state: str, reason: str) -> None:
        with self.sessions() as session:
            recording = session.get(Recording, recording_id)
            if recording is None:
                return
            if state == RecordingState.PROCESSING.value:
                recording.state = RecordingState.FAILED.value
            else:
                recording.transcript_state = TranscriptState.FAILED.value
            recording.failure_reason = reason[:2000]
            recording.lease_until = None
            session.commit()
