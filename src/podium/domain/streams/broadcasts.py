"""A conference's ``broadcast_stream_url`` (Iotum): an MP4 played into the meeting — and so into its
stream and streaming page — at the conference's start.

States, as the reference names them: ``NEW`` (waiting for the start), ``STARTED`` (playing),
``STOPPED`` (played to its end, or stopped with the stream or the meeting), ``FAILED`` (the
conference's ``broadcast_reason`` says why).

Each server process's stream keeper runs them (rooms/broadcast/playout_keeper.py):

1. From ``PREPARE_AHEAD`` before the start, one process claims the broadcast (a conditional update
   on a lease, as for streams) and fetches the file like ``media/create`` does (the importer: every
   address checked after resolution, redirects too, size and time limits), then probes it: an MP4
   with a picture or sound, else ``FAILED``.
2. ``WARM_UP`` before the start, the conference becomes live if nobody has joined yet, its stream
   starts (``started_by="broadcast"``; a host without ``native_streaming`` → ``FAILED``), and a
   playout process joins the room as a publisher named "Broadcast", black and silent until
3. the start: the file plays (``STARTED``) — everyone in the room sees and hears it, and the
   compositor puts it into the stream like any participant.
4. The file's end: ``STOPPED`` once its last seconds have reached the streaming page's viewers (the
   keeper waits the stream's latency), and the stream stops too if the broadcast started it and
   nobody is in the room. ``stop_streaming`` or the meeting's end stop it (``STOPPED``); a failure
   of the playout or of the stream is ``FAILED`` with the reason, and so is a process that died
   while playing (the lease lapses; nobody resumes a file half-played).

Every change here is conditional on the process's claim (``broadcast_owner``): a process that lost
it (the URL was changed, it stalled past its lease) changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.audit.service import log_action
from podium.domain.conferences.lifecycle import mark_started
from podium.domain.conferences.timing import end_of, has_live_attendance
from podium.domain.media import importer
from podium.domain.media.transcoder import TranscodeError, probe
from podium.domain.streams.ending import end_stream
from podium.domain.streams.repository import BroadcastRepository, StreamRepository
from podium.domain.streams.service import StreamService
from podium.kit.clock import utcnow
from podium.kit.errors import Forbidden
from podium.models.conference import Conference
from podium.models.stream import StreamState

# A keeper fetches and probes the file this long before the start (a large file takes a while).
PREPARE_AHEAD = timedelta(seconds=60)
# The stream goes live this long before the start (a black "Broadcast" tile), so that its compositor
# shows the file from its first frame at the start rather than a few seconds into it.
WARM_UP = timedelta(seconds=8)
FETCH_ATTEMPTS = 3  # a server that answers 5xx or drops the connection is asked again, 2 s apart
# The picture is published at most this size (the stream's canvas, ADR 0011): larger files are scaled.
MAX_SIZE = (960, 540)
DISPLAY_NAME = "Broadcast"
STARTED_BY = "broadcast"


class BroadcastState(StrEnum):
    NEW = "NEW"
    STARTED = "STARTED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


class BroadcastRefused(Exception):
    """The file cannot be played: the reason is the broadcast's ``broadcast_reason``."""


class Cancelled(Exception):
    """The keeper let the broadcast go while its file was being fetched."""


@dataclass(frozen=True)
class Claimed:
    """A broadcast a process now holds: what to fetch, and when it plays."""

    conference_id: int
    url: str
    starts_at: datetime


@dataclass(frozen=True)
class Held:
    """A held broadcast as the database has it now (its start may have moved)."""

    conference_id: int
    state: str
    starts_at: datetime
    streaming: bool  # the conference's stream runs
    gone: bool  # the conference ended or was cancelled


@dataclass(frozen=True)
class Source:
    """A fetched, probed file: what the playout publishes (its picture fit within ``MAX_SIZE``)."""

    path: Path
    duration: float
    width: int
    height: int
    has_video: bool
    has_audio: bool


