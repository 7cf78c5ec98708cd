"""Boomstream edge: parses every call style, authenticates, runs the method, renders the envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from podium.edges.boomstream.methods import Call, Method, openapi_parameters
from podium.edges.boomstream.routes.conference import METHODS as CONFERENCE_METHODS
from podium.edges.boomstream.routes.media import METHODS as MEDIA_METHODS
from podium.edges.boomstream.routes.ppv import METHODS as PPV_METHODS
from podium.edges.boomstream.routes.stats import METHODS as STATS_METHODS
from podium.edges.common import Params, read_params
from podium.kit.errors import DomainError, InvalidInput
from podium.kit.uow import Context, run_unit_of_work

PREFIX = "/api"
ALL_METHODS: tuple[Method, ...] = (*CONFERENCE_METHODS, *MEDIA_METHODS, *PPV_METHODS, *STATS_METHODS)


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


def _answer(
    request: Request, run: Callable[[Params], Awaitable[dict[str, Any]]]
) -> Callable[[], Awaitable[Response]]:
    async def respond() -> Response:
        request_uri = masked_request_uri(
            request.scope.get("podium.raw_path", request.url.path), request.url.query
        )
        fmt, version = _guess_format(request), DEFAULT_VERSION
        try:
            settings: Settings = request.app.state.settings
            params = await read_params(request, settings)
            fmt = _format(params)
            version = _version(params)
            payload = await run(params)
        except DomainError as error:
            body = envelope({}, ok=False, message=error.message, version=version, request_uri=request_uri)
            return render(body, fmt, status_for(error))
        return render(envelope(payload, ok=True, message=None, version=version, request_uri=request_uri), fmt)

    return respond


def _endpoint(method: Method) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        async def run(params: Params) -> dict[str, Any]:
            apikey = apikey_from(request, params)

            def work(ctx: Context) -> dict[str, Any]:
                actor = TenancyService(ctx.session).authenticate_boomstream(apikey)
                for param in method.params:
                    if param.required:
                        params.required(param.name)
                return method.handler(Call(ctx=ctx, actor=actor, params=params))

            return await run_unit_of_work(request, work)

        return await _answer(request, run)()

    endpoint.__name__ = "boomstream_" + method.path.replace("/", "_")
    endpoint.__doc__ = method.summary
    return endpoint


async def unknown_method(request: Request, rest: str) -> Response:
    """Any other path under /api answers a Boomstream failure."""

    async def run(_params: Params) -> dict[str, Any]:
        raise UnknownMethod(f"Unknown method {rest}")

    return await _answer(request, run)()


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["boomstream"])
    for method in ALL_METHODS:
        endpoint = _endpoint(method)
        for verb in ("GET", "POST"):
            router.add_api_route(
                f"/{method.path}",
                endpoint,
                methods=[verb],
                summary=method.summary,
                response_class=Response,
                operation_id=f"boomstream_{method.path.replace('/', '_')}_{verb.lower()}",
                openapi_extra={"parameters": openapi_parameters(method)},
            )
    router.add_api_route("/{rest:path}", unknown_method, methods=["GET", "POST"], include_in_schema=False)
    return router


def canonical_paths() -> list[str]:
    return [f"{PREFIX}/{method.path}" for method in ALL_METHODS]
