"""Whether a live is on air, who watches it now and where its recording stands (no service imports:
the media library's answers read it too)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.lives.paths import playlist
from podium.domain.lives.repository import LiveRepository
from podium.domain.paywall.generations import VIEWING
from podium.kit.clock import utcnow
from podium.kit.stamped import watch
from podium.models.live import LIVE_MEDIA_TYPE, Live, LiveState
from podium.models.media import Media, MediaStatus

# The RTMP server reports each publisher this often (nginx ``notify_update_timeout``); a live whose
# publisher has not been reported for STALE_SECONDS is not on air (its RTMP server died).
UPDATE_SECONDS = 5
STALE_SECONDS = 3 * UPDATE_SECONDS

# A live going on air or off it changes whether its sessions may play (domain/viewing/heartbeats.py).
watch(VIEWING, Live, frozenset({"state"}))


def on_air(live: Live) -> bool:
    """A publisher is on air: from the RTMP server's on_publish to its on_publish_done (or to the
    restart of the RTMP server, which ends every broadcast of the one before). Viewers are not made
    to depend on the RTMP server's reports arriving in time: under a heavy audience they queue."""
    return live.state == LiveState.LIVE.value


def silent(live: Live, now: datetime | None = None) -> bool:
    """On air, but the RTMP server has not reported its publisher for STALE_SECONDS (it hangs, or
    lost it without saying so): another encoder may take the live over."""
    if live.state != LiveState.LIVE.value:
        return False
    seen = live.publisher_seen_at
    return seen is None or seen < (now or utcnow()) - timedelta(seconds=STALE_SECONDS)


def is_live(media: Media) -> bool:
    return media.media_type == LIVE_MEDIA_TYPE


def not_watchable(session: Session, settings: Settings, media: Media) -> str | None:
    """Why viewers cannot watch this live now (None: they can, or it is not a live)."""
    if media.media_type != LIVE_MEDIA_TYPE:
        return None
    live = LiveRepository(session).for_media(media.id)
    if live is None:
        return "This live does not exist"
    if on_air(live):
        # On air from the publisher's first byte; watchable from its first segment (a second later).
        return None if playlist(settings, media.code).exists() else "This live is starting"
    if live.state == LiveState.WAITING.value:
        return "This live has not started yet"
    return "This live is not on air"


def watching_window(settings: Settings) -> timedelta:
    """A view session counts as watching while its page beat this recently: two missed heartbeats
    (plus the second the heartbeat ledger takes to write them) and it no longer does."""
    return timedelta(seconds=2 * settings.heartbeat_seconds + 2)


def viewers_now(session: Session, settings: Settings, live: Live) -> int:
    """Open view sessions of the live whose page beat within ``watching_window`` (a page that closed
    sent /watch/end and no longer counts)."""
    return LiveRepository(session).watching(live.media_id, utcnow() - watching_window(settings))


@dataclass(frozen=True)
class LiveStatus:
    state: str  # waiting | live | ended
    on_air: bool
    viewers: int
    record_status: str  # False | Recording | the recording's MediaStatus (Processing, Done, Failed)
    record_code: str  # the latest recording's media code


def status_of(session: Session, settings: Settings, live: Live) -> LiveStatus:
    airing = on_air(live)
    repo = LiveRepository(session)
    recording = repo.media(live.recording_media_id) if live.recording_media_id else None
    if recording is not None and recording.deleted_at is not None:
        recording = None
    if airing and live.record:
        record_status = "Recording"
    elif recording is not None:
        record_status = recording.status
    elif live.record_failure:
        record_status = MediaStatus.FAILED.value
    else:
        record_status = "False"
    if airing:
        state = LiveState.LIVE.value
    else:
        state = LiveState.WAITING.value if live.state == LiveState.WAITING.value else LiveState.ENDED.value
    return LiveStatus(
        state=state,
        on_air=airing,
        viewers=viewers_now(session, settings, live) if airing else 0,
        record_status=record_status,
        record_code=recording.code if recording is not None else "",
    )
