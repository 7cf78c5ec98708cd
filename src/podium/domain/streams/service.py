"""Conference streams: a running meeting composed (like its recording) and published to a live, whose
watch page is the conference's streaming page.

A stream row is the desired state; a server process's keeper (rooms/streams.py) runs the compositor
for it. Starting and stopping here only change rows (in the caller's unit of work) and wake the keepers.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.audit.service import log_action
from podium.domain.chat.service import ChatService
from podium.domain.hosts.conference_defaults import host_setting
from podium.domain.lives.repository import LiveRepository
from podium.domain.lives.service import LiveService
from podium.domain.streams.ending import end_stream
from podium.domain.streams.repository import StreamRepository
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts
from podium.kit.links import Links
from podium.kit.stamped import StampedCache, watch
from podium.kit.uow import room_event, wake_streams
from podium.models.conference import Conference
from podium.models.stream import Stream, StreamState


def auto_stream_of(session: Session, conference: Conference) -> str:
    """What the conference streams by itself: its own ``auto_stream``, or else its host's default."""
    if conference.auto_stream and conference.auto_stream != "none":
        return conference.auto_stream
    return str(host_setting(session, conference, "auto_stream", "none") or "none")


PAGE_KEY_PURPOSE = b"podium:streaming-page:"


def streaming_page_key(settings: Settings, conference_id: int) -> str:
    """The conference's streaming page key: its id and a MAC of it, so the address is stable (it can be
    announced before the webinar) and no other conference's page can be guessed from it."""
    mac = hmac.new(
        settings.signing_key().encode(), PAGE_KEY_PURPOSE + str(conference_id).encode(), hashlib.sha256
    )
    return f"{conference_id}-{mac.hexdigest()[:24]}"


def conference_of_page_key(settings: Settings, key: str) -> int:
    """The conference a streaming page key names.

    Raises:
        NotFound: the key is not one Podium made.
    """
    number, _, _ = key.partition("-")
    if not (number.isascii() and number.isdigit()) or len(number) > 12:
        raise NotFound("No such streaming page")
    if not hmac.compare_digest(
        streaming_page_key(settings, int(number)).encode(), key.encode("utf-8", "replace")
    ):
        raise NotFound("No such streaming page")
    return int(number)


def streaming_url(settings: Settings, conference_id: int) -> str:
    """Where the conference's stream is watched (the page waits for the stream while none runs)."""
    return Links(settings).streaming(streaming_page_key(settings, conference_id))


@dataclass(frozen=True)
class StreamPage:
    """What a conference's streaming page shows: the meeting's title, whether it streams now, and the
    live whose player plays it (None before its first stream)."""

    conference_id: int
    title: str
    streaming: bool
    live_code: str | None


# Every viewer's page asks for its state every few seconds: a webinar's thousands of viewers read it
# from this process's memory, re-read when a stream starts or ends or the meeting is renamed or deleted
# (any process; ADR 0008's stamped caches).
STREAM_PAGES = "stream-pages"
watch(STREAM_PAGES, Stream, frozenset({"ended_at", "media_id"}), new_rows=True)
watch(STREAM_PAGES, Conference, frozenset({"title", "deleted_at"}))
PAGES: StampedCache[StreamPage] = StampedCache(STREAM_PAGES, ttl=30.0)

QUESTION_CHARS = 1000
NAME_CHARS = 80
# Viewers' questions reach every moderator's screen: a viewer asks at most 3 a minute, and a meeting
# takes at most 60 a minute from all its viewers (counted in the database: every process agrees; two
# questions at the same instant may both pass the count).
QUESTION_WINDOW = timedelta(seconds=60)
QUESTIONS_PER_VIEWER = 3
QUESTIONS_PER_MEETING = 60
VIEWER_KEY_PURPOSE = b"podium:stream-viewer:"