def fit(width: int, height: int, box: tuple[int, int] = MAX_SIZE) -> tuple[int, int]:
    """``width`` x ``height`` scaled down (never up) to fit ``box``, in even numbers."""
    scale = min(1.0, box[0] / width, box[1] / height) if width and height else 1.0
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def fetch_source(
    settings: Settings, url: str, destination: Path, *, cancelled: Callable[[], bool] = lambda: False
) -> Source:
    """Fetch the broadcast's file as ``media/create`` imports are fetched (public addresses only unless
    ``PODIUM_MEDIA_IMPORT_PRIVATE_NETWORKS``; ``media_max_bytes``; ``media_import_timeout_seconds``),
    then probe it.

    Raises:
        BroadcastRefused: refused, missing, too large, too slow, or not a playable MP4.
        Cancelled: ``cancelled()`` turned true meanwhile.
    """

    def progress(received: int, expected: int | None) -> None:
        if cancelled():
            raise Cancelled()

    destination.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, FETCH_ATTEMPTS + 1):
        try:
            importer.fetch(
                url,
                destination,
                max_bytes=settings.media_max_bytes,
                allow_private=settings.media_import_private_networks,
                deadline_seconds=settings.media_import_timeout_seconds,
                on_progress=progress,
            )
            break
        except importer.FetchFailed as error:
            raise BroadcastRefused(str(error)) from error
        except importer.FetchUnavailable as error:
            if attempt == FETCH_ATTEMPTS or cancelled():
                raise BroadcastRefused(f"{error} ({attempt} attempts)") from error
            time.sleep(2)
    try:
        found = probe(destination, settings.ffprobe)
    except TranscodeError as error:
        raise BroadcastRefused(f"Not a playable MP4 file: {error}") from error
    if not {"mp4", "mov"} & set(found.format_name.split(",")):
        raise BroadcastRefused(f"Not an MP4 file (ffprobe reads it as {found.format_name or 'unknown'})")
    width, height = fit(found.width, found.height) if found.has_video else (0, 0)
    return Source(destination, found.duration, width, height, found.has_video, found.has_audio)


