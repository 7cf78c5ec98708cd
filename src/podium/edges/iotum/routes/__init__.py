"""Iotum enterprise API (`/enterprise_api/…`): one module per resource, one dispatch for all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from podium.domain.access.service import AccessPolicy
from podium.domain.auth.service import AuthService
from podium.domain.guard import targets
from podium.edges.common import MethodSpec, Param, dispatch
from podium.edges.guarding import attempts as guarded_attempts
from podium.edges.iotum.auth import actor_from, presents_credential
from podium.edges.iotum.errors import STATUS_BY_CODE, status_for
from podium.edges.iotum.params import Body, read_body
from podium.edges.iotum.routes import (
    chat,
    companies,
    conferences,
    contacts,
    drive,
    hosts,
    reports,
    security,
    subscriptions,
    webhooks,
)
from podium.edges.iotum.routes_base import Answer, Call
from podium.kit.errors import DomainError, InvalidInput, Unauthenticated, retry_after_headers
from podium.kit.openapi import MESSAGE, Responses, answer, errors, json_body, merge, status_set
from podium.kit.uow import Context

PREFIX = "/enterprise_api"

ENDPOINTS: tuple[MethodSpec, ...] = (
    *companies.ENDPOINTS,
    *subscriptions.ENDPOINTS,
    *hosts.ENDPOINTS,
    *contacts.ENDPOINTS,
    *conferences.ENDPOINTS,
    *reports.ENDPOINTS,
    *drive.ENDPOINTS,
    *chat.ENDPOINTS,
    *webhooks.ENDPOINTS,
    *security.ENDPOINTS,
)


def _error(error: DomainError) -> JSONResponse:
    status = status_for(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    headers.update(retry_after_headers(error))
    return JSONResponse({"message": error.message}, status_code=status, headers=headers)


def _answer(answer: Answer) -> Response:
    if answer.status == 204:
        return Response(status_code=204, headers=answer.headers)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def _endpoint(endpoint: MethodSpec) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        attempts = guarded_attempts(request)

        def work(ctx: Context, body: Body) -> Answer:
            # auth_token and OAuth bearer tokens are long random secrets: a wrong one counts
            # against the client only.
            attempts.check(ctx.session)
            try:
                actor = actor_from(request, body, ctx)
            except Unauthenticated:
                if presents_credential(request, body):
                    attempts.failed()
                raise
            AccessPolicy(ctx.session, actor).require_scope(endpoint.scope or "write")
            answer: Answer = endpoint.handler(Call(ctx=ctx, actor=actor, body=body))
            return answer

        try:
            return await dispatch(
                request, read=_read, work=work, answer=_answer, fail=_error, cache_as=endpoint.cache_as
            )
        finally:
            await attempts.settle_async()

    handle.__name__ = "iotum_" + endpoint.operation_name
    handle.__doc__ = endpoint.summary
    return handle


async def _read(request: Request) -> Body:
    return await read_body(request, request.app.state.settings.max_body_bytes)


async def authenticate(request: Request) -> Response:
    """Exchange an API token (or the deprecated email and password) for an auth_token."""
    attempts = guarded_attempts(request)

    def work(ctx: Context, body: Body) -> Answer:
        auth = AuthService(ctx.session, ctx.settings)
        if body.get("api_token"):
            # A machine credential: a wrong one counts against the client only.
            attempts.check(ctx.session)
            try:
                token = auth.authenticate_api_token(body.str_("api_token"))
            except Unauthenticated:
                attempts.failed()
                raise
        elif body.get("email") is not None or body.get("password") is not None:
            email, password = body.str_("email", required=True), body.str_("password", required=True)
            # A person's password: its login is a target, locked for everyone after a few failures
            # (the same target as the web sign-in's).
            attempts.check(ctx.session, targets.login(email))
            try:
                token = auth.authenticate_password(email, password)
            except Unauthenticated:
                attempts.failed(targets.Targets(ctx.session).login(email))
                raise
        else:
            raise InvalidInput("api_token is required")
        return Answer({"auth_token": token})

    try:
        return await dispatch(request, read=_read, work=work, answer=_answer, fail=_error)
    finally:
        await attempts.settle_async()


_FAILURE = json_body(MESSAGE)
_AUTH_TOKEN = Param(
    "auth_token", "The auth_token from authenticate (or header Authorization: Bearer <token>)"
)
_CHALLENGE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
FAILURES = merge(errors(status_set(STATUS_BY_CODE), _FAILURE), answer(401, None, None, _CHALLENGE))
AUTHENTICATE_REQUEST = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "api_token": {"type": "string", "description": "The API token of a host or admin"},
                        "email": {"type": "string", "description": "Deprecated: the person's email"},
                        "password": {"type": "string", "description": "Deprecated: the person's password"},
                    },
                }
            }
        },
    }
}


def _responses(endpoint: MethodSpec) -> Responses:
    """Its success answers (JSON; 204 has no body) and every failure of the error table."""
    successes = [answer(status, None if status == 204 else json_body({})) for status in endpoint.ok_statuses]
    return merge(*successes, FAILURES)


def _request_body(endpoint: MethodSpec) -> dict[str, Any]:
    fields = (_AUTH_TOKEN, *endpoint.params)
    schema = {
        "type": "object",
        "properties": {p.name: p.json_schema for p in fields},
        "required": [p.name for p in fields if p.required],
    }
    # Not required: the credential may be a header, and a method whose fields all have defaults
    # takes an empty body.
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["iotum"])
    router.add_api_route(
        "/authenticate",
        authenticate,
        methods=["POST"],
        summary="Authenticate",
        response_class=JSONResponse,
        responses=merge(answer(200, json_body({"type": "object"})), FAILURES),
        openapi_extra=AUTHENTICATE_REQUEST,
    )
    for endpoint in ENDPOINTS:
        for verb in endpoint.verbs:
            router.add_api_route(
                f"/{endpoint.path}",
                _endpoint(endpoint),
                methods=[verb],
                summary=endpoint.summary,
                response_class=JSONResponse,
                operation_id=f"iotum_{endpoint.operation_name}_{verb.lower()}",
                responses=_responses(endpoint),
                openapi_extra=_request_body(endpoint),
            )
    return router
