"""The roster: invitees become participants, the organiser first (host and moderator); moderators by
contact, email or colleague; a new list replaces the old one."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from podium.domain.conferences.roster import NOT_IN_CONTACTS
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions, Invitee
from podium.domain.participants.repository import ParticipantRepository
from podium.kit.errors import InvalidInput
from podium.models.conference import Conference
from podium.models.participant import Participant, ParticipantRole
from podium.models.tenancy import Host
from tests.domain.conferences.conftest import Scene, options


def _participants(session: Session, conference: Conference) -> list[Participant]:
    return [p for p in ParticipantRepository(session).for_conference(conference.id) if p.deleted_at is None]


def test_the_organiser_comes_first_then_the_invitees_in_order(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host_id = scene.organiser()
    contact = scene.contact(host_id)
    colleague = scene.organiser()
    conference = scheduling.create(
        scene.ca,
        host_id,
        options(),
        [
            Invitee.person("bob@example.com", "Bob", moderator=True),
            Invitee.contact(contact),
            Invitee.colleague(colleague),
        ],
    )
    host = session.get(Host, host_id)
    other = session.get(Host, colleague)
    assert host is not None and other is not None
    people = _participants(session, conference)
    assert [(p.email, p.role, p.host_id) for p in people] == [
        (host.email, ParticipantRole.HOST, host_id),
        ("bob@example.com", ParticipantRole.MODERATOR, None),
        ("c@example.com", ParticipantRole.PARTICIPANT, None),
        (other.email, ParticipantRole.PARTICIPANT, colleague),
    ]
    assert len({p.code for p in people}) == 4 and len({p.url_token for p in people}) == 4
    view = scheduling.view(conference)
    assert view.participants[2] == contact and view.moderators == view.participants[:2]
    assert [p["email"] for p in view.moderator_people] == [host.email, "bob@example.com"]


def test_an_invitee_named_twice_is_one_participant_moderator_if_named_so_once(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    contact = scene.contact(host)
    conference = scheduling.create(
        scene.ca, host, options(), [Invitee.contact(contact), Invitee.contact(contact, moderator=True)]
    )
    assert [p.role for p in _participants(session, conference)] == [
        ParticipantRole.HOST,
        ParticipantRole.MODERATOR,
    ]


def test_naming_the_organiser_keeps_it_the_host(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host_id = scene.organiser()
    host = session.get(Host, host_id)
    assert host is not None
    conference = scheduling.create(scene.ca, host_id, options(), [Invitee.person(host.email)])
    assert [p.role for p in _participants(session, conference)] == [ParticipantRole.HOST]


def test_a_new_list_replaces_the_old_one_and_none_keeps_it(
    scene: Scene, session: Session, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    contact = scene.contact(host)
    conference = scheduling.create(
        scene.ca, host, options(), [Invitee.person("gone@example.com"), Invitee.contact(contact)]
    )
    gone = _participants(session, conference)[1]
    scheduling.update(scene.ca, conference.id, ConferenceOptions(subject="Same people"))
    assert len(_participants(session, conference)) == 3
    scheduling.update(
        scene.ca, conference.id, ConferenceOptions(), [Invitee.contact(contact, moderator=True)]
    )
    assert [(p.contact_id, p.role) for p in _participants(session, conference)][1:] == [
        (contact, ParticipantRole.MODERATOR)
    ]
    assert gone.deleted_at is not None and gone.token_revision == 1  # its links are revoked
    scheduling.update(scene.ca, conference.id, ConferenceOptions(), [])
    assert [p.role for p in _participants(session, conference)] == [ParticipantRole.HOST]
    scheduling.update(scene.ca, conference.id, ConferenceOptions(), [Invitee.person("gone@example.com")])
    assert gone.deleted_at is None and len(_participants(session, conference)) == 2  # back, same row


def test_invitees_must_be_the_hosts_contacts_or_colleagues(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    someone_elses = scene.contact(scene.organiser())
    stranger = scene.organiser(company_id=scene.world.child_company_id)
    with pytest.raises(InvalidInput, match=f"^{NOT_IN_CONTACTS}$"):
        scheduling.create(scene.ca, host, options(), [Invitee.contact(someone_elses)])
    with pytest.raises(InvalidInput, match="^participant_hosts must be hosts of the same company$"):
        scheduling.create(scene.ca, host, options(), [Invitee.colleague(stranger)])
    with pytest.raises(InvalidInput, match="^email is not a valid address$"):
        scheduling.create(scene.ca, host, options(), [Invitee.person("not an email")])


def test_participant_contacts_as_the_organisers_book_shows_them(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    contact = scene.contact(host)
    conference = scheduling.create(
        scene.ca, host, options(), [Invitee.contact(contact), Invitee.person("m@example.com", moderator=True)]
    )
    everyone, moderators = scheduling.participant_contacts(scene.ca, conference.id)
    assert [v.contact.email for v in everyone][1:] == ["c@example.com", "m@example.com"]
    assert [v.has_host for v in everyone] == [True, False, False]
    assert [v.contact.email for v in moderators][1:] == ["m@example.com"]
