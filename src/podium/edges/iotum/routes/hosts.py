"""Iotum enterprise API: hosts."""

from __future__ import annotations

from podium.domain.hosts.service import HostChanges
from podium.edges.iotum import present
from podium.edges.iotum.params import Body
from podium.edges.iotum.routes_base import MESSAGE_OK, Answer, Call, Endpoint

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


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("host/create", "Create a host", host_create, "write"),
    Endpoint("host/fetch", "A host", host_fetch, "read"),
    Endpoint("host/update", "Update a host", host_update, "write"),
    Endpoint("host/fetch_all", "Hosts of a company", host_fetch_all, "read"),
    Endpoint("host/delete", "Delete a host (202)", host_delete, "write"),
    Endpoint("host/resend_invitation", "Send the welcome email again", host_resend_invitation, "write"),
    Endpoint("host/reset_password", "Send a password reset email", host_reset_password, "write"),
)
