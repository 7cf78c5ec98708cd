from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session, load_only

from podium.domain.paywall.generations import VIEWING
from podium.kit.db import live_by_company_codes
from podium.kit.stamped import move
from podium.models.media import Media
from podium.models.paywall import AccessPass, Paywall, PaywallMedia, SellerContacts, ViewSession

# Built once: the same statement for every paywall, only its parameter changes.
_LOCK_BUYERS = (
    update(Paywall)
    .where(Paywall.id == bindparam("paywall"))
    .values(buyers_version=Paywall.buyers_version + 1)
    .returning(Paywall.buyers_version)
)


class PaywallRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: Any) -> None:
        self.session.add(obj)
        self.session.flush()

    def code_taken(self, code: str) -> bool:
        return self.session.scalar(select(Paywall.id).where(Paywall.code == code)) is not None

    # --- paywalls --------------------------------------------------------------------------

    def live_by_code(self, company_id: int, code: str) -> Paywall | None:
        return self.live_by_codes({(company_id, code)}).get((company_id, code))

    def live_by_codes(self, wanted: Set[tuple[int, str]]) -> dict[tuple[int, str], Paywall]:
        """Live paywalls by (company id, code), several at once; one query."""
        return live_by_company_codes(self.session, Paywall, wanted)

    def live_by_public_code(self, code: str) -> Paywall | None:
        return self.session.scalar(select(Paywall).where(Paywall.code == code, Paywall.deleted_at.is_(None)))

    def live_for_company(self, company_id: int) -> Sequence[tuple[Paywall, int]]:
        """Every live paywall with the number of live media in it."""
        count = (
            select(func.count(PaywallMedia.id))
            .join(Media, Media.id == PaywallMedia.media_id)
            .where(PaywallMedia.paywall_id == Paywall.id, Media.deleted_at.is_(None))
            .scalar_subquery()
        )
        stmt = (
            select(Paywall, count)
            .where(Paywall.company_id == company_id, Paywall.deleted_at.is_(None))
            .order_by(Paywall.id)
        )
        return [(row[0], int(row[1] or 0)) for row in self.session.execute(stmt).all()]

    def pass_counts(self, paywall_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(live buyers, passes ever sold) of many paywalls in one query, by paywall id."""
        if not paywall_ids:
            return {}
        live = func.count(AccessPass.id).filter(AccessPass.deleted_at.is_(None))
        stmt = (
            select(AccessPass.paywall_id, live, func.count(AccessPass.id))
            .where(AccessPass.paywall_id.in_(list(paywall_ids)))
            .group_by(AccessPass.paywall_id)
        )
        return {int(row[0]): (int(row[1]), int(row[2])) for row in self.session.execute(stmt).all()}

    def passes_with_media(self, paywall_id: int) -> Sequence[tuple[AccessPass, Media | None]]:
        """Every pass of a paywall, deleted ones too, newest purchase first, with its media."""
        stmt = (
            select(AccessPass, Media)
            .outerjoin(Media, Media.id == AccessPass.media_id)
            .where(AccessPass.paywall_id == paywall_id)
            .order_by(AccessPass.purchased_at.desc(), AccessPass.id.desc())
        )
        return [(row[0], row[1]) for row in self.session.execute(stmt).all()]

    def lock_paywall(self, paywall_id: int) -> int:
        """Hold the paywall's row until the transaction ends, and raise its buyers' version by one:
        taken just before the commit, so that checking an added buyer against its rivals' runs one at
        a time per paywall (ADR 0017). The version raised is returned: one above the version a work
        read before its lookups means no rival added a buyer meanwhile (every transaction that adds
        one raises it here). A row lock on PostgreSQL, the write lock on SQLite (whose reads take
        none)."""
        return int(self.session.connection().execute(_LOCK_BUYERS, {"paywall": paywall_id}).scalar_one())

    def live_for_media(self, media_id: int) -> Sequence[Paywall]:
        stmt = (
            select(Paywall)
            .join(PaywallMedia, PaywallMedia.paywall_id == Paywall.id)
            .where(PaywallMedia.media_id == media_id, Paywall.deleted_at.is_(None))
            .order_by(Paywall.id)
        )
        return self.session.scalars(stmt).all()

    # --- media in paywalls ---------------------------------------------------------------------

    def placed(self, wanted: Set[tuple[int, str, str]]) -> dict[tuple[int, str, str], tuple[Paywall, Media]]:
        """Live paywalls with a live media in them, by (company id, paywall code, media code): the
        ones of ``wanted`` whose media is in the paywall; one query (a batch of buyers naming theirs)."""
        if not wanted:
            return {}
        stmt = (
            # Of the media, what a buyer records (its id, its code): not its every column.
            select(Paywall, Media)
            .options(load_only(Media.id, Media.code, Media.company_id))
            .join(PaywallMedia, PaywallMedia.paywall_id == Paywall.id)
            .join(Media, Media.id == PaywallMedia.media_id)
            .where(
                Paywall.company_id.in_(sorted({company_id for company_id, _, _ in wanted})),
                Paywall.code.in_(sorted({code for _, code, _ in wanted})),
                Paywall.deleted_at.is_(None),
                Media.company_id == Paywall.company_id,
                Media.code.in_(sorted({code for _, _, code in wanted})),
                Media.deleted_at.is_(None),
            )
        )
        found = {
            (paywall.company_id, paywall.code, media.code): (paywall, media)
            for paywall, media in self.session.execute(stmt)
        }
        return {key: found[key] for key in wanted if key in found}

    def link(self, paywall_id: int, media_id: int) -> PaywallMedia | None:
        stmt = select(PaywallMedia).where(
            PaywallMedia.paywall_id == paywall_id, PaywallMedia.media_id == media_id
        )
        return self.session.scalar(stmt)

    def unlink(self, link: PaywallMedia) -> None:
        self.session.delete(link)
        self.session.flush()

    def detach_media(self, media_id: int) -> None:
        self.session.execute(delete(PaywallMedia).where(PaywallMedia.media_id == media_id))
        move(self.session, VIEWING)  # a bulk delete: sessions of the media are checked again

    def media_page(self, paywall_id: int, limit: int, offset: int) -> Sequence[Media]:
        stmt = (
            select(Media)
            .join(PaywallMedia, PaywallMedia.media_id == Media.id)
            .where(PaywallMedia.paywall_id == paywall_id, Media.deleted_at.is_(None))
            .order_by(PaywallMedia.added_at, PaywallMedia.id)
            .offset(offset)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    # --- access passes (buyers) ---------------------------------------------------------------------

    def passwords_taken(self, paywall_id: int, passwords: Sequence[str]) -> bool:
        """Whether any of ``passwords`` is or was a pass's of the paywall (deleted ones included)."""
        stmt = select(AccessPass.id).where(
            AccessPass.paywall_id == paywall_id, AccessPass.password.in_(list(passwords))
        )
        return self.session.scalar(stmt.limit(1)) is not None

    def live_pass(self, paywall_id: int, password: str) -> AccessPass | None:
        stmt = select(AccessPass).where(
            AccessPass.paywall_id == paywall_id,
            AccessPass.password == password,
            AccessPass.deleted_at.is_(None),
        )
        return self.session.scalar(stmt)

    def live_passes(
        self, paywall_id: int, *, email: str | None = None, media_id: int | None = None
    ) -> Sequence[AccessPass]:
        conditions = [AccessPass.paywall_id == paywall_id, AccessPass.deleted_at.is_(None)]
        if email is not None:
            conditions.append(func.lower(AccessPass.email) == email.lower())
        if media_id is not None:
            conditions.append(AccessPass.media_id == media_id)
        stmt = select(AccessPass).where(*conditions).order_by(AccessPass.id)
        return self.session.scalars(stmt).all()

    def live_passes_of_people(
        self, paywall_ids: Set[int], emails: Set[str], phones: Set[str]
    ) -> Sequence[AccessPass]:
        """Live passes of these paywalls with one of these (lower-cased) emails or phones, by id."""
        return [p for p in self.passes_of(paywall_ids, emails, phones, set()) if p.deleted_at is None]

    def passes_of(
        self, paywall_ids: Set[int], emails: Set[str], phones: Set[str], passwords: Set[str]
    ) -> Sequence[AccessPass]:
        """Passes of these paywalls, deleted ones included, with one of these (lower-cased) emails,
        phones or passwords, by id: one query answers a batch of buyers' lookups (who they are,
        whose a chosen password is, whether a drawn one was ever given), each through its index."""
        matches = []
        if emails:
            matches.append(func.lower(AccessPass.email).in_(sorted(emails)))
        if phones:
            matches.append(AccessPass.phone.in_(sorted(phones)))
        if passwords:
            matches.append(AccessPass.password.in_(sorted(passwords)))
        if not paywall_ids or not matches:
            return []
        stmt = (
            select(AccessPass)
            .where(AccessPass.paywall_id.in_(sorted(paywall_ids)), or_(*matches))
            .order_by(AccessPass.id)
        )
        return self.session.scalars(stmt).all()

    def passes_for_password(self, password: str, paywall_ids: Sequence[int]) -> Sequence[AccessPass]:
        stmt = select(AccessPass).where(
            AccessPass.password == password,
            AccessPass.paywall_id.in_(list(paywall_ids)),
            AccessPass.deleted_at.is_(None),
        )
        return self.session.scalars(stmt).all()

    def take_activation(self, pass_id: int, limit: int | None) -> bool:
        """Count one activation, unless ``limit`` is reached (decided by the database, race-free)."""
        condition = AccessPass.id == pass_id
        if limit is not None:
            condition = and_(condition, AccessPass.activations_used < limit)
        result = self.session.execute(
            update(AccessPass).where(condition).values(activations_used=AccessPass.activations_used + 1)
        )
        self.session.expire_all()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    # --- viewer sessions of a pass ----------------------------------------------------------------------

    def device_known(self, pass_id: int, device_hash: str, ip: str | None) -> bool:
        """Whether this device (or, with ip_recovery, this IP) already activated the pass."""
        same = ViewSession.device_hash == device_hash
        if ip:
            same = or_(same, ViewSession.ip == ip)
        stmt = select(ViewSession.id).where(ViewSession.pass_id == pass_id, same).limit(1)
        return self.session.scalar(stmt) is not None

    def other_live_device(self, pass_id: int, device_hash: str, ip: str | None, since: datetime) -> bool:
        same = ViewSession.device_hash == device_hash
        if ip:
            same = or_(same, ViewSession.ip == ip)
        stmt = (
            select(ViewSession.id)
            .where(
                ViewSession.pass_id == pass_id,
                ViewSession.ended_at.is_(None),
                ViewSession.last_seen_at >= since,
                ~same,
            )
            .limit(1)
        )
        return self.session.scalar(stmt) is not None

    # --- seller contacts ---------------------------------------------------------------------------------

    def contacts(self, company_id: int) -> SellerContacts | None:
        return self.session.scalar(select(SellerContacts).where(SellerContacts.company_id == company_id))
