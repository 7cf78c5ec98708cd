"""A host's ``stream_preview``: while its conference records or streams, a clip of ``duration``
seconds every ``interval`` seconds (cut by the keeper running the stream, domain/streams/clips.py)
and an image on request; each is listed with a signed link and deleted 24 hours after it was made.

A conference that streams is cut from its stream. One that records without streaming gets a private
run: a stream row with ``public`` false, whose compositor writes HLS into a private folder (no live,
no streaming page, ``is_streaming`` stays false), started and ended by the keepers as the recording
starts and stops (``converge``; ADR 0013)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.hosts.conference_defaults import host_setting
from podium.domain.lives import paths
from podium.domain.recordings.repository import RecordingRepository
from podium.domain.streams.clips import Clip, PreviewPlan, grab_image, plan_of
from podium.domain.streams.repository import StreamRepository
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, NotFound
from podium.kit.links import Links
from podium.models.conference import Conference
from podium.models.stream import Stream, StreamPreview, StreamState

KEEP_FOR = timedelta(hours=24)
LINK_AUDIENCE = "podium:stream-preview"
MEDIA_TYPES = {"clip": "video/mp4", "image": "image/jpeg"}
SWEEP_BATCH = 500


def previews_dir(settings: Settings, conference_id: int) -> Path:
    return paths.rtmp_dir(settings).parent / "previews" / str(conference_id)


def private_playlist(settings: Settings, stream: Stream) -> Path:
    """Where a private run's compositor writes its HLS (never served: only clips and images leave)."""
    return paths.rtmp_dir(settings).parent / "preview-runs" / str(stream.id) / "index.m3u8"


@dataclass(frozen=True)
class PreviewView:
    preview: StreamPreview
    download_link: str


