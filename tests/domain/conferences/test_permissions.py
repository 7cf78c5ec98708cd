"""Who may act on a host's conference, decided inside the services: an admin whose scope holds the
organiser. A company admin cannot touch another company's conference; a reseller admin of another
tree gets Forbidden; a plain host administers nothing; Boomstream and LiveMinutes objects of another
company are not found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from podium.domain.actor import Actor
from podium.domain.conferences.reports import ConferenceReports
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions, DialOut
from podium.domain.conferences.service import ConferenceService
from podium.domain.participants.service import ParticipantService
from podium.kit.errors import Forbidden, NotFound
from tests.domain.conferences.conftest import Scene, options

ACTIONS: list[tuple[str, Callable[[SchedulingService, Actor, int], Any]]] = [
    ("fetch", lambda s, a, c: s.fetch(a, c)),
    ("update", lambda s, a, c: s.update(a, c, ConferenceOptions(subject="Mine now"))),
    ("cancel", lambda s, a, c: s.cancel(a, c)),
    ("end", lambda s, a, c: s.end(a, c)),
    ("participant_contacts", lambda s, a, c: s.participant_contacts(a, c)),
    ("livestream_viewers", lambda s, a, c: s.livestream_viewers(a, c)),
    ("stop_streaming", lambda s, a, c: s.stop_streaming(a, c)),
    ("dial_number", lambda s, a, c: s.dial_number(a, c, DialOut("CA", "14165551212"))),
    ("post_message", lambda s, a, c: s.post_message(a, c, "Hello")),
    ("delete_media", lambda s, a, c: s.delete_media(a, c, "recordings")),
]


@pytest.fixture
def conference(scene: Scene, scheduling: SchedulingService) -> int:
    """A conference of the customer company (of the home reseller), made by its company admin."""
    host = scene.organiser()
    return scheduling.create(scene.ca, host, options()).id


@pytest.mark.parametrize(("name", "action"), ACTIONS, ids=[name for name, _ in ACTIONS])
@pytest.mark.parametrize("who", ["sibling_ca", "foreign_ra", "host"])
def test_outsiders_are_forbidden(
    scene: Scene,
    scheduling: SchedulingService,
    conference: int,
    who: str,
    name: str,
    action: Callable[[SchedulingService, Actor, int], Any],
) -> None:
    before = scheduling.view(scheduling.fetch(scene.ca, conference))
    with pytest.raises(Forbidden):
        action(scheduling, getattr(scene, who), conference)
    after = scheduling.fetch(scene.ca, conference)
    assert (after.title, after.deleted_at) == (before.conference.title, None)


@pytest.mark.parametrize("who", ["ra", "ca"])
def test_admins_of_the_organiser_may(
    scene: Scene, scheduling: SchedulingService, conference: int, who: str
) -> None:
    actor = getattr(scene, who)
    assert scheduling.update(actor, conference, ConferenceOptions(subject="Renamed")).title == "Renamed"
    scheduling.cancel(actor, conference)
    with pytest.raises(NotFound, match="^Conference not found$"):
        scheduling.fetch(actor, conference)  # cancelled: gone


def test_a_reseller_admin_reaches_its_descendants_conferences(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser(company_id=scene.world.child_company_id)
    conference = scheduling.create(scene.ra, host, options())
    assert conference.company_id == scene.world.child_company_id  # the organiser's company, not the caller's
    assert scheduling.fetch(scene.ra, conference.id).id == conference.id
    with pytest.raises(Forbidden):
        scheduling.fetch(scene.ca, conference.id)


@pytest.mark.parametrize("who", ["sibling_ca", "foreign_ra", "host"])
def test_scheduling_for_someone_elses_host_is_forbidden(
    scene: Scene, scheduling: SchedulingService, who: str
) -> None:
    host = scene.organiser()
    actor = getattr(scene, who)
    with pytest.raises(Forbidden):
        scheduling.create(actor, host, options())
    with pytest.raises(Forbidden):
        scheduling.create_reservationless(actor, host, ConferenceOptions())
    with pytest.raises(Forbidden):
        scheduling.for_host(actor, host)
    reports = ConferenceReports(scheduling.session)
    for read in (reports.past_conferences, reports.call_records, reports.active_calls):
        with pytest.raises(Forbidden):
            read(actor, host)


def test_unknown_conferences_and_hosts_are_not_found(scene: Scene, scheduling: SchedulingService) -> None:
    with pytest.raises(NotFound, match="^Conference not found$"):
        scheduling.fetch(scene.ra, 10**9)
    with pytest.raises(NotFound, match="^Host not found$"):
        scheduling.create(scene.ra, 10**9, options())


def test_the_organiser_reads_its_own_summary_and_an_outsider_does_not(
    scene: Scene, session: Session, scheduling: SchedulingService, conference: int
) -> None:
    from podium.models.tenancy import Host

    organiser = session.get(Host, scheduling.fetch(scene.ca, conference).host_id)
    outsider = session.get(Host, scene.world.foreign.ra_host_id)
    assert organiser is not None and outsider is not None
    assert scheduling.visible_to(organiser, conference).id == conference
    with pytest.raises(Forbidden):
        scheduling.visible_to(outsider, conference)


def test_boomstream_and_liveminutes_objects_of_another_company_are_not_found(
    scene: Scene, session: Session
) -> None:
    conferences = ConferenceService(session, scene.settings)
    participants = ParticipantService(session, scene.settings)
    mine = conferences.create(conferences.checked_creation(scene.ca, title="Ours"))
    invited = participants.invite(
        participants.checked_invitation(scene.ca, mine.code, email="guest@example.com")
    ).participant
    outsider = scene.sibling_ca
    for attempt in (
        lambda: conferences.get(outsider, mine.code),
        lambda: conferences.update(outsider, mine, title="Theirs"),
        lambda: conferences.delete(outsider, mine),
        lambda: participants.invite(
            participants.checked_invitation(outsider, mine.code, email="intruder@example.com")
        ),
        lambda: participants.add_external(outsider, mine, external_id="intruder"),
        lambda: participants.list(outsider, mine),
        lambda: participants.get(outsider, invited.code),
        lambda: participants.update(outsider, invited, name="Hacked"),
        lambda: participants.remove(outsider, invited),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert (mine.title, mine.deleted_at, invited.name, invited.deleted_at) == ("Ours", None, "guest", None)
