"""Paywalls (Boomstream PPV subscriptions): their media, buyers with access passwords, seller contacts.

The access rules (a buyer's window, activation limit, which media a pass opens) live here once and
serve both the API and the watch pages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.conferences.service import UNSET, Unset
from podium.domain.media.repository import MediaRepository
from podium.domain.outbox.service import enqueue_email
from podium.domain.paywall.people import People, Person, person
from podium.domain.paywall.repository import PaywallRepository
from podium.kit import ids, uow
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, DomainError, InvalidInput, NotFound, RaceLost
from podium.kit.links import Links
from podium.kit.validation import check_length, normalise_email
from podium.models.media import Media
from podium.models.paywall import AccessKind, AccessPass, Paywall, PaywallMedia, SellerContacts

# The reference's ``create`` sample sends no ``subscription_type``: a PPV object with a cost.
DEFAULT_ACCESS_KIND = AccessKind.PAY_PER_VIEW.value
SCOPES = ("single", "group")
COLLECTION_TYPES = ("collect", "protect")
MAX_ACTIVATIONS = 1_000_000
MAX_PERIOD_DAYS = 36_500
MAX_PREVIEW_SECONDS = 86_400
MEDIA_PAGE_MAX = 1000
# A password a shop chooses (``addbuyer`` with ``hash``): the Moodle plugin sends
# ``<site host>|<user id>|<media>``; the watch page takes up to 256 characters.
MAX_PASSWORD_LENGTH = 255


@dataclass
class PaywallChanges:
    """The settable fields of a paywall; UNSET ones are left as they are."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    scope: str | Unset = UNSET
    collection_type: str | Unset = UNSET
    cost: str | Unset = UNSET
    period_days: int | None | Unset = UNSET
    access_start: datetime | None | Unset = UNSET
    access_expire: datetime | None | Unset = UNSET
    activations: int | None | Unset = UNSET
    materials: str | Unset = UNSET
    buy_redirect_url: str | Unset = UNSET
    custom_url: str | Unset = UNSET
    ip_recovery: bool | Unset = UNSET
    device_ban: bool | Unset = UNSET
    buyer_commission: bool | Unset = UNSET
    downloadable_origin: bool | Unset = UNSET
    preview_seconds: int | None | Unset = UNSET
    watermark: bool | Unset = UNSET
    watermark_email: bool | Unset = UNSET
    watermark_name: bool | Unset = UNSET
    watermark_ip: bool | Unset = UNSET

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not isinstance(getattr(self, f.name), Unset)
        }


@dataclass
class BuyerChanges:
    name: str | Unset = UNSET
    activations: int | None | Unset = UNSET
    access_start: datetime | None | Unset = UNSET
    access_expire: datetime | None | Unset = UNSET


@dataclass(frozen=True)
class Window:
    """When a pass opens: ``start`` and ``expire`` (None: no limit on that side)."""

    start: datetime | None
    expire: datetime | None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and (self.expire is None or moment <= self.expire)


@dataclass(frozen=True)
class PaywallTotals:
    """A paywall with its media count, live buyers, and passes ever sold (deleted buyers included:
    a sale stays a sale). ``revenue`` prices every sale at the paywall's current cost."""

    paywall: Paywall
    media: int
    buyers: int
    sales: int

    @property
    def revenue(self) -> Decimal | None:
        return None if self.paywall.cost is None else self.paywall.cost * self.sales


@dataclass(frozen=True)
class Sale:
    """One pass sold: its buyer, the media it was bought for, its access window."""

    buyer: AccessPass
    media: Media | None
    window: Window
    activation_limit: int | None

    @property
    def live(self) -> bool:
        return self.buyer.deleted_at is None


@dataclass(frozen=True)
class NewBuyer:
    """A checked ``add_buyer`` (its values valid), made alone or in a batch, where its paywall and
    media are found."""

    actor_label: str
    company_id: int
    paywall_code: str
    media_code: str
    email: str
    phone: str
    name: str
    password: str | None  # chosen (Boomstream ``hash``); None: generated for a new buyer
    activations: int | None | Unset
    access_start: datetime | None | Unset
    access_expire: datetime | None | Unset
    custom_url: str
    use_subscription_custom_url: bool
    notify: bool
    source: str


@dataclass(frozen=True)
class AddedBuyer:
    """A buyer added (or updated) with its paywall, to answer with."""

    buyer: AccessPass
    paywall: Paywall


