"""The operator console (``/console``): the web sign-in's host, its role's pages, the services' rules.

An edge like the others: each page reads the signed-in host, makes its actor and calls the domain
services, which check access themselves (a plain host asking for an admin page gets their
``Forbidden``, shown as a 403 page). Forms post with the session's CSRF token (as ``/oauth/authorize``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from podium.domain.actor import Actor
from podium.domain.attendance.service import AttendanceService
from podium.domain.auth.service import AuthService
from podium.domain.conferences.scheduling import CONSOLE_KINDS, SchedulingService
from podium.domain.hosts.schemas import HostChanges
from podium.domain.hosts.service import HostService
from podium.domain.media.service import MediaService
from podium.domain.paywall.service import PaywallService
from podium.domain.recordings.service import RecordingService
from podium.domain.stats.service import console_stats
from podium.domain.subscriptions.service import HostPlan, SubscriptionService
from podium.domain.tenancy.companies import CompanyService
from podium.domain.tenancy.credentials import CredentialService, credential_kind
from podium.domain.tenancy.service import IssuedSecret
from podium.domain.webhooks.service import WebhookService
from podium.kit.clock import utcnow
from podium.kit.errors import DomainError, ErrorCode
from podium.kit.unset import UNSET
from podium.kit.uow import Context, run_unit_of_work
from podium.models.subscription import SubscriptionStatus
from podium.models.tenancy import Host, Role
from podium.web.errors import status_for
from podium.web.openapi import form, json_call, page
from podium.web.pages import SECURITY_HEADERS, templates
from podium.web.session import csrf_token, signed_in_host_id

router = APIRouter(tags=["console"])

PAGE_SIZE = 50
CSRF_FORM = form({"csrf": "The form's token"}, required=("csrf",))
MEMBER_FORM = form({"csrf": "The form's token", "member": "The room connection's id"}, required=("csrf",))
UPLOAD_FORM = form({"csrf": "The form's token", "title": "The media's title", "folder": "A folder code"})
# The console's sections: (path, label, admins only).
HOST_FORM = form(
    {
        "csrf": "The form's token",
        "name": "The host's name",
        "email": "The host's email (its sign-in)",
        "role": "HOST, COMPANY_ADMIN or RESELLER_ADMIN",
        "plan_slug": "The plan to put the host on (empty: the company's first plan)",
    },
    required=("csrf", "name", "email"),
)
CREDENTIAL_FORM = form(
    {
        "csrf": "The form's token",
        "company": "The company's id",
        "kind": "boomstream_apikey, iotum_api_token or liveminutes",
        "host_id": "The admin host an Iotum API token acts as",
    },
    required=("csrf", "company", "kind"),
)
PLAN_FORM = form(
    {"csrf": "The form's token", "plan_slug": "The plan to move the host to"}, required=("csrf",)
)
SECTIONS = (
    ("meetings", "Meetings", False),
    ("media", "Media", True),
    ("stats", "Statistics", True),
    ("webhooks", "Webhooks", True),
    ("companies", "Companies", True),
    ("credentials", "API keys", True),
    ("ppv", "Pay-per-view", True),
)


@dataclass(frozen=True)
class Viewer:
    host: Host
    actor: Actor


Work = Callable[[Context, Viewer], dict[str, Any]]


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


def _viewer(ctx: Context, host_id: int) -> Viewer:
    auth = AuthService(ctx.session, ctx.settings)
    host = auth.web_host(host_id)
    return Viewer(host, auth.actor_for_host(host, "web"))


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(
        request, f"console/{template}", context, status_code=status, headers=SECURITY_HEADERS
    )


def _shell(request: Request, viewer: Viewer | None, section: str) -> dict[str, Any]:
    admin = viewer is not None and viewer.actor.is_admin
    return {
        "viewer": {"name": viewer.host.name, "email": viewer.host.email} if viewer else None,
        "role": viewer.host.role.value if viewer else "",
        "section": section,
        "sections": [(path, label) for path, label, admins in SECTIONS if admin or not admins],
        "csrf": csrf_token(request, request.app.state.settings),
    }


async def _page(request: Request, section: str, template: str, work: Work) -> Response:
    """Run ``work`` for the signed-in host and render ``template``; refusals become pages."""
    host_id = signed_in_host_id(request, request.app.state.settings)
    if host_id is None:
        return _login_redirect(request)
    # The shell (name, role, sections) is read before the work, so a refusal's page has it too.
    shells: list[dict[str, Any]] = []

    def run(ctx: Context) -> dict[str, Any]:
        viewer = _viewer(ctx, host_id)
        shells.append(_shell(request, viewer, section))
        return {**shells[0], **work(ctx, viewer)}

    try:
        context = await run_unit_of_work(request, run)
    except DomainError as error:
        if error.code == ErrorCode.UNAUTHENTICATED:
            return _login_redirect(request)
        status = status_for(error)
        shell = shells[0] if shells else _shell(request, None, section)
        heading = "Not allowed" if status == 403 else "Unavailable"
        return _render(
            request, "refused.html", {**shell, "heading": heading, "message": error.message}, status
        )
    return _render(request, template, context)


async def _post(request: Request, work: Callable[[Context, Viewer, dict[str, str]], str]) -> Response:
    """A console form: the CSRF token checked, ``work`` run, then back to the page it names."""
    settings = request.app.state.settings
    host_id = signed_in_host_id(request, settings)
    if host_id is None:
        return _login_redirect(request)
    fields = {k: str(v) for k, v in (await request.form()).items()}
    if not hmac.compare_digest(fields.get("csrf", "").encode(), csrf_token(request, settings).encode()):
        return _render(
            request,
            "refused.html",
            {**_shell(request, None, ""), "heading": "Request refused", "message": "The form has expired"},
            403,
        )

    def run(ctx: Context) -> str:
        return work(ctx, _viewer(ctx, host_id), fields)

    try:
        target = await run_unit_of_work(request, run)
    except DomainError as error:
        if error.code == ErrorCode.UNAUTHENTICATED:
            return _login_redirect(request)
        return _render(
            request,
            "refused.html",
            {**_shell(request, None, ""), "heading": "Not done", "message": error.message},
            status_for(error),
        )
    return RedirectResponse(target, status_code=303)


async def _answer(
    request: Request,
    section: str,
    template: str,
    work: Callable[[Context, Viewer, dict[str, str]], dict[str, Any]],
) -> Response:
    """A console form whose answer is a page of its own (a secret shown once), not a redirect."""
    settings = request.app.state.settings
    host_id = signed_in_host_id(request, settings)
    if host_id is None:
        return _login_redirect(request)
    fields = {k: str(v) for k, v in (await request.form()).items()}
    if not hmac.compare_digest(fields.get("csrf", "").encode(), csrf_token(request, settings).encode()):
        return _render(
            request,
            "refused.html",
            {**_shell(request, None, ""), "heading": "Request refused", "message": "The form has expired"},
            403,
        )

    def run(ctx: Context) -> dict[str, Any]:
        viewer = _viewer(ctx, host_id)
        return {**_shell(request, viewer, section), **work(ctx, viewer, fields)}

    try:
        context = await run_unit_of_work(request, run)
    except DomainError as error:
        if error.code == ErrorCode.UNAUTHENTICATED:
            return _login_redirect(request)
        return _render(
            request,
            "refused.html",
            {**_shell(request, None, ""), "heading": "Not done", "message": error.message},
            status_for(error),
        )
    return _render(request, template, context)


def _int_field(fields: dict[str, str], name: str) -> int | None:
    raw = fields.get(name, "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return max(1, min(int(raw), 100_000)) if raw.isdigit() else 1


# --- the shell -------------------------------------------------------------------------------


@router.get("/console", response_class=HTMLResponse, responses=page(redirect=True))
async def console_home(request: Request) -> Response:
    """The console's home: who is signed in, and the sections of their role."""

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        scheduling = SchedulingService(ctx.session, ctx.settings)
        counts = {kind: scheduling.console_meetings(viewer.actor, kind, limit=1)[1] for kind in CONSOLE_KINDS}
        return {"counts": counts}

    return await _page(request, "home", "home.html", work)


