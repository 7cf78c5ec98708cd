"""Tenancy service on the real database: hashed secrets, authentication, provisioning rules, audit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from podium.domain.audit.repository import AuditRepository
from podium.domain.tenancy.service import TenancyService
from podium.kit.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from podium.kit.ids import hash_secret
from podium.models.tenancy import Company, Credential
from tests.edges.boomstream.helpers import boom, ok
from tests.fixtures.tenants import TenantFactory


def test_secrets_are_stored_only_as_hashes(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        rows = session.scalars(select(Credential).where(Credential.company_id == tenant.company_id)).all()
        stored = {value for row in rows for value in (row.secret_hash, row.public_id or "")}
    assert len(rows) == 3  # Boomstream key, Iotum API token, LiveMinutes account
    for secret in (tenant.boomstream_apikey, tenant.liveminutes_auth_token):
        assert secret not in stored
        assert hash_secret(secret) in stored
    assert tenant.liveminutes_account_sid in stored  # the public half is stored as is


def test_authentication_and_deleted_company(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        tenancy = TenancyService(session)
        assert tenancy.authenticate_boomstream(tenant.boomstream_apikey).company_id == tenant.company_id
        actor = tenancy.authenticate_liveminutes(*tenant.basic)
        assert actor.company_id == tenant.company_id
        with pytest.raises(Unauthenticated):
            tenancy.authenticate_liveminutes(tenant.liveminutes_account_sid, tenant.boomstream_apikey)
        company = session.get(Company, tenant.company_id)
        assert company is not None
        from podium.kit.clock import utcnow

        company.deleted_at = utcnow()
        session.commit()
    # A deleted company's credentials stop working, through the API too.
    assert boom(client, "conference/list", tenant.boomstream_apikey)["Message"] == "Invalid credentials"
    assert (
        client.post("/liveminutes/getMeetingUrl", data={"meetingKey": "x"}, auth=tenant.basic).status_code
        == 401
    )


def test_provisioning_rules(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        tenancy = TenancyService(session)
        with pytest.raises(NotFound):
            tenancy.create_company(10**9, "Nobody's", "nobody")
        with pytest.raises(InvalidInput):
            tenancy.create_company(tenant.reseller_id, "Bad", "Not A Subdomain")
        first = tenancy.provision_company(tenant.reseller_id, "Acme", "acme")
        with pytest.raises(Conflict):
            tenancy.create_company(tenant.reseller_id, "Acme again", "ACME")
        # Another reseller may use the same subdomain.
        other = tenancy.create_reseller("Other reseller")
        tenancy.create_company(other.id, "Acme elsewhere", "acme")
        child = tenancy.create_reseller("Child", parent_id=other.id)
        assert child.parent_id == other.id
        assert first["boomstream_apikey"] != tenant.boomstream_apikey
        session.rollback()


def test_state_changes_are_audited(client: TestClient, tenants: TenantFactory) -> None:
    tenant = tenants()
    key = tenant.boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="Audited"))["Code"]
    invite = ok(boom(client, "conference/invite", key, code=code, email="a@example.com"))
    ok(boom(client, "conference/client/delete", key, code=invite["clientCode"]))
    ok(boom(client, "conference/delete", key, code=code))
    boom(client, "conference/create", key)  # a failure records nothing
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        actions = [entry.action for entry in AuditRepository(session).for_company(tenant.company_id)]
    assert actions[-4:] == [
        "conference.created",
        "participant.invited",
        "participant.removed",
        "conference.deleted",
    ]
    assert actions.count("conference.created") == 1