class PreviewService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.streams = StreamRepository(session)

    def plan_for(self, conference: Conference) -> PreviewPlan | None:
        """The conference's host's ``stream_preview`` (None: no previews)."""
        return plan_of(host_setting(self.session, conference, "stream_preview", None))

    def playlist_of(self, stream: Stream) -> Path | None:
        """The HLS playlist a run's previews are cut from: its live's, or a private run's own."""
        if not stream.public:
            return private_playlist(self.settings, stream)
        code = self.streams.media_code(stream.media_id)
        return paths.playlist(self.settings, code) if code is not None else None

    # --- private runs (a conference that records without streaming) -----------------------------

    def converge(self) -> tuple[list[int], list[int]]:
        """Start a private run for each live conference that records without streaming and whose host
        asks for previews, and end the private runs whose recording stopped; the ids started and
        ended. A public stream that starts ends the private run itself (StreamService.start)."""
        ended = []
        for stream in self.streams.preview_runs_not_recording():
            stream.ended_at = max(utcnow(), stream.started_at)
            stream.state = StreamState.ENDED.value
            ended.append(stream.id)
        started = []
        for conference in self.streams.recording_unstreamed():
            if self.plan_for(conference) is None:
                continue
            recording = RecordingRepository(self.session).active(conference.id)
            if recording is None:
                continue
            failed = self.streams.latest_private(conference.id)
            if (
                failed is not None
                and failed.state == StreamState.FAILED.value
                and failed.started_at >= recording.started_at
            ):
                continue  # it could not compose this recording: no more tries until the next one
            stream = self.streams.add(
                Stream(
                    conference_id=conference.id,
                    company_id=conference.company_id,
                    media_id=None,
                    public=False,
                    kind="audio" if recording.kind == "audio" else "video",
                    state=StreamState.STARTING.value,
                    started_by="previews",
                    started_at=utcnow(),
                )
            )
            started.append(stream.id)
        self.session.flush()
        return started, ended

    # --- clips (the keeper running the stream cuts them) ----------------------------------------

    def clip_made(self, stream_id: int, clip: Clip) -> StreamPreview | None:
        """Keep a clip the keeper cut (its file is removed when its stream is gone)."""
        stream = self.session.get(Stream, stream_id)
        if stream is None:
            clip.path.unlink(missing_ok=True)
            return None
        return self._add(stream, "clip", clip.path.name, clip.offset, clip.duration, clip.size)

    # --- images (on request) --------------------------------------------------------------------

    def take_image(self, conference: Conference) -> PreviewView:
        """An image of the stream now.

        Raises:
            Conflict: the meeting is not streaming (yet), or its stream has no picture (audio only).
            Forbidden: the host's ``stream_preview`` does not allow images.
        """
        plan = self.plan_for(conference)
        if plan is None or not plan.image_preview:
            raise Forbidden("Preview images are off for this host (stream_preview.image_preview)")
        stream = self.streams.running_any(conference.id)
        if stream is None or stream.state != StreamState.LIVE.value:
            raise Conflict(
                "The meeting is neither streaming nor recording: preview images are taken while it is"
            )
        if stream.kind != "video":
            raise Conflict("An audio-only stream or recording has no picture")
        playlist = self.playlist_of(stream)
        assert playlist is not None
        name = f"image-{stream.id}-{secrets.token_hex(4)}.jpg"
        out = previews_dir(self.settings, conference.id) / name
        try:
            size = grab_image(playlist, out)
        except FileNotFoundError as exc:
            raise Conflict("The stream has no picture yet: try again in a few seconds") from exc
        except RuntimeError as exc:
            raise Conflict(f"No image could be taken from the stream: {exc}") from exc
        offset = max(0.0, (utcnow() - stream.started_at).total_seconds())
        return self.view(self._add(stream, "image", name, offset, 0.0, size))

    # --- reading --------------------------------------------------------------------------------

    def of_conference(self, conference_id: int) -> list[PreviewView]:
        """The conference's previews that have not expired, oldest first."""
        return [self.view(preview) for preview in self.streams.previews_of(conference_id, utcnow())]

    def view(self, preview: StreamPreview) -> PreviewView:
        token = tokens.sign(
            {"aud": LINK_AUDIENCE, "pre": preview.id, "file": preview.file_name},
            self.settings.signing_key(),
            expires_at=preview.expires_at,
        )
        return PreviewView(preview, Links(self.settings).stream_preview(preview.id, preview.file_name, token))

    def file_for_link(self, preview_id: int, file_name: str, token: str) -> tuple[Path, str]:
        """The file a preview link names, once its signature and expiry are checked.

        Raises:
            LinkInvalid / LinkExpired: the token is not ours, or the preview expired.
            NotFound: the preview is gone.
        """
        claims = tokens.verify(token, self.settings.signing_key(), audience=LINK_AUDIENCE)
        if claims.get("pre") != preview_id or claims.get("file") != file_name:
            raise NotFound("No such preview")
        preview = self.session.get(StreamPreview, preview_id)
        if preview is None or preview.file_name != file_name or preview.expires_at <= utcnow():
            raise NotFound("No such preview")
        path = previews_dir(self.settings, preview.conference_id) / preview.file_name
        if not path.is_file():
            raise NotFound("No such preview")
        return path, MEDIA_TYPES[preview.kind]

    # --- forgetting -----------------------------------------------------------------------------

    def sweep(self, now: datetime) -> int:
        """Delete the previews (rows and files) made more than 24 hours ago; how many went."""
        expired = self.streams.expired_previews(now, SWEEP_BATCH)
        for preview in expired:
            (previews_dir(self.settings, preview.conference_id) / preview.file_name).unlink(missing_ok=True)
        if expired:
            self.streams.delete_previews([preview.id for preview in expired])
        return len(expired)

    def _add(
        self, stream: Stream, kind: str, file_name: str, offset: float, duration: float, size: int
    ) -> StreamPreview:
        return self.streams.add_preview(
            StreamPreview(
                stream_id=stream.id,
                conference_id=stream.conference_id,
                company_id=stream.company_id,
                kind=kind,
                file_name=file_name,
                offset_seconds=round(offset, 3),
                duration_seconds=round(duration, 3),
                size=size,
                created_at=(now := utcnow()),
                expires_at=now + KEEP_FOR,
            )
        )
