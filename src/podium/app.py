"""Builds the ASGI app: one core, an edge per dialect, the join pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from podium import __version__
from podium.config import Settings, get_settings
from podium.domain.outbox.worker import OutboxWorker
from podium.edges.boomstream import router as boomstream
from podium.edges.iotum import routes as iotum
from podium.edges.liveminutes import routes as liveminutes
from podium.kit.db import make_engine, make_sessionmaker
from podium.web import account, drive, pages


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
            scope.setdefault("podium.raw_path", path)
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_sessionmaker(engine)
    worker = OutboxWorker(settings, sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.signing_key()  # generate and persist the secret before the first request
        if settings.run_outbox_worker:
            worker.start()
        try:
            yield
        finally:
            worker.stop()
            engine.dispose()

    app = FastAPI(
        title="Podium",
        version=__version__,
        summary="Boomstream, Iotum and LiveMinutes APIs over one conferencing core",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.outbox_worker = worker

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

    lm_prefix = settings.lm_prefix

    @app.exception_handler(StarletteHTTPException)
    async def http_errors(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.detail}
        if request.url.path.startswith(lm_prefix + "/"):
            body = {"resultcode": 0, "error": "http", "message": str(exc.detail)}
        elif request.url.path.startswith(iotum.PREFIX + "/"):
            body = {"message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    app.include_router(boomstream.build_router())
    app.include_router(liveminutes.build_router(lm_prefix))
    app.include_router(iotum.build_router())
    app.include_router(pages.router)
    app.include_router(account.router)
    app.include_router(drive.router)
    app.add_middleware(
        CaseInsensitiveMethods,
        canonical=boomstream.canonical_paths() + liveminutes.canonical_paths(lm_prefix),
    )
    return app
