"""Boomstream edge: parses every call style, authenticates, runs the method, renders the envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from podium.config import Settings
from podium.domain.tenancy.service import TenancyService
from podium.edges.boomstream.auth import apikey_from
from podium.edges.boomstream.envelope import (
    DEFAULT_VERSION,
    SUPPORTED_VERSIONS,
    envelope,
    masked_request_uri,
    render,
)
from podium.edges.boomstream.errors import UnknownMethod, status_for
from podium.edges.boomstream.methods import ANSWERS, Call, openapi_parameters, openapi_request_body
from podium.edges.boomstream.routes.conference import METHODS as CONFERENCE_METHODS
from podium.edges.boomstream.routes.live import METHODS as LIVE_METHODS
from podium.edges.boomstream.routes.media import METHODS as MEDIA_METHODS
from podium.edges.boomstream.routes.ppv import METHODS as PPV_METHODS
from podium.edges.boomstream.routes.stats import METHODS as STATS_METHODS
from podium.edges.common import MethodSpec, Param, Params, Payload, dispatch, read_params
from podium.edges.guarding import attempts as guarded_attempts
from podium.kit.errors import DomainError, InvalidInput, Unauthenticated, retry_after_headers
from podium.kit.uow import Context

PREFIX = "/api"
ALL_METHODS: tuple[MethodSpec, ...] = (
    *CONFERENCE_METHODS,
    *MEDIA_METHODS,
    *LIVE_METHODS,
    *PPV_METHODS,
    *STATS_METHODS,
)


def _guess_format(request: Request) -> str:
    """The format to answer in before parameters are read (for transport errors)."""
    asked = request.query_params.get("format", "").lower()
    if asked in ("json", "xml"):
        return asked
    if request.headers.get("content-type", "").lower().startswith("application/json"):
        return "json"
    return "xml"


def _format(params: Params) -> str:
    asked = params.text("format").strip().lower()
    if not asked:
        return "json" if params.json_body else "xml"
    if asked not in ("json", "xml"):
        raise InvalidInput("Parameter 'format' must be json or xml", field="format")
    return asked


def _version(params: Params) -> str:
    version = params.text("ver").strip() or DEFAULT_VERSION
    if version not in SUPPORTED_VERSIONS:
        raise InvalidInput(f"Unknown API version {version}", field="ver")
    return version


@dataclass
class _Answering:
    """How to answer this request: known only once its parameters are read (failures before
    that are answered in the format the request most likely wants)."""

    fmt: str
    version: str
    request_uri: str

    def ok(self, payload: dict[str, Any]) -> Response:
        body = envelope(payload, ok=True, message=None, version=self.version, request_uri=self.request_uri)
        return render(body, self.fmt)

    def failed(self, error: DomainError) -> Response:
        body = envelope(
            {}, ok=False, message=error.message, version=self.version, request_uri=self.request_uri
        )
        response = render(body, self.fmt, status_for(error))
        response.headers.update(retry_after_headers(error))
        return response


async def _run(
    request: Request,
    work: Callable[[Call], Payload],
    *,
    required: tuple[Param, ...] = (),
    cache_as: str | None = None,
) -> Response:
    answering = _Answering(
        _guess_format(request),
        DEFAULT_VERSION,
        # From the scope: a URL object (built and parsed on first use) is not needed here.
        masked_request_uri(
            request.scope.get("podium.raw_path") or request.url.path,
            request.scope["query_string"].decode("utf-8", "replace"),
        ),
    )

    async def read(request: Request) -> tuple[Params, str]:
        settings: Settings = request.app.state.settings
        params = await read_params(request, settings)
        answering.fmt = _format(params)
        answering.version = _version(params)
        return params, apikey_from(request, params)

    attempts = guarded_attempts(request)

    def authenticated(ctx: Context, read: tuple[Params, str]) -> Payload:
        params, apikey = read
        # An API key is a machine credential: a wrong one counts against the client only.
        attempts.check(ctx.session)
        try:
            actor = TenancyService(ctx.session, ctx.settings).authenticate_boomstream(apikey)
        except Unauthenticated:
            if apikey:
                attempts.failed()
            raise
        for param in required:
            params.required(param.name)
        return work(Call(ctx=ctx, actor=actor, params=params))

    try:
        return await dispatch(
            request,
            read=read,
            work=authenticated,
            answer=answering.ok,
            fail=answering.failed,
            cache_as=cache_as,
        )
    finally:
        await attempts.settle_async()


def _endpoint(method: MethodSpec) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        required = tuple(p for p in method.params if p.required)
        return await _run(
            request,
            method.handler,
            required=required,
            cache_as=method.cache_as,
        )

    endpoint.__name__ = "boomstream_" + method.operation_name
    endpoint.__doc__ = method.summary
    return endpoint


async def unknown_method(request: Request, rest: str) -> Response:
    """Any other path under /api answers a Boomstream failure."""

    def unknown(_call: Call) -> dict[str, Any]:
        raise UnknownMethod(f"Unknown method {rest}")

    return await _run(request, unknown)


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["boomstream"])
    for method in ALL_METHODS:
        endpoint = _endpoint(method)
        for verb in method.verbs:
            router.add_api_route(
                f"/{method.path}",
                endpoint,
                methods=[verb],
                summary=method.summary,
                response_class=Response,
                operation_id=f"boomstream_{method.operation_name}_{verb.lower()}",
                responses=ANSWERS,
                openapi_extra={"parameters": openapi_parameters(method)}
                | ({"requestBody": openapi_request_body(method)} if verb == "POST" else {}),
            )
    router.add_api_route("/{rest:path}", unknown_method, methods=["GET", "POST"], include_in_schema=False)
    return router


def canonical_paths() -> list[str]:
    return [f"{PREFIX}/{method.path}" for method in ALL_METHODS]
