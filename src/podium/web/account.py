"""The web app around accounts: single sign-on, login, account page, password links, OAuth 2."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from oauthlib.oauth2 import FatalClientError, OAuth2Error

from podium.domain.attendance.service import AttendanceService
from podium.domain.auth.oauth import OAuthService
from podium.domain.auth.service import AuthService
from podium.domain.chat.service import ChatService
from podium.domain.conferences.scheduling import SchedulingService, local
from podium.domain.guard import targets
from podium.domain.guard.targets import Targets
from podium.domain.hosts.service import HostService
from podium.domain.recordings.service import RecordingService
from podium.kit.clock import utcnow
from podium.kit.errors import (
    DomainError,
    ErrorCode,
    InvalidInput,
    LinkInvalid,
    TooManyAttempts,
    Unauthenticated,
    retry_after_headers,
)
from podium.kit.jsonbody import check_string
from podium.kit.openapi import answer, errors, json_body, merge
from podium.kit.text import ascii_digits
from podium.kit.uow import Context, run_unit_of_work
from podium.models.tenancy import Host
from podium.web import guarding
from podium.web.openapi import REDIRECT, TOO_LARGE, form, page
from podium.web.pages import SECURITY_HEADERS, templates
from podium.web.session import csrf_token, safe_redirect, sign_in, sign_out, signed_in_host_id

router = APIRouter(tags=["web"])

LOGIN_FORM = form(
    {"email": "The host's email", "password": "The host's password", "next": "A page of this server to go to"}
)
PASSWORD_FORM = form(
    {"token": "The token of the emailed link", "password": "The new password", "confirm": "The same again"}
)
CONSENT_FORM = form({"csrf": "The form's token", "decision": "approve, or anything else to deny"})
TOKEN_FORM = form(
    {
        "grant_type": "client_credentials, authorization_code or refresh_token",
        "client_id": "The application's client id (or HTTP Basic)",
        "client_secret": "The application's secret (confidential clients)",
        "code": "The authorization code (authorization_code)",
        "redirect_uri": "The redirect URI the code was issued for (authorization_code)",
        "code_verifier": "The PKCE verifier (authorization_code, public clients)",
        "refresh_token": "The refresh token (refresh_token)",
        "scope": "read, write or both",
    },
    required=("grant_type",),
)
# RFC 6749 section 5: a token, or an error object (401 for a client that failed to authenticate).
OAUTH_ERROR = json_body(
    {
        "type": "object",
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
        "required": ["error"],
    }
)
OAUTH_TOKEN_ANSWERS = merge(
    answer(200, json_body({"type": "object"}), "An access token (RFC 6749 section 5.1)"),
    errors({400, 401, 429}, OAUTH_ERROR),
    TOO_LARGE,
)


def _page(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, template, context, status_code=status, headers=SECURITY_HEADERS | (headers or {})
    )


def _message(
    request: Request, heading: str, message: str, status: int, headers: dict[str, str] | None = None
) -> HTMLResponse:
    return _page(request, "message.html", {"heading": heading, "message": message}, status, headers)


def _refusal(request: Request, heading: str, error: DomainError, status: int) -> HTMLResponse:
    """A refused secret's page: ``status``, or 429 with ``Retry-After`` while the guard refuses."""
    if error.code == ErrorCode.TOO_MANY_ATTEMPTS:
        return _message(request, "Too many attempts", error.message, 429, retry_after_headers(error))
    return _message(request, heading, error.message, status)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


@router.get("/auth", response_class=HTMLResponse, responses=page(redirect=True))
async def single_sign_on(
    request: Request, host_id: str = "", login_token_public_key: str = "", redirect_url: str = ""
) -> Response:
    """Sign a host into the web app with its login token key and redirect (only to this server)."""
    settings = request.app.state.settings
    if not host_id or not login_token_public_key:
        return _message(
            request, "Incomplete sign-in link", "host_id and login_token_public_key are required", 400
        )
    if not ascii_digits(host_id, max_length=9):
        return _message(request, "Invalid sign-in link", "host_id must be a number", 400)
    target = safe_redirect(redirect_url, settings) if redirect_url else "/account"
    if target is None:
        return _message(request, "Invalid sign-in link", "redirect_url must be a page of this server", 400)
    attempts = guarding.attempts(request)

    def work(ctx: Context) -> Host:
        # The login token key is long and random: a wrong one counts against the client's budget.
        attempts.check(ctx.session)
        try:
            return AuthService(ctx.session, ctx.settings).sso_host(int(host_id), login_token_public_key)
        except Unauthenticated:
            attempts.failed()
            raise

    try:
        host = await run_unit_of_work(request, work)
    except DomainError as error:
        return _refusal(request, "Sign-in refused", error, 403)
    finally:
        await attempts.settle_async()
    response = RedirectResponse(target, status_code=303)
    sign_in(response, host.id, settings)
    return response


