"""Two transactions that give one email to a conference at once — each looked it up, without a lock,
before either committed — end with one participant of that email (``ParticipantService``'s check
before the commit, ADR 0017): the later invitation runs again and updates the earlier one's
participant; the later change of email runs again and is refused. Real threads, real database
(SQLite, or PostgreSQL in its pass); the race is made certain by holding each work just before its
first writing statement until both have looked. (On PostgreSQL two invitations also meet at the company's row,
which a new participant's quota bound locks; a change of email takes no such lock, so the second test
is the one that fails there without the conference's emails' lock.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from podium.domain.actor import Actor
from podium.domain.conferences.service import ConferenceService
from podium.domain.participants.service import Invitation, ParticipantService
from podium.domain.tenancy.service import TenancyService
from podium.kit import uow
from podium.kit.errors import Conflict
from podium.models.audit import AuditEntry
from podium.models.participant import Participant
from tests.fixtures.racing import side_by_side
from tests.fixtures.tenants import TenantFactory


def _room(app: Any, tenants: TenantFactory) -> tuple[Actor, str, int]:
    tenant = tenants()
    with app.state.sessions() as session:
        actor = TenancyService(session, app.state.settings).authenticate_boomstream(tenant.boomstream_apikey)
        conferences = ConferenceService(session, app.state.settings)
        conference = conferences.create(conferences.checked_creation(actor, title="Race"))
        session.commit()
        return actor, conference.code, conference.id


def test_one_person_invited_by_two_transactions_at_once_is_one_participant(
    client: TestClient, tenants: TenantFactory
) -> None:
    app: Any = client.app
    actor, code, conference_id = _room(app, tenants)

    def invite(email: str, name: str) -> Callable[[uow.Context], Invitation]:
        def work(ctx: uow.Context) -> Invitation:
            people = ParticipantService(ctx.session, ctx.settings)
            return people.invite(people.checked_invitation(actor, code, email=email, name=name))

        return work

    answers = side_by_side(app, [invite("Same@Example.com", "First"), invite("same@example.com", "Second")])
    assert all(isinstance(a, Invitation) for a in answers), answers
    invited = [a.participant for a in answers if isinstance(a, Invitation)]
    assert invited[0].id == invited[1].id, invited
    with app.state.sessions() as session:
        same = session.scalars(
            select(Participant).where(
                Participant.conference_id == conference_id,
                func.lower(Participant.email) == "same@example.com",
            )
        ).all()
        assert [p.id for p in same] == [invited[0].id], same
        # The one that ran again found the other's participant: an invitation, then a re-invitation.
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.ref == f"participant:{invited[0].id}")
        ).all()
        assert sorted(actions) == ["participant.invited", "participant.reinvited"], actions


def test_one_email_given_to_two_participants_at_once_is_given_to_one(
    client: TestClient, tenants: TenantFactory
) -> None:
    app: Any = client.app
    actor, code, conference_id = _room(app, tenants)
    with app.state.sessions() as session:
        people = ParticipantService(session, app.state.settings)
        ids = [
            people.invite(people.checked_invitation(actor, code, email=f"{who}@example.com")).participant.id
            for who in ("ann", "bob")
        ]
        session.commit()

    def change(participant_id: int, email: str) -> Callable[[uow.Context], Participant]:
        def work(ctx: uow.Context) -> Participant:
            participant = ctx.session.get(Participant, participant_id)
            assert participant is not None
            return ParticipantService(ctx.session, ctx.settings).update(actor, participant, email=email)

        return work

    answers = side_by_side(app, [change(ids[0], "Cy@Example.com"), change(ids[1], "cy@example.com")])
    changed = [a for a in answers if isinstance(a, Participant)]
    refused = [a for a in answers if isinstance(a, Conflict)]
    assert len(changed) == 1 and len(refused) == 1, answers
    assert "Another client of this conference has this email" in str(refused[0])
    with app.state.sessions() as session:
        emails = session.scalars(
            select(func.lower(Participant.email))
            .where(Participant.conference_id == conference_id)
            .order_by(Participant.id)
        ).all()
        assert sorted(emails) == sorted(
            ["cy@example.com", "ann@example.com" if changed[0].id == ids[1] else "bob@example.com"]
        ), emails