class StreamService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.streams = StreamRepository(session)

    def running(self, conference_id: int) -> Stream | None:
        return self.streams.running(conference_id)

    def may_stream(self, conference: Conference) -> None:
        """Raises Forbidden when the conference's host has live streaming off (``native_streaming``:
        Iotum's switch for a host's streaming; conferences without a host stream freely)."""
        if conference.host_id is not None and not host_setting(
            self.session, conference, "native_streaming", False
        ):
            raise Forbidden("Live streaming is not enabled for this host (native_streaming)")

    def start(self, conference: Conference, *, started_by: str, live_media_id: int) -> Stream:
        """A new run of the conference's stream into the live ``live_media_id`` (the caller finds or
        makes the conference's live); a keeper starts the compositor once this commits.

        Raises:
            Conflict: the conference is not live, or already streams.
            Forbidden: the host has live streaming off.
        """
        if conference.started_at is None or conference.ended_at is not None or conference.deleted_at:
            raise Conflict("The meeting is not live")
        if self.streams.running(conference.id) is not None:
            raise Conflict("This meeting is already streaming")
        self.may_stream(conference)
        private = self.streams.running_any(conference.id)
        if private is not None:  # a preview run: the stream's own compositor cuts the previews now
            private.ended_at, private.state = max(utcnow(), private.started_at), StreamState.ENDED.value
            self.session.flush()
        kind = auto_stream_of(self.session, conference)
        stream = self.streams.add(
            Stream(
                conference_id=conference.id,
                company_id=conference.company_id,
                media_id=live_media_id,
                kind=kind if kind in ("audio", "video") else "video",
                state=StreamState.STARTING.value,
                started_by=started_by[:64],
                started_at=utcnow(),
            )
        )
        conference.is_streaming = True
        self.session.flush()
        wake_streams(self.session)
        log_action(
            self.session,
            "conference.streaming_started",
            actor=started_by or "system",
            ref=f"conference:{conference.id}",
            company_id=conference.company_id,
            host_id=conference.host_id,
            conference_id=conference.id,
            stream_id=stream.id,
            type=stream.kind,
        )
        room_event(
            self.session,
            conference.id,
            {
                "type": "streaming",
                "on": True,
                "kind": stream.kind,
                "state": stream.state,
                "url": streaming_url(self.settings, conference.id),
            },
        )
        return stream

    def stop(self, conference: Conference, *, actor: str) -> Stream | None:
        """Stop the running stream (None when none runs)."""
        return end_stream(self.session, conference, utcnow(), actor=actor)

    def live_media_id(self, conference_id: int) -> int | None:
        """The live the conference streams to (its latest run's), None before its first stream."""
        latest = self.streams.latest(conference_id)
        return latest.media_id if latest is not None else None

    # --- the keepers (rooms/streams.py): leases on running streams ------------------------------

    def renew(self, owner: str, stream_ids: list[int], until: datetime) -> set[int]:
        """Extend ``owner``'s leases; the ids it still holds and that still run."""
        return self.streams.renew(owner, stream_ids, until)

    def unheld(self, now: datetime) -> list[int]:
        return [stream.id for stream in self.streams.unowned(now)]

    def claim(self, stream_id: int, owner: str, now: datetime, until: datetime) -> bool:
        return self.streams.claim(stream_id, owner, now, until)

    def release(self, owner: str, stream_ids: list[int]) -> None:
        self.streams.release(owner, stream_ids)

    def to_launch(self, stream_id: int) -> tuple[Stream, Conference] | None:
        """The stream and its conference, while both still run."""
        stream = self.streams.by_id(stream_id)
        conference = self.session.get(Conference, stream.conference_id) if stream is not None else None
        if stream is None or stream.ended_at is not None or conference is None or conference.ended_at:
            return None
        return stream, conference

    def publishing(self, stream_id: int) -> None:
        """The compositor publishes: the stream is live (the room is told)."""
        stream = self.streams.by_id(stream_id)
        if stream is not None and stream.ended_at is None and stream.state != StreamState.LIVE:
            stream.state = StreamState.LIVE.value
            if not stream.public:
                return  # a preview run: the room and the API see no stream
            room_event(
                self.session,
                stream.conference_id,
                {"type": "streaming", "on": True, "state": stream.state, "kind": stream.kind},
            )

    def attempt_failed(self, stream_id: int, reason: str, *, attempts: int) -> None:
        """A compositor could not publish: the stream is tried again (released for the next claim)
        until ``attempts`` starts failed, then it ends as failed with the reason."""
        stream = self.streams.by_id(stream_id)
        if stream is None or stream.ended_at is not None:
            return
        conference = self.session.get(Conference, stream.conference_id)
        if not stream.public and stream.attempts >= attempts:
            # A preview run that cannot compose ends quietly: the meeting still records.
            stream.ended_at = max(utcnow(), stream.started_at)
            stream.state, stream.failure_reason = StreamState.FAILED.value, reason[:2000]
            return
        if stream.attempts >= attempts or conference is None or conference.ended_at is not None:
            if conference is not None:
                end_stream(self.session, conference, utcnow(), actor="system", failure=reason)
            return
        stream.owner, stream.lease_until = None, None
        stream.state = StreamState.STARTING.value

    def viewers(self, conference_id: int) -> int:
        """Viewers watching the conference's stream now (its live's page heartbeats); 0 when it
        never streamed."""
        media_id = self.live_media_id(conference_id)
        live = LiveRepository(self.session).for_media(media_id) if media_id is not None else None
        return LiveService(self.session, self.settings).viewers_now(live) if live is not None else 0

    def page(self, conference_id: int) -> StreamPage:
        """Raises NotFound: the conference is gone."""
        shown = PAGES.get(self.session, conference_id)
        if shown is None:
            stamp = PAGES.stamp(self.session)
            shown = self._page(conference_id)
            PAGES.put(self.session, conference_id, shown, stamp)
        return shown

    def _page(self, conference_id: int) -> StreamPage:
        conference = self.session.get(Conference, conference_id)
        if conference is None or conference.deleted_at is not None:
            raise NotFound("No such streaming page")
        media_id = self.live_media_id(conference_id)
        return StreamPage(
            conference_id=conference_id,
            title=conference.title,
            streaming=self.streams.running(conference_id) is not None,
            live_code=self.streams.media_code(media_id) if media_id is not None else None,
        )

    def ask(self, conference_id: int, name: str, text: str, *, viewer: str) -> tuple[str, str]:
        """A viewer of the streaming page (``viewer``: their address) asks the meeting a question
        (kept with the meeting's chat); returns the name and text as the moderators are shown them.

        Raises:
            NotFound: the conference is gone.
            Conflict: the meeting is not streaming.
            InvalidInput: an empty or too long question.
            TooManyAttempts: the viewer, or all viewers of the meeting, asked too much this minute.
        """
        if not self.page(conference_id).streaming:
            raise Conflict("The meeting is not streaming: questions are taken while it is live")
        name = " ".join(name.split())[:NAME_CHARS] or "A viewer"
        text = text.strip()
        if not text:
            raise InvalidInput("Write a question first", field="text")
        if len(text) > QUESTION_CHARS:
            raise InvalidInput(f"A question holds at most {QUESTION_CHARS} characters", field="text")
        chat = ChatService(self.session)
        # Only a keyed hash of the address is kept: enough to count, nothing to read back.
        viewer_key = hmac.new(
            self.settings.signing_key().encode(), VIEWER_KEY_PURPOSE + viewer.encode(), hashlib.sha256
        ).hexdigest()[:32]
        since = utcnow() - QUESTION_WINDOW
        for key, limit, who in (
            (viewer_key, QUESTIONS_PER_VIEWER, "You have asked"),
            (None, QUESTIONS_PER_MEETING, "Viewers have asked"),
        ):
            count, oldest = chat.viewer_questions_since(conference_id, since, key)
            if count >= limit:
                wait = int(((oldest or since) + QUESTION_WINDOW - utcnow()).total_seconds()) + 1
                raise TooManyAttempts(
                    f"{who} {limit} questions this minute: ask again in {max(1, wait)} s",
                    retry_after=max(1, wait),
                )
        chat.post_from_room(conference_id, f"{name} (viewer)", None, text, viewer_key=viewer_key)
        return name, text