@router.get("/login", response_class=HTMLResponse, responses=page())
async def login_form(request: Request, next: str = "/account") -> HTMLResponse:
    """Email and password sign-in form."""
    return _page(request, "login.html", {"next": next, "error": ""})


@router.post("/login", response_class=HTMLResponse, responses=page(redirect=True), openapi_extra=LOGIN_FORM)
async def login(request: Request) -> Response:
    """Check the password and sign in."""
    settings = request.app.state.settings
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    target = safe_redirect(str(form.get("next", "")), settings) or "/account"
    attempts = guarding.attempts(request)

    def work(ctx: Context) -> Host:
        check_string(email, "email")  # a NUL would reach the database (PostgreSQL refuses it)
        check_string(password, "password")
        # A person's password: the login is a target, locked for everyone after a few failures.
        attempts.check(ctx.session, targets.login(email))
        try:
            return AuthService(ctx.session, ctx.settings).check_password(email, password)
        except Unauthenticated:
            attempts.failed(Targets(ctx.session).login(email))
            raise

    try:
        host = await run_unit_of_work(request, work)
    except DomainError as error:
        throttled = error.code == ErrorCode.TOO_MANY_ATTEMPTS
        return _page(
            request,
            "login.html",
            {"next": target, "error": error.message},
            429 if throttled else 401,
            retry_after_headers(error),
        )
    finally:
        await attempts.settle_async()
    response = RedirectResponse(target, status_code=303)
    sign_in(response, host.id, settings)
    return response


@router.post("/logout", status_code=303, responses=TOO_LARGE | REDIRECT)
async def logout() -> Response:
    """Sign out of the web app."""
    response = RedirectResponse("/login", status_code=303)
    sign_out(response)
    return response


@router.get("/account", response_class=HTMLResponse, responses=page(redirect=True))
async def account(request: Request) -> Response:
    """The signed-in host's account page."""
    settings = request.app.state.settings
    host_id = signed_in_host_id(request, settings)
    if host_id is None:
        return _login_redirect(request)

    def work(ctx: Context) -> dict[str, Any]:
        host = AuthService(ctx.session, ctx.settings).web_host(host_id)
        view = HostService(ctx.session, ctx.settings).view(host)
        return {
            "host": host,
            "meeting_url": view.meeting_url,
            "plan": view.plan.plan_slug or "none",
            "can_host": view.plan.can_host(),
        }

    try:
        context = await run_unit_of_work(request, work)
    except DomainError:
        response = _login_redirect(request)
        sign_out(response)
        return response
    return _page(request, "account.html", context)


@router.get("/conf/summary/{conference_id}", response_class=HTMLResponse, responses=page(redirect=True))
async def meeting_summary(request: Request, conference_id: int) -> Response:
    """A conference's summary (Iotum meeting_summary_url): times, attendance, chat."""
    settings = request.app.state.settings
    host_id = signed_in_host_id(request, settings)
    if host_id is None:
        return _login_redirect(request)

    def work(ctx: Context) -> dict[str, Any]:
        viewer = AuthService(ctx.session, ctx.settings).web_host(host_id)
        scheduling = SchedulingService(ctx.session, ctx.settings)
        conference = scheduling.visible_to(viewer, conference_id)
        zone = ZoneInfo(conference.time_zone or "UTC")
        usage = AttendanceService(ctx.session).usage([conference])[0]
        start = usage.first_join() or conference.starts_at or conference.created_at
        end = usage.last_leave() or conference.ended_at or scheduling.end_of(conference)
        fmt = "%Y-%m-%d %H:%M"
        return {
            "conference": conference,
            "zone": str(zone),
            "start": local(start, zone).strftime(fmt),
            "end": local(end, zone).strftime(fmt),
            "participants": usage.total_participants(),
            "minutes": usage.total_minutes(utcnow()),
            "attendances": [
                (
                    a.name or a.email,
                    local(a.joined_at, zone).strftime(fmt),
                    local(a.left_at, zone).strftime(fmt) if a.left_at else "still in",
                )
                for a in usage.attendances
            ],
            "chat": ChatService(ctx.session).messages(conference_id=conference.id),
            "recordings": RecordingService(ctx.session, ctx.settings).views([conference.id])[conference.id],
            "query": request.query_params.get("q", "")[:200],
        }

    try:
        context = await run_unit_of_work(request, work)
    except DomainError as error:
        status = 404 if error.code == "not_found" else 403
        return _message(request, "Summary unavailable", error.message, status)
    return _page(request, "summary.html", context)


