"""Iotum enterprise API, part 1: authenticate, domain, company, subscription, host, contact."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from podium.domain.access.service import AccessPolicy
from podium.domain.auth.service import AuthService
from podium.domain.contacts.service import Book, ContactService
from podium.domain.hosts.service import HostChanges
from podium.domain.outbox.service import enqueue
from podium.domain.subscriptions.service import OMITTED
from podium.edges.iotum import present
from podium.edges.iotum.auth import actor_from
from podium.edges.iotum.conferences import ENDPOINTS as CONFERENCE_ENDPOINTS
from podium.edges.iotum.errors import status_for
from podium.edges.iotum.params import Body, read_body
from podium.edges.iotum.routes_base import MESSAGE_OK, OK, Answer, Call, Endpoint
from podium.kit.errors import DomainError, InvalidInput
from podium.kit.uow import Context, run_unit_of_work
from podium.models.subscription import SubscriptionStatus

PREFIX = "/enterprise_api"


# --- domain and companies -------------------------------------------------------------------


def descendants(call: Call) -> Answer:
    return Answer(present.reseller_tree(call.companies.descendants(call.actor)))


def _company_answer(call: Call, company: Any) -> Answer:
    return Answer(present.company(company, call.companies.host_ids([company])[company.id]))


def company_create(call: Call) -> Answer:
    company = call.companies.create(call.actor, call.body.without("auth_token"))
    return Answer({"id": company.id})


def company_fetch(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    return _company_answer(call, call.policy.company(call.body.id_("company_id")))


def company_update(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    company = call.policy.company(call.body.id_("company_id"))
    fields = {
        k: v
        for k, v in call.body.values.items()
        if k
        in (
            "subdomain",
            "name",
            "partner_id",
            "customer_id",
            "openid_provider",
            "primary_color",
            "accent_color",
            "currency",
        )
    }
    return _company_answer(call, call.companies.update(call.actor, company, fields))


def company_fetch_all(call: Call) -> Answer:
    companies = call.companies.in_scope(call.actor)
    host_ids = call.companies.host_ids(companies)
    return Answer([present.company(c, host_ids[c.id]) for c in companies])


def company_delete(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    call.companies.delete(call.actor, call.policy.company(call.body.id_("company_id")))
    return MESSAGE_OK


# --- products and subscriptions ----------------------------------------------------------------


def fetch_products(call: Call) -> Answer:
    call.policy.require_admin()
    with_description = call.body.bool_("include_description", False)
    products = call.subscriptions.products(call.actor.reseller_id or 0)
    return Answer([present.product(p, description=with_description) for p in products])


def subscription_create(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    switch_plan = (
        OMITTED if not call.body.has("switch_plan") else call.body.int_("switch_plan", required=False)
    )
    call.subscriptions.subscribe(
        call.actor,
        company,
        call.body.str_("slug", required=True),
        switch_plan=switch_plan,
        host_limit=call.body.int_("host_limit", required=False),
        subscribe_all_hosts=call.body.bool_("subscribe_all_hosts", True),
    )
    return OK


def subscription_update(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    call.subscriptions.update(
        call.actor, company, call.body.str_("slug", required=True), host_limit=call.body.id_("host_limit")
    )
    return OK


def _set_status(status: SubscriptionStatus) -> Callable[[Call], Answer]:
    def handler(call: Call) -> Answer:
        call.policy.require_reseller_admin()
        company = call.policy.company(call.body.id_("company_id"))
        call.subscriptions.set_status(call.actor, company, call.body.str_("slug", required=True), status)
        return OK

    return handler


def _set_all(from_status: SubscriptionStatus, to_status: SubscriptionStatus) -> Callable[[Call], Answer]:
    def handler(call: Call) -> Answer:
        call.policy.require_reseller_admin()
        company = call.policy.company(call.body.id_("company_id"))
        # Accepted now, done by the outbox worker: the reference makes these asynchronous.
        enqueue(
            call.ctx.session,
            "job",
            {
                "job": "subscriptions.set_all",
                "company_id": company.id,
                "from": from_status.value,
                "to": to_status.value,
                "actor": call.actor.label,
            },
        )
        return Answer("OK", status=202)

    return handler


def subscription_fetch(call: Call) -> Answer:
    call.policy.require_reseller_admin()
    company = call.policy.company(call.body.id_("company_id"))
    return Answer([present.subscription(s, p) for s, p in call.subscriptions.live(company)])


# --- hosts -------------------------------------------------------------------------------------

HOST_FIELDS = (
    "name",
    "email",
    "password",
    "no_welcome_email",
    "role",
    "openid_sub",
    "moderator_pin",
    "access_code",
    "native_streaming",
    "auto_record",
    "auto_stream",
    "host_initiated_recording",
    "waiting_room",
    "stream_preview",
    "disable_emails",
    "time_format",
    "no_login",
    "locale",
    "country_code",
    "time_zone",
    "subscription_ids",
    "plan_slug",
    "add_on_slugs",
    "public_username",
    "image_url",
)


def _host_changes(body: Body) -> HostChanges:
    return HostChanges({k: v for k, v in body.values.items() if k in HOST_FIELDS})


def host_create(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    host = call.hosts.create(call.actor, company, _host_changes(call.body))
    return Answer(present.host(call.hosts.view(host)))


def host_fetch(call: Call) -> Answer:
    host_id = call.host_id()
    host = call.policy.own_host() if host_id == call.actor.host_id else call.policy.host(host_id)
    return Answer(present.host(call.hosts.view(host)))


def host_update(call: Call) -> Answer:
    host = call.policy.host(call.body.id_("host_id"))
    company = call.policy.company_or_own(host.company_id)
    call.hosts.update(call.actor, company, host, _host_changes(call.body))
    return Answer(present.host(call.hosts.view(host)))


def host_fetch_all(call: Call) -> Answer:
    company = call.policy.company(call.body.int_("company_id", required=False))
    return Answer([present.host_summary(v) for v in call.hosts.views(call.hosts.in_company(company))])


def host_delete(call: Call) -> Answer:
    call.hosts.delete(call.actor, call.policy.host(call.body.id_("host_id")))
    return Answer({"message": "Accepted"}, status=202)


def host_resend_invitation(call: Call) -> Answer:
    call.hosts.resend_invitation(call.actor, call.policy.host(call.body.id_("host_id")))
    return MESSAGE_OK


def host_reset_password(call: Call) -> Answer:
    call.hosts.reset_password(call.actor, call.policy.host(call.body.id_("host_id")))
    return MESSAGE_OK


# --- contacts ----------------------------------------------------------------------------------


def _book(call: Call) -> Book:
    host_id = call.body.int_("host_id", required=False)
    if host_id is not None:
        host = call.policy.host(host_id)
        return Book(call.policy.company_or_own(host.company_id), host)
    company_id = call.body.int_("company_id", required=False)
    # Neither named: one's own company's company-level book, for a company admin (as the reference
    # says) and for a reseller admin alike.
    return Book(call.policy.company_or_own(company_id))


def contact_create(call: Call) -> Answer:
    book = _book(call)
    views = ContactService(call.ctx.session).create(call.actor, book, call.body.get("contacts"))
    return Answer([present.contact(v) for v in views])


def contact_fetch(call: Call) -> Answer:
    book = _book(call)
    service = ContactService(call.ctx.session)
    return Answer(present.contact(service.view(book, service.get(book, call.body.id_("contact_id")))))


def contact_fetch_all(call: Call) -> Answer:
    return Answer([present.contact(v) for v in ContactService(call.ctx.session).list(_book(call))])


def contact_update(call: Call) -> Answer:
    book = _book(call)
    changes = {
        k: v
        for k, v in call.body.values.items()
        if k in ("name", "email", "business_phone", "mobile_phone", "home_phone", "other_phone", "time_zone")
    }
    view = ContactService(call.ctx.session).update(call.actor, book, call.body.id_("contact_id"), changes)
    return Answer(present.contact(view))


def contact_delete(call: Call) -> Answer:
    book = _book(call)
    ContactService(call.ctx.session).delete(call.actor, book, call.body.id_("contact_id"))
    return MESSAGE_OK


# --- the table ---------------------------------------------------------------------------------


PART_ONE: tuple[Endpoint, ...] = (
    Endpoint("domain/descendants", "Sub-resellers of the reseller", descendants, "read"),
    Endpoint("company/create", "Create a company", company_create, "write"),
    Endpoint("company/fetch", "A company", company_fetch, "read"),
    Endpoint("company/update", "Update a company", company_update, "write"),
    Endpoint("company/fetch_all", "All companies of the reseller tree", company_fetch_all, "read"),
    Endpoint("company/delete", "Delete a company", company_delete, "write"),
    Endpoint("subscription/fetch_products", "Plans and add-ons", fetch_products, "read"),
    Endpoint("subscription/create", "Subscribe a company to a product", subscription_create, "write"),
    Endpoint(
        "subscription/update",
        "Change a subscription's host limit",
        subscription_update,
        "write",
        ("PUT", "POST"),
    ),
    Endpoint(
        "subscription/suspend", "Suspend a subscription", _set_status(SubscriptionStatus.SUSPENDED), "write"
    ),
    Endpoint(
        "subscription/reactivate",
        "Reactivate a subscription",
        _set_status(SubscriptionStatus.ACTIVE),
        "write",
    ),
    Endpoint(
        "subscription/cancel",
        "Cancel a subscription (final)",
        _set_status(SubscriptionStatus.CANCELLED),
        "write",
    ),
    Endpoint(
        "subscription/suspend_all",
        "Suspend every active subscription (202, background)",
        _set_all(SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED),
        "write",
    ),
    Endpoint(
        "subscription/reactivate_all",
        "Reactivate every suspended subscription (202, background)",
        _set_all(SubscriptionStatus.SUSPENDED, SubscriptionStatus.ACTIVE),
        "write",
    ),
    Endpoint("subscription/fetch", "A company's subscriptions", subscription_fetch, "read"),
    Endpoint("host/create", "Create a host", host_create, "write"),
    Endpoint("host/fetch", "A host", host_fetch, "read"),
    Endpoint("host/update", "Update a host", host_update, "write"),
    Endpoint("host/fetch_all", "Hosts of a company", host_fetch_all, "read"),
    Endpoint("host/delete", "Delete a host (202)", host_delete, "write"),
    Endpoint("host/resend_invitation", "Send the welcome email again", host_resend_invitation, "write"),
    Endpoint("host/reset_password", "Send a password reset email", host_reset_password, "write"),
    Endpoint("contact/create", "Create contacts of a host or company", contact_create, "write"),
    Endpoint("contact/fetch", "A contact", contact_fetch, "read"),
    Endpoint("contact/fetch_all", "Contacts of a host or company", contact_fetch_all, "read"),
    Endpoint("contact/update", "Update a contact", contact_update, "write"),
    Endpoint("contact/delete", "Delete a contact", contact_delete, "write"),
)


ENDPOINTS: tuple[Endpoint, ...] = PART_ONE + CONFERENCE_ENDPOINTS


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
