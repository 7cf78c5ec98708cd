"""Iotum enterprise API (`/enterprise_api/…`): one module per resource, one dispatch for all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from podium.domain.access.service import AccessPolicy
from podium.domain.auth.service import AuthService
from podium.edges.iotum.auth import actor_from
from podium.edges.iotum.errors import status_for
from podium.edges.iotum.params import read_body
from podium.edges.iotum.routes import (
    chat,
    companies,
    conferences,
    contacts,
    drive,
    hosts,
    reports,
    subscriptions,
    webhooks,
)
from podium.edges.iotum.routes_base import Answer, Call, Endpoint
from podium.kit.errors import DomainError, InvalidInput
from podium.kit.uow import Context, run_unit_of_work

PREFIX = "/enterprise_api"

ENDPOINTS: tuple[Endpoint, ...] = (
    *companies.ENDPOINTS,
    *subscriptions.ENDPOINTS,
    *hosts.ENDPOINTS,
    *contacts.ENDPOINTS,
    *conferences.ENDPOINTS,
    *reports.ENDPOINTS,
    *drive.ENDPOINTS,
    *chat.ENDPOINTS,
    *webhooks.ENDPOINTS,
)


def _error(error: DomainError) -> JSONResponse:
    status = status_for(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"message": error.message}, status_code=status, headers=headers)


def _endpoint(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            body = await read_body(request, request.app.state.settings.max_body_bytes)

            def work(ctx: Context) -> Answer:
                actor = actor_from(request, body, ctx)
                policy = AccessPolicy(ctx.session, actor)
                policy.require_scope(endpoint.scope)
                return endpoint.handler(Call(ctx=ctx, actor=actor, body=body))

            answer = await run_unit_of_work(request, work)
        except DomainError as error:
            return _error(error)
        if answer.status == 204:
            return Response(status_code=204, headers=answer.headers)
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

    handle.__name__ = "iotum_" + endpoint.path.replace("/", "_")
    handle.__doc__ = endpoint.summary
    return handle


async def authenticate(request: Request) -> JSONResponse:
    """Exchange an API token (or the deprecated email and password) for an auth_token."""
    try:
        body = await read_body(request, request.app.state.settings.max_body_bytes)

        def work(ctx: Context) -> str:
            auth = AuthService(ctx.session, ctx.settings)
            if body.get("api_token"):
                return auth.authenticate_api_token(body.str_("api_token"))
            if body.get("email") is not None or body.get("password") is not None:
                return auth.authenticate_password(
                    body.str_("email", required=True), body.str_("password", required=True)
                )
            raise InvalidInput("api_token is required")

        token = await run_unit_of_work(request, work)
    except DomainError as error:
        return _error(error)
    return JSONResponse({"auth_token": token})


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["iotum"])
    router.add_api_route(
        "/authenticate", authenticate, methods=["POST"], summary="Authenticate", response_class=JSONResponse
    )
    for endpoint in ENDPOINTS:
        for method in endpoint.methods:
            router.add_api_route(
                f"/{endpoint.path}",
                _endpoint(endpoint),
                methods=[method],
                summary=endpoint.summary,
                response_class=JSONResponse,
                operation_id=f"iotum_{endpoint.path.replace('/', '_')}_{method.lower()}",
                openapi_extra={
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}
                },
            )
    return router
