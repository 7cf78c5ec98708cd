"""Phone legs as rows (domain/telephony, rooms/phones.py): what a dial-out needs, how a gateway's
status lines map to ``dialout_status``, the meeting's end, a process that died, and calls that no line
was free for. The calls themselves are placed end to end in tests/e2e/test_phone_dialout.py."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from podium.domain.conferences.lifecycle import mark_started, stop_live
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions
from podium.domain.telephony.service import TelephonyService
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, NotFound
from podium.models.conference import Conference
from podium.models.phone_leg import PhoneLeg
from podium.rooms.phones import PhoneKeeper
from tests.domain.conferences.conftest import Scene

WAIT = timedelta(seconds=60)


def _live(scene: Scene, scheduling: SchedulingService, session: Session, host: int) -> Conference:
    """A live conference of ``host`` (hosts are made first: SQLite has one writer, and the test's
    session writes from the first conference on)."""
    given = ConferenceOptions(duration=60, time_zone=ZoneInfo("UTC"))
    conference = scheduling.create_reservationless(scene.ca, host, given)
    mark_started(session, conference, utcnow(), actor_label="test")
    return conference


def _dial(phones: TelephonyService, conference: Conference, number: str = "15551234567") -> PhoneLeg:
    return phones.dial_out(
        conference, phone_number=number, country_code="US", name="Pat", invitation_text="", actor_label="test"
    )


def test_a_dial_out_needs_a_trunk_and_the_plans_sip_gateway(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    small_host, host = scene.organiser(plan="small_plan"), scene.organiser()
    small = _live(scene, scheduling, session, small_host)
    with pytest.raises(Forbidden, match="SIP gateway"):
        _dial(TelephonyService(session, scene.settings), small)
    conference = _live(scene, scheduling, session, host)
    untrunked = scene.settings.model_copy(update={"sip_trunk": None})
    with pytest.raises(Conflict, match="PODIUM_SIP_TRUNK"):
        _dial(TelephonyService(session, untrunked), conference)
    leg = _dial(TelephonyService(session, scene.settings), conference)
    assert (leg.status, leg.owner) == ("new", None)
    assert "has invited you to a meeting with the subject" in leg.invitation_text


def test_statuses_follow_the_gateway(scene: Scene, scheduling: SchedulingService, session: Session) -> None:
    phones = TelephonyService(session, scene.settings)
    conference = _live(scene, scheduling, session, scene.organiser())
    outcomes = {
        "busy": {"event": "ended", "code": 486, "reason": "Busy Here", "answered": False},
        "no_answer": {"event": "ended", "code": 480, "reason": "No answer within 45 s", "answered": False},
        "failed": {"event": "ended", "code": 404, "reason": "Not Found", "answered": False},
    }
    for status, last in outcomes.items():
        leg = _dial(phones, conference)
        assert phones.claim(leg.id, "me", utcnow() + WAIT)
        session.refresh(leg)  # the claim is a conditional UPDATE (as a keeper's own transaction)
        assert phones.progressed(leg.id, "someone else", {"event": "ringing"}) is None  # not its call
        phones.progressed(leg.id, "me", {"event": "ringing"})
        assert leg.status == "ringing"
        phones.progressed(leg.id, "me", last)
        assert (leg.status, leg.sip_code, leg.owner) == (status, last["code"], None)
        assert leg.reason == f"{last['code']} {last['reason']}"

    # Answered, in the room (an attendance with its number), then hung up: ended, its attendance closed.
    leg = _dial(phones, conference)
    phones.claim(leg.id, "me", utcnow() + WAIT)
    session.refresh(leg)
    for event in ({"event": "answered"}, {"event": "joined", "publisher": 42}):
        phones.progressed(leg.id, "me", event)
    assert leg.status == "answered" and leg.answered_at is not None and leg.attendance_id is not None
    phones.progressed(leg.id, "me", {"event": "ended", "code": 200, "reason": "BYE", "answered": True})
    assert leg.status == "ended"
    detail = phones.views([conference.id])[conference.id]
    assert [view.status for view in detail] == ["busy", "no_answer", "failed", "ended"]


def test_the_meetings_end_a_dead_process_and_busy_lines_end_calls(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    phones = TelephonyService(session, scene.settings)
    host, other_host = scene.organiser(), scene.organiser()
    conference = _live(scene, scheduling, session, host)
    waiting, placed = _dial(phones, conference), _dial(phones, conference)
    phones.claim(placed.id, "me", utcnow() + WAIT)
    session.refresh(placed)
    stop_live(session, conference, utcnow(), actor_label="test", reason="ended")
    # Not placed yet: ended at once. Placed: its process is asked to hang up (it reports the end).
    assert waiting.status == "ended" and waiting.reason == "Cancelled before the call was placed"
    assert placed.status == "new" and placed.hangup_requested_at is not None
    assert phones.renew("me", [placed.id], utcnow() + WAIT) == {placed.id: (True, False)}
    with pytest.raises(NotFound):
        phones.moderate(conference.id, waiting.id, "mute", actor="test")

    # A process that stopped renewing: its calls end as failed. A call no line was free for: failed.
    other = _live(scene, scheduling, session, other_host)
    lapsed, unplaced = _dial(phones, other), _dial(phones, other)
    phones.claim(lapsed.id, "gone", utcnow() - timedelta(seconds=1))
    session.refresh(lapsed)
    unplaced.requested_at = utcnow() - WAIT - timedelta(seconds=1)
    assert set(phones.lapse(utcnow(), WAIT)) >= {lapsed.id, unplaced.id}
    assert lapsed.reason == "The server running the call stopped"
    assert unplaced.reason == "All lines were busy: the call was not placed"


def test_a_keeper_with_every_line_busy_places_nothing(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = _live(scene, scheduling, session, scene.organiser())
    leg = _dial(TelephonyService(session, scene.settings), conference)
    session.commit()
    full = scene.settings.model_copy(update={"sip_max_calls": 0})
    keeper = PhoneKeeper(scene.world.sessions, full, None)
    keeper.look()
    session.refresh(leg)
    assert (leg.status, leg.owner) == ("new", None)  # left for a process with a free line
