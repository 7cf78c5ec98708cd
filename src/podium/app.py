"""Builds the ASGI app: one core, an edge per dialect, the join pages."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from podium import __version__
from podium.config import Settings, get_settings
from podium.domain.lives.service import LiveService
from podium.domain.media.worker import MediaWorker
from podium.domain.ops.service import read_queues
from podium.domain.outbox.worker import OutboxWorker
from podium.domain.viewing.heartbeats import HeartbeatLedger
from podium.edges.boomstream import router as boomstream
from podium.edges.iotum import routes as iotum
from podium.edges.liveminutes import routes as liveminutes
from podium.kit.answers import AnswerCache
from podium.kit.db import REQUEST_THREADS, make_engine, make_sessionmaker
from podium.kit.errors import DomainError
from podium.kit.group_commit import GroupCommit
from podium.kit.metrics import (
    DialectRule,
    Exporter,
    ObservedRequests,
    RouteLabels,
    handed_on,
    process_exited,
)
from podium.kit.uow import AfterCommit, Context, run
from podium.rooms.hub import RoomHub
from podium.rooms.janus import JanusClient, JanusEndpoint, JanusUnavailable, LocalJanus, MediaPool
from podium.rooms.phones import PhoneKeeper
from podium.rooms.service import RoomService
from podium.rooms.streams import StreamKeeper
from podium.streaming.rtmp import start_rtmp
from podium.web import account, console, drive, embeds, media, pages, recordings, rooms, streams, watch
from podium.web.exact_routes import ExactRoutes, exact_routes
from podium.web.limits import OWN_LIMITS, RequestLimits

log = logging.getLogger(__name__)


class CaseInsensitiveMethods:
    """Vendor method names are case-insensitive in practice (``ppv/listBuyers`` = ``ppv/listbuyers``)."""

    def __init__(self, app: ASGIApp, canonical: list[str]) -> None:
        self.app = app
        self.canonical = {path.lower(): path for path in canonical}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            target = self.canonical.get(path.lower().rstrip("/"))
            if target is not None and target != path:
                scope = dict(scope, path=target, raw_path=target.encode())
                handed_on(scope)  # /metrics labels the request by the route this copy reaches
            scope.setdefault("podium.raw_path", path)
        await self.app(scope, receive, send)


def start_media(settings: Settings) -> tuple[MediaPool | None, LocalJanus | None]:
    """The media servers: external Janus instances when configured, else a local one (unless turned off)."""
    instances = list(settings.janus_instances)
    if settings.janus_url:
        instances.append(
            {
                "url": settings.janus_url,
                "admin_url": settings.janus_admin_url or "",
                "admin_secret": settings.janus_admin_secret or "",
                "room_admin_key": settings.janus_room_admin_key or "",
            }
        )
    if instances:
        clients = []
        for instance in instances:
            if not all(instance.get(k) for k in ("url", "admin_url", "admin_secret", "room_admin_key")):
                log.error(
                    "a Janus instance needs url, admin_url, admin_secret and room_admin_key: %s",
                    instance.get("url"),
                )
                continue
            clients.append(
                JanusClient(
                    JanusEndpoint(
                        instance["url"],
                        instance["admin_url"],
                        instance["admin_secret"],
                        instance["room_admin_key"],
                    )
                )
            )
        return (MediaPool(clients) if clients else None), None
    if settings.janus != "local" or not LocalJanus.available():
        log.warning("no media server: rooms show their lobby only (janus %s)", settings.janus)
        return None, None
    local = LocalJanus(settings.data_dir.resolve(), sip=settings.sip_plugin, sip_ip=settings.sip_local_ip)
    try:
        return MediaPool([JanusClient(local.start())]), local
    except JanusUnavailable as exc:
        log.error("janus did not start: %s", exc)
        return None, None


class ServerDispatcher:
    """What a committed transaction asked for: room events go to the connected browsers of every
    server process (through the hub's bus), queued mail and jobs wake this process's workers."""

    def __init__(self, hub: RoomHub | None, outbox: OutboxWorker, media: MediaWorker) -> None:
        self.hub, self.outbox, self.media = hub, outbox, media
        self.streams: StreamKeeper | None = None
        self.phones: PhoneKeeper | None = None

    def deliver(self, effects: AfterCommit) -> None:
        if self.hub is not None:
            for conference_id, event in effects.room_events:
                self.hub.publish_threadsafe(conference_id, event)
        if effects.wake_outbox:
            self.outbox.wake()
        if effects.wake_media:
            self.media.wake()
        if effects.wake_streams and self.streams is not None:
            self.streams.wake()
        if effects.wake_phones and self.phones is not None:
            self.phones.wake()


def create_app(settings: Settings | None = None, *, serving: bool = False) -> FastAPI:
    """The application; ``serving`` for a process that exists to serve it (``podium serve``)."""
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_sessionmaker(engine)
    hub = RoomHub.for_settings(settings)
    worker = OutboxWorker(settings, sessions)
    media_worker = MediaWorker(settings, sessions)
    heartbeats = HeartbeatLedger(sessions, settings)
    dispatcher = ServerDispatcher(hub, worker, media_worker)
    worker.dispatcher = media_worker.dispatcher = dispatcher
    stream_keeper = StreamKeeper(
        sessions,
        settings,
        None,
        lambda session, stream: LiveService(session, settings).internal_publish_url(
            LiveService(session, settings).for_internal_publisher(
                stream.company_id, title="", media_id=stream.media_id
            )
        ),
        dispatcher,
    )
    dispatcher.streams = stream_keeper
    phone_keeper = PhoneKeeper(sessions, settings, None, dispatcher)
    dispatcher.phones = phone_keeper
    writes = GroupCommit(sessions, settings, dispatcher)
    local_janus: LocalJanus | None = None

    def close_room(conference_id: int) -> None:
        with sessions() as session, suppress(DomainError):
            RoomService(session, settings, app.state.media).close(conference_id)

    def recover_recordings(ctx: Context) -> list[int]:
        return RoomService(ctx.session, settings, app.state.media).recover_recordings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal local_janus
        settings.signing_key()  # generate and persist the secret before the first request
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        # The threads units of work run on (kit/uow.run_unit_of_work).
        app.state.unit_threads = ThreadPoolExecutor(REQUEST_THREADS, thread_name_prefix="podium-unit")
        hub.on_ended = close_room
        hub.on_order = rooms.obey
        hub.on_event = stream_keeper.on_room_event
        hub.on_vanished = lambda member, keep_media: rooms.depart_vanished(app, member, keep_media)
        hub.reaches_media = lambda api_url: (
            app.state.media is not None and app.state.media.by_url(api_url) is not None
        )
        app.state.media, local_janus = await asyncio.to_thread(start_media, settings)
        try:
            await hub.start()  # with PODIUM_REDIS_URL, Redis must answer: no half-connected process
        except Exception:
            if local_janus is not None:
                await asyncio.to_thread(local_janus.stop)
            raise
        # Lives: this process's RTMP server and its callbacks (streaming/), unless off or the parent's.
        app.state.rtmp = rtmp = await asyncio.to_thread(start_rtmp, settings, sessions, dispatcher)
        # Recordings a crash cut off are published with what they hold (before the worker starts).
        await asyncio.to_thread(run, sessions, settings, recover_recordings)
        if settings.run_outbox_worker:
            worker.start()
        if settings.run_media_worker:
            media_worker.start()
        heartbeats.start()
        stream_keeper.pool = app.state.media
        stream_keeper.start()  # with a media server only: streams compose its rooms
        phone_keeper.pool = app.state.media
        phone_keeper.start()  # with a media server and a SIP trunk (dial-out) or listener (dial-in)
        if serving:
            # What start-up made (modules, routes, mappers) lives as long as the process: frozen, the
            # collector's full passes stop walking it — they held every request up for 50-100 ms.
            gc.freeze()
        try:
            yield
        finally:
            await asyncio.to_thread(phone_keeper.stop)
            await asyncio.to_thread(stream_keeper.stop)
            await asyncio.to_thread(heartbeats.stop)
            if rtmp is not None:
                await asyncio.to_thread(rtmp.stop)
            await asyncio.to_thread(writes.stop)
            media_worker.stop()
            worker.stop()
            await hub.close()
            if local_janus is not None:
                await asyncio.to_thread(local_janus.stop)
            app.state.unit_threads.shutdown(wait=False)
            app.state.unit_threads = None
            engine.dispose()
            process_exited()

    app = FastAPI(
        title="Podium",
        version=__version__,
        summary="Boomstream, Iotum and LiveMinutes APIs over one conferencing core",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # Podium's metrics are its own (Prometheus, /metrics). FastAPI's native OpenTelemetry, on,
        # asks the global providers and the environment on every request whether it is configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.answers = AnswerCache()  # repeated reads within a second while nothing is written
    app.state.outbox_worker = worker
    app.state.media_worker = media_worker
    app.state.heartbeats = heartbeats
    app.state.stream_keeper = stream_keeper
    app.state.phone_keeper = phone_keeper
    app.state.room_hub = hub
    app.state.dispatcher = dispatcher
    app.state.writes = writes  # hot writes made in batches (kit/group_commit)
    app.state.media = None
    app.state.rtmp = None

    @app.get("/livez", tags=["ops"])
    async def livez() -> JSONResponse:
        """Liveness only: the process answers (no database round trip)."""
        return JSONResponse({"status": "ok"})

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> JSONResponse:
        """Health: the process answers and the database is reachable."""

        def ping() -> None:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception:  # noqa: BLE001 - any database failure means unhealthy
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    # Prometheus metrics (kit/metrics.py, README "Observability"): a bearer token or loopback only.
    exporter = Exporter(
        token=settings.metrics_token,
        rooms=hub.census,
        database=lambda: read_queues(sessions),
        janus=lambda: app.state.media.health() if app.state.media is not None else [],
    )
    app.add_api_route("/metrics", exporter.endpoint, methods=["GET"], include_in_schema=False)

    lm_prefix = settings.lm_prefix

    @app.exception_handler(StarletteHTTPException)
    async def http_errors(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.detail}
        if request.url.path.startswith(lm_prefix + "/"):
            body = {"resultcode": 0, "error": "http", "message": str(exc.detail)}
        elif request.url.path.startswith(iotum.PREFIX + "/"):
            body = {"message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    # Routes are matched in order, one by one: what every viewer calls many times a minute (heartbeats,
    # playlists and segments) comes first. None of these paths overlaps another router's.
    app.include_router(watch.router)
    app.include_router(media.router)
    dialects = [boomstream.build_router(), liveminutes.build_router(lm_prefix), iotum.build_router()]
    for dialect in dialects:
        app.include_router(dialect)
    app.include_router(pages.router)
    app.include_router(account.router)
    app.include_router(console.router)
    app.include_router(drive.router)
    app.include_router(rooms.router)
    app.include_router(recordings.router)
    app.include_router(streams.router)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "web" / "static")), name="static")
    # Last: ``/<media code>`` (Boomstream's player address) must never shadow another route.
    app.include_router(embeds.router)
    # Innermost of ours: the viewers' calls and the dialects' methods by exact path (in their
    # canonical case, from the next one): FastAPI's route-by-route matching cost more than a kept answer.
    app.add_middleware(
        ExactRoutes,
        table=exact_routes(route for router in (watch.router, *dialects) for route in router.routes),
        on_http_error=http_errors,
    )
    app.add_middleware(
        CaseInsensitiveMethods,
        canonical=boomstream.canonical_paths() + liveminutes.canonical_paths(lm_prefix),
    )
    # Outermost of ours: an oversized body never reaches a route.
    app.add_middleware(RequestLimits, own_limit_prefixes=(*OWN_LIMITS, lm_prefix + "/"))
    # Outermost: every request counted, timed and given its X-Request-Id (a 413 above too).
    app.add_middleware(
        ObservedRequests, labels=route_labels(lm_prefix), log_access=settings.log_format == "json"
    )
    return app


def route_labels(lm_prefix: str) -> RouteLabels:
    """The ``dialect`` label of ``/metrics`` by route template: the three API edges (their method names
    as labels), what viewers load (watch pages, playback, embeds), the operations routes; the rest web."""
    return RouteLabels(
        [
            DialectRule(boomstream.PREFIX + "/", "boomstream", strip=True),
            DialectRule(iotum.PREFIX + "/", "iotum", strip=True),
            DialectRule(lm_prefix + "/", "liveminutes", strip=True),
            *(
                DialectRule(prefix, "watch")
                for prefix in (
                    "/watch/",
                    "/play/",
                    "/live/",
                    "/stream/",
                    "/player.html",
                    "/media/images/",
                    "/{code:media_code}",
                )
            ),
            *(
                DialectRule(prefix, "other")
                for prefix in ("/livez", "/healthz", "/metrics", "/docs", "/openapi")
            ),
        ]
    )


def served_app() -> FastAPI:
    """The app of a ``podium serve --workers N`` process (uvicorn's factory)."""
    return create_app(serving=True)
