"""Iotum enterprise API: hosts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podium.domain.hosts.schemas import (
    TIME_FORMAT_FLAGS,
    HostChanges,
    StreamPreview,
    check_disable_email_keys,
    check_time_format_keys,
)
from podium.edges.iotum import present
from podium.edges.iotum.params import Body
from podium.edges.iotum.routes_base import MESSAGE_OK, Answer, Call, Endpoint
from podium.kit import coerce
from podium.kit.errors import InvalidInput

# --- reading the loose JSON of a host into HostChanges -------------------------------------------


def _code(field: str, value: Any) -> str | None:
    """An access code or PIN as sent: digits as a string or a number; null draws a fresh one."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(coerce.to_int(field, value))


def _optional_text(field: str, value: Any) -> str | None:
    return None if value is None else coerce.to_text(field, value)


def _text_or_none(field: str, value: Any) -> str | None:
    """Empty (or false) means "not given" (a password, a plan slug)."""
    return coerce.to_text(field, value) if value else None


def _stream_preview(value: Any) -> StreamPreview | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput("stream_preview must be an object", field="stream_preview")
    return StreamPreview(
        duration=coerce.to_int("stream_preview.duration", value.get("duration", 60)),
        interval=coerce.to_int("stream_preview.interval", value.get("interval", 300)),
        image_preview=coerce.to_bool("stream_preview.image_preview", value.get("image_preview", False)),
    )


def _disable_emails(value: Any) -> dict[str, bool]:
    check_disable_email_keys(value)
    return {k: coerce.to_bool(f"disable_emails.{k}", v) for k, v in value.items()}


def _time_format(value: Any) -> dict[str, bool | str]:
    check_time_format_keys(value)
    return {
        key: coerce.to_bool(f"time_format.{key}", item)
        if key in TIME_FORMAT_FLAGS
        else coerce.to_text(f"time_format.{key}", item)
        for key, item in value.items()
    }


def _str_tuple(field: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidInput(f"{field} must be an array of strings", field=field)
    return tuple(coerce.to_text(field, item) for item in value)


_READERS: dict[str, Callable[[str, Any], Any]] = {
    "name": coerce.to_text,
    "email": coerce.to_text,
    "password": _text_or_none,
    "no_welcome_email": coerce.to_bool,
    "role": coerce.to_text,
    "openid_sub": _optional_text,
    "moderator_pin": _code,
    "access_code": _code,
    "native_streaming": coerce.to_bool,
    "auto_record": coerce.media_mode,
    "auto_stream": coerce.media_mode,
    "host_initiated_recording": coerce.to_bool,
    "waiting_room": coerce.to_bool,
    "stream_preview": lambda _, v: _stream_preview(v),
    "disable_emails": lambda _, v: _disable_emails(v),
    "time_format": lambda _, v: _time_format(v),
    "no_login": coerce.to_bool,
    "locale": coerce.locale,
    "country_code": coerce.country,
    "time_zone": coerce.time_zone,
    "subscription_ids": lambda f, v: tuple(coerce.to_int_list(f, v)),
    "plan_slug": _text_or_none,
    "add_on_slugs": _str_tuple,
    "public_username": _optional_text,
    "image_url": coerce.to_text,
}


def _host_changes(body: Body, *, creating: bool) -> HostChanges:
    """The host fields the body gives, their loose types read (trimming and rules are the service's).

    On create a missing or empty name or email reads as empty, which the service calls "required".
    """
    values: dict[str, Any] = {}
    for key, read in _READERS.items():
        if body.has(key):
            raw = body.get(key)
            if creating and key in ("name", "email"):
                raw = raw or ""
            values[key] = read(key, raw)
    return HostChanges(**values)


# --- endpoints ---------------------------------------------------------------------------------


def host_create(call: Call) -> Answer:
    """Create a host."""
    company_id = call.body.int_("company_id", required=False)
    host = call.hosts.create(call.actor, company_id, _host_changes(call.body, creating=True))
    return Answer(present.host(call.hosts.view(host)))


def host_fetch(call: Call) -> Answer:
    """A host (the caller's own when no host_id is given)."""
    return Answer(present.host(call.hosts.view(call.hosts.fetch(call.actor, call.host_id()))))


def host_update(call: Call) -> Answer:
    """Update a host."""
    host_id = call.body.id_("host_id")
    host = call.hosts.update(call.actor, host_id, _host_changes(call.body, creating=False))
    return Answer(present.host(call.hosts.view(host)))


def host_fetch_all(call: Call) -> Answer:
    """Hosts of a company."""
    hosts = call.hosts.in_company(call.actor, call.body.int_("company_id", required=False))
    return Answer([present.host_summary(v) for v in call.hosts.views(hosts)])


def host_delete(call: Call) -> Answer:
    """Delete a host (202)."""
    call.hosts.delete(call.actor, call.body.id_("host_id"))
    return Answer({"message": "Accepted"}, status=202)


def host_resend_invitation(call: Call) -> Answer:
    """Send the welcome email again."""
    call.hosts.resend_invitation(call.actor, call.body.id_("host_id"))
    return MESSAGE_OK


def host_reset_password(call: Call) -> Answer:
    """Send a password reset email."""
    call.hosts.reset_password(call.actor, call.body.id_("host_id"))
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
