"""Watching: who may play a media, view sessions per device, and heartbeats that count watched time.

A view session is one page's playback on one device. A password opens a session when the media is
behind the password's paywall, inside the buyer's window; a device the password has not been used on
before takes one activation (with ``ip_recovery``, the same IP counts as a known device); with
``device_ban``, a password live on another device is refused. Every playlist and segment request
carries a short-lived token bound to the session, and each is checked here again.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.lives.state import is_live, not_watchable
from podium.domain.media import links
from podium.domain.media.links import PlayGrant
from podium.domain.media.repository import MediaRepository
from podium.domain.paywall.generations import VIEWING
from podium.domain.paywall.repository import PaywallRepository
from podium.domain.paywall.service import MAX_PASSWORD_LENGTH, PaywallService
from podium.domain.stats.geoip import country_of
from podium.domain.viewing.heartbeats import LiveView
from podium.kit import stamped
from podium.kit.clock import utcnow
from podium.kit.errors import DomainError, ErrorCode, InvalidInput, NotFound
from podium.kit.text import same_secret
from podium.kit.validation import normalise_email
from podium.models.media import Media, MediaStatus
from podium.models.paywall import AccessKind, AccessPass, Paywall, ViewSession

WRONG_PASSWORD = "Wrong access password"
# ``id_recovery`` that opens nothing here: the same words whether or not it exists elsewhere.
WRONG_RECOVERY = "This access link is not valid for this video"


class AccessDenied(DomainError):
    code = ErrorCode.ACCESS_DENIED


class AccessExpired(DomainError):
    code = ErrorCode.ACCESS_EXPIRED


class ActivationsExhausted(DomainError):
    code = ErrorCode.ACTIVATIONS_EXHAUSTED


class DeviceInUse(DomainError):
    code = ErrorCode.DEVICE_IN_USE


class SessionEnded(DomainError):
    code = ErrorCode.SESSION_ENDED


class NotReady(DomainError):
    code = ErrorCode.NOT_READY


@dataclass(frozen=True)
class Viewer:
    device_id: str
    ip: str
    user_agent: str

    @property
    def device_hash(self) -> str:
        return hashlib.sha256(self.device_id.encode()).hexdigest()


@dataclass(frozen=True)
class Offer:
    """What the watch page of a media offers a visitor."""

    media: Media
    paywalls: Sequence[Paywall]
    preview_seconds: int | None

    @property
    def free(self) -> bool:
        return not self.paywalls

    @property
    def registration(self) -> Paywall | None:
        return next((p for p in self.paywalls if p.access_kind == AccessKind.REGISTRATION.value), None)

    @property
    def needs_password(self) -> bool:
        return any(p.access_kind != AccessKind.REGISTRATION.value for p in self.paywalls)


@dataclass(frozen=True)
class Started:
    session: ViewSession
    token: str
    watermark: str
    preview_seconds: int | None
    downloadable: bool


class ViewingService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.media = MediaRepository(session)
        self.paywalls = PaywallRepository(session)
        self.rules = PaywallService(session, settings)

    # --- what a page offers ---------------------------------------------------------------

    def offer(self, media_code: str) -> Offer:
        media = self._ready_media(media_code)
        paywalls = self.paywalls.live_for_media(media.id)
        # A live has no preview: its shared addresses could not stop one at its end (ADR 0010).
        previews = [p.preview_seconds for p in paywalls if p.preview_seconds and not is_live(media)]
        return Offer(media, paywalls, max(previews) if previews else None)

    def paywall_page(self, paywall_code: str) -> tuple[Paywall, list[Media]]:
        paywall = self.paywalls.live_by_public_code(paywall_code.strip())
        if paywall is None:
            raise NotFound("This subscription does not exist")
        media = [
            m for m in self.paywalls.media_page(paywall.id, 1000, 0) if m.status == MediaStatus.DONE.value
        ]
        return paywall, media

    def embedded(self, media_code: str) -> Media:
        """The media a player embed names, ready or not (its watch page says which).

        Raises:
            NotFound: no live media has this code.
        """
        code = media_code.strip()
        # No code is long or has control characters (nor can PostgreSQL compare a NUL): not a query.
        media = self.media.live_by_public_code(code) if len(code) <= 64 and code.isprintable() else None
        if media is None:
            raise NotFound("This video does not exist")
        return media

    def _ready_media(self, code: str) -> Media:
        media = self.embedded(code)
        if media.status != MediaStatus.DONE.value:
            raise NotReady(
                "This video is not ready yet"
                if media.status != MediaStatus.FAILED.value
                else "This video could not be processed"
            )
        return media

    # --- starting a session -----------------------------------------------------------------

    def start(
        self,
        media_code: str,
        viewer: Viewer,
        *,
        password: str = "",
        recovery: str = "",
        email: str = "",
        name: str = "",
        phone: str = "",
        preview: bool = False,
    ) -> Started:
        """Open a view session of one media for one device.

        Args:
            media_code: the media's public code.
            viewer: the device, IP and user agent asking.
            password: an access password the viewer typed.
            recovery: an access password that came in a link (Boomstream ``id_recovery``): it opens
                exactly what the same password typed would (activations and device rules included);
                only the refusal's words differ.
            email, name, phone: the registration form.
            preview: the preview, when no password or email is given.

        Raises:
            AccessDenied, AccessExpired, ActivationsExhausted, DeviceInUse, NotFound, NotReady.
        """
        offer = self.offer(media_code)
        media = offer.media
        reason = not_watchable(self.session, self.settings, media)  # a live that is not on air
        if reason is not None:
            raise NotReady(reason)
        if offer.free:
            return self._open(media, viewer, kind="free")
        if preview and not (password or recovery or email):
            if not offer.preview_seconds:
                raise AccessDenied("This video has no preview")
            return self._open(media, viewer, kind="preview", preview_seconds=offer.preview_seconds)
        if password.strip():
            paywall, buyer = self._by_password(offer, password.strip(), WRONG_PASSWORD)
        elif recovery.strip():
            paywall, buyer = self._by_password(offer, recovery.strip(), WRONG_RECOVERY)
        elif email.strip():
            paywall, buyer = self._by_registration(offer, email, name, phone)
        else:
            raise AccessDenied("An access password is required to watch this video")
        self._admit_device(paywall, buyer, viewer)
        return self._open(media, viewer, kind="pass", paywall=paywall, buyer=buyer)

    def _by_password(self, offer: Offer, password: str, wrong: str) -> tuple[Paywall, AccessPass]:
        # No access password looks like this (longer than any, or with control characters).
        if len(password) > MAX_PASSWORD_LENGTH or not password.isprintable():
            raise AccessDenied(wrong)  # no access password looks like this (nor can PostgreSQL hold a NUL)
        by_id = {p.id: p for p in offer.paywalls}
        candidates = [
            (by_id[b.paywall_id], b)
            for b in self.paywalls.passes_for_password(password, list(by_id))
            if self.rules.opens(by_id[b.paywall_id], b, offer.media)
        ]
        if not candidates:
            raise AccessDenied(wrong)
        return self._in_window(candidates)

    def _by_registration(self, offer: Offer, email: str, name: str, phone: str) -> tuple[Paywall, AccessPass]:
        paywall = offer.registration
        if paywall is None:
            raise AccessDenied("This video is not open by registration")
        email = normalise_email(email, required=True)
        listed = [
            b
            for b in self.paywalls.live_passes(paywall.id, email=email)
            if self.rules.opens(paywall, b, offer.media)
        ]
        if listed:
            return self._in_window([(paywall, b) for b in listed])
        if paywall.collection_type == "protect":
            raise AccessDenied("This email is not on the list of viewers")
        if not name.strip():
            raise InvalidInput("Your name is required", field="name")
        new = self.rules.checked_buyer(
            "viewer:registration",
            paywall.company_id,
            paywall.code,
            offer.media.code,
            email=email,
            name=name,
            phone=phone,
            source="form",
        )
        return paywall, self.rules.add_buyer(new).buyer

    def _in_window(self, candidates: list[tuple[Paywall, AccessPass]]) -> tuple[Paywall, AccessPass]:
        now = utcnow()
        for paywall, buyer in candidates:
            if self.rules.window(paywall, buyer).contains(now):
                return paywall, buyer
        window = self.rules.window(*candidates[0])
        if window.start and now < window.start:
            raise AccessExpired(f"Access opens on {window.start:%Y-%m-%d %H:%M:%S} UTC")
        raise AccessExpired("Access with this password has expired")

    def _admit_device(self, paywall: Paywall, buyer: AccessPass, viewer: Viewer) -> None:
        ip = viewer.ip if paywall.ip_recovery else None
        if paywall.device_ban:
            since = utcnow() - timedelta(seconds=self.settings.view_live_seconds)
            if self.paywalls.other_live_device(buyer.id, viewer.device_hash, ip, since):
                raise DeviceInUse("This access password is being used on another device right now")
        if self.paywalls.device_known(buyer.id, viewer.device_hash, ip):
            return
        if not self.paywalls.take_activation(buyer.id, self.rules.activation_limit(paywall, buyer)):
            raise ActivationsExhausted("This access password has no activations left")

    def _open(
        self,
        media: Media,
        viewer: Viewer,
        *,
        kind: str,
        paywall: Paywall | None = None,
        buyer: AccessPass | None = None,
        preview_seconds: int | None = None,
    ) -> Started:
        now = utcnow()
        view = ViewSession(
            company_id=media.company_id,
            media_id=media.id,
            pass_id=buyer.id if buyer else None,
            paywall_id=paywall.id if paywall else None,
            kind=kind,
            device_hash=viewer.device_hash,
            session_key=secrets.token_hex(24),
            ip=viewer.ip[:45],
            country=country_of(self.settings.geoip_database, viewer.ip),
            user_agent=viewer.user_agent[:512],
            started_at=now,
            last_seen_at=now,
            left_activations=self.rules.left_activations(paywall, buyer) if paywall and buyer else None,
        )
        self.session.add(view)
        self.session.flush()
        return Started(
            session=view,
            token=self._token(view, media, preview_seconds),
            watermark=self._watermark(paywall, buyer, viewer) if paywall and buyer else "",
            preview_seconds=preview_seconds,
            downloadable=bool(paywall and paywall.downloadable_origin),
        )

    def _token(self, view: ViewSession, media: Media, preview_seconds: int | None) -> str:
        return links.sign_play(
            self.settings,
            media.code,
            session_id=view.id,
            session_key=view.session_key,
            preview_seconds=preview_seconds,
        )

    @staticmethod
    def _watermark(paywall: Paywall, buyer: AccessPass, viewer: Viewer) -> str:
        if not paywall.watermark:
            return ""
        parts = []
        if paywall.watermark_email and buyer.email:
            parts.append(buyer.email)
        if paywall.watermark_name and buyer.name:
            parts.append(buyer.name)
        if paywall.watermark_ip and viewer.ip:
            parts.append(viewer.ip)
        return " · ".join(parts) or buyer.email or buyer.phone or buyer.password

    # --- while playing ---------------------------------------------------------------------------

    def session_for(self, session_id: int, key: str) -> ViewSession:
        view = self.session.get(ViewSession, session_id)
        if view is None or not same_secret(key, view.session_key):
            raise AccessDenied("Unknown viewing session")
        return view

    def admit(self, session_id: int, key: str) -> LiveView:
        """Check that a session may still play, and what its heartbeats need to be counted without
        the database until the next check (domain/viewing/heartbeats.py)."""
        generation = stamped.generation(self.session, VIEWING)  # before the rows it stands for
        view = self.session_for(session_id, key)
        media = self._check(view)
        return LiveView(
            valid_until=self._access_ends(view),
            session_id=view.id,
            key=view.session_key,
            company_id=view.company_id,
            media_id=view.media_id,
            media_code=media.code,
            preview_seconds=self.offer_preview(view, media),
            last_seen=view.last_seen_at,
            generation=generation,
        )

    def offer_preview(self, view: ViewSession, media: Media) -> int | None:
        if view.kind != "preview":
            return None
        return self.offer(media.code).preview_seconds

    def end(self, session_id: int, key: str) -> None:
        view = self.session_for(session_id, key)
        if view.ended_at is None:
            view.ended_at = utcnow()
            view.end_reason = "closed"
            self.session.flush()

    def authorize(self, grant: PlayGrant) -> Media:
        """Check one playlist or file request against the token's session; returns the media."""
        if grant.session_id is None:
            media = self.media.live_by_public_code(grant.media_code)
            if media is None or media.status != MediaStatus.DONE.value:
                raise NotFound("This video does not exist")
            return media
        view = self.session.get(ViewSession, grant.session_id)
        if view is None or not view.session_key.startswith(grant.session_key or "-"):
            raise AccessDenied("Unknown viewing session")
        media = self._check(view)
        if media.code != grant.media_code:
            raise AccessDenied("Unknown viewing session")
        return media

    def download_allowed(self, session_id: int, media: Media) -> bool:
        """``downloadable_origin``: the original, once the viewer has watched (nearly) to the end."""
        view = self.session.get(ViewSession, session_id)
        if view is None or view.kind != "pass" or view.paywall_id is None:
            return False
        paywall = self.session.get(Paywall, view.paywall_id)
        watched_enough = view.watched_ms >= 0.9 * (media.duration or 0) * 1000
        return bool(paywall and paywall.downloadable_origin and watched_enough)

    def _access_ends(self, view: ViewSession) -> datetime | None:
        """When the password's window closes (None: never, or no password) — ``_check`` refuses from then."""
        if view.paywall_id is None or view.pass_id is None:
            return None
        paywall = self.session.get(Paywall, view.paywall_id)
        buyer = self.session.get(AccessPass, view.pass_id)
        if paywall is None or buyer is None:
            return None
        return self.rules.window(paywall, buyer).expire

    def _check(self, view: ViewSession) -> Media:
        """The session may still play: raises (and ends the session) when it may not."""
        if view.ended_at is not None:
            raise SessionEnded(view.end_reason or "This viewing session has ended")
        media = self.media.by_id(view.media_id)
        if media is None or media.deleted_at is not None or media.status != MediaStatus.DONE.value:
            self._end(view, "This video is no longer available")
        assert media is not None
        reason = not_watchable(self.session, self.settings, media)  # a live that went off air
        if reason is not None:
            self._end(view, reason)
        if view.kind in ("free", "preview"):
            paywalls = self.paywalls.live_for_media(media.id)
            if view.kind == "free" and paywalls:
                self._end(view, "This video now needs an access password")
            if view.kind == "preview" and not any(p.preview_seconds for p in paywalls):
                self._end(view, "The preview of this video has ended")
        else:
            paywall = self.session.get(Paywall, view.paywall_id) if view.paywall_id else None
            buyer = self.session.get(AccessPass, view.pass_id) if view.pass_id else None
            if paywall is None or buyer is None or not self.rules.opens(paywall, buyer, media):
                self._end(view, "This access password no longer opens this video")
            assert paywall is not None and buyer is not None
            if not self.rules.window(paywall, buyer).contains(utcnow()):
                self._end(view, "Access with this password has expired")
        return media

    @staticmethod
    def _end(view: ViewSession, reason: str) -> None:
        # Nothing is written: the same checks refuse the session's next request too.
        raise SessionEnded(reason)
