"""Access codes: one-time codes never collide with hosts' (or other conferences') codes, every public
code is drawn through the one loop, and a one-time code reused outside its time makes instances."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from podium.domain.conferences import access_codes, rows
from podium.domain.conferences.access_codes import (
    ONE_TIME_CODE_DIGITS,
    AccessCodes,
    conference_codes,
)
from podium.domain.conferences.roster import new_participant
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import Invitee
from podium.domain.joining.service import JoiningService
from podium.kit import ids
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, LinkExpired
from podium.models.audit import AuditEntry
from podium.models.conference import Conference
from podium.models.participant import Participant, ParticipantRole
from podium.models.tenancy import Host
from tests.domain.conferences.conftest import Scene, options, soon


def _draws(monkeypatch: pytest.MonkeyPatch, *codes: str) -> None:
    """The next random codes ``AccessCodes.draw`` makes (then random again)."""
    queue: Iterator[str] = iter(codes)

    def randbelow(n: int) -> int:
        low = n // 9
        try:
            return int(next(queue)) - low
        except StopIteration:
            return original(n)

    original = access_codes.secrets.randbelow
    monkeypatch.setattr(access_codes.secrets, "randbelow", randbelow)


def test_a_one_time_code_is_never_a_hosts_code(
    scene: Scene, session: Session, scheduling: SchedulingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    organiser = scene.organiser()
    other = session.get(
        Host, scene.organiser(company_id=scene.world.foreign.admin_company_id, plan="small_plan")
    )
    assert other is not None
    other.access_code = "918273645"  # a 9-digit dedicated code, in another reseller's company
    session.flush()
    _draws(monkeypatch, "918273645", "918273646")
    conference = scheduling.create(scene.ca, organiser, options(one_time_access_code=True))
    assert conference.access_code == "918273646"
    assert len(conference.access_code) == ONE_TIME_CODE_DIGITS


def test_a_one_time_code_is_never_another_conferences_code(
    scene: Scene, scheduling: SchedulingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = scene.organiser()
    first = scheduling.create(scene.ca, host, options(one_time_access_code=True))
    scheduling.cancel(scene.ca, first.id)  # codes stay reserved after deletion
    assert first.access_code is not None
    _draws(monkeypatch, first.access_code)
    second = scheduling.create(scene.ca, host, options(one_time_access_code=True))
    assert second.access_code not in (first.access_code, None)


def test_a_host_cannot_claim_a_conference_code(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    other = scene.organiser(company_id=scene.world.child_company_id)
    conference = scheduling.create(scene.ca, host, options(one_time_access_code=True))
    assert conference.access_code is not None
    codes = AccessCodes(session)
    assert not codes.is_free(conference.access_code, for_host=other)
    with pytest.raises(Conflict):
        codes.claim(conference.access_code, for_host=other)
    own = session.get(Host, host)
    assert own is not None and codes.is_free(own.access_code, for_host=host)  # its own code is its own


def test_public_codes_are_drawn_again_on_a_collision(
    scene: Scene, session: Session, scheduling: SchedulingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = scene.organiser()
    taken = scheduling.create(scene.ca, host, options())
    taken_client = session.scalars(select(Participant).where(Participant.conference_id == taken.id)).first()
    assert taken_client is not None
    conference_code, client_code = iter([taken.code, "zzz-zzzz-zzz"]), iter([taken_client.code, "Zz9Zz9Zz"])
    monkeypatch.setattr(ids, "conference_code", lambda: next(conference_code))
    monkeypatch.setattr(ids, "client_code", lambda: next(client_code))
    company = [taken.company_id]
    assert conference_codes(session, company)[0]["code"] == "zzz-zzzz-zzz"
    # A participant's taken code: skipped by its insert, drawn again.
    assert new_participant(
        session, taken, email="late@example.com", role=ParticipantRole.PARTICIPANT
    ).code == ("Zz9Zz9Zz")
    # A batch (group commit): one taken code draws the whole batch again, checked by one query.
    conference_code = iter(["aaa-aaaa-aaa", taken.code, "bbb-bbbb-bbb", "ccc-cccc-ccc"])
    assert [c["code"] for c in conference_codes(session, company * 2)] == ["bbb-bbbb-bbb", "ccc-cccc-ccc"]
    # Two alike in one draw are a collision too, though neither is taken yet.
    conference_code = iter(["ddd-dddd-ddd", "ddd-dddd-ddd", "eee-eeee-eee", "fff-ffff-fff"])
    assert [c["code"] for c in conference_codes(session, company * 2)] == ["eee-eeee-eee", "fff-ffff-fff"]


def test_a_drawn_meeting_key_is_one_no_live_conference_of_its_company_has(
    scene: Scene, session: Session, scheduling: SchedulingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A meeting key is unique among a company's live conferences (what the unique index guards),
    so that is where a drawn one must be free; another company's, or a deleted conference's, is no
    collision."""
    host = scene.organiser()
    taken = scheduling.create(scene.ca, host, options())
    deleted = scheduling.create(scene.ca, host, options())
    deleted.deleted_at = utcnow()
    session.flush()
    keys = iter([taken.meeting_key, "fresh-key-1", deleted.meeting_key, taken.meeting_key])
    monkeypatch.setattr(ids, "meeting_key", lambda: next(keys))
    assert conference_codes(session, [taken.company_id])[0]["meeting_key"] == "fresh-key-1"
    assert conference_codes(session, [taken.company_id])[0]["meeting_key"] == deleted.meeting_key
    assert conference_codes(session, [scene.sibling_ca.company_id])[0]["meeting_key"] == taken.meeting_key


