"""Hosts: user accounts with a role, dial-in codes, meeting settings and subscriptions."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.repository import AccessRepository
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import SYSTEM_LABEL, Actor
from podium.domain.audit.service import log_action
from podium.domain.auth.passwords import hash_password
from podium.domain.conferences.access_codes import AccessCodes
from podium.domain.hosts.repository import HostRepository
from podium.domain.hosts.schemas import (
    DISABLE_EMAIL_KEYS,
    MEDIA_MODES,
    TIME_FORMAT_FLAGS,
    HostChanges,
    StreamPreview,
    check_disable_email_keys,
    check_time_format_keys,
)
from podium.domain.outbox.service import enqueue_email
from podium.domain.subscriptions.service import HostPlan, SubscriptionService
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, NotFound
from podium.kit.links import Links
from podium.kit.text import ascii_digits
from podium.kit.unset import Unset
from podium.kit.validation import clean_text, normalise_email
from podium.models.subscription import Feature
from podium.models.tenancy import Company, Host, Role

__all__ = ["HostChanges", "HostService", "HostView", "StreamPreview"]

PASSWORD_AUDIENCE = "podium:password"
PASSWORD_LINK_DAYS = 7
# Codes Podium draws: a dedicated room code is the only secret of a host's personal room, so it is as
# long as the reference allows (9 digits, about 30 bits; guessing is throttled, see domain/guard); a
# moderator PIN is typed after a room code.
ACCESS_CODE_DIGITS = 9
MODERATOR_PIN_DIGITS = 7
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


@dataclass(frozen=True)
class HostView:
    """A host with everything its answers derive: links, dial-in number, plan, SIP URI."""

    host: Host
    plan: HostPlan
    meeting_url: str
    primary_dialin_number: dict[str, Any] | None
    password_creation_link: str
    sip_uri: str | None
    settings: dict[str, Any]


def _code(field: str, value: str) -> str:
    """A requested access code or PIN: 3 to 9 digits."""
    text = value.strip()
    if not ascii_digits(text, max_length=9) or len(text) < 3:
        raise InvalidInput(f"{field} must be 3 to 9 digits", field=field)
    return text


def _media_mode(field: str, value: str) -> str:
    mode = value.strip().lower() or "none"
    if mode not in MEDIA_MODES:
        raise InvalidInput(f"{field} must be one of none, audio, video", field=field)
    return mode


def _positive(field: str, value: int) -> int:
    if value < 1:
        raise InvalidInput(f"{field} must be a positive integer", field=field)
    return value


PREVIEW_INTERVAL_MAX = 24 * 3600  # seconds: a clip a day at the least


def _stream_preview(preview: StreamPreview) -> dict[str, Any]:
    """A clip of ``duration`` seconds every ``interval`` seconds while streaming: a clip cannot be
    longer than its interval (clips would overlap), nor come less than once a day."""
    duration = _positive("stream_preview.duration", preview.duration)
    interval = _positive("stream_preview.interval", preview.interval)
    if duration > interval:
        raise InvalidInput(
            "stream_preview.duration must not exceed stream_preview.interval", field="stream_preview.duration"
        )
    if interval > PREVIEW_INTERVAL_MAX:
        field = "stream_preview.interval"
        raise InvalidInput(f"{field} is at most {PREVIEW_INTERVAL_MAX} seconds", field=field)
    return {"duration": duration, "interval": interval, "image_preview": preview.image_preview}


def _settings(current: dict[str, Any], changes: HostChanges) -> dict[str, Any]:
    merged = {**DEFAULT_SETTINGS, **current}
    for key in ("native_streaming", "host_initiated_recording", "waiting_room"):
        value = getattr(changes, key)
        if not isinstance(value, Unset):
            merged[key] = value
    for key in ("auto_record", "auto_stream"):
        mode = getattr(changes, key)
        if not isinstance(mode, Unset):
            merged[key] = _media_mode(key, mode)
    if (
        "none" not in (merged["auto_record"], merged["auto_stream"])
        and merged["auto_record"] != merged["auto_stream"]
    ):
        raise InvalidInput(
            "auto_record and auto_stream must be the same when recording and streaming together"
        )
    preview = changes.stream_preview
    if not isinstance(preview, Unset):
        merged["stream_preview"] = None if preview is None else _stream_preview(preview)
    if not isinstance(changes.disable_emails, Unset):
        check_disable_email_keys(changes.disable_emails)
        merged["disable_emails"] = {**merged["disable_emails"], **changes.disable_emails}
    if not isinstance(changes.time_format, Unset):
        check_time_format_keys(changes.time_format)
        time_format = dict(merged["time_format"])
        for key, value in changes.time_format.items():
            if key in TIME_FORMAT_FLAGS:
                time_format[key] = bool(value)
            else:
                time_format[key] = clean_text(f"time_format.{key}", str(value), 16)
        merged["time_format"] = time_format
    return merged


def _role(value: Role | str) -> Role:
    if isinstance(value, Role):
        return value
    text = clean_text("role", value).upper()
    try:
        return Role(text)
    except ValueError:
        raise InvalidInput("role must be one of RESELLER_ADMIN, COMPANY_ADMIN, HOST", field="role") from None


class HostService:
    """Hosts: user accounts with a role.

    The API methods (``create``, ``fetch``, ``update``, ``in_company``, ``delete``, ``delete_all``,
    ``resend_invitation``, ``reset_password``) take the actor and ids and check them through the
    access policy (``create`` with ``actor`` None is the command line). ``set_password_with_link`` is
    authorised by its signed link; ``view``, ``views``, ``password_link`` and ``dialin_number`` build
    answers for a host the caller holds.
    """

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = HostRepository(session)
        self.subscriptions = SubscriptionService(session)

    # --- codes -------------------------------------------------------------------------

    def _access_code(self, requested: str | None, *, host_id: int | None = None) -> str:
        """A dedicated room code: the one rule of ``AccessCodes`` decides whether it is free."""
        codes = AccessCodes(self.session)
        if requested is None:
            return codes.draw(ACCESS_CODE_DIGITS)
        return codes.claim(_code("access_code", requested), for_host=host_id)

    def _moderator_pin(self, requested: str | None, *, host_id: int | None = None) -> str:
        """Moderator PINs are typed after a room code, so they only need to differ among hosts."""
        if requested is not None:
            pin = _code("moderator_pin", requested)
            if self.repo.code_taken("moderator_pin", pin, except_host=host_id):
                raise Conflict(f"moderator_pin {pin} is already taken", field="moderator_pin")
            return pin
        for _ in range(50):
            pin = str(
                secrets.randbelow(9 * 10 ** (MODERATOR_PIN_DIGITS - 1)) + 10 ** (MODERATOR_PIN_DIGITS - 1)
            )
            if not self.repo.code_taken("moderator_pin", pin):
                return pin
        raise RuntimeError("no free moderator_pin")

    def _check_email(self, email: str, *, no_login: bool, host_id: int | None = None) -> None:
        """A login email belongs to one live host; ``no_login`` hosts may share theirs with each other."""
        for other in self.repo.live_with_email(email):
            if other.id != host_id and not (no_login and other.no_login):
                raise Conflict("A host with this email already exists", field="email")

    # --- the API: the actor's scope is checked here ------------------------------------------

    def create(self, actor: Actor | None, company_id: int | None, changes: HostChanges) -> Host:
        """Create a host and send its welcome email (unless ``no_login`` or ``no_welcome_email``).

        A new host joins the company's first current plan unless the changes name subscriptions.

        Args:
            actor: who is calling; None is the command line (no scope check). A company admin
                always creates in its own company.
            company_id: the company (required of a reseller admin).
            changes: the host's fields; ``name`` and ``email`` are required.

        Raises:
            Forbidden: a plain host, a company beyond the actor's scope, or a company admin
                granting RESELLER_ADMIN.
            NotFound: the company does not exist.
            InvalidInput: a field is missing or malformed.
            Conflict: the email, access code or moderator PIN is taken, or a locked host limit is reached.
        """
        if actor is not None:
            policy = AccessPolicy(self.session, actor)
            company = policy.company(company_id)
        else:
            policy = None
            company = self._live_company(company_id)
        role = _role(changes.role if not isinstance(changes.role, Unset) else Role.HOST)
        if policy is not None:
            policy.may_grant(role)
        name = clean_text("name", changes.name if not isinstance(changes.name, Unset) else "")
        if not name:
            raise InvalidInput("name is required", field="name")
        email = normalise_email(
            clean_text("email", changes.email if not isinstance(changes.email, Unset) else "", 254),
            required=True,
        )
        no_login = changes.no_login if not isinstance(changes.no_login, Unset) else False
        self._check_email(email, no_login=no_login)
        host = Host(
            company_id=company.id,
            email=email,
            name=name,
            role=role,
            no_login=no_login,
            access_code=self._access_code(_or_none(changes.access_code)),
            moderator_pin=self._moderator_pin(_or_none(changes.moderator_pin)),
            login_token_public_key=secrets.token_hex(20),
            settings=_settings({}, changes),
        )
        password = _or_none(changes.password)
        if password and not no_login:
            host.password_hash = hash_password(clean_text("password", password, 256))
        self._apply_profile(host, changes)
        self.repo.add(host)
        if changes.touches_subscriptions:
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
        if not no_login and changes.no_welcome_email is not True:
            self._send_welcome(host)
        return host

    def fetch(self, actor: Actor, host_id: int) -> Host:
        """A host: anyone may read their own; admins, the hosts in their scope.

        Raises:
            Forbidden: a plain host asking for another, or a host beyond the actor's scope.
            NotFound: the host does not exist or is deleted.
        """
        return AccessPolicy(self.session, actor).readable_host(host_id)

    def update(self, actor: Actor, host_id: int, changes: HostChanges) -> Host:
        """Change only the fields given.

        Raises:
            Forbidden: a plain host, a host beyond the actor's scope, or a company admin touching
                (or granting) the RESELLER_ADMIN role.
            NotFound: the host does not exist or is deleted.
            InvalidInput: a field is malformed.
            Conflict: the email, access code or moderator PIN is taken, or a locked host limit is reached.
        """
        policy = AccessPolicy(self.session, actor)
        host = policy.host(host_id)
        company = self._live_company(host.company_id)
        policy.may_manage(host)
        if not isinstance(changes.role, Unset):
            role = _role(changes.role)
            policy.may_grant(role)
            host.role = role
        if not isinstance(changes.name, Unset):
            name = clean_text("name", changes.name)
            if not name:
                raise InvalidInput("name must not be empty", field="name")
            host.name = name
        if not isinstance(changes.no_login, Unset):
            host.no_login = changes.no_login
        if changes.has("email") or changes.has("no_login"):
            email = host.email
            if not isinstance(changes.email, Unset):
                email = normalise_email(clean_text("email", changes.email, 254), required=True)
            self._check_email(email, no_login=host.no_login, host_id=host.id)
            host.email = email
        if not isinstance(changes.access_code, Unset):
            host.access_code = self._access_code(changes.access_code, host_id=host.id)
        if not isinstance(changes.moderator_pin, Unset):
            host.moderator_pin = self._moderator_pin(changes.moderator_pin, host_id=host.id)
        password = _or_none(changes.password)
        if password and not host.no_login:
            host.password_hash = hash_password(clean_text("password", password, 256))
            host.password_version += 1
        host.settings = _settings(host.settings or {}, changes)
        self._apply_profile(host, changes)
        if changes.touches_subscriptions:
            self._apply_subscriptions(company, host, changes)
        self.session.flush()
        log_action(
            self.session,
            "host.updated",
            actor=actor.label,
            ref=f"host:{host.id}",
            company_id=company.id,
            fields=changes.given(),
        )
        return host

    def in_company(self, actor: Actor, company_id: int | None) -> Sequence[Host]:
        """The live hosts of a company.

        Raises:
            Forbidden: a plain host, or a company beyond the actor's scope.
            NotFound: the company does not exist.
            InvalidInput: a reseller admin named no company.
        """
        company = AccessPolicy(self.session, actor).company(company_id)
        return self.repo.live_for_company(company.id)

    def delete(self, actor: Actor, host_id: int) -> None:
        """Delete a host: it leaves its subscriptions and every session and API token ends.

        Raises:
            Forbidden: a plain host, a host beyond the actor's scope, or a company admin deleting a
                reseller admin.
            NotFound: the host does not exist or is deleted.
            Conflict: the actor's own host.
        """
        policy = AccessPolicy(self.session, actor)
        host = policy.host(host_id)
        policy.may_manage(host)
        if actor.host_id == host.id:
            raise Conflict("A host cannot delete itself")
        self._remove(host)
        log_action(
            self.session, "host.deleted", actor=actor.label, ref=f"host:{host.id}", company_id=host.company_id
        )

    def delete_all(self, actor: Actor, company_id: int) -> None:
        """Delete every host of a company (reseller admins only; company deletion).

        Raises:
            Forbidden: not a reseller admin, or a company beyond its tree.
            NotFound: the company does not exist.
        """
        policy = AccessPolicy(self.session, actor)
        policy.require_reseller_admin()
        company = policy.company(company_id)
        for host in self.repo.live_for_company(company.id):
            self._remove(host)
            log_action(
                self.session, "host.deleted", actor=actor.label, ref=f"host:{host.id}", company_id=company.id
            )

    def resend_invitation(self, actor: Actor, host_id: int) -> None:
        """Send the welcome email again.

        Raises:
            Forbidden: a plain host, or a host beyond the actor's scope.
            NotFound: the host does not exist or is deleted.
            Conflict: the host cannot log in (``no_login``).
        """
        host = AccessPolicy(self.session, actor).host(host_id)
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

    def reset_password(self, actor: Actor, host_id: int) -> None:
        """Email the host a link to choose a new password.

        Raises:
            Forbidden: a plain host, or a host beyond the actor's scope.
            NotFound: the host does not exist or is deleted.
            Conflict: the host cannot log in (``no_login``).
        """
        host = AccessPolicy(self.session, actor).host(host_id)
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

    # --- rules ---------------------------------------------------------------------------------

    def _live_company(self, company_id: int | None) -> Company:
        company = AccessRepository(self.session).company(company_id) if company_id is not None else None
        if company is None or company.deleted_at is not None:
            raise NotFound("Company not found")
        return company

    def _remove(self, host: Host) -> None:
        now = utcnow()
        host.deleted_at = now
        self.subscriptions.repo.unassign_all(host.id)
        self.repo.revoke_access(host.id, now)
        self.session.flush()

    def _apply_profile(self, host: Host, changes: HostChanges) -> None:
        if not isinstance(changes.locale, Unset):
            host.locale = changes.locale
        if not isinstance(changes.country_code, Unset):
            host.country_code = changes.country_code
        if not isinstance(changes.time_zone, Unset):
            host.time_zone = changes.time_zone
        for key in ("openid_sub", "public_username"):
            value = getattr(changes, key)
            if not isinstance(value, Unset):
                setattr(host, key, None if value is None else clean_text(key, value) or None)
        if not isinstance(changes.image_url, Unset):
            url = clean_text("image_url", changes.image_url, 2048)
            if url and not (
                url.startswith(("https://", "http://"))
                and url.lower().split("?")[0].endswith((".gif", ".png", ".jpg", ".jpeg"))
            ):
                raise InvalidInput(
                    "image_url must be an http(s) URL of a gif, png, jpg or jpeg", field="image_url"
                )
            host.image_url = url or None

    def _apply_subscriptions(self, company: Company, host: Host, changes: HostChanges) -> None:
        plan_slug = _or_none(changes.plan_slug)
        self.subscriptions.set_host_subscriptions(
            company,
            host,
            subscription_ids=None
            if isinstance(changes.subscription_ids, Unset)
            else changes.subscription_ids,
            plan_slug=None if plan_slug is None else clean_text("plan_slug", plan_slug),
            add_on_slugs=None
            if isinstance(changes.add_on_slugs, Unset)
            else [clean_text("add_on_slugs", slug) for slug in changes.add_on_slugs],
        )

    def _default_plan(self, company: Company, host: Host) -> None:
        """A new host joins the company's first current plan, so it can host at once."""
        for subscription, product in self.subscriptions.live(company):
            if product.is_plan:
                self.subscriptions.set_host_subscriptions(company, host, subscription_ids=[subscription.id])
                return

    # --- views and emails -----------------------------------------------------------------

    def password_link(self, host: Host) -> str:
        """A signed link (7 days, single use) where the host chooses its password."""
        token = tokens.sign(
            {"aud": PASSWORD_AUDIENCE, "sub": str(host.id), "ver": host.password_version},
            self.settings.signing_key(),
            expires_at=utcnow() + timedelta(days=PASSWORD_LINK_DAYS),
        )
        return Links(self.settings).password_new(token)

    def dialin_number(self, host: Host) -> dict[str, Any] | None:
        """The dial-in number for the host's country (the first configured one otherwise); None when
        none is configured (``PODIUM_DIALIN_NUMBERS``): a number is never invented."""
        table = self.settings.dialin_numbers
        if not table:
            return None
        chosen = next((n for n in table if n.get("country_code") == host.country_code), table[0])
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
        """Everything a host's answers show, for a host the caller holds (``plan`` when known)."""
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
        """``view`` of many hosts, their plans read in one query."""
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


def _or_none(value: str | None | Unset) -> str | None:
    return None if isinstance(value, Unset) else value
