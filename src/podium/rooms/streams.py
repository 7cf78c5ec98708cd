"""The stream keeper: each server process runs the compositors of the streams it holds.

A stream row (models/stream.py) says a conference should stream; the keeper of some process claims
its lease, starts the compositor (rooms/broadcast.py: a separate process that joins the room's
VideoRoom as a hidden subscriber and publishes the composed meeting over RTMP into the conference's
live) and renews the lease while it runs. A stream that ends (a moderator, the API, the meeting's
end) is stopped by its holder at its next look; a process that dies lets its leases lapse and another
process's keeper takes the streams over; a compositor that cannot publish is retried, then the stream
ends as failed with the reason (the room and the API say so).

The keeper also plays conferences' ``broadcast_stream_url`` into their rooms at their start
(``rooms/broadcast/playout_keeper.py``, domain/streams/broadcasts.py).
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from podium.config import Settings
from podium.domain.streams.clips import Clip, ClipCutter
from podium.domain.streams.previews import PreviewService, previews_dir
from podium.domain.streams.service import StreamService
from podium.kit import uow
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict
from podium.models.stream import Stream
from podium.rooms.broadcast import Broadcast, BroadcastSpec
from podium.rooms.broadcast.playout_keeper import Playouts
from podium.rooms.janus import JanusClient, JanusUnavailable, MediaPool
from podium.rooms.keeper import LOOK_EVERY, Keeper
from podium.rooms.service import RoomService, screen_sharers

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=15)
ATTEMPTS = 3  # compositor starts before a stream ends as failed
PUBLISH_TIMEOUT = 20.0  # seconds a compositor has to start publishing
SWEEP_EVERY = 60.0  # seconds between deletions of expired stream previews


# Where a stream's compositor publishes: the live's RTMP ingest on loopback (streaming/, lives).
PublishUrl = Callable[[Session, Stream], str]


# A private preview run (ADR 0013) is seen only as clips and images: a smaller picture is enough.
PREVIEW_RUN_SIZE: dict[str, int] = {"width": 640, "height": 360, "fps": 15}


@dataclass(frozen=True)
class _Launch:
    server: JanusClient
    room: int
    kind: str
    output: str  # the live's RTMP ingest, or a private run's playlist path
    scratch: Path | None
    conference_id: int


@dataclass
class _Running:
    conference_id: int
    broadcast: Broadcast
    server: JanusClient
    token: str
    started: float
    live: bool = False
    cutter: ClipCutter | None = None  # the host's stream_preview clips
    scratch: Path | None = None  # a private preview run's HLS folder, removed when it stops


class StreamKeeper(Keeper):
    thread_name = "podium-streams"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        pool: MediaPool | None,
        publish_url: PublishUrl,
        dispatcher: uow.Dispatcher = uow.NO_DISPATCH,
    ) -> None:
        super().__init__(sessions, settings, pool, dispatcher)
        self.publish_url = publish_url
        self.running: dict[int, _Running] = {}
        self._swept = 0.0
        self.playouts = Playouts(
            sessions,
            settings,
            lambda: self.pool,
            self.owner,
            dispatcher=dispatcher,
            wake=self.wake,
            compositor_feeds=self._feeds,
        )

    def release(self) -> None:
        """Stop every compositor this process runs and let their streams go (a restart, or another
        process, takes them over while their meetings last)."""
        self.playouts.stop()
        held = list(self.running)
        for stream_id in held:
            self._halt(stream_id)
        if held:
            uow.run(self.sessions, self.settings, lambda ctx: self._service(ctx).release(self.owner, held))

    def next_look(self) -> float:
        return min(LOOK_EVERY, self.playouts.next_look())

    def look(self) -> None:
        """One pass: renew what this process holds, stop what ended, restart or fail what died,
        and take over streams nobody holds."""
        with self._lock:
            self._converge_previews()
            self._renew()
            self._watch()
            self._claim()
            self.playouts.look()
            self._sweep_previews()

    # --- steps ----------------------------------------------------------------------------------

    def _converge_previews(self) -> None:
        """Private preview runs follow the recordings of conferences whose hosts ask for previews
        (any process may start or end one: a unique index keeps it to one row per conference)."""
        try:
            started, ended = uow.run(
                self.sessions, self.settings, lambda ctx: PreviewService(ctx.session, ctx.settings).converge()
            )
        except Conflict:
            return  # another process started the same run first (the unique index decided)
        if started or ended:
            log.info("preview runs started %s, ended %s", started, ended)

    def _renew(self) -> None:
        if not self.running:
            return
        running = list(self.running)
        held = uow.run(
            self.sessions,
            self.settings,
            lambda ctx: self._service(ctx).renew(self.owner, running, utcnow() + LEASE),
        )
        for stream_id in list(self.running):
            if stream_id not in held:  # ended (or, after a long stall, taken over)
                self._halt(stream_id)

    def _watch(self) -> None:
        for stream_id, run in list(self.running.items()):
            if run.broadcast.alive and not run.live and run.broadcast.wait_publishing(0):
                run.live = True
                self._mark_live(stream_id)
            if run.live and run.cutter is not None:
                self._keep_clips(stream_id, run.cutter.poll())
            elif not run.broadcast.alive or (
                not run.live and time.monotonic() - run.started > PUBLISH_TIMEOUT
            ):
                reason = run.broadcast.failure or (
                    "the compositor stopped" if not run.broadcast.alive else "the compositor did not publish"
                )
                log.warning("stream %s: compositor stopped: %s", stream_id, reason)
                self._halt(stream_id)
                self._after_failure(stream_id, reason)

    def _claim(self) -> None:
        now = utcnow()
        candidates = uow.run(self.sessions, self.settings, lambda ctx: self._service(ctx).unheld(now))
        for stream_id in candidates:
            if self._stop.is_set():
                return
            if not self._claim_one(stream_id, now):
                continue  # another process won it
            try:
                self._launch(stream_id)
            except Exception as exc:  # noqa: BLE001 - a stream that cannot start must not stop the keeper
                log.warning("stream %s did not start: %s", stream_id, exc)
                self._after_failure(stream_id, str(exc) or type(exc).__name__)

    def _claim_one(self, stream_id: int, now: datetime) -> bool:
        def work(ctx: uow.Context) -> bool:
            return self._service(ctx).claim(stream_id, self.owner, now, now + LEASE)

        return uow.run(self.sessions, self.settings, work)

    def _launch(self, stream_id: int) -> None:

        def prepare(
            ctx: uow.Context,
        ) -> tuple[_Launch, ClipCutter | None, list[int]] | None:
            found = self._service(ctx).to_launch(stream_id)
            if found is None:
                return None
            stream, conference = found
            server = RoomService(ctx.session, self.settings, self.pool).ensure_room(conference)
            assert conference.media_room is not None
            previews = PreviewService(ctx.session, self.settings)
            plan, playlist = previews.plan_for(conference), previews.playlist_of(stream)
            if stream.public:
                output, scratch = self.publish_url(ctx.session, stream), None
            else:
                assert playlist is not None
                output, scratch = str(playlist), playlist.parent
            cutter = (
                ClipCutter(
                    playlist,
                    previews_dir(self.settings, conference.id),
                    plan,
                    # A keeper that takes the stream over numbers its clips anew: never the same names.
                    prefix=f"clip-{stream_id}-{secrets.token_hex(3)}",
                )
                if plan is not None and playlist is not None
                else None
            )
            sharing = screen_sharers(conference)
            launch = _Launch(server, conference.media_room, stream.kind, output, scratch, conference.id)
            return launch, cutter, sharing

        prepared = uow.run(self.sessions, self.settings, prepare, self.dispatcher)
        if prepared is None:
            return
        launch, cutter, sharing = prepared
        server, room, kind, output = launch.server, launch.room, launch.kind, launch.output
        if launch.scratch is not None:
            # A private run taken over after a crash starts from an empty folder: its cutter must not
            # mistake the dead compositor's segments for new ones.
            shutil.rmtree(launch.scratch, ignore_errors=True)
            launch.scratch.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(16)
        try:
            server.add_token(token)
        except JanusUnavailable as exc:
            raise RuntimeError(f"the media server is unavailable: {exc}") from exc
        broadcast = Broadcast(
            BroadcastSpec(
                janus_api_url=server.endpoint.api_url,
                janus_token=token,
                room=room,
                output_url=output,
                video=kind == "video",
                **(PREVIEW_RUN_SIZE if launch.scratch is not None else {}),
            )
        )
        broadcast.start()
        for publisher in sharing:  # a share that began before the stream: on stage from the start
            broadcast.screen(publisher, True)
        self.running[stream_id] = _Running(
            launch.conference_id,
            broadcast,
            server,
            token,
            started=time.monotonic(),
            cutter=cutter,
            scratch=launch.scratch,
        )
        log.info("stream %s: compositor started for room %s", stream_id, room)

    def on_room_event(self, conference_id: int, event: dict[str, Any]) -> None:
        """A screen share started or stopped in a room whose stream this process composes: it takes
        the stream's stage, as in the recording (the hub calls this for every room event)."""
        if event.get("type") != "stage" or not isinstance(event.get("publisher"), int):
            return
        for run in list(self.running.values()):
            if run.conference_id == conference_id:
                run.broadcast.screen(int(event["publisher"]), bool(event.get("on")))

    def _feeds(self, conference_id: int) -> tuple[int, int] | None:
        """What the conference's compositor shows (cameras with a picture, people heard), when this
        process runs it and it publishes."""
        for run in self.running.values():
            if run.conference_id == conference_id and run.live:
                return run.broadcast.feeds
        return None

    def _halt(self, stream_id: int) -> None:
        run = self.running.pop(stream_id, None)
        if run is None:
            return
        run.broadcast.stop()
        run.server.remove_token(run.token)
        if run.cutter is not None:
            self._keep_clips(stream_id, run.cutter.close())
        if run.scratch is not None:
            shutil.rmtree(run.scratch, ignore_errors=True)

    def _keep_clips(self, stream_id: int, clips: list[Clip]) -> None:
        def keep(ctx: uow.Context) -> None:
            for clip in clips:
                PreviewService(ctx.session, ctx.settings).clip_made(stream_id, clip)

        if clips:
            uow.run(self.sessions, self.settings, keep)

    def _sweep_previews(self) -> None:
        """Previews go 24 hours after they were made (any process's keeper may delete them)."""
        if time.monotonic() - self._swept < SWEEP_EVERY:
            return
        self._swept = time.monotonic()
        uow.run(
            self.sessions,
            self.settings,
            lambda ctx: PreviewService(ctx.session, ctx.settings).sweep(utcnow()),
        )

    def _service(self, ctx: uow.Context) -> StreamService:
        return StreamService(ctx.session, ctx.settings)

    def _mark_live(self, stream_id: int) -> None:
        uow.run(
            self.sessions,
            self.settings,
            lambda ctx: self._service(ctx).publishing(stream_id),
            self.dispatcher,
        )

    def _after_failure(self, stream_id: int, reason: str) -> None:
        """Try again (the next look claims it) until the attempts run out; then the stream ends as
        failed, with the reason."""
        uow.run(
            self.sessions,
            self.settings,
            lambda ctx: self._service(ctx).attempt_failed(stream_id, reason, attempts=ATTEMPTS),
            self.dispatcher,
        )