def test_reusing_a_one_time_code_makes_instances_until_it_expires(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    contact = scene.contact(host)
    start = soon(days=2)
    original = scheduling.create(
        scene.ca, host, options(start, duration=30, one_time_access_code=True), [Invitee.contact(contact)]
    )
    code = original.access_code
    assert code is not None
    joining = JoiningService(session, scene.settings)

    early = joining.resolve_access_code(code, now=start - timedelta(days=1)).conference
    assert early.id != original.id and early.started_at is not None and early.reservationless
    assert (early.access_code, early.moderator_token) == (code, original.moderator_token)
    assert scheduling.view(early).participants == scheduling.view(original).participants
    assert early.code != original.code  # its own Boomstream code and links
    # While it runs, the same visit finds the running instance rather than making another.
    assert (
        joining.resolve_access_code(code, now=start - timedelta(days=1, minutes=-5)).conference.id == early.id
    )
    during = joining.resolve_access_code(code, now=start + timedelta(minutes=5)).conference
    assert during.id == original.id
    later = joining.resolve_access_code(code, now=start + timedelta(hours=72)).conference
    assert later.id not in (original.id, early.id)
    reuses = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "conference.access_code_reused", AuditEntry.company_id == original.company_id
        )
    ).all()
    # A reuse copies the earliest conference on the code (here the first reuse, for the second).
    assert {e.data["original_conference_id"] for e in reuses} <= {original.id, early.id}
    assert {e.data["conference_id"] for e in reuses} == {early.id, later.id}
    with pytest.raises(LinkExpired):
        joining.resolve_access_code(code, now=start + timedelta(minutes=30, hours=72, seconds=1))


def test_a_hosts_dedicated_code_opens_one_reservationless_room(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host_id = scene.organiser()
    host = session.get(Host, host_id)
    assert host is not None
    joining = JoiningService(session, scene.settings)
    now = soon()
    room = joining.resolve_access_code(host.access_code, now=now).conference
    assert (room.host_id, room.reservationless, room.access_code) == (host_id, True, host.access_code)
    assert room.started_at == now and room.title == f"{host.name}'s meeting"
    assert (
        joining.resolve_access_code(host.access_code, now=now + timedelta(minutes=5)).conference.id == room.id
    )
    # A conference scheduled on the dedicated code opens instead, from 15 minutes before its start.
    start = now + timedelta(days=1)
    scheduled = scheduling.create(scene.ca, host_id, options(start))
    assert scheduled.access_code == host.access_code
    found = joining.resolve_access_code(host.access_code, now=start - timedelta(minutes=15)).conference
    assert found.id in (scheduled.id, room.id)
    assert session.scalars(select(Conference).where(Conference.host_id == host_id)).all()


def test_a_new_conference_whose_drawn_code_is_taken_is_drawn_again_at_its_insert(
    scene: Scene, session: Session, scheduling: SchedulingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New conferences go in with one INSERT that skips any a unique index refuses (no query asks
    about the drawn codes first): a skipped one is drawn again and inserted again; a meeting key its
    caller gave that a live conference of the company holds is refused, not drawn again."""
    host = scene.organiser()
    taken = scheduling.create(scene.ca, host, options())
    deleted = scheduling.create(scene.ca, host, options())
    deleted.deleted_at = utcnow()
    session.flush()
    codes = iter([taken.code, "yyy-yyyy-yyy", "zzz-zzzz-zzz", "xxx-xxxx-xxx"])
    keys = iter([taken.meeting_key, deleted.meeting_key, "fresh-key-3", "fresh-key-4"])
    monkeypatch.setattr(ids, "conference_code", lambda: next(codes))
    monkeypatch.setattr(ids, "meeting_key", lambda: next(keys))
    company = taken.company_id
    made = rows.insert_many(session, [rows.NewRow(company, "test"), rows.NewRow(company, "test")])
    # The first drew a taken code and a live conference's key: skipped, drawn again.
    assert [c.code for c in made] == ["zzz-zzzz-zzz", "yyy-yyyy-yyy"]
    assert [c.meeting_key for c in made] == ["fresh-key-3", deleted.meeting_key]
    # In the session as loaded: found there, not asked of the database, and changed like any row.
    assert all(inspect(c).persistent and session.get(Conference, c.id) is c for c in made)
    made[0].title = "Renamed"
    session.flush()
    assert session.scalar(select(Conference.title).where(Conference.id == made[0].id)) == "Renamed"
    audited = session.scalars(
        select(AuditEntry.ref).where(
            AuditEntry.action == "conference.created", AuditEntry.company_id == company
        )
    ).all()
    assert {f"conference:{c.id}" for c in made} <= set(audited)

    with pytest.raises(Conflict, match="meetingKey already exists"):
        rows.insert_many(session, [rows.NewRow(company, "test", meeting_key=taken.meeting_key)])
