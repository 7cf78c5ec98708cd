"""The playouts of conferences' ``broadcast_stream_url``, run by each server process's stream keeper
(rooms/streams.py), under the rules of domain/streams/broadcasts.py.

At each look of the keeper: renew the leases of the broadcasts this process holds (and let go of
those whose stream stopped, whose meeting ended or that were cancelled); move each one on (its file
fetched and probed in a thread of its own → just before the start, the conference made live, its
stream started and the playout process launched → at the start, once the stream shows it, the file
played → the playout's end settles the state); mark broadcasts whose process died while playing;
and claim the broadcasts due soon that nobody holds.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.streams.broadcasts import (
    DISPLAY_NAME,
    STARTED_BY,
    WARM_UP,
    BroadcastRefused,
    BroadcastService,
    Cancelled,
    Claimed,
    Source,
    fetch_source,
)
from podium.kit import uow
from podium.kit.clock import utcnow
from podium.kit.errors import DomainError
from podium.rooms.broadcast.playout import Playout, PlayoutSpec
from podium.rooms.janus import JanusClient, JanusUnavailable, MediaPool
from podium.rooms.service import RoomService

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=15)
PUBLISH_TIMEOUT = 20.0  # seconds the playout has to publish in the room
# At the start, the file plays once the stream's compositor (when this process runs it) has a
# picture or sound from the room, or at most this long after the playout began publishing.
SHOWN_WITHIN = 3.0
# The file's last seconds reach the streaming page's viewers this long after they left the room
# (the stream's glass-to-glass latency, README "Benchmarks"): the broadcast is over, and a stream it
# started may stop, only then.
TAIL = 6.0

Feeds = Callable[[int], tuple[int, int] | None]
T = TypeVar("T")


@dataclass
class _Held:
    conference_id: int
    url: str
    starts_at: datetime
    directory: Path
    cancelled: threading.Event = field(default_factory=threading.Event)
    fetcher: threading.Thread | None = None
    source: Source | None = None
    error: str | None = None
    playout: Playout | None = None
    server: JanusClient | None = None
    token: str = ""
    launched: float = 0.0
    publishing_since: float | None = None
    playing: bool = False
    ended: float | None = None  # when the file ended in the room


class Playouts:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        pool: Callable[[], MediaPool | None],
        owner: str,
        *,
        dispatcher: uow.Dispatcher,
        wake: Callable[[], None],
        compositor_feeds: Feeds,
    ) -> None:
        self.sessions, self.settings, self.pool, self.owner = sessions, settings, pool, owner
        self.dispatcher, self.wake, self.compositor_feeds = dispatcher, wake, compositor_feeds
        self.held: dict[int, _Held] = {}

    def _run(self, work: Callable[[BroadcastService], T]) -> T:
        return uow.run(
            self.sessions,
            self.settings,
            lambda ctx: work(BroadcastService(ctx.session, ctx.settings)),
            self.dispatcher,
        )

    # --- the look --------------------------------------------------------------------------------

    def look(self) -> None:
        now = utcnow()
        self._renew(now)
        for held in list(self.held.values()):
            self._step(held, now)
        self._run(lambda service: service.sweep(now))
        self._claim(now)

    def next_look(self) -> float:
        """Seconds until a held broadcast next needs a look (its warm-up, or its start)."""
        now, soonest = utcnow(), 60.0
        for held in self.held.values():
            if held.playout is None and held.source is not None:
                soonest = min(soonest, (held.starts_at - WARM_UP - now).total_seconds())
            elif held.playout is not None and not held.playing:
                soonest = min(soonest, max((held.starts_at - now).total_seconds(), 0.25))
            elif held.playout is not None and held.playing:
                soonest = min(soonest, TAIL - (time.monotonic() - held.ended) if held.ended else 1.0)
        return max(soonest, 0.05)

    def stop(self) -> None:
        """This process stops: its playouts stop; broadcasts still waiting are claimed again
        elsewhere, those that were playing failed (docs in domain/streams/broadcasts.py)."""
        held = list(self.held)
        for conference_id in held:
            played = self.held[conference_id].ended is not None  # only its tail was left
            self._drop(conference_id)
            if played:
                self._played(conference_id)
        if held:
            self._run(lambda service: service.release(self.owner, held))

    # --- steps -----------------------------------------------------------------------------------

    def _renew(self, now: datetime) -> None:
        if not self.held:
            return
        ids = list(self.held)
        found = uow.run(
            self.sessions,
            self.settings,
            lambda ctx: BroadcastService(ctx.session, ctx.settings).renew(self.owner, ids, now + LEASE),
        )
        for conference_id, held in list(self.held.items()):
            current = found.get(conference_id)
            if current is None:  # no longer ours: its URL changed, or it was settled elsewhere
                self._drop(conference_id)
                continue
            held.starts_at = current.starts_at
            if current.gone or (held.playout is not None and not current.streaming):
                log.info("broadcast of conference %s: its meeting or stream stopped", conference_id)
                self._drop(conference_id)
                self._let_go(conference_id)

    def _step(self, held: _Held, now: datetime) -> None:
        conference_id = held.conference_id
        if held.playout is None:
            if held.fetcher is not None and held.fetcher.is_alive():
                return
            if held.error is not None or held.source is None:
                self._fail(held, held.error or "Could not fetch the file")
            elif now >= held.starts_at - WARM_UP:
                self._warm_up(held, now)
            return
        playout = held.playout
        if not playout.alive:
            if not playout.ended:
                self._fail(held, playout.failure or "the playout stopped")
            elif held.ended is None:
                held.ended = time.monotonic()
            elif time.monotonic() - held.ended >= TAIL:
                self._drop(conference_id)
                self._played(conference_id)
            return
        if held.publishing_since is None:
            if playout.wait_publishing(0):
                held.publishing_since = time.monotonic()
                log.info("broadcast of conference %s: the playout publishes in the room", conference_id)
            elif time.monotonic() - held.launched > PUBLISH_TIMEOUT:
                self._fail(held, "the playout did not publish in the room in time")
            return
        if held.playing or now < held.starts_at:
            return
        feeds = self.compositor_feeds(conference_id)
        if (feeds is None or sum(feeds) == 0) and time.monotonic() - held.publishing_since < SHOWN_WITHIN:
            return
        if self._run(lambda service: service.playing(conference_id, self.owner)):
            playout.play()
            held.playing = True
            log.info(
                "broadcast of conference %s: playing %s (stream shows %s)", conference_id, held.url, feeds
            )
        else:
            self._drop(conference_id)

    def _warm_up(self, held: _Held, now: datetime) -> None:
        """The conference live (if nobody joined), its room, its stream, and the playout in it."""
        assert held.source is not None
        pool = self.pool()

        def work(ctx: uow.Context) -> tuple[JanusClient, int] | None:
            conference = BroadcastService(ctx.session, ctx.settings).warm_up(
                held.conference_id, self.owner, now
            )
            if conference is None:
                return None
            rooms = RoomService(ctx.session, ctx.settings, pool)
            server = rooms.ensure_room(conference)
            rooms.open_for_broadcast(conference, started_by=STARTED_BY)
            assert conference.media_room is not None
            return server, conference.media_room

        try:
            prepared = uow.run(self.sessions, self.settings, work, self.dispatcher)
        except DomainError as error:
            self._fail(held, error.message)
            return
        if prepared is None:  # settled meanwhile (failed, or no longer ours)
            self._drop(held.conference_id)
            return
        server, room = prepared
        token = secrets.token_hex(16)
        try:
            server.add_token(token)
        except JanusUnavailable as exc:
            self._fail(held, f"the media server is unavailable: {exc}")
            return
        source = held.source
        held.server, held.token, held.launched = server, token, time.monotonic()
        held.playout = Playout(
            PlayoutSpec(
                janus_api_url=server.endpoint.api_url,
                janus_token=token,
                room=room,
                path=str(source.path),
                display=DISPLAY_NAME,
                width=source.width,
                height=source.height,
                audio=source.has_audio,
            )
        )
        held.playout.start()
        log.info("broadcast of conference %s: playout started in room %s", held.conference_id, room)

    def _claim(self, now: datetime) -> None:
        due = uow.run(
            self.sessions,
            self.settings,
            lambda ctx: BroadcastService(ctx.session, ctx.settings).due(now),
        )
        for conference_id in due:
            if conference_id in self.held:
                continue
            claimed = self._claim_one(conference_id, now)
            if claimed is None:
                continue
            directory = self.settings.data_dir / "broadcasts" / f"{conference_id}-{secrets.token_hex(4)}"
            held = _Held(conference_id, claimed.url, claimed.starts_at, directory)
            held.fetcher = threading.Thread(
                target=self._fetch, args=(held,), name="podium-broadcast-fetch", daemon=True
            )
            self.held[conference_id] = held
            held.fetcher.start()
            log.info("broadcast of conference %s: fetching %s", conference_id, claimed.url)

    def _claim_one(self, conference_id: int, now: datetime) -> Claimed | None:
        return self._run(lambda service: service.claim(conference_id, self.owner, now, now + LEASE))

    def _played(self, conference_id: int) -> None:
        self._run(lambda service: service.played(conference_id, self.owner))

    def _let_go(self, conference_id: int) -> None:
        self._run(lambda service: service.let_go(conference_id, self.owner))

    def _fetch(self, held: _Held) -> None:
        try:
            held.source = fetch_source(
                self.settings, held.url, held.directory / "source.mp4", cancelled=held.cancelled.is_set
            )
        except BroadcastRefused as refused:
            held.error = str(refused)
        except Cancelled:
            pass
        except Exception:  # noqa: BLE001 - a bug or a full disk: the broadcast fails, the keeper goes on
            if held.cancelled.is_set():
                return  # let go meanwhile (its directory is gone)
            log.exception("fetching the broadcast of conference %s failed", held.conference_id)
            held.error = "Could not fetch the file (internal error)"
        finally:
            self.wake()

    def _fail(self, held: _Held, reason: str) -> None:
        log.warning("broadcast of conference %s failed: %s", held.conference_id, reason)
        self._drop(held.conference_id)
        self._run(lambda service: service.failed(held.conference_id, self.owner, reason))

    def _drop(self, conference_id: int) -> None:
        """Stop this process's part (the playout, its Janus token, the file); the state is settled
        by the caller."""
        held = self.held.pop(conference_id, None)
        if held is None:
            return
        held.cancelled.set()
        if held.playout is not None:
            held.playout.stop()
        if held.server is not None and held.token:
            held.server.remove_token(held.token)
        shutil.rmtree(held.directory, ignore_errors=True)