class BroadcastService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.broadcasts = BroadcastRepository(session)
        self.streams = StreamRepository(session)

    # --- claiming -------------------------------------------------------------------------------

    def due(self, now: datetime) -> list[int]:
        """Broadcasts nobody holds whose start is within ``PREPARE_AHEAD`` (or past)."""
        return list(self.broadcasts.due(now, now + PREPARE_AHEAD))

    def claim(self, conference_id: int, owner: str, now: datetime, until: datetime) -> Claimed | None:
        """Hold a due broadcast until ``until`` (None: another process won it, or it cannot play —
        then it is ``FAILED`` with the reason and nothing is fetched)."""
        if not self.broadcasts.claim(conference_id, owner, now, until):
            return None
        conference = self.session.get(Conference, conference_id)
        assert conference is not None and conference.starts_at is not None
        refusal = self._refusal(conference, now)
        if refusal is not None:
            self._end(conference, owner, BroadcastState.FAILED, refusal)
            return None
        return Claimed(conference_id, conference.broadcast_stream_url or "", conference.starts_at)

    def _refusal(self, conference: Conference, now: datetime) -> str | None:
        if conference.deleted_at is not None:
            return "The conference was cancelled"
        if conference.ended_at is not None:
            return "The meeting ended before the broadcast started"
        if now >= end_of(conference):
            return "The conference's scheduled time was over before the broadcast could start"
        try:
            StreamService(self.session, self.settings).may_stream(conference)
        except Forbidden as error:
            return error.message
        return None

    def renew(self, owner: str, conference_ids: list[int], until: datetime) -> dict[int, Held]:
        """Extend ``owner``'s leases; what it still holds, as it stands now."""
        held = {}
        for conference in self.broadcasts.renew(owner, conference_ids, until):
            assert conference.starts_at is not None
            held[conference.id] = Held(
                conference.id,
                conference.broadcast_state or "",
                conference.starts_at,
                streaming=self.streams.running(conference.id) is not None,
                gone=conference.ended_at is not None or conference.deleted_at is not None,
            )
        return held

    def release(self, owner: str, conference_ids: list[int]) -> None:
        """A stopping process lets its broadcasts go: those still waiting are claimed again (by
        another process, or its restart); one that was playing has failed (a file is not resumed
        half-played)."""
        for conference_id in conference_ids:
            conference = self.session.get(Conference, conference_id)
            if conference is not None and conference.broadcast_state == BroadcastState.STARTED:
                self.failed(conference_id, owner, "Interrupted: the server stopped while it played")
        self.broadcasts.release_waiting(owner, conference_ids)

    def sweep(self, now: datetime) -> None:
        """Broadcasts whose process died while they played (its lease lapsed)."""
        for conference_id in self.broadcasts.lapsed_playing(now):
            conference = self.session.get(Conference, conference_id)
            if conference is None:
                continue
            state, reason = self._after_stop(conference)
            if state is None:
                state, reason = BroadcastState.FAILED, "Interrupted: the server process playing it stopped"
            if self.broadcasts.take_lapsed(conference_id, now, state.value, reason):
                self._audit(conference, state, reason)

    # --- playing --------------------------------------------------------------------------------

    def warm_up(self, conference_id: int, owner: str, now: datetime) -> Conference | None:
        """Just before the start: the conference becomes live if nobody has joined yet (the caller
        then makes its room and starts its stream in the same unit of work). None: the process no
        longer holds it, or it cannot play (``FAILED``)."""
        conference = self.session.get(Conference, conference_id)
        if (
            conference is None
            or conference.broadcast_owner != owner
            or conference.broadcast_state != BroadcastState.NEW
        ):
            return None
        refusal = self._refusal(conference, now)
        if refusal is not None:
            self._end(conference, owner, BroadcastState.FAILED, refusal)
            return None
        if conference.started_at is None:
            mark_started(self.session, conference, now, actor_label=STARTED_BY)
        return conference

    def playing(self, conference_id: int, owner: str) -> bool:
        """The file plays: ``STARTED`` (False: the process no longer holds it)."""
        if not self.broadcasts.move(conference_id, owner, (BroadcastState.NEW,), BroadcastState.STARTED):
            return False
        conference = self.session.get(Conference, conference_id)
        assert conference is not None
        self._audit(conference, BroadcastState.STARTED, "")
        return True

    def played(self, conference_id: int, owner: str) -> None:
        """The file played to its end: ``STOPPED``. A stream the broadcast started stops with it
        when nobody is in the room (people who are may be presenting to it)."""
        conference = self.session.get(Conference, conference_id)
        if conference is None or not self._end(conference, owner, BroadcastState.STOPPED, ""):
            return
        stream = self.streams.running(conference_id)
        if (
            stream is not None
            and stream.started_by == STARTED_BY
            and not has_live_attendance(self.session, conference)
        ):
            end_stream(self.session, conference, utcnow(), actor=STARTED_BY)

    def failed(self, conference_id: int, owner: str, reason: str) -> None:
        """The file could not be had or played: ``FAILED`` with the reason — unless it was playing
        and the stream or the meeting had stopped (the playout's failure followed from that):
        ``STOPPED``."""
        conference = self.session.get(Conference, conference_id)
        if conference is None or conference.broadcast_owner != owner:
            return
        if conference.broadcast_state == BroadcastState.STARTED:
            state, stopped_reason = self._after_stop(conference)
            if state is not None:
                self._end(conference, owner, state, stopped_reason)
                return
        self._end(conference, owner, BroadcastState.FAILED, reason)

    def let_go(self, conference_id: int, owner: str) -> None:
        """The process stopped playing it because the stream stopped, the meeting ended or the
        conference was cancelled: ``STOPPED`` when it was playing (``FAILED`` when the stream
        failed), ``FAILED`` with what happened when it had not started yet."""
        conference = self.session.get(Conference, conference_id)
        if conference is None or conference.broadcast_owner != owner:
            return
        state, reason = self._after_stop(conference)
        if conference.broadcast_state == BroadcastState.NEW:
            state = BroadcastState.FAILED
            if conference.deleted_at is not None:
                reason = "The conference was cancelled"
            elif conference.ended_at is not None:
                reason = "The meeting ended before the broadcast started"
            elif not reason:
                reason = "The stream was stopped before the broadcast started"
        self._end(conference, owner, state or BroadcastState.STOPPED, reason)

    def _after_stop(self, conference: Conference) -> tuple[BroadcastState | None, str]:
        """What a broadcast became when its meeting or stream stopped (None: both still run)."""
        if conference.ended_at is None and conference.deleted_at is None:
            if self.streams.running(conference.id) is not None:
                return None, ""
            latest = self.streams.latest(conference.id)
            if latest is not None and latest.state == StreamState.FAILED:
                return BroadcastState.FAILED, f"The stream failed: {latest.failure_reason}"[:2000]
        return BroadcastState.STOPPED, ""

    def _end(self, conference: Conference, owner: str, state: BroadcastState, reason: str) -> bool:
        moved = self.broadcasts.move(
            conference.id,
            owner,
            (BroadcastState.NEW, BroadcastState.STARTED),
            state.value,
            reason[:2000],
        )
        if moved:
            self._audit(conference, state, reason)
        return moved

    def _audit(self, conference: Conference, state: BroadcastState, reason: str) -> None:
        action = {
            BroadcastState.STARTED: "conference.broadcast_started",
            BroadcastState.STOPPED: "conference.broadcast_stopped",
        }.get(state, "conference.broadcast_failed")
        log_action(
            self.session,
            action,
            actor="system:broadcast",
            ref=f"conference:{conference.id}",
            company_id=conference.company_id,
            host_id=conference.host_id,
            conference_id=conference.id,
            **({"reason": reason[:200]} if reason else {}),
        )