@router.get("/password/new", response_class=HTMLResponse, responses=page())
async def password_form(request: Request, token: str = "") -> HTMLResponse:
    """Choose a password (from a welcome or reset email)."""
    if not token:
        return _message(request, "Incomplete link", "This link has no token", 400)
    return _page(request, "password.html", {"token": token, "error": ""})


@router.post("/password/new", response_class=HTMLResponse, responses=page(422), openapi_extra=PASSWORD_FORM)
async def password_set(request: Request) -> Response:
    """Set the password; the link works once."""
    form = await request.form()
    token, password = str(form.get("token", "")), str(form.get("password", ""))
    if password != str(form.get("confirm", "")):
        return _page(request, "password.html", {"token": token, "error": "The passwords differ"}, 422)
    attempts = guarding.attempts(request)

    def work(ctx: Context) -> None:
        # The link is signed: a forged one counts against the client's budget.
        attempts.check(ctx.session)
        try:
            HostService(ctx.session, ctx.settings).set_password_with_link(token, password)
        except LinkInvalid:
            attempts.failed()
            raise

    try:
        await run_unit_of_work(request, work)
    except InvalidInput as error:
        return _page(request, "password.html", {"token": token, "error": error.message}, 422)
    except DomainError as error:
        return _refusal(request, "Link not valid", error, 410)
    finally:
        await attempts.settle_async()
    return _message(request, "Password saved", "You can now sign in with your new password", 200)


# --- OAuth 2 ----------------------------------------------------------------------------------


def _oauth_transport(settings: Any) -> None:
    # oauthlib insists on HTTPS; a server whose public URL is plain http (development, tests) says so.
    if settings.public_url.startswith("http://"):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def _oauth_response(headers: dict[str, str], body: str | None, status: int) -> Response:
    return Response(
        content=body or "",
        status_code=status,
        headers=headers,
        media_type=headers.get("Content-Type", "application/json"),
    )


def _oauth_error(
    error: str, description: str, status: int = 400, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"} | (headers or {}),
    )


