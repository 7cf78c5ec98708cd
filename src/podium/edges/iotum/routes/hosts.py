"""Iotum enterprise API: hosts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from podium.domain.hosts.schemas import (
    DISABLE_EMAIL_KEYS,
    MEDIA_MODES,
    TIME_FORMAT_FLAGS,
    HostChanges,
    StreamPreview,
    check_disable_email_keys,
    check_time_format_keys,
)
from podium.edges.common import Param
from podium.edges.iotum import present
from podium.edges.iotum.params import Body
from podium.edges.iotum.routes.companies import ADMINS_COMPANY_ID
from podium.edges.iotum.routes_base import (
    BOOLEAN,
    INTEGER,
    INTEGERS,
    MESSAGE_OK,
    TEXT,
    TEXTS,
    Answer,
    Call,
    Endpoint,
)
from podium.kit import coerce
from podium.kit.errors import InvalidInput
from podium.models.tenancy import Role

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


# --- the fields, for the OpenAPI ---------------------------------------------------------------

# Where ``Call.host_id`` reads it: leaving it out means the credential's own host.
OWN_HOST_ID = Param("host_id", "Host id (default: the caller's own host)", schema=INTEGER)
HOST_ID = Param("host_id", "Host id", required=True, schema=INTEGER)
# none, audio or video (true reads as video, false as none).
MEDIA_MODE: dict[str, Any] = {"type": "string", "enum": list(MEDIA_MODES)}

NAME = Param("name", "Name shown when the host joins meetings", schema=TEXT)
EMAIL = Param("email", "Email address, for invitations, reminders and login", schema=TEXT)
NO_WELCOME_EMAIL = Param("no_welcome_email", "true: send no welcome email", schema=BOOLEAN)
_CODE = "3 to 9 digits, refused when taken; null draws a new one"
# The rest of ``_READERS``: what create and update both take.
HOST_FIELDS = (
    Param("password", "Password to set (ignored with no_login)", schema=TEXT),
    Param(
        "role",
        "RESELLER_ADMIN, COMPANY_ADMIN or HOST (default HOST); only a reseller admin grants RESELLER_ADMIN",
        schema={"type": "string", "enum": [role.value for role in Role]},
    ),
    Param(
        "openid_sub", "OpenID subject identifier for logins through your system (null clears it)", schema=TEXT
    ),
    Param("moderator_pin", f"Custom moderator PIN: {_CODE}", schema=TEXT),
    Param("access_code", f"Custom access code: {_CODE}", schema=TEXT),
    Param("native_streaming", "Enable live streaming for the host", schema=BOOLEAN),
    Param("auto_record", "Record conferences automatically: none, audio or video", schema=MEDIA_MODE),
    Param(
        "auto_stream",
        "Stream conferences automatically: none, audio or video (the same as auto_record when both are on)",
        schema=MEDIA_MODE,
    ),
    Param(
        "host_initiated_recording",
        "Also start automatic recording or streaming when the host joins",
        schema=BOOLEAN,
    ),
    Param("waiting_room", "Participants wait until the organizer lets them in", schema=BOOLEAN),
    Param(
        "stream_preview",
        "Preview clips while recording or streaming (null turns them off)",
        schema={
            "type": "object",
            "properties": {
                "duration": {**INTEGER, "description": "Seconds per clip (default 60)"},
                "interval": {**INTEGER, "description": "Seconds between clips (default 300)"},
                "image_preview": {**BOOLEAN, "description": "Also a preview image (default false)"},
            },
        },
    ),
    Param(
        "disable_emails",
        "Emails to disable (true) or enable (false); keys not given stay as they are",
        schema={
            "type": "object",
            "properties": {key: BOOLEAN for key in DISABLE_EMAIL_KEYS},
            "additionalProperties": False,
        },
    ),
    Param(
        "time_format",
        "How times and dates are displayed; keys not given stay as they are",
        schema={
            "type": "object",
            "properties": {
                "time_24hr": {**BOOLEAN, "description": "24-hour times (default false)"},
                "hm_separator": {**TEXT, "description": "Between hours and minutes (default ':')"},
                "md_format": {**TEXT, "description": "Month and day template (default 'M D')"},
                "md_y_comma": {**BOOLEAN, "description": "A comma before the year (default true)"},
            },
            "additionalProperties": False,
        },
    ),
    Param(
        "no_login",
        "true: no username/password login in the web UI (SSO only); implies no_welcome_email",
        schema=BOOLEAN,
    ),
    Param("locale", "BCP-47 language preference such as en-US", schema=TEXT),
    Param("country_code", "Two-letter ISO 3166 country code", schema=TEXT),
    Param("time_zone", "IANA time zone name such as US/Eastern", schema=TEXT),
    Param(
        "subscription_ids",
        "Subscriptions the host is assigned to, exactly (an empty array unsubscribes it from all)",
        schema=INTEGERS,
    ),
    Param("plan_slug", "Instead of subscription_ids: the plan to assign the host to", schema=TEXT),
    Param("add_on_slugs", "Instead of subscription_ids: the add-ons to assign the host to", schema=TEXTS),
    Param("public_username", "Links the account to one on another platform (null clears it)", schema=TEXT),
    Param(
        "image_url", "http(s) URL of a gif, png, jpg or jpeg profile picture (empty clears it)", schema=TEXT
    ),
)


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
    Endpoint(
        "host/create",
        "Create a host",
        host_create,
        "write",
        params=(
            ADMINS_COMPANY_ID,
            replace(NAME, required=True),
            replace(EMAIL, required=True),
            NO_WELCOME_EMAIL,
            *HOST_FIELDS,
        ),
    ),
    Endpoint("host/fetch", "A host", host_fetch, "read", params=(OWN_HOST_ID,), cached=True),
    # no_welcome_email is read (and type-checked) on update too, but only create sends the email.
    Endpoint(
        "host/update", "Update a host", host_update, "write", params=(HOST_ID, NAME, EMAIL, *HOST_FIELDS)
    ),
    Endpoint("host/fetch_all", "Hosts of a company", host_fetch_all, "read", params=(ADMINS_COMPANY_ID,)),
    Endpoint("host/delete", "Delete a host (202)", host_delete, "write", params=(HOST_ID,), ok=202),
    Endpoint(
        "host/resend_invitation",
        "Send the welcome email again",
        host_resend_invitation,
        "write",
        params=(HOST_ID,),
    ),
    Endpoint(
        "host/reset_password", "Send a password reset email", host_reset_password, "write", params=(HOST_ID,)
    ),
)
