"""Quota bounds on the company row (domain/tenancy/usage.py, ADR 0017): raised by every row added in
the same transaction, whatever added it; a check under the quota trusts the bound, one above it counts
and sets it to the count; a refusal leaves it as it was; removing rows leaves it looser, not wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from podium.app import create_app
from podium.domain.conferences.roster import new_participant
from podium.models.conference import Conference
from podium.models.participant import ParticipantRole
from podium.models.tenancy import Company
from tests.conftest import make_settings
from tests.edges.liveminutes.helpers import failed, lm, ok
from tests.fixtures.tenants import Tenant, TenantFactory


@pytest.fixture
def small(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    settings = make_settings(data_dir, database_url, quota_conferences=2, quota_users=3)
    with TestClient(create_app(settings)) as client:
        yield client


def _bounds(client: TestClient, tenant: Tenant) -> tuple[int | None, int | None]:
    """The bounds of ``tenant``'s company (where its meetings are: another test's company may have a
    meeting of the same key in the same database)."""
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        company_id = session.scalar(
            select(Conference.company_id).where(
                Conference.meeting_key == "m1", Conference.company_id == tenant.company_id
            )
        )
        company = session.get(Company, company_id)
        assert company is not None
        return company.conference_rows_bound, company.user_rows_bound


def test_bounds_follow_the_rows_and_a_check_counts_only_above_the_quota(
    small: TestClient, tenants: TenantFactory
) -> None:
    client, tenant = small, tenants()
    ok(lm(client, tenant, "createMeeting", meetingKey="m1", hostid="host"))
    assert _bounds(client, tenant)[0] == 1  # unknown, so counted: one live meeting
    ok(lm(client, tenant, "createMeeting", meetingKey="m2", hostid="host"))
    assert _bounds(client, tenant)[0] == 2  # raised by the new row, trusted (2 is the quota)
    ok(lm(client, tenant, "cancelMeeting", meetingKey="m2"))
    assert _bounds(client, tenant)[0] == 2  # a removal leaves the bound looser
    ok(lm(client, tenant, "createMeeting", meetingKey="m3", hostid="host"))
    assert _bounds(client, tenant)[0] == 2  # 3 passed the quota: counted (m1, m3) and set
    failed(lm(client, tenant, "createMeeting", meetingKey="m4", hostid="host"), "session limit reached")
    assert _bounds(client, tenant)[0] == 2  # the refused creation's raise was rolled back

    # Users: the meetings' host counts once per hosted meeting row; participants add one each.
    ok(lm(client, tenant, "addParticipant", meetingKey="m1", puid="u1"))
    known = _bounds(client, tenant)[1]
    assert known is not None
    ok(lm(client, tenant, "addParticipant", meetingKey="m3", puid="u1"))  # the same person, a new row
    assert _bounds(client, tenant)[1] == known + 1


def test_a_row_added_without_a_quota_check_raises_the_bound_too(
    small: TestClient, tenants: TenantFactory
) -> None:
    client, tenant = small, tenants()
    ok(lm(client, tenant, "createMeeting", meetingKey="m1", hostid="host"))
    ok(lm(client, tenant, "addParticipant", meetingKey="m1", puid="u1"))
    _, before = _bounds(client, tenant)
    assert before is not None
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        conference = session.scalar(
            select(Conference).where(
                Conference.meeting_key == "m1", Conference.company_id == tenant.company_id
            )
        )
        assert conference is not None
        new_participant(
            session, conference, email="x@example.com", name="X", role=ParticipantRole.PARTICIPANT
        )
        session.commit()
    assert _bounds(client, tenant)[1] == before + 1
