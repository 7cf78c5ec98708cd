"""Fixtures for the conference services, called directly with an Actor (no HTTP).

The Iotum world (two reseller trees, a customer company, a child reseller's company) is made once per
module; each test opens its own session, which is rolled back at the end. Hosts and contacts are made
(and committed) before a test's session writes, so no two transactions wait on each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.actor import Actor
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions
from podium.kit.clock import utcnow
from podium.models.conference import Conference
from podium.models.media import Media
from podium.models.tenancy import Role
from tests.fixtures.iotum import World, build_world


@dataclass
class Scene:
    world: World
    ra: Actor  # reseller admin of the home tree (acting from its own admin company)
    ca: Actor  # company admin of the customer company
    host: Actor  # a plain host of the customer company
    foreign_ra: Actor  # reseller admin of another tree
    sibling_ca: Actor  # company admin of another company of the same reseller

    @property
    def settings(self) -> Settings:
        return self.world.settings

    def organiser(self, company_id: int | None = None, plan: str = "large_plan", **fields: object) -> int:
        """A new host on ``plan`` (every feature with large_plan) in the customer company by default."""
        return self.world.new_host(company_id or self.world.company_id, plan_slug=plan, **fields)

    def contact(self, host_id: int, company_id: int | None = None) -> int:
        return self.world.new_contact(company_id or self.world.company_id, host_id)


def _actor(company_id: int, role: Role, host_id: int, reseller_id: int) -> Actor:
    return Actor(company_id=company_id, role=role, via="test", host_id=host_id, reseller_id=reseller_id)


@pytest.fixture(scope="module")
def scene(app_client: TestClient) -> Iterator[Scene]:
    world = build_world(app_client)
    for company_id in (world.company_id, world.child_company_id):
        for slug in ("small_plan", "large_plan"):
            world.subscribe(company_id, slug, switch_plan=None, subscribe_all_hosts=False)
    sibling = world.new_company(world.home.reseller_id)
    sibling_admin = world.new_host(sibling, role=Role.COMPANY_ADMIN)
    home, foreign = world.home, world.foreign
    yield Scene(
        world,
        ra=_actor(home.admin_company_id, Role.RESELLER_ADMIN, home.ra_host_id, home.reseller_id),
        ca=_actor(world.company_id, Role.COMPANY_ADMIN, world.ca_host_id, home.reseller_id),
        host=_actor(world.company_id, Role.HOST, world.host_host_id, home.reseller_id),
        foreign_ra=_actor(
            foreign.admin_company_id, Role.RESELLER_ADMIN, foreign.ra_host_id, foreign.reseller_id
        ),
        sibling_ca=_actor(sibling, Role.COMPANY_ADMIN, sibling_admin, home.reseller_id),
    )


@pytest.fixture
def session(scene: Scene) -> Iterator[Session]:
    """A session for one test; nothing it does is committed."""
    with scene.world.sessions() as session:
        yield session
        session.rollback()


@pytest.fixture
def scheduling(scene: Scene, session: Session) -> SchedulingService:
    return SchedulingService(session, scene.settings)


UTC = ZoneInfo("UTC")


def at(moment: datetime) -> datetime:
    """A start as a naive UTC wall time (the conference's zone is UTC unless a test says otherwise)."""
    return moment.replace(microsecond=0)


def soon(**delta: float) -> datetime:
    return at(utcnow() + timedelta(**delta))


def options(start: datetime | None = None, duration: int = 60, **fields: object) -> ConferenceOptions:
    """Options of a scheduled conference in UTC, starting ``start`` (in two days by default)."""
    return ConferenceOptions(
        start=start or soon(days=2),
        duration=duration,
        time_zone=UTC,
        **fields,  # type: ignore[arg-type]
    )


def a_live_media(session: Session, conference: Conference) -> int:
    """A media row of kind Live to stream into (the lives' service makes real ones; it needs an RTMP
    server)."""
    media = Media(
        company_id=conference.company_id,
        code=secrets.token_hex(4),
        storage_key=secrets.token_hex(16),
        media_type="live",
        status="Done",
    )
    session.add(media)
    session.flush()
    return media.id