# --- meetings --------------------------------------------------------------------------------


@router.get("/console/meetings", response_class=HTMLResponse, responses=page(redirect=True))
async def console_meetings(request: Request, kind: str = "live") -> Response:
    """Upcoming, live or past meetings the signed-in host may see, a page at a time."""
    number = _page_number(request)

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        scheduling = SchedulingService(ctx.session, ctx.settings)
        rows, total = scheduling.console_meetings(
            viewer.actor, kind, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
        )
        usage: list[Any] = list(AttendanceService(ctx.session).usage(rows)) if kind != "upcoming" else []
        usage = usage or [None] * len(rows)
        now = utcnow()
        return {
            "kind": kind,
            "kinds": CONSOLE_KINDS,
            "meetings": [
                {
                    "conference": c,
                    "participants": u.total_participants() if u else None,
                    "minutes": u.total_minutes(now) if u else None,
                }
                for c, u in zip(rows, usage, strict=True)
            ],
            "page": number,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "total": total,
        }

    return await _page(request, "meetings", "meetings.html", work)


@router.get("/console/meetings/{conference_id}", response_class=HTMLResponse, responses=page(redirect=True))
async def console_meeting(request: Request, conference_id: int) -> Response:
    """One meeting: who is in now (with end, mute and remove), attendance, recordings, transcripts."""
    hub = getattr(request.app.state, "room_hub", None)
    # Who is in the room now comes from the rooms' presence (every server process's sockets); it is
    # shown only once the service has let the viewer see the meeting.
    members = await hub.members(conference_id) if hub is not None else []

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        conference = SchedulingService(ctx.session, ctx.settings).console_meeting(viewer.actor, conference_id)
        usage = AttendanceService(ctx.session).usage([conference])[0]
        recordings = RecordingService(ctx.session, ctx.settings).views([conference.id])[conference.id]
        return {
            "conference": conference,
            "live": conference.started_at is not None and conference.ended_at is None,
            "attendances": usage.attendances,
            "participants": usage.total_participants(),
            "minutes": usage.total_minutes(utcnow()),
            "recordings": recordings,
            "members": [m for m in members if not m.waiting],
            "waiting": [m for m in members if m.waiting],
        }

    return await _page(request, "meetings", "meeting.html", work)