# Named here: PaywallService has a method ``list``, which its annotations would mean instead.
_Made = list[AddedBuyer | uow.Refused]
_Bought = list[tuple[AccessPass, NewBuyer, Paywall, dict[str, str]]]
_Passwords = list[str]


def make_buyers(ctx: uow.Context, batch: Sequence[NewBuyer]) -> Sequence[AddedBuyer | uow.Refused]:
    return PaywallService(ctx.session, ctx.settings).make_buyers(batch)


BUYERS = uow.WriteKind("buyers", make_buyers)


class PaywallService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = PaywallRepository(session)

    # --- paywalls ---------------------------------------------------------------------------

    def create(self, actor: Actor, *, access_kind: str, changes: PaywallChanges) -> Paywall:
        """A paywall; it needs a name, and a ``period`` or an ``access_expire`` (the reference's
        "partly optional" pair).

        Args:
            actor: the project's caller.
            access_kind: Boomstream ``subscription_type``; empty means ``subscription`` (pay per
                view), the kind of the reference's own sample, which sends none and sells at a cost.
            changes: the settings sent.
        """
        kinds = [k.value for k in AccessKind]
        access_kind = access_kind.strip().lower() or DEFAULT_ACCESS_KIND
        if access_kind not in kinds:
            raise InvalidInput(
                f"subscription_type must be one of {', '.join(kinds)}", field="subscription_type"
            )
        if isinstance(changes.name, Unset) or not changes.name.strip():
            raise InvalidInput("Parameter 'name' is required", field="name")
        given = changes.given()
        if given.get("period_days") is None and given.get("access_expire") is None:
            raise InvalidInput("Either period or access_expire is required", field="period")
        if "collection_type" in given and access_kind != AccessKind.REGISTRATION.value:
            raise InvalidInput(
                "collection_type is only for subscriptions of type collection", field="collection_type"
            )
        paywall = Paywall(
            company_id=actor.company_id,
            code=self._code(),
            access_kind=access_kind,
            scope="single",
            collection_type="collect" if access_kind == AccessKind.REGISTRATION.value else None,
        )
        self._apply(paywall, changes)
        self.repo.add(paywall)
        self._log("created", actor, paywall)
        return paywall

    def get(self, actor: Actor, code: str) -> Paywall:
        paywall = self.repo.live_by_code(actor.company_id, code.strip())
        if paywall is None:
            raise NotFound(f"Subscription {code} not found")
        return paywall

    def list(self, actor: Actor) -> Sequence[tuple[Paywall, int]]:
        return self.repo.live_for_company(actor.company_id)

    def update(self, actor: Actor, paywall: Paywall, changes: PaywallChanges) -> Paywall:
        given = changes.given()
        if "collection_type" in given and paywall.access_kind != AccessKind.REGISTRATION.value:
            raise InvalidInput(
                "collection_type is only for subscriptions of type collection", field="collection_type"
            )
        if "name" in given and not str(given["name"]).strip():
            raise InvalidInput("The subscription name cannot be empty", field="name")
        self._apply(paywall, changes)
        if paywall.period_days is None and paywall.access_expire is None:
            raise InvalidInput("Either period or access_expire is required", field="period")
        self.session.flush()
        self._log("updated", actor, paywall)
        return paywall

    def delete(self, actor: Actor, paywall: Paywall) -> None:
        """The paywall and its passwords stop opening anything; buyers' records stay for the stats."""
        paywall.deleted_at = utcnow()
        self.session.flush()
        self._log("deleted", actor, paywall)

    def company_totals(self, actor: Actor, company_id: int) -> Sequence[PaywallTotals]:
        """A company's live paywalls with their buyers and sales, for its admins (a company admin:
        its own company; a reseller admin: its tree's, see ``AccessPolicy.named_company``).

        Raises:
            Forbidden: a plain host, another company of a company admin, beyond a reseller's tree.
            NotFound: the company does not exist or is deleted.
        """
        company = AccessPolicy(self.session, actor).named_company(company_id)
        rows = self.repo.live_for_company(company.id)
        counts = self.repo.pass_counts([p.id for p, _ in rows])
        return [PaywallTotals(p, n, *counts.get(p.id, (0, 0))) for p, n in rows]

    def company_sales(self, actor: Actor, company_id: int, code: str) -> tuple[PaywallTotals, Sequence[Sale]]:
        """One paywall of a company with every pass sold in it, newest first (read-only; as
        ``company_totals``).

        Raises:
            Forbidden: as ``company_totals``.
            NotFound: the company, or no live paywall ``code`` in it.
        """
        company = AccessPolicy(self.session, actor).named_company(company_id)
        paywall = self.repo.live_by_code(company.id, code.strip())
        if paywall is None:
            raise NotFound(f"Subscription {code} not found")
        sales = [
            Sale(buyer, media, self.window(paywall, buyer), self.activation_limit(paywall, buyer))
            for buyer, media in self.repo.passes_with_media(paywall.id)
        ]
        media_count = next((n for p, n in self.repo.live_for_company(company.id) if p.id == paywall.id), 0)
        buyers = sum(1 for sale in sales if sale.live)
        return PaywallTotals(paywall, media_count, buyers, len(sales)), sales

    def _apply(self, paywall: Paywall, changes: PaywallChanges) -> None:
        given = changes.given()
        if "name" in given:
            paywall.name = check_length("name", str(given["name"]).strip(), 255)
        for key in ("description", "materials"):
            if key in given:
                setattr(paywall, key, check_length(key, str(given[key]), 65535))
        if "scope" in given:
            scope = str(given["scope"]).lower() or "single"
            if scope not in SCOPES:
                raise InvalidInput("type must be single or group", field="type")
            paywall.scope = scope
        if "collection_type" in given:
            collection = str(given["collection_type"]).lower() or "collect"
            if collection not in COLLECTION_TYPES:
                raise InvalidInput("collection_type must be collect or protect", field="collection_type")
            paywall.collection_type = collection
        if "cost" in given:
            paywall.cost = _cost(str(given["cost"]))
        if "period_days" in given:
            paywall.period_days = _bounded("period", given["period_days"], 1, MAX_PERIOD_DAYS)
        if "activations" in given:
            paywall.activations = _bounded("activation", given["activations"], 1, MAX_ACTIVATIONS)
        if "preview_seconds" in given:
            paywall.preview_seconds = (
                _bounded("preview", given["preview_seconds"], 0, MAX_PREVIEW_SECONDS) or None
            )
        for key in ("access_start", "access_expire"):
            if key in given:
                setattr(paywall, key, given[key])
        if paywall.access_start and paywall.access_expire and paywall.access_start > paywall.access_expire:
            raise InvalidInput("access_start must be before access_expire", field="access_start")
        for key in ("buy_redirect_url", "custom_url"):
            if key in given:
                setattr(paywall, key, _url(key, str(given[key])))
        for key in (
            "ip_recovery",
            "device_ban",
            "buyer_commission",
            "downloadable_origin",
            "watermark",
            "watermark_email",
            "watermark_name",
            "watermark_ip",
        ):
            if key in given:
                setattr(paywall, key, bool(given[key]))

    def _code(self) -> str:
        return ids.unused(ids.client_code, self.repo.code_taken, "subscription code")

    # --- media in a paywall ------------------------------------------------------------------------

    def add_media(self, actor: Actor, paywall: Paywall, media: Media) -> None:
        """Put a media behind the paywall; adding it again changes nothing."""
        if self.repo.link(paywall.id, media.id) is not None:
            return
        self.repo.add(PaywallMedia(paywall_id=paywall.id, media_id=media.id))
        self._log("media_added", actor, paywall, media=media.code)

    def remove_media(self, actor: Actor, paywall: Paywall, media: Media) -> None:
        link = self.repo.link(paywall.id, media.id)
        if link is None:
            raise NotFound(f"Media {media.code} is not in subscription {paywall.code}")
        self.repo.unlink(link)
        self._log("media_removed", actor, paywall, media=media.code)

    def media_page(self, paywall: Paywall, limit: int | None, offset: int | None) -> Sequence[Media]:
        limit = MEDIA_PAGE_MAX if limit is None else limit
        offset = 0 if offset is None else offset
        if not 1 <= limit <= MEDIA_PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {MEDIA_PAGE_MAX}", field="limit")
        if offset < 0:
            raise InvalidInput("offset must be 0 or more", field="offset")
        return self.repo.media_page(paywall.id, limit, offset)

    def require_media(self, paywall: Paywall, media: Media) -> None:
        if self.repo.link(paywall.id, media.id) is None:
            raise NotFound(f"Media {media.code} is not in subscription {paywall.code}")

    # --- buyers ---------------------------------------------------------------------------------------

    def checked_buyer(
        self,
        actor_label: str,
        company_id: int,
        paywall_code: str,
        media_code: str,
        *,
        email: str = "",
        phone: str = "",
        name: str = "",
        password: str | None = None,
        activations: int | None | Unset = UNSET,
        access_start: datetime | None | Unset = UNSET,
        access_expire: datetime | None | Unset = UNSET,
        custom_url: str = "",
        use_subscription_custom_url: bool = False,
        notify: bool = False,
        source: str = "api",
    ) -> NewBuyer:
        """A buyer to add to the paywall, or to update when this email already is one, checked, to
        be made by ``add_buyer`` or, with others, by the group commit (``BUYERS``).

        A buyer is one person in one paywall: its live buyer with the same email (case-insensitive;
        the phone when no email is given) — in a ``single`` paywall, its buyer for this media, since
        a single pass opens only its own media. Adding that person again updates the buyer instead
        of making a second password: what is given changes (name, phone, dates, activations, link,
        the password when given), the rest stays, and so does the purchase date the period counts
        from. Only a new buyer is announced (``ppv.bought``); either is mailed when ``notify``.

        Args:
            actor_label: who adds (audit).
            company_id, paywall_code, media_code: a live paywall and media of the company; the
                media must be in the paywall. Looked up with the buyer's write (in its batch).
            email, phone: at least one.
            name: the buyer's name; empty keeps an existing buyer's.
            password: the access password the caller chose (Boomstream ``hash``); None: a new buyer
                gets a generated one, an existing buyer keeps its own.
            activations, access_start, access_expire: the buyer's own limits; UNSET leaves them,
                None clears them (the paywall's apply).
            custom_url: the link in this buyer's emails; empty keeps an existing buyer's.
            use_subscription_custom_url: the paywall's ``custom_url`` in the email, when the buyer
                has none of its own.
            notify: email the buyer its password and link.
            source: ``api`` or ``form`` (the registration form).

        Raises:
            InvalidInput: a bad value. (When made: Conflict, the password is another live buyer's
            here; NotFound, no such paywall or media, or the media is not in the paywall.)
        """
        email = normalise_email(email, required=False)
        phone = _phone(phone)
        if not email and not phone:
            raise InvalidInput("Either email or phone is required", field="email")
        if not isinstance(activations, Unset):
            activations = _bounded("activation", activations, 1, MAX_ACTIVATIONS)
        new = NewBuyer(
            actor_label=actor_label,
            company_id=company_id,
            paywall_code=paywall_code.strip(),
            media_code=media_code.strip(),
            email=email,
            phone=phone,
            name=check_length("name", name.strip(), 255),
            password=None if password is None else _chosen_password(password),
            activations=activations,
            access_start=access_start,
            access_expire=access_expire,
            custom_url=_url("custom_url", custom_url),
            use_subscription_custom_url=use_subscription_custom_url,
            notify=notify,
            source=source,
        )
        return new

    def add_buyer(self, new: NewBuyer) -> AddedBuyer:
        """Make a checked buyer in this unit of work (see ``checked_buyer``)."""
        return uow.made(self.make_buyers([new])[0])

    def make_buyers(self, batch: Sequence[NewBuyer]) -> Sequence[AddedBuyer | uow.Refused]:
        """Make checked buyers in this session's unit of work, in order: a later one of the same
        person updates what an earlier one made, a password an earlier one chose is taken for a later
        one. One query finds the paywalls with their media; one finds the people already buyers, the
        chosen passwords' holders and whether a password drawn for a new buyer was ever given; one
        flush adds the new buyers. An item whose paywall or media is not found (or not in it) is
        refused."""
        places, refused = self._places(batch)
        paywalls = {paywall.id: paywall for paywall, _ in places.values()}
        # As read before the lookups below (never newer than what they see): see _one_buyer_each.
        versions = {paywall.id: paywall.buyers_version for paywall in paywalls.values()}
        who = {
            i: person(paywall, media, batch[i].email, batch[i].phone)
            for i, (paywall, media) in places.items()
        }
        chosen = {
            (paywall.id, password)
            for i, (paywall, _) in places.items()
            if (password := batch[i].password) is not None
        }
        # A password drawn for each that brings none: most are new buyers (one not new wastes its).
        drawn = {
            paywall_id: ids.distinct_many(ids.access_password, n, "password")
            for paywall_id, n in Counter(
                paywall.id for i, (paywall, _) in places.items() if batch[i].password is None
            ).items()
        }
        passes = self.repo.passes_of(
            set(paywalls),
            {value for _, how, value in who.values() if how == "email"},
            {value for _, how, value in who.values() if how == "phone"},
            {password for _, password in chosen} | {p for passwords in drawn.values() for p in passwords},
        )
        live = [p for p in passes if p.deleted_at is None]
        people = People(paywalls, live)
        holders = {(b.paywall_id, b.password): b for b in live if (b.paywall_id, b.password) in chosen}
        given = {(b.paywall_id, b.password) for b in passes}
        for paywall_id, passwords in drawn.items():
            if any((paywall_id, password) in given for password in passwords):  # a collision: rare
                drawn[paywall_id] = self._fresh_passwords(paywall_id, len(passwords))
        results: _Made = []
        bought: _Bought = []
        created: dict[int, set[Person]] = {}
        for i, new in enumerate(batch):
            if i in refused:
                results.append(uow.Refused(refused[i]))
                continue
            paywall, media = places[i]
            buyer = people.latest(paywall, who[i])
            wrong = self._refusal(new, paywall, buyer, holders)
            if wrong is not None:
                results.append(uow.Refused(wrong))
                continue
            if buyer is None:
                password = new.password or self._drawn(drawn, paywall.id)
                buyer = self._new_buyer(new, paywall, media, password)
                created.setdefault(paywall.id, set()).add(who[i])
                # Announced as made now (a later one of the same person may change it), once it has
                # its id (after the flush).
                bought.append((buyer, new, paywall, self._sold(paywall, media, buyer)))
            else:
                holders.pop((paywall.id, buyer.password), None)
                self._change_buyer(buyer, new)
                self._log("buyer_updated", new.actor_label, paywall, hash=buyer.password)
            people.file(buyer)  # a later one of the same person finds it (its phone may be new)
            holders[(paywall.id, buyer.password)] = buyer
            if new.notify and buyer.email:
                link = buyer.custom_url or (paywall.custom_url if new.use_subscription_custom_url else "")
                self._notify(paywall, buyer, link or self.recovery_link(paywall, buyer))
            results.append(AddedBuyer(buyer, paywall))
        self._flush(chosen=bool(chosen))
        for buyer, new, paywall, fields_sold in bought:
            log_action(
                self.session,
                "ppv.bought",
                actor=new.actor_label,
                ref=f"access_pass:{buyer.id}",
                company_id=paywall.company_id,
                **fields_sold,
            )
        for paywall_id, keys in created.items():
            self._one_buyer_each(paywalls[paywall_id], versions[paywall_id], keys)
        return results

    def _refusal(
        self,
        new: NewBuyer,
        paywall: Paywall,
        buyer: AccessPass | None,
        holders: dict[tuple[int, str], AccessPass],
    ) -> DomainError | None:
        """Why ``new`` cannot be made for this buyer (None: a new one), before anything changes."""
        if new.password is not None:
            holder = holders.get((paywall.id, new.password))
            if holder is not None and holder is not buyer:
                return _password_taken(paywall)
        start = _given(new.access_start, buyer.access_start if buyer else None)
        expire = _given(new.access_expire, buyer.access_expire if buyer else None)
        if start and expire and start > expire:
            return InvalidInput("access_start must be before access_expire", field="access_start")
        return None

    def _new_buyer(self, new: NewBuyer, paywall: Paywall, media: Media, password: str) -> AccessPass:
        buyer = AccessPass(
            company_id=paywall.company_id,
            paywall_id=paywall.id,
            media_id=media.id,
            password=password,
            email=new.email,
            phone=new.phone,
            name=new.name,
            custom_url=new.custom_url,
            source=new.source,
            purchased_at=utcnow(),
            activations=None if isinstance(new.activations, Unset) else new.activations,
            access_start=_given(new.access_start, None),
            access_expire=_given(new.access_expire, None),
        )
        self.session.add(buyer)
        return buyer

    @staticmethod
    def _change_buyer(buyer: AccessPass, new: NewBuyer) -> None:
        """What is given changes; the rest stays (an empty text keeps the buyer's own)."""
        buyer.email = new.email or buyer.email
        buyer.phone = new.phone or buyer.phone
        buyer.name = new.name or buyer.name
        buyer.password = new.password or buyer.password
        if not isinstance(new.activations, Unset):
            buyer.activations = new.activations
        buyer.access_start = _given(new.access_start, buyer.access_start)
        buyer.access_expire = _given(new.access_expire, buyer.access_expire)
        buyer.custom_url = new.custom_url or buyer.custom_url

    def _flush(self, *, chosen: bool) -> None:
        if not chosen:
            self.session.flush()
            return
        # A rival choosing the same password at once: the unique index makes this flush wait for
        # it, then refuse. Run again, the work sees the password taken and says so by name.
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            raise RaceLost("The same password was chosen at the same time; please retry") from exc

    def _one_buyer_each(self, paywall: Paywall, seen: int, people: set[Person]) -> None:
        """The people given new buyers were looked up without a lock; checked under the paywall's,
        just before the commit: a rival that added one of them meanwhile makes this work run again,
        and then it finds that buyer. (A password is one live buyer's by the unique index.) Taking
        the lock raises the paywall's buyers' version: one above the version read before the
        lookups (``seen``), no rival added a buyer since and they saw every one: not looked up again."""
        emails = {value for _, how, value in people if how == "email"}
        phones = {value for _, how, value in people if how == "phone"}

        def alone() -> None:
            if self.repo.lock_paywall(paywall.id) == seen + 1:
                return
            passes = self.repo.live_passes_of_people({paywall.id}, emails, phones)
            found = People({paywall.id: paywall}, passes)
            if any(len(found.of(paywall, person)) > 1 for person in people):
                raise RaceLost("The same buyer was added at the same time; please retry")

        key = "|".join(sorted(f"{media}:{how}:{value}" for media, how, value in people))
        uow.before_commit(self.session, ("paywall", paywall.id, "buyers", key), alone)

    def _places(
        self, batch: Sequence[NewBuyer]
    ) -> tuple[dict[int, tuple[Paywall, Media]], dict[int, NotFound]]:
        """Each item's paywall and media, by its place in the batch; or why it has none (asked only
        for the items not placed: which of the two is missing, or whether the media is not in it)."""
        found = self.repo.placed({(new.company_id, new.paywall_code, new.media_code) for new in batch})
        places: dict[int, tuple[Paywall, Media]] = {}
        unplaced: dict[int, NewBuyer] = {}
        for i, new in enumerate(batch):
            place = found.get((new.company_id, new.paywall_code, new.media_code))
            if place is None:
                unplaced[i] = new
            else:
                places[i] = place
        return places, self._not_placed(unplaced)

    def _not_placed(self, unplaced: dict[int, NewBuyer]) -> dict[int, NotFound]:
        """Why each of these items has no paywall with its media."""
        if not unplaced:
            return {}
        paywalls = self.repo.live_by_codes({(new.company_id, new.paywall_code) for new in unplaced.values()})
        media = MediaRepository(self.session).live_by_company_codes(
            {(new.company_id, new.media_code) for new in unplaced.values()}
        )
        refused: dict[int, NotFound] = {}
        for i, new in unplaced.items():
            found = media.get((new.company_id, new.media_code))
            if (new.company_id, new.paywall_code) not in paywalls:
                refused[i] = NotFound(f"Subscription {new.paywall_code} not found")
            elif found is None:
                refused[i] = NotFound(f"Media {new.media_code} not found")
            else:
                refused[i] = NotFound(f"Media {found.code} is not in subscription {new.paywall_code}")
        return refused

    @staticmethod
    def _sold(paywall: Paywall, media: Media, buyer: AccessPass) -> dict[str, str]:
        """What ``ppv.bought`` records of a new buyer, as it is when made."""
        return {
            "code": paywall.code,
            "media": media.code,
            "hash": buyer.password,
            "email": buyer.email,
            "phone": buyer.phone,
            "name": buyer.name,
            "cost": str(paywall.cost) if paywall.cost is not None else "",
        }

    def _notify(self, paywall: Paywall, buyer: AccessPass, link: str) -> None:
        window = self.window(paywall, buyer)
        until = window.expire.strftime("%Y-%m-%d %H:%M:%S UTC") if window.expire else "no end date"
        greeting = f"Hello {buyer.name}," if buyer.name else "Hello,"
        enqueue_email(
            self.session,
            to=buyer.email,
            subject=f"Your access to {paywall.name}",
            body=(
                f"{greeting}\n\nYour access password for \u201c{paywall.name}\u201d is:\n\n"
                f"    {buyer.password}\n\nWatch here: {link}\n\nAccess valid until: {until}.\n"
            ),
        )

    def recovery_link(self, paywall: Paywall, buyer: AccessPass) -> str:
        """The subscription's watch page with the password in the fragment (never sent to a server),
        percent-encoded: a shop's own password may hold ``+``, ``&``, ``#`` or spaces."""
        return Links(self.settings).watch_subscription(paywall.code, buyer.password)

    def _drawn(self, drawn: dict[int, _Passwords], paywall_id: int) -> str:
        """One of the passwords drawn for the paywall; one more is drawn if they are used up (a
        person found at first by a phone an earlier buyer of the batch gave up)."""
        if not drawn.get(paywall_id):
            drawn[paywall_id] = self._fresh_passwords(paywall_id, 1)
        return drawn[paywall_id].pop()

    def _fresh_passwords(self, paywall_id: int, count: int) -> _Passwords:
        """``count`` generated passwords no pass of the paywall has had (deleted ones included)."""
        return ids.unused_many(
            ids.access_password, lambda drawn: self.repo.passwords_taken(paywall_id, drawn), count, "password"
        )

    def buyer(self, paywall: Paywall, password: str) -> AccessPass:
        buyer = self.repo.live_pass(paywall.id, password.strip())
        if buyer is None:
            raise NotFound("Recovery code is not found")
        return buyer

    def update_buyer(
        self, actor: Actor, paywall: Paywall, buyer: AccessPass, changes: BuyerChanges
    ) -> AccessPass:
        if not isinstance(changes.name, Unset):
            buyer.name = check_length("name", changes.name.strip(), 255)
        if not isinstance(changes.activations, Unset):
            buyer.activations = _bounded("activation", changes.activations, 1, MAX_ACTIVATIONS)
        if not isinstance(changes.access_start, Unset):
            buyer.access_start = changes.access_start
        if not isinstance(changes.access_expire, Unset):
            buyer.access_expire = changes.access_expire
        if buyer.access_start and buyer.access_expire and buyer.access_start > buyer.access_expire:
            raise InvalidInput("access_start must be before access_expire", field="access_start")
        self.session.flush()
        self._log("buyer_updated", actor, paywall, hash=buyer.password)
        return buyer

    def delete_buyer(self, actor: Actor, paywall: Paywall, buyer: AccessPass) -> None:
        buyer.deleted_at = utcnow()
        self.session.flush()
        self._log("buyer_deleted", actor, paywall, hash=buyer.password)

    def buyers(self, paywall: Paywall, media: Media, email: str | None = None) -> Sequence[AccessPass]:
        """Buyers who can watch ``media``: all of a group paywall's, those added for it in a single one."""
        self.require_media(paywall, media)
        email = email.strip() if email else None
        media_id = media.id if paywall.scope == "single" else None
        return self.repo.live_passes(paywall.id, email=email or None, media_id=media_id)

    def all_buyers(self, paywall: Paywall, email: str | None = None) -> Sequence[AccessPass]:
        return self.repo.live_passes(paywall.id, email=email.strip() if email else None)

    def find_buyers(
        self, paywall: Paywall, *, media: Media | None = None, email: str = "", password: str = ""
    ) -> Sequence[AccessPass]:
        """Live buyers by email and/or password (both given: the buyer must match both), among
        those who can watch ``media`` when it is given (``ppv/info``)."""
        email, password = email.strip(), password.strip()
        if not email and not password:
            raise InvalidInput("Either email or hash is required", field="email")
        if media is not None:
            found = self.buyers(paywall, media, email or None)
        else:
            found = self.all_buyers(paywall, email or None)
        return [b for b in found if not password or b.password == password]

    # --- the access rules ---------------------------------------------------------------------------------

    def window(self, paywall: Paywall, buyer: AccessPass) -> Window:
        """The buyer's own dates win; else the paywall's, with ``period`` days from the purchase."""
        start = buyer.access_start or paywall.access_start
        expire = buyer.access_expire
        if expire is None:
            candidates = [paywall.access_expire] if paywall.access_expire else []
            if paywall.period_days:
                candidates.append(buyer.purchased_at + timedelta(days=paywall.period_days))
            expire = min(candidates) if candidates else None
        return Window(start, expire)

    def activation_limit(self, paywall: Paywall, buyer: AccessPass) -> int | None:
        return buyer.activations if buyer.activations is not None else paywall.activations

    def left_activations(self, paywall: Paywall, buyer: AccessPass) -> int | None:
        limit = self.activation_limit(paywall, buyer)
        return None if limit is None else max(0, limit - buyer.activations_used)

    def opens(self, paywall: Paywall, buyer: AccessPass, media: Media) -> bool:
        """Whether the pass opens this media (the media must still be behind the paywall)."""
        if buyer.deleted_at is not None or paywall.deleted_at is not None or buyer.paywall_id != paywall.id:
            return False
        if paywall.scope == "single" and buyer.media_id not in (None, media.id):
            return False
        return self.repo.link(paywall.id, media.id) is not None

    # --- seller contacts ------------------------------------------------------------------------------------

    def contacts(self, actor: Actor) -> SellerContacts:
        return self.repo.contacts(actor.company_id) or SellerContacts(company_id=actor.company_id)

    def seller_contacts(self, company_id: int) -> SellerContacts | None:
        """What a watch page shows of the seller (public: it is on every paywalled page)."""
        return self.repo.contacts(company_id)

    def update_contacts(
        self,
        actor: Actor,
        *,
        name: str,
        phone: str | Unset = UNSET,
        email: str | Unset = UNSET,
        site: str | Unset = UNSET,
        description: str | Unset = UNSET,
    ) -> SellerContacts:
        contacts = self.repo.contacts(actor.company_id)
        if contacts is None:
            contacts = SellerContacts(company_id=actor.company_id)
            self.session.add(contacts)
        if not name.strip():
            raise InvalidInput("Parameter 'name' is required", field="name")
        contacts.name = check_length("name", name.strip(), 255)
        if not isinstance(phone, Unset):
            contacts.phone = check_length("phone", phone.strip(), 64)
        if not isinstance(email, Unset):
            contacts.email = normalise_email(email, required=False)
        if not isinstance(site, Unset):
            contacts.site = _url("site", site)
        if not isinstance(description, Unset):
            contacts.description = check_length("description", description, 65535)
        if not contacts.phone and not contacts.email:
            raise InvalidInput("Either phone or email is required", field="phone")
        self.session.flush()
        log_action(
            self.session,
            "ppv.contacts_updated",
            actor=actor.label,
            ref=f"company:{actor.company_id}",
            company_id=actor.company_id,
        )
        return contacts

    def _log(self, action: str, actor: Actor | str, paywall: Paywall, **data: object) -> None:
        log_action(
            self.session,
            f"paywall.{action}",
            actor=actor if isinstance(actor, str) else actor.label,
            ref=f"paywall:{paywall.id}",
            company_id=paywall.company_id,
            code=paywall.code,
            **data,
        )


