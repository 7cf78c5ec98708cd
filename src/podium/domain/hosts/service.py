"""Hosts: user accounts with a role, dial-in codes, meeting settings and subscriptions."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import SYSTEM_LABEL, Actor
from podium.domain.audit.service import log_action
from podium.domain.auth.passwords import hash_password
from podium.domain.conferences.access_codes import AccessCodes
from podium.domain.hosts.repository import HostRepository
from podium.domain.outbox.service import enqueue_email
from podium.domain.subscriptions.service import HostPlan, SubscriptionService
from podium.kit import coerce, tokens
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput
from podium.kit.links import Links
from podium.kit.validation import normalise_email
from podium.models.subscription import Feature
from podium.models.tenancy import Company, Host, Role

PASSWORD_AUDIENCE = "podium:password"
PASSWORD_LINK_DAYS = 7
HOST_CODE_DIGITS = 7  # dedicated access codes and moderator PINs Podium draws
DISABLE_EMAIL_KEYS = (
    "conference_invitations",
    "conference_reminders",
    "conference_summaries",
    "transcription_summaries",
)
DEFAULT_SETTINGS: dict[str, Any] = {
    "native_streaming": False,
    "auto_record": "none",
    "auto_stream": "none",
    "host_initiated_recording": False,
    "waiting_room": False,
    "stream_preview": None,
    "disable_emails": {key: False for key in DISABLE_EMAIL_KEYS},
    "time_format": {"time_24hr": False, "hm_separator": ":", "md_format": "M D", "md_y_comma": True},
}
SETTING_KEYS = tuple(DEFAULT_SETTINGS)


@dataclass
class HostChanges:
    """Fields a create or update call gives; absent ones are left as they are."""

    values: dict[str, Any] = field(default_factory=dict)

    def has(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> Any:
        return self.values.get(key)


@dataclass(frozen=True)
class HostView:
    """A host with everything its answers derive: links, dial-in number, plan, SIP URI."""

    host: Host
    plan: HostPlan
    meeting_url: str
    primary_dialin_number: dict[str, Any]
    password_creation_link: str
    sip_uri: str | None
    settings: dict[str, Any]


def _code(field: str, value: Any) -> str:
    """A requested access code or PIN: 3 to 9 digits."""
    text = str(coerce.to_int(field, value)) if not isinstance(value, str) else value.strip()
    if not text.isdigit() or not 3 <= len(text) <= 9:
        raise InvalidInput(f"{field} must be 3 to 9 digits", field=field)
    return text


def _settings(current: dict[str, Any], changes: HostChanges) -> dict[str, Any]:
    merged = {**DEFAULT_SETTINGS, **current}
    for key in ("native_streaming", "host_initiated_recording", "waiting_room"):
        if changes.has(key):
            merged[key] = coerce.to_bool(key, changes.get(key))
    for key in ("auto_record", "auto_stream"):
        if changes.has(key):
            merged[key] = coerce.media_mode(key, changes.get(key))
    if (
        "none" not in (merged["auto_record"], merged["auto_stream"])
        and merged["auto_record"] != merged["auto_stream"]
    ):
        raise InvalidInput(
            "auto_record and auto_stream must be the same when recording and streaming together"
        )
    if changes.has("stream_preview"):
        preview = changes.get("stream_preview")
        if preview is None:
            merged["stream_preview"] = None
        elif not isinstance(preview, dict):
            raise InvalidInput("stream_preview must be an object", field="stream_preview")
        else:
            merged["stream_preview"] = {
                "duration": _positive("stream_preview.duration", preview.get("duration", 60)),
                "interval": _positive("stream_preview.interval", preview.get("interval", 300)),
                "image_preview": coerce.to_bool(
                    "stream_preview.image_preview", preview.get("image_preview", False)
                ),
            }
    if changes.has("disable_emails"):
        given = changes.get("disable_emails")
        if not isinstance(given, dict) or set(given) - set(DISABLE_EMAIL_KEYS):
            raise InvalidInput(
                f"disable_emails takes the keys {', '.join(DISABLE_EMAIL_KEYS)}", field="disable_emails"
            )
        merged["disable_emails"] = {
            **merged["disable_emails"],
            **{k: coerce.to_bool(f"disable_emails.{k}", v) for k, v in given.items()},
        }
    if changes.has("time_format"):
        given = changes.get("time_format")
        allowed = ("time_24hr", "hm_separator", "md_format", "md_y_comma")
        if not isinstance(given, dict) or set(given) - set(allowed):
            raise InvalidInput(f"time_format takes the keys {', '.join(allowed)}", field="time_format")
        time_format = dict(merged["time_format"])
        for key, value in given.items():
            if key in ("time_24hr", "md_y_comma"):
                time_format[key] = coerce.to_bool(f"time_format.{key}", value)
            else:
                time_format[key] = coerce.to_str(f"time_format.{key}", value, maximum=16)
        merged["time_format"] = time_format
    return merged


def _positive(field: str, value: Any) -> int:
    number = coerce.to_int(field, value)
    if number < 1:
        raise InvalidInput(f"{field} must be a positive integer", field=field)
    return number


class HostService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = HostRepository(session)
        self.subscriptions = SubscriptionService(session)

    # --- codes -------------------------------------------------------------------------

    def _access_code(self, requested: Any, *, host_id: int | None = None) -> str:
        """A dedicated room code: the one rule of ``AccessCodes`` decides whether it is free."""
        codes = AccessCodes(self.session)
        if requested is None:
            return codes.draw(HOST_CODE_DIGITS)
        return codes.claim(_code("access_code", requested), for_host=host_id)

    def _moderator_pin(self, requested: Any, *, host_id: int | None = None) -> str:
        """Moderator PINs are typed after a room code, so they only need to differ among hosts."""
        if requested is not None:
            pin = _code("moderator_pin", requested)
            if self.repo.code_taken("moderator_pin", pin, except_host=host_id):
                raise Conflict(f"moderator_pin {pin} is already taken", field="moderator_pin")
            return pin
        for _ in range(50):
            pin = str(secrets.randbelow(9 * 10 ** (HOST_CODE_DIGITS - 1)) + 10 ** (HOST_CODE_DIGITS - 1))
            if not self.repo.code_taken("moderator_pin", pin):
                return pin
        raise RuntimeError("no free moderator_pin")

    def _check_email(self, email: str, *, no_login: bool, host_id: int | None = None) -> None:
        """A login email belongs to one live host; ``no_login`` hosts may share theirs with each other."""
        for other in self.repo.live_with_email(email):
            if other.id != host_id and not (no_login and other.no_login):
                raise Conflict("A host with this email already exists", field="email")

    # --- life cycle ------------------------------------------------------------------------

    def create(self, actor: Actor | None, company: Company, changes: HostChanges) -> Host:
        """Create a host in ``company`` (scope already checked) and send its welcome email.

        Raises:
            InvalidInput: a field is malformed.
            Conflict: the email, access code or moderator PIN is taken, or a locked host limit is reached.
            Forbidden: the actor may not grant the requested role.
        """
        role = self._role(changes.get("role") if changes.has("role") else Role.HOST.value)
        if actor is not None:
            AccessPolicy(self.session, actor).may_grant(role)
        name = coerce.to_str("name", changes.get("name") or "")
        if not name:
            raise InvalidInput("name is required", field="name")
        email = normalise_email(
            coerce.to_str("email", changes.get("email") or "", maximum=254), required=True
        )
        no_login = coerce.to_bool("no_login", changes.get("no_login")) if changes.has("no_login") else False
        self._check_email(email, no_login=no_login)
        host = Host(
            company_id=company.id,
            email=email,
            name=name,
            role=role,
            no_login=no_login,
            access_code=self._access_code(changes.get("access_code")),
            moderator_pin=self._moderator_pin(changes.get("moderator_pin")),
            login_token_public_key=secrets.token_hex(20),
            settings=_settings({}, changes),
        )
        if changes.get("password") and not no_login:
            host.password_hash = hash_password(
                coerce.to_str("password", changes.get("password"), maximum=256)
            )
        self._apply_profile(host, changes)
        self.repo.add(host)
        if changes.has("subscription_ids") or changes.has("plan_slug") or changes.has("add_on_slugs"):
            self._apply_subscriptions(company, host, changes)
        else:
            self._default_plan(company, host)
        log_action(
            self.session,
            "host.created",
            actor=actor.label if actor else SYSTEM_LABEL,
            ref=f"host:{host.id}",
            company_id=company.id,
            role=role.value,
        )
        welcome = not no_login and not (
            changes.has("no_welcome_email")
            and coerce.to_bool("no_welcome_email", changes.get("no_welcome_email"))
        )
        if welcome:
            self._send_welcome(host)
        return host

    def update(self, actor: Actor, company: Company, host: Host, changes: HostChanges) -> Host:
        """Change only the fields given."""
        policy = AccessPolicy(self.session, actor)
        policy.may_manage(host)
        if changes.has("role"):
            role = self._role(changes.get("role"))
            policy.may_grant(role)
            host.role = role
        if changes.has("name"):
            name = coerce.to_str("name", changes.get("name"))
            if not name:
                raise InvalidInput("name must not be empty", field="name")
            host.name = name
        if changes.has("no_login"):
            host.no_login = coerce.to_bool("no_login", changes.get("no_login"))
        if changes.has("email") or changes.has("no_login"):
            email = host.email
            if changes.has("email"):
                email = normalise_email(
                    coerce.to_str("email", changes.get("email"), maximum=254), required=True
                )
            self._check_email(email, no_login=host.no_login, host_id=host.id)
            host.email = email
        if changes.has("access_code"):
            host.access_code = self._access_code(changes.get("access_code"), host_id=host.id)
        if changes.has("moderator_pin"):
            host.moderator_pin = self._moderator_pin(changes.get("moderator_pin"), host_id=host.id)
        if changes.get("password") and not host.no_login:
            host.password_hash = hash_password(
                coerce.to_str("password", changes.get("password"), maximum=256)
            )
            host.password_version += 1
        host.settings = _settings(host.settings or {}, changes)
        self._apply_profile(host, changes)
        if changes.has("subscription_ids") or changes.has("plan_slug") or changes.has("add_on_slugs"):
            self._apply_subscriptions(company, host, changes)
        self.session.flush()
        log_action(
            self.session,
            "host.updated",
            actor=actor.label,
            ref=f"host:{host.id}",
            company_id=company.id,
            fields=sorted(changes.values),
        )
        return host

    def delete(self, actor: Actor, host: Host) -> None:
        """Delete a host: it leaves its subscriptions and every session and API token ends."""
        AccessPolicy(self.session, actor).may_manage(host)
        if actor.host_id == host.id:
            raise Conflict("A host cannot delete itself")
        self._remove(host)
        log_action(
            self.session, "host.deleted", actor=actor.label, ref=f"host:{host.id}", company_id=host.company_id
        )

    def _remove(self, host: Host) -> None:
        now = utcnow()
        host.deleted_at = now
        self.subscriptions.repo.unassign_all(host.id)
        self.repo.revoke_access(host.id, now)
        self.session.flush()

    def delete_all(self, actor: Actor, company: Company) -> None:
        for host in self.repo.live_for_company(company.id):
            self._remove(host)
            log_action(
                self.session, "host.deleted", actor=actor.label, ref=f"host:{host.id}", company_id=company.id
            )

    def in_company(self, company: Company) -> Sequence[Host]:
        return self.repo.live_for_company(company.id)

    def _role(self, value: Any) -> Role:
        text = coerce.to_str("role", value).upper()
        try:
            return Role(text)
        except ValueError:
            raise InvalidInput(
                "role must be one of RESELLER_ADMIN, COMPANY_ADMIN, HOST", field="role"
            ) from None

    def _apply_profile(self, host: Host, changes: HostChanges) -> None:
        if changes.has("locale"):
            host.locale = coerce.locale("locale", changes.get("locale"))
        if changes.has("country_code"):
            host.country_code = coerce.country("country_code", changes.get("country_code"))
        if changes.has("time_zone"):
            host.time_zone = coerce.time_zone("time_zone", changes.get("time_zone"))
        for key in ("openid_sub", "public_username"):
            if changes.has(key):
                value = changes.get(key)
                setattr(host, key, None if value is None else coerce.to_str(key, value) or None)
        if changes.has("image_url"):
            url = coerce.to_str("image_url", changes.get("image_url"), maximum=2048)
            if url and not (
                url.startswith(("https://", "http://"))
                and url.lower().split("?")[0].endswith((".gif", ".png", ".jpg", ".jpeg"))
            ):
                raise InvalidInput(
                    "image_url must be an http(s) URL of a gif, png, jpg or jpeg", field="image_url"
                )
            host.image_url = url or None

    def _apply_subscriptions(self, company: Company, host: Host, changes: HostChanges) -> None:
        self.subscriptions.set_host_subscriptions(
            company,
            host,
            subscription_ids=coerce.to_int_list("subscription_ids", changes.get("subscription_ids"))
            if changes.has("subscription_ids")
            else None,
            plan_slug=coerce.to_str("plan_slug", changes.get("plan_slug"))
            if changes.get("plan_slug")
            else None,
            add_on_slugs=coerce.to_str_list("add_on_slugs", changes.get("add_on_slugs"))
            if changes.has("add_on_slugs")
            else None,
        )

    def _default_plan(self, company: Company, host: Host) -> None:
        """A new host joins the company's first current plan, so it can host at once."""
        for subscription, product in self.subscriptions.live(company):
            if product.is_plan:
                self.subscriptions.set_host_subscriptions(company, host, subscription_ids=[subscription.id])
                return

    # --- views and emails -----------------------------------------------------------------

    def password_link(self, host: Host) -> str:
        token = tokens.sign(
            {"aud": PASSWORD_AUDIENCE, "sub": str(host.id), "ver": host.password_version},
            self.settings.signing_key(),
            expires_at=utcnow() + timedelta(days=PASSWORD_LINK_DAYS),
        )
        return Links(self.settings).password_new(token)

    def dialin_number(self, host: Host) -> dict[str, Any]:
        table = self.settings.dialin_numbers
        chosen = next(
            (n for n in table if n.get("country_code") == host.country_code), table[0] if table else {}
        )
        number: dict[str, Any] = {
            key: chosen.get(key)
            for key in ("phone_number", "domestic_format", "international_format", "country_code", "location")
        }
        # The reference pads the object with these for strict deserializers.
        for key in (
            "id",
            "created_at",
            "updated_at",
            "feature_id",
            "locale",
            "carrier",
            "state",
            "billing_group",
            "display",
            "organization_id",
            "grouped_billing_id",
            "site_domain_id",
            "billing_code",
            "active",
            "referral_number",
        ):
            number[key] = None
        return number

    def view(self, host: Host, plan: HostPlan | None = None) -> HostView:
        plan = plan or self.subscriptions.host_plan(host)
        sip = (
            f"sip:{host.access_code}-0@{self.settings.sip_host}"
            if Feature.SIP_GATEWAY in plan.features()
            else None
        )
        return HostView(
            host=host,
            plan=plan,
            meeting_url=Links(self.settings).room(host.access_code),
            primary_dialin_number=self.dialin_number(host),
            password_creation_link=self.password_link(host),
            sip_uri=sip,
            settings={**DEFAULT_SETTINGS, **(host.settings or {})},
        )

    def views(self, hosts: Sequence[Host]) -> list[HostView]:
        plans = self.subscriptions.host_plans(hosts)
        return [self.view(host, plans.get(host.id)) for host in hosts]

    def _send_welcome(self, host: Host) -> None:
        enqueue_email(
            self.session,
            to=host.email,
            subject="Welcome to Podium",
            body=(
                f"Hello {host.name},\n\nAn account was created for you.\n"
                f"Set your password here: {self.password_link(host)}\n"
                f"Your meeting room: {Links(self.settings).room(host.access_code)}\n"
                f"Access code: {host.access_code}   Moderator PIN: {host.moderator_pin}\n"
            ),
        )

    def resend_invitation(self, actor: Actor, host: Host) -> None:
        if host.no_login:
            raise Conflict("This host cannot log in (no_login), so it has no invitation")
        self._send_welcome(host)
        log_action(
            self.session,
            "host.invitation_resent",
            actor=actor.label,
            ref=f"host:{host.id}",
            company_id=host.company_id,
        )

    def reset_password(self, actor: Actor, host: Host) -> None:
        if host.no_login:
            raise Conflict("This host cannot log in (no_login), so it has no password")
        enqueue_email(
            self.session,
            to=host.email,
            subject="Reset your Podium password",
            body=(
                f"Hello {host.name},\n\nA password reset was requested for your account.\n"
                f"Choose a new password here: {self.password_link(host)}\n"
                f"The link is valid for {PASSWORD_LINK_DAYS} days.\n"
            ),
        )
        log_action(
            self.session,
            "host.password_reset_sent",
            actor=actor.label,
            ref=f"host:{host.id}",
            company_id=host.company_id,
        )

    def set_password_with_link(self, token: str, password: str) -> Host:
        """Set a password from a password-creation link; the link stops working once used."""
        claims = tokens.verify(token, self.settings.signing_key(), audience=PASSWORD_AUDIENCE)
        host = self.repo.by_id(int(claims.get("sub", 0)))
        if host is None or host.deleted_at is not None or host.no_login:
            raise InvalidInput("This link is not valid")
        if claims.get("ver") != host.password_version:
            raise InvalidInput("This link has already been used")
        host.password_hash = hash_password(password)
        host.password_version += 1
        self.session.flush()
        log_action(
            self.session,
            "host.password_set",
            actor=f"web:host:{host.id}",
            ref=f"host:{host.id}",
            company_id=host.company_id,
        )
        return host