@router.post(
    "/console/meetings/{conference_id}/end",
    response_class=HTMLResponse,
    responses=page(redirect=True),
    openapi_extra=CSRF_FORM,
)
async def console_end(request: Request, conference_id: int) -> Response:
    """End a live meeting: everyone leaves and the room closes."""

    def work(ctx: Context, viewer: Viewer, _fields: dict[str, str]) -> str:
        SchedulingService(ctx.session, ctx.settings).console_end(viewer.actor, conference_id)
        return f"/console/meetings/{conference_id}"

    return await _post(request, work)


@router.post(
    "/console/meetings/{conference_id}/{order}",
    response_class=HTMLResponse,
    responses=page(redirect=True),
    openapi_extra=MEMBER_FORM,
)
async def console_moderate(request: Request, conference_id: int, order: str) -> Response:
    """Mute or remove someone in a live meeting (the room's own moderator commands)."""
    if order not in ("mute", "remove"):
        return _render(
            request,
            "refused.html",
            {**_shell(request, None, ""), "heading": "Unavailable", "message": "No such action"},
            404,
        )
    hub = request.app.state.room_hub
    names: list[str] = []

    def work(ctx: Context, viewer: Viewer, _fields: dict[str, str]) -> str:
        SchedulingService(ctx.session, ctx.settings).console_meeting(viewer.actor, conference_id)
        names.append(viewer.host.name or viewer.host.email)
        return f"/console/meetings/{conference_id}"

    response = await _post(request, work)
    if names:
        member = await hub.find(conference_id, str((await request.form()).get("member", "")))
        if member is not None:
            await hub.order(member, order, names[0])
    return response


# --- media -----------------------------------------------------------------------------------