def _bounded(label: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not low <= int(value) <= high:
        raise InvalidInput(f"{label} must be between {low} and {high}", field=label)
    return int(value)


def _cost(raw: str) -> Decimal | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        cost = Decimal(raw)
    except InvalidOperation:
        raise InvalidInput("cost must be a number", field="cost") from None
    if not cost.is_finite() or cost < 0 or cost >= Decimal("10000000000"):
        raise InvalidInput("cost must be a number from 0 to 9999999999.99", field="cost")
    return cost.quantize(Decimal("0.01"))


def _given(value: datetime | None | Unset, kept: datetime | None) -> datetime | None:
    return kept if isinstance(value, Unset) else value


def _password_taken(paywall: Paywall) -> Conflict:
    return Conflict(
        f"This hash is already the access password of another buyer of subscription {paywall.code}; "
        "choose another one",
        field="hash",
    )


def _chosen_password(raw: str) -> str:
    """A password the caller chose: trimmed (the watch page trims what it is given), not empty, at
    most MAX_PASSWORD_LENGTH printable characters (no control characters, which no one can type)."""
    password = raw.strip()
    if not password:
        raise InvalidInput(
            "Parameter 'hash' is empty: send the buyer's password, or leave hash out to have one made",
            field="hash",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"hash must be at most {MAX_PASSWORD_LENGTH} characters", field="hash")
    if not password.isprintable():
        raise InvalidInput(
            "hash must be printable characters (no tabs, line breaks or controls)", field="hash"
        )
    return password


def _url(label: str, raw: str) -> str:
    raw = raw.strip()
    if not raw:
        return ""
    check_length(label, raw, 2048)
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"{label} must be an http(s) URL", field=label)
    return raw


def _phone(raw: str) -> str:
    phone = raw.strip()
    if not phone:
        return ""
    digits = sum(c.isdigit() for c in phone)
    if len(phone) > 32 or digits < 5 or any(not (c.isdigit() or c in "+-() .") for c in phone):
        raise InvalidInput("phone must be a phone number (digits, spaces, + - ( ) .)", field="phone")
    return phone