def _token_request_problem(content_type: str, raw: bytes) -> str | None:
    """What is wrong with a token request's body, said plainly (oauthlib would answer
    ``unsupported_grant_type`` to anything it cannot parse)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or raw.lstrip().startswith((b"{", b"[")):
        return (
            "The token endpoint takes its parameters as application/x-www-form-urlencoded "
            "(RFC 6749 section 4.1.3), not JSON"
        )
    if kind not in ("", "application/x-www-form-urlencoded"):
        return f"Unsupported content type {kind}: send application/x-www-form-urlencoded"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "The request body is not UTF-8"
    try:
        fields = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text.strip()))
    except ValueError:
        return "The request body is not a valid form (name=value pairs joined by &)"
    if not any(name == "grant_type" and value for name, value in fields):
        return "grant_type is required: client_credentials, authorization_code or refresh_token"
    return None


@router.post("/oauth/token", responses=OAUTH_TOKEN_ANSWERS, openapi_extra=TOKEN_FORM)
async def oauth_token(request: Request) -> Response:
    """OAuth 2 token endpoint: client_credentials, authorization_code (PKCE) and refresh_token grants."""
    settings = request.app.state.settings
    _oauth_transport(settings)
    raw = await request.body()
    problem = _token_request_problem(request.headers.get("content-type", ""), raw)
    if problem is not None:
        return _oauth_error("invalid_request", problem)
    body = raw.decode("utf-8")
    uri, headers = str(request.url), dict(request.headers)
    attempts = guarding.attempts(request)

    def work(ctx: Context) -> tuple[dict[str, str], str | None, int]:
        attempts.check(ctx.session)
        result: tuple[dict[str, str], str | None, int] = (
            OAuthService(ctx.session, ctx.settings).server().create_token_response(uri, "POST", body, headers)
        )
        # A wrong client secret, authorization code or refresh token: the client's budget.
        if _oauth_error_code(result[1]) in GUESSED_OAUTH_ERRORS:
            attempts.failed()
        return result

    try:
        answer = await run_unit_of_work(request, work)
    except TooManyAttempts as error:
        return _oauth_error("slow_down", error.message, 429, retry_after_headers(error))
    finally:
        await attempts.settle_async()
    return _oauth_response(*answer)


# Token endpoint errors that mean a secret was wrong (RFC 6749 section 5.2).
GUESSED_OAUTH_ERRORS = frozenset({"invalid_client", "invalid_grant"})


def _oauth_error_code(body: str | None) -> str | None:
    try:
        parsed = json.loads(body or "")
    except ValueError:
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, str) else None


@router.get("/oauth/authorize", response_class=HTMLResponse, responses=page(redirect=True))
async def oauth_authorize_form(request: Request) -> Response:
    """Ask the signed-in host to approve an application (authorization code with PKCE)."""
    settings = request.app.state.settings
    _oauth_transport(settings)
    host_id = signed_in_host_id(request, settings)
    if host_id is None:
        return _login_redirect(request)
    uri, headers = str(request.url), dict(request.headers)

    def work(ctx: Context) -> dict[str, Any]:
        host = AuthService(ctx.session, ctx.settings).web_host(host_id)
        scopes, credentials = (
            OAuthService(ctx.session, ctx.settings)
            .server()
            .validate_authorization_request(uri, "GET", None, headers)
        )
        client = credentials["request"].client
        return {
            "client_name": client.name if client else credentials["client_id"],
            "scopes": scopes,
            "host": host,
            "query": request.url.query,
            "csrf": csrf_token(request, settings),
        }

    try:
        context = await run_unit_of_work(request, work)
    except FatalClientError as error:
        return _message(request, "Invalid authorization request", error.description or error.error, 400)
    except OAuth2Error as error:
        redirect = error.in_uri(error.redirect_uri) if error.redirect_uri else None
        if redirect:
            return RedirectResponse(redirect, status_code=303)
        return _message(request, "Invalid authorization request", error.description or error.error, 400)
    except DomainError:
        return _login_redirect(request)
    return _page(request, "consent.html", context)


@router.post(
    "/oauth/authorize", response_class=HTMLResponse, responses=page(redirect=True), openapi_extra=CONSENT_FORM
)
async def oauth_authorize(request: Request) -> Response:
    """Record the host's decision and send the browser back to the application."""
    settings = request.app.state.settings
    _oauth_transport(settings)
    host_id = signed_in_host_id(request, settings)
    if host_id is None:
        return _login_redirect(request)
    form = await request.form()
    if not secrets_equal(str(form.get("csrf", "")), csrf_token(request, settings)):
        return _message(request, "Request refused", "The form has expired; start again", 403)
    uri, headers = str(request.url), dict(request.headers)
    approved = form.get("decision") == "approve"

    def work(ctx: Context) -> tuple[dict[str, str], str | None, int]:
        AuthService(ctx.session, ctx.settings).web_host(host_id)
        server = OAuthService(ctx.session, ctx.settings).server()
        scopes, credentials = server.validate_authorization_request(uri, "GET", None, headers)
        if not approved:
            raise AccessDenied(credentials["redirect_uri"], credentials.get("state"))
        credentials.pop("request", None)
        credentials["user"] = host_id
        result: tuple[dict[str, str], str | None, int] = server.create_authorization_response(
            uri, "GET", None, headers, scopes=scopes, credentials=credentials
        )
        return result

    try:
        response_headers, _body, _status = await run_unit_of_work(request, work)
    except AccessDenied as denied:
        query = {"error": "access_denied", **({"state": denied.state} if denied.state else {})}
        return RedirectResponse(f"{denied.redirect_uri}?{urlencode(query)}", status_code=303)
    except (OAuth2Error, DomainError) as error:
        message = getattr(error, "description", None) or getattr(error, "message", "Invalid request")
        return _message(request, "Invalid authorization request", str(message), 400)
    return RedirectResponse(response_headers["Location"], status_code=303)


class AccessDenied(Exception):
    def __init__(self, redirect_uri: str, state: str | None) -> None:
        super().__init__("access denied")
        self.redirect_uri = redirect_uri
        self.state = state


def secrets_equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())