@router.get("/console/media", response_class=HTMLResponse, responses=page(redirect=True))
async def console_media(request: Request, folder: str = "") -> Response:
    """The media library: upload by drag-and-drop, transcoding state, posters, folders."""
    number = _page_number(request)

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        library = MediaService(ctx.session, ctx.settings).console_library(
            viewer.actor, folder_code=folder, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
        )
        return {
            "library": library,
            "folder": folder,
            "page": number,
            "pages": max(1, -(-library.total // PAGE_SIZE)),
        }

    return await _page(request, "media", "media.html", work)


@router.post("/console/media/upload", responses=json_call(201), openapi_extra=UPLOAD_FORM)
async def console_media_upload(request: Request) -> Response:
    """A new media for an upload: its code and the signed upload and progress URLs (JSON)."""
    settings = request.app.state.settings
    host_id = signed_in_host_id(request, settings)
    if host_id is None:
        return JSONResponse({"message": "Sign in first", "code": "unauthenticated"}, status_code=401)
    fields = {k: str(v) for k, v in (await request.form()).items()}
    if not hmac.compare_digest(fields.get("csrf", "").encode(), csrf_token(request, settings).encode()):
        return JSONResponse({"message": "The page has expired", "code": "forbidden"}, status_code=403)

    def work(ctx: Context) -> dict[str, str]:
        viewer = _viewer(ctx, host_id)
        media, upload, progress = MediaService(ctx.session, ctx.settings).console_upload(
            viewer.actor, title=fields.get("title", "")[:255], folder_code=fields.get("folder", "")
        )
        return {"code": media.code, "upload_url": upload, "progress_url": progress}

    try:
        answer = await run_unit_of_work(request, work)
    except DomainError as error:
        return JSONResponse(
            {"message": error.message, "code": error.code.value}, status_code=status_for(error)
        )
    return JSONResponse(answer, status_code=201)


# --- statistics ------------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT = 640, 180


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str
    x: float
    y: float
    width: float
    height: float


def bars(
    points: Sequence[tuple[str, float, str]], width: int = CHART_WIDTH, height: int = CHART_HEIGHT
) -> list[Bar]:
    """Bars of an SVG chart, one per (label, value, shown value), scaled to the largest value."""
    if not points:
        return []
    top = max(v for _, v, _ in points) or 1
    step = width / len(points)
    out = []
    for n, (label, value, shown) in enumerate(points):
        h = round(value / top * (height - 20), 2)
        out.append(
            Bar(label, value, shown, round(n * step + 2, 2), round(height - h, 2), round(step - 4, 2), h)
        )
    return out


def _minutes(ms: int) -> str:
    return f"{ms / 60000:.1f} min"


def _day(d: date) -> str:
    return d.strftime("%m-%d")


@router.get("/console/stats", response_class=HTMLResponse, responses=page(redirect=True))
async def console_statistics(request: Request, days: int = 14) -> Response:
    """Charts (server-drawn SVG) of viewing time and viewers over time, by media and by country."""

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        stats = console_stats(ctx.session, ctx.settings, viewer.actor, days=days)
        return {
            "days": days,
            "stats": stats,
            "width": CHART_WIDTH,
            "height": CHART_HEIGHT,
            "watched": bars([(_day(d), ms, _minutes(ms)) for d, ms in stats.watched_by_day]),
            "viewers": bars([(_day(d), n, str(n)) for d, n in stats.viewers_by_day]),
            "by_media": bars([(title or code, ms, _minutes(ms)) for code, title, ms in stats.by_media]),
            "by_country": bars(
                [(country, n, f"{n} · {_minutes(ms)}") for country, n, ms in stats.by_country]
            ),
        }

    return await _page(request, "stats", "stats.html", work)


# --- webhooks --------------------------------------------------------------------------------


@router.get("/console/webhooks", response_class=HTMLResponse, responses=page(redirect=True))
async def console_webhooks(request: Request) -> Response:
    """Webhook endpoints and the delivery log, with a retry for a delivery that failed for good."""
    number = _page_number(request)

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        webhooks = WebhookService(ctx.session)
        return {
            "endpoints": webhooks.endpoints(viewer.actor, None),
            "log": webhooks.console_log(viewer.actor, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE),
            "page": number,
        }

    return await _page(request, "webhooks", "webhooks.html", work)


@router.post(
    "/console/webhooks/deliveries/{delivery_id}/retry",
    response_class=HTMLResponse,
    responses=page(redirect=True),
    openapi_extra=CSRF_FORM,
)
async def console_retry(request: Request, delivery_id: int) -> Response:
    """Deliver a failed webhook once more, now."""

    def work(ctx: Context, viewer: Viewer, _fields: dict[str, str]) -> str:
        WebhookService(ctx.session).retry(viewer.actor, delivery_id)
        return "/console/webhooks"

    return await _post(request, work)


# --- companies and hosts -----------------------------------------------------------------------


def _host_status(host: Host, plan: HostPlan | None) -> str:
    """How a host stands: whether it can sign in, and whether its plan lets it host."""
    if host.no_login:
        status = "single sign-on only"
    elif host.password_hash is None:
        status = "invited"
    else:
        status = "active"
    if plan is None or plan.plan_slug is None:
        return f"{status} · no plan"
    if not plan.can_host():
        return f"{status} · plan suspended"
    return status


@router.get("/console/companies", response_class=HTMLResponse, responses=page(redirect=True))
async def console_companies(request: Request) -> Response:
    """The companies an admin looks after: a reseller admin's tree, a company admin's own."""

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        companies = CompanyService(ctx.session, ctx.settings)
        rows = companies.looked_after(viewer.actor)
        hosts = companies.host_ids(rows)
        return {"companies": [(c, len(hosts.get(c.id, []))) for c in rows]}

    return await _page(request, "companies", "companies.html", work)


@router.get("/console/companies/{company_id}", response_class=HTMLResponse, responses=page(redirect=True))
async def console_company(request: Request, company_id: int) -> Response:
    """One company: its hosts with plan, role and status; its subscriptions with their host limits."""

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        company = CompanyService(ctx.session, ctx.settings).named(viewer.actor, company_id)
        subscriptions = SubscriptionService(ctx.session)
        usage = subscriptions.usage(viewer.actor, company.id)
        hosts = HostService(ctx.session, ctx.settings).in_company(viewer.actor, company.id)
        plans = subscriptions.host_plans(hosts)
        roles = [r.value for r in Role if viewer.actor.is_reseller_admin or r != Role.RESELLER_ADMIN]
        return {
            "company": company,
            "usage": usage,
            "hosts": [
                {
                    "host": h,
                    "plan": plans[h.id].plan_slug if h.id in plans else None,
                    "add_ons": plans[h.id].add_on_slugs if h.id in plans else [],
                    "status": _host_status(h, plans.get(h.id)),
                }
                for h in hosts
            ],
            "plans": [u.product.slug for u in usage if u.product.is_plan],
            "roles": roles,
            "active": SubscriptionStatus.ACTIVE,
        }

    return await _page(request, "companies", "company.html", work)


@router.post(
    "/console/companies/{company_id}/hosts",
    response_class=HTMLResponse,
    responses=page(redirect=True),
    openapi_extra=HOST_FORM,
)
async def console_create_host(request: Request, company_id: int) -> Response:
    """Create a host in the company (the rules of the Iotum ``host/create``); a welcome email goes out."""

    def work(ctx: Context, viewer: Viewer, fields: dict[str, str]) -> str:
        company = CompanyService(ctx.session, ctx.settings).named(viewer.actor, company_id)
        plan = fields.get("plan_slug", "").strip()
        changes = HostChanges(
            name=fields.get("name", ""),
            email=fields.get("email", ""),
            role=fields.get("role", "") or Role.HOST,
            plan_slug=plan if plan else UNSET,
        )
        HostService(ctx.session, ctx.settings).create(viewer.actor, company.id, changes)
        return f"/console/companies/{company.id}"

    return await _post(request, work)


@router.post(
    "/console/companies/{company_id}/hosts/{host_id}/plan",
    response_class=HTMLResponse,
    responses=page(redirect=True),
    openapi_extra=PLAN_FORM,
)
async def console_host_plan(request: Request, company_id: int, host_id: int) -> Response:
    """Move a host to another of the company's plans (the Iotum ``host/update`` with ``plan_slug``)."""

    def work(ctx: Context, viewer: Viewer, fields: dict[str, str]) -> str:
        company = CompanyService(ctx.session, ctx.settings).named(viewer.actor, company_id)
        HostService(ctx.session, ctx.settings).update(
            viewer.actor, host_id, HostChanges(plan_slug=fields.get("plan_slug", ""))
        )
        return f"/console/companies/{company.id}"

    return await _post(request, work)


# --- API credentials -----------------------------------------------------------------------------


def _secret(issued: IssuedSecret, company_id: int, action: str) -> dict[str, Any]:
    credential = issued.credential
    return {
        "company_id": company_id,
        "action": action,
        "credential": credential,
        "secret": issued.secret,
        "public_id": issued.public_id or credential.public_id,
    }


@router.get("/console/credentials", response_class=HTMLResponse, responses=page(redirect=True))
async def console_credentials(request: Request, company: int | None = None) -> Response:
    """A company's API credentials (Boomstream key, Iotum tokens, LiveMinutes accounts): issue,
    rotate, revoke; a list shows a fingerprint, never a secret."""

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        company_id = company if company is not None else viewer.actor.company_id
        named = CompanyService(ctx.session, ctx.settings).named(viewer.actor, company_id)
        views = CredentialService(ctx.session, ctx.settings).in_company(viewer.actor, named.id)
        hosts = HostService(ctx.session, ctx.settings).in_company(viewer.actor, named.id)
        return {
            "company": named,
            "credentials": views,
            "admins": [h for h in hosts if h.role in (Role.RESELLER_ADMIN, Role.COMPANY_ADMIN)],
        }

    return await _page(request, "credentials", "credentials.html", work)


@router.post(
    "/console/credentials",
    response_class=HTMLResponse,
    responses=page(redirect=True),
    openapi_extra=CREDENTIAL_FORM,
)
async def console_issue_credential(request: Request) -> Response:
    """Issue a credential; its secret is on this answer only."""

    def work(ctx: Context, viewer: Viewer, fields: dict[str, str]) -> dict[str, Any]:
        company_id = _int_field(fields, "company") or viewer.actor.company_id
        issued = CredentialService(ctx.session, ctx.settings).issue(
            viewer.actor,
            company_id,
            credential_kind(fields.get("kind", "")),
            host_id=_int_field(fields, "host_id"),
        )
        return _secret(issued, issued.credential.company_id, "issued")

    return await _answer(request, "credentials", "credential-secret.html", work)


@router.post(
    "/console/credentials/{credential_id}/rotate",
    response_class=HTMLResponse,
    responses=page(redirect=True),
    openapi_extra=CSRF_FORM,
)
async def console_rotate_credential(request: Request, credential_id: int) -> Response:
    """Give a credential a new secret (on this answer only); the old one stops working."""

    def work(ctx: Context, viewer: Viewer, _fields: dict[str, str]) -> dict[str, Any]:
        issued = CredentialService(ctx.session, ctx.settings).rotate(viewer.actor, credential_id)
        return _secret(issued, issued.credential.company_id, "rotated")

    return await _answer(request, "credentials", "credential-secret.html", work)


@router.post(
    "/console/credentials/{credential_id}/revoke",
    response_class=HTMLResponse,
    responses=page(redirect=True),
    openapi_extra=CSRF_FORM,
)
async def console_revoke_credential(request: Request, credential_id: int) -> Response:
    """Revoke a credential for good."""

    def work(ctx: Context, viewer: Viewer, _fields: dict[str, str]) -> str:
        credential = CredentialService(ctx.session, ctx.settings).revoke(viewer.actor, credential_id)
        return f"/console/credentials?company={credential.company_id}"

    return await _post(request, work)


# --- pay-per-view ------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


@router.get("/console/ppv", response_class=HTMLResponse, responses=page(redirect=True))
async def console_ppv(request: Request, company: int | None = None) -> Response:
    """A company's pay-per-view subscriptions with their buyers, sales and revenue (read-only)."""

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        company_id = company if company is not None else viewer.actor.company_id
        named = CompanyService(ctx.session, ctx.settings).named(viewer.actor, company_id)
        totals = PaywallService(ctx.session, ctx.settings).company_totals(viewer.actor, named.id)
        revenue = [t.revenue for t in totals if t.revenue is not None]
        return {
            "company": named,
            "paywalls": totals,
            "buyers": sum(t.buyers for t in totals),
            "sales": sum(t.sales for t in totals),
            "revenue": _money(sum(revenue, Decimal(0))),
            "money": _money,
        }

    return await _page(request, "ppv", "ppv.html", work)


@router.get("/console/ppv/{code}", response_class=HTMLResponse, responses=page(redirect=True))
async def console_paywall(request: Request, code: str, company: int | None = None) -> Response:
    """One pay-per-view subscription: its buyers and every sale, with totals (read-only)."""

    def work(ctx: Context, viewer: Viewer) -> dict[str, Any]:
        company_id = company if company is not None else viewer.actor.company_id
        named = CompanyService(ctx.session, ctx.settings).named(viewer.actor, company_id)
        totals, sales = PaywallService(ctx.session, ctx.settings).company_sales(viewer.actor, named.id, code)
        return {
            "company": named,
            "totals": totals,
            "buyers": [s for s in sales if s.live],
            "sales": sales,
            "money": _money,
        }

    return await _page(request, "ppv", "paywall.html", work)
