"""View-time statistics from hourly and daily rollups, and the viewer sessions of an access password.

Heartbeats add to the rollups as they arrive (see ViewingService), so a query reads at most one row
per hour (by hour) or per day (by day) of its period, however many heartbeats made them. Days and
hours are UTC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.media.repository import MediaRepository
from podium.domain.media.service import MediaService
from podium.domain.paywall.repository import PaywallRepository
from podium.domain.stats.repository import PROJECT, StatsRepository
from podium.domain.tenancy.repository import TenancyRepository
from podium.domain.tenancy.service import TenancyService
from podium.kit.clock import utcnow
from podium.kit.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from podium.models.media import Media
from podium.models.paywall import ViewSession

PAGE_LIMIT = 1000
MAX_DAYS = 3660
DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time())

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time())


@dataclass(frozen=True)
class StatsPage:
    period: Period
    group: str
    source_type: str
    page: int
    page_count: int
    item_count: int
    items: Sequence[tuple[datetime, int]]  # bucket start, watched milliseconds
    page_limit: int = PAGE_LIMIT


@dataclass(frozen=True)
class SessionsPage:
    media: Media
    page: int
    page_count: int
    item_count: int
    rows: Sequence[ViewSession]
    page_limit: int = PAGE_LIMIT


class StatsService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = StatsRepository(session)

    def project(
        self,
        actor: Actor,
        *,
        project: str = "",
        start: date | None = None,
        end: date | None = None,
        group: str = "",
        order: str = "",
        page: int | None = None,
    ) -> StatsPage:
        """Watched time of the caller's project, of ``all`` the owner's projects, or of another
        project of the same owner named by its API key."""
        return self._page(
            self._companies(actor, project.strip()), PROJECT, "project", start, end, group, order, page
        )

    def target(
        self,
        actor: Actor,
        code: str,
        *,
        start: date | None = None,
        end: date | None = None,
        group: str = "",
        order: str = "",
        page: int | None = None,
    ) -> StatsPage:
        """Watched time of one media of the caller's project."""
        media = MediaService(self.session, self.settings).get(actor, code)
        return self._page([actor.company_id], media.id, "media", start, end, group, order, page)

    def sessions(
        self,
        actor: Actor,
        media_code: str,
        password: str,
        *,
        start: date | None = None,
        end: date | None = None,
        order: str = "",
        page: int | None = None,
    ) -> SessionsPage:
        """The view sessions an access password opened on a media (default: today, UTC)."""
        media = MediaService(self.session, self.settings).get(actor, media_code)
        today = utcnow().date()
        period = _period(start or today, end or today + timedelta(days=1))
        paywalls = PaywallRepository(self.session)
        pass_ids = [
            b.id
            for paywall in paywalls.live_for_media(media.id)
            for b in [paywalls.live_pass(paywall.id, password.strip())]
            if b is not None
        ]
        if not pass_ids:
            raise NotFound("Recovery code is not found")
        number = _page_number(page)
        rows, total = self.repo.sessions_page(
            media.id,
            pass_ids,
            period.since,
            period.until,
            descending=_descending(order),
            limit=PAGE_LIMIT,
            offset=(number - 1) * PAGE_LIMIT,
        )
        return SessionsPage(media, number, max(1, math.ceil(total / PAGE_LIMIT)), total, rows)

    def _companies(self, actor: Actor, project: str) -> list[int]:
        if not project:
            return [actor.company_id]
        tenancy = TenancyRepository(self.session)
        own = tenancy.company(actor.company_id)
        assert own is not None
        if project.lower() == "all":
            return [c.id for c in tenancy.live_companies({own.reseller_id})]
        try:
            other = TenancyService(self.session, self.settings).authenticate_boomstream(project)
        except Unauthenticated:
            raise NotFound("Project not found") from None
        other_company = tenancy.company(other.company_id)
        if other_company is None or other_company.reseller_id != own.reseller_id:
            raise Forbidden("This project belongs to another owner")
        return [other_company.id]

    def _page(
        self,
        company_ids: list[int],
        media_id: int,
        source_type: str,
        start: date | None,
        end: date | None,
        group: str,
        order: str,
        page: int | None,
    ) -> StatsPage:
        end = end or utcnow().date()
        period = _period(start or end - timedelta(days=DEFAULT_DAYS), end)
        group = (group or "day").lower()
        if group not in ("day", "hour"):
            raise InvalidInput("group must be day or hour", field="group")
        descending = _descending(order)
        number = _page_number(page)
        if group == "day":
            rows = self.repo.watched_by_day(
                company_ids, media_id, period.start, period.end + timedelta(days=1)
            )
        else:
            rows = self.repo.watched_by_hour(company_ids, media_id, period.since, period.until)
        # The rows come oldest first, one per bucket.
        items = [(k, v) for k, v in rows if v > 0]
        if descending:
            items.reverse()
        return StatsPage(
            period=period,
            group=group,
            source_type=source_type,
            page=number,
            page_count=max(1, math.ceil(len(items) / PAGE_LIMIT)),
            item_count=len(items),
            items=items[(number - 1) * PAGE_LIMIT : number * PAGE_LIMIT],
        )


def _period(start: date, end: date) -> Period:
    if start > end:
        raise InvalidInput("start must not be after end", field="start")
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(f"The period is longer than {MAX_DAYS} days", field="start")
    return Period(start, end)


def _descending(order: str) -> bool:
    order = (order or "asc").lower()
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be asc or desc", field="order")
    return order == "desc"


def _page_number(page: int | None) -> int:
    page = 1 if page is None else page
    if not 1 <= page <= 1_000_000:
        raise InvalidInput("page must be 1 or more", field="page")
    return page


@dataclass(frozen=True)
class ConsoleStats:
    """The operator console's charts over one period (UTC days)."""

    period: Period
    watched_by_day: Sequence[tuple[date, int]]  # every day of the period, watched ms (0 included)
    viewers_by_day: Sequence[tuple[date, int]]  # every day of the period, distinct viewers
    by_media: Sequence[tuple[str, str, int]]  # code, title, watched ms; the most watched first
    by_country: Sequence[tuple[str, int, int]]  # country, viewers, watched ms


def console_stats(session: Session, settings: Settings, actor: Actor, *, days: int = 14) -> ConsoleStats:
    """The charts of the actor's company (admins only) over the last ``days`` UTC days: watched time
    per day from the same rollups as ``api/stats``, viewers per day and by country from the view
    sessions, watched time by media.

    Raises:
        Forbidden: a plain host.
        InvalidInput: ``days`` out of 1..366.
    """
    AccessPolicy(session, actor).require_admin()
    if not 1 <= days <= 366:
        raise InvalidInput("days must be between 1 and 366", field="days")
    end = utcnow().date()
    start = end - timedelta(days=days - 1)
    page = StatsService(session, settings).project(actor, start=start, end=end, group="day")
    repo = StatsRepository(session)
    every_day = [start + timedelta(days=n) for n in range(days)]
    watched = {moment.date(): ms for moment, ms in page.items}
    viewers = dict(repo.viewers_by_day(actor.company_id, page.period.since, page.period.until))
    top = repo.watched_by_media(actor.company_id, start, end + timedelta(days=1))
    titles = MediaRepository(session).titles([m for m, _ in top])
    return ConsoleStats(
        period=page.period,
        watched_by_day=[(d, watched.get(d, 0)) for d in every_day],
        viewers_by_day=[(d, viewers.get(d, 0)) for d in every_day],
        by_media=[(*titles.get(m, ("", f"#{m}")), ms) for m, ms in top],
        by_country=repo.by_country(actor.company_id, page.period.since, page.period.until),
    )
