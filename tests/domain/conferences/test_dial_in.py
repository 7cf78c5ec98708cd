"""Dial-in's rules (domain/telephony/dial_in.py, ADR 0014) on the real database: what a call dialled
finds, what the caller is asked, who it joins as, the row an admitted call writes, the guard's locks
and rooms that are not open. The calls themselves run end to end in tests/e2e/test_phone_dialin.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.domain.conferences.access_codes import AccessCodes
from podium.domain.conferences.lifecycle import stop_live
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions
from podium.domain.guard.service import GuardService, client_key
from podium.domain.guard.targets import Targets, moderator_pin, room_code, security_pin
from podium.domain.hosts.service import HostService
from podium.domain.telephony.dial_in import (
    ASK_CODE,
    ASK_PIN,
    CLOSED,
    ENTRY_SECONDS,
    GOODBYE,
    HOST_WAIT_SECONDS,
    JOINING,
    JOINING_AS_HOST,
    LOCKED,
    WRONG_CODE,
    WRONG_PIN,
    DialInService,
    Lobby,
    Step,
)
from podium.kit.clock import utcnow
from podium.models.audit import AuditEntry
from podium.models.conference import Conference
from podium.models.guard import GuardCounter
from podium.models.phone_leg import PhoneLeg
from podium.models.tenancy import Host
from tests.domain.conferences.conftest import Scene

CALLER = "sip:+15557654321@podium.test"
NUMBER = "15557654321"  # the caller's E.164 digits
DIALIN_NUMBER = "sip:+15555550100@podium.test"  # the dial-in number tests/conftest configures
OWNER = "keeper-under-test"
PIN = "4242"
NOWHERE = "0007770"  # no host or conference has it (codes are drawn without a leading zero)


@dataclass
class Rooms:
    """A host, the reservationless meeting running on its dedicated code, and a reservationless
    meeting on a one-time code behind a security PIN (as Iotum's ``conference/create/reservationless``
    makes them)."""

    host: Host
    own: Conference
    pinned: Conference

    @property
    def code(self) -> str:
        assert self.pinned.access_code is not None
        return self.pinned.access_code


@pytest.fixture
def rooms(scene: Scene, session: Session) -> Rooms:
    # The host is made (and committed) before this test's session writes: SQLite has one writer.
    host = session.get(Host, scene.organiser(name="Ada Lovelace"))
    assert host is not None
    scheduling = SchedulingService(session, scene.settings)
    utc = ZoneInfo("UTC")
    own = scheduling.create_reservationless(scene.ca, host.id, ConferenceOptions(duration=60, time_zone=utc))
    pinned = scheduling.create_reservationless(
        scene.ca,
        host.id,
        ConferenceOptions(duration=60, time_zone=utc, one_time_access_code=True, security_pin=PIN),
    )
    assert own.access_code == host.access_code and pinned.access_code != host.access_code
    return Rooms(host, own, pinned)


@pytest.fixture
def dial_in(scene: Scene, session: Session) -> DialInService:
    return DialInService(session, scene.settings)


def _until() -> datetime:
    return utcnow().replace(microsecond=0) + timedelta(seconds=60)


def _lobby(asking: str, code: str = "", tries: int = 0, caller: str = CALLER) -> Lobby:
    return Lobby(caller=caller, display="Pat Caller", asking=asking, access_code=code, tries=tries)


def _enter(dial_in: DialInService, lobby: Lobby, digits: str) -> Step:
    return dial_in.entered(lobby, digits, OWNER, _until())


def _admitted(step: Step, conference: Conference, role: str) -> PhoneLeg:
    """The step lets the caller into ``conference`` as ``role``: its leg."""
    assert step.leg is not None, step
    assert (step.hang_up, step.lobby, step.failed) == (False, None, None)
    assert step.say == (JOINING_AS_HOST if role == "moderator" else JOINING)
    assert (step.leg.conference_id, step.leg.role) == (conference.id, role)
    return step.leg


def _refused(step: Step, say: str) -> None:
    assert (step.say, step.hang_up, step.lobby, step.leg) == (say, True, None, None)


def _legs(session: Session, *conferences: Conference) -> list[PhoneLeg]:
    ids = [c.id for c in conferences]
    return list(session.scalars(select(PhoneLeg).where(PhoneLeg.conference_id.in_(ids))))


def _lock(session: Session, scene: Scene, *, client: str | None = None, target: str = "") -> None:
    """Lock ``client`` (its budget, whatever it aimed at) or the security PIN of the code ``target``
    (its budget, from as many callers), as the keeper records a wrong entry after its step."""
    guard = GuardService(session, scene.settings)
    if client is not None:
        for n in range(scene.settings.guard_client_failures):
            guard.record_failure(client, (room_code(f"9{n:02d}0000"),))
    else:
        found = Targets(session).security_pin(target)
        for n in range(scene.settings.guard_target_failures):
            guard.record_failure(f"phone:sip:+1555000{n:04d}@podium.test", (found,))


# --- arriving: what the call dialled ---------------------------------------------------------------


def test_a_call_finds_its_room_by_what_it_dialled(
    session: Session, dial_in: DialInService, rooms: Rooms
) -> None:
    host = rooms.host
    step = dial_in.arrive(f"sip:{host.access_code}-0@podium.test", CALLER, '"Pat Caller"')
    assert step.lobby is not None and step.lobby.asking == "host"
    assert (step.lobby.access_code, step.lobby.tries) == (host.access_code, 0)
    assert (step.lobby.caller, step.lobby.display) == (CALLER, "Pat Caller")
    assert step.wait_seconds == HOST_WAIT_SECONDS
    assert "Ada Lovelace" in step.say and "moderator PIN" in step.say
    assert (step.leg, step.hang_up, step.failed) == (None, False, None)
    # The code alone, or the URI as a front may hand it (angle brackets, port, parameters), too.
    for dialled in (f"sip:{host.access_code}@podium.test", f"<sip:{host.access_code}-0@10.0.0.1:5060;x=y>"):
        routed = dial_in.arrive(dialled, CALLER, "")
        assert routed.lobby is not None and (routed.lobby.asking, routed.lobby.access_code) == (
            "host",
            host.access_code,
        )

    step = dial_in.arrive(f"sip:{rooms.code}@podium.test", CALLER, "")
    assert step.lobby is not None and (step.lobby.asking, step.lobby.access_code) == ("pin", rooms.code)
    assert (step.say, step.wait_seconds, step.failed) == (ASK_PIN, ENTRY_SECONDS, None)

    unused = AccessCodes(session).draw_one_time()  # a code that opens nothing
    for dialled in (DIALIN_NUMBER, "sip:hello@podium.test", "garbage", "", f"sip:{unused}@podium.test"):
        step = dial_in.arrive(dialled, CALLER, "")
        assert step.lobby is not None, dialled
        assert (step.lobby.asking, step.lobby.access_code, step.lobby.tries) == ("code", "", 0), dialled
        assert (step.say, step.wait_seconds, step.failed, step.hang_up) == (
            ASK_CODE,
            ENTRY_SECONDS,
            None,
            False,
        )
    # Routing is no guess: nothing was counted against the caller, and no call has a row yet.
    counted = select(GuardCounter).where(GuardCounter.key == client_key(_lobby("code").guard_client))
    assert session.scalars(counted).first() is None
    assert _legs(session, rooms.own, rooms.pinned) == []


# --- asked for the access code -----------------------------------------------------------------------


def test_at_the_code_prompt_a_code_opens_its_room_and_a_moderator_pin_opens_none(
    session: Session, dial_in: DialInService, rooms: Rooms
) -> None:
    step = _enter(dial_in, _lobby("code", tries=2), rooms.code)
    assert step.lobby is not None
    assert (step.lobby.asking, step.lobby.access_code, step.lobby.tries) == ("pin", rooms.code, 0)
    assert (step.say, step.leg, step.hang_up, step.failed) == (ASK_PIN, None, False, None)

    # A host's moderator PIN is no access code: it is asked in the host's room, never matched
    # against every host's (a guess there would roam every tenant's rooms).
    step = _enter(dial_in, _lobby("code"), rooms.host.moderator_pin)
    assert step.leg is None and step.say == f"{WRONG_CODE} {ASK_CODE}"
    assert step.failed == (room_code(rooms.host.moderator_pin),)

    # The host's code, then its moderator PIN: the host's room, as its moderator.
    step = _enter(dial_in, _lobby("code"), rooms.host.access_code)
    assert step.lobby is not None and step.lobby.asking == "host"
    until = _until()
    step = dial_in.entered(step.lobby, rooms.host.moderator_pin, OWNER, until)
    leg = _admitted(step, rooms.own, "moderator")
    session.flush()
    session.expire(leg)  # read back what was written
    row = session.get(PhoneLeg, leg.id)
    assert row is not None
    assert (row.direction, row.status, row.company_id) == ("in", "answered", rooms.own.company_id)
    assert (row.phone_number, row.caller_uri, row.name) == (NUMBER, CALLER, "Pat Caller")
    assert (row.owner, row.lease_until, row.ended_at) == (OWNER, until, None)
    assert row.answered_at is not None and row.answered_at == row.requested_at
    assert abs(row.answered_at - utcnow()) < timedelta(minutes=1)
    audited = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "conference.dialin_answered", AuditEntry.ref == f"conference:{rooms.own.id}"
        )
    ).all()
    assert [(entry.data["phone_leg_id"], entry.data["role"]) for entry in audited] == [(row.id, "moderator")]
    assert audited[0].company_id == rooms.own.company_id

    # With no display name the caller is its number.
    leg = _admitted(
        dial_in.entered(
            Lobby(caller=CALLER, display="", asking="host", access_code=rooms.host.access_code),
            rooms.host.moderator_pin,
            OWNER,
            until,
        ),
        rooms.own,
        "moderator",
    )
    assert leg.name == NUMBER


def test_at_the_code_prompt_three_wrong_codes_end_the_call(
    session: Session, dial_in: DialInService, rooms: Rooms
) -> None:
    lobby = _lobby("code")
    for tries in (1, 2):
        step = _enter(dial_in, lobby, NOWHERE)
        assert step.lobby is not None and (step.lobby.asking, step.lobby.tries) == ("code", tries)
        assert step.say == f"{WRONG_CODE} {ASK_CODE}" and not step.hang_up
        assert step.failed == (room_code(NOWHERE),)
        lobby = step.lobby
    step = _enter(dial_in, lobby, NOWHERE)
    _refused(step, f"{WRONG_CODE} {GOODBYE}")
    assert step.failed == (room_code(NOWHERE),)  # the third is counted too
    assert _legs(session, rooms.own, rooms.pinned) == []


# --- asked for the security PIN ------------------------------------------------------------------


def test_at_the_pin_prompt_the_pin_joins_as_guest_and_the_hosts_pin_as_moderator(
    dial_in: DialInService, rooms: Rooms
) -> None:
    leg = _admitted(_enter(dial_in, _lobby("pin", rooms.code), PIN), rooms.pinned, "guest")
    assert (leg.direction, leg.status, leg.caller_uri) == ("in", "answered", CALLER)
    _admitted(_enter(dial_in, _lobby("pin", rooms.code), rooms.host.moderator_pin), rooms.pinned, "moderator")


def test_at_the_pin_prompt_wrong_pins_count_against_the_conferences_pin(
    session: Session, dial_in: DialInService, rooms: Rooms
) -> None:
    lobby = _lobby("pin", rooms.code)
    for tries, digits in ((1, "4243"), (2, "")):  # the pound key alone is a wrong PIN here
        step = _enter(dial_in, lobby, digits)
        assert step.lobby is not None
        assert (step.lobby.asking, step.lobby.access_code, step.lobby.tries) == ("pin", rooms.code, tries)
        assert step.say == f"{WRONG_PIN} {ASK_PIN}" and (step.leg, step.hang_up) == (None, False)
        assert step.failed is not None and len(step.failed) == 1
        target = step.failed[0]
        assert target.key == security_pin(rooms.code).key  # the lock the check looks at
        # Audited under the conference (its company's admins see the lockout).
        assert (target.ref, target.company_id) == (f"conference:{rooms.pinned.id}", rooms.pinned.company_id)
        lobby = step.lobby
    step = _enter(dial_in, lobby, "4244")
    _refused(step, f"{WRONG_PIN} {GOODBYE}")
    assert step.failed is not None and [t.key for t in step.failed] == [security_pin(rooms.code).key]
    assert _legs(session, rooms.pinned) == []


# --- asked whether the caller is the host ----------------------------------------------------------


def test_at_the_host_prompt_the_pound_key_joins_as_guest_and_the_moderator_pin_as_moderator(
    dial_in: DialInService, rooms: Rooms
) -> None:
    lobby = _lobby("host", rooms.host.access_code)
    _admitted(_enter(dial_in, lobby, ""), rooms.own, "guest")
    _admitted(_enter(dial_in, lobby, rooms.host.moderator_pin), rooms.own, "moderator")


def test_at_the_host_prompt_a_wrong_pin_asks_again_then_joins_as_guest(
    scene: Scene, session: Session, dial_in: DialInService
) -> None:
    host, other = session.get(Host, scene.organiser()), session.get(Host, scene.organiser())
    assert host is not None and other is not None
    lobby = _lobby("host", host.access_code)
    step = _enter(dial_in, lobby, other.moderator_pin)  # another host's PIN is no PIN here
    assert step.lobby is not None
    assert (step.lobby.asking, step.lobby.access_code, step.lobby.tries) == ("host", host.access_code, 1)
    assert step.say.startswith(f"{WRONG_PIN} ") and "moderator PIN" in step.say
    assert (step.leg, step.hang_up, step.wait_seconds) == (None, False, HOST_WAIT_SECONDS)
    assert step.failed == (moderator_pin(host.access_code),)  # the room's moderator PIN, for everyone
    step = _enter(dial_in, step.lobby, "1")
    assert step.lobby is not None and step.lobby.tries == 2
    # The third: not the host, it seems — a guest, as holding would make it (counted all the same).
    step = _enter(dial_in, step.lobby, "12")
    assert step.leg is not None and step.leg.role == "guest" and step.say.startswith(WRONG_PIN)
    assert step.failed == (moderator_pin(host.access_code),)

    # A deleted host's PIN makes nobody a moderator any more (its room is closed, too).
    HostService(session, scene.settings).delete(scene.ca, other.id)
    step = _enter(dial_in, _lobby("host", other.access_code), other.moderator_pin)
    assert step.leg is None and step.lobby is not None and step.lobby.tries == 1


# --- typing nothing ------------------------------------------------------------------------------


def test_a_caller_that_types_nothing_holds_into_a_hosts_room_and_is_hung_up_elsewhere(
    session: Session, dial_in: DialInService, rooms: Rooms
) -> None:
    step = dial_in.timed_out(_lobby("host", rooms.host.access_code), OWNER, _until())
    leg = _admitted(step, rooms.own, "guest")
    assert leg.owner == OWNER
    for asking, code in (("code", ""), ("pin", rooms.code)):
        _refused(dial_in.timed_out(_lobby(asking, code), OWNER, _until()), GOODBYE)
    assert [leg.id for leg in _legs(session, rooms.own, rooms.pinned)] == [leg.id]


# --- the guard -----------------------------------------------------------------------------------


def test_a_locked_caller_is_refused_even_the_right_pin(
    session: Session, scene: Scene, dial_in: DialInService, rooms: Rooms
) -> None:
    lobby = _lobby("pin", rooms.code)
    _lock(session, scene, client=lobby.guard_client)
    step = _enter(dial_in, lobby, PIN)
    _refused(step, f"{LOCKED} {GOODBYE}")
    assert step.failed is None  # a refusal is not one more failure
    _refused(_enter(dial_in, _lobby("code"), rooms.code), f"{LOCKED} {GOODBYE}")
    _refused(
        _enter(dial_in, _lobby("host", rooms.host.access_code), rooms.host.moderator_pin),
        f"{LOCKED} {GOODBYE}",
    )
    # The pound key alone is no guess at anything: the caller joins the host's room as a guest.
    _admitted(_enter(dial_in, _lobby("host", rooms.host.access_code), ""), rooms.own, "guest")
    # Another caller is not locked.
    _admitted(
        _enter(dial_in, _lobby("pin", rooms.code, caller="sip:+15550001111@x"), PIN), rooms.pinned, "guest"
    )


def test_a_locked_pin_is_refused_to_every_caller_and_a_locked_prefix_to_codes_in_it(
    session: Session, scene: Scene, dial_in: DialInService, rooms: Rooms
) -> None:
    _lock(session, scene, target=rooms.code)
    for digits in (PIN, rooms.host.moderator_pin):
        _refused(_enter(dial_in, _lobby("pin", rooms.code), digits), f"{LOCKED} {GOODBYE}")
    # The room code itself still leads to the PIN prompt (a code is another target).
    step = _enter(dial_in, _lobby("code"), rooms.code)
    assert step.lobby is not None and step.lobby.asking == "pin"

    guard = GuardService(session, scene.settings)
    for n in range(scene.settings.guard_target_failures):
        guard.record_failure(f"phone:sip:+1555100{n:04d}@podium.test", (room_code(rooms.code),))
    _refused(_enter(dial_in, _lobby("code"), rooms.code), f"{LOCKED} {GOODBYE}")


# --- rooms that are not open ---------------------------------------------------------------------


def test_a_deleted_host_or_an_expired_code_is_closed(
    session: Session, scene: Scene, dial_in: DialInService
) -> None:
    host = session.get(Host, scene.organiser())
    other = session.get(Host, scene.organiser())
    assert host is not None and other is not None
    # The caller was routed while the host lived; the host is deleted before it is admitted.
    step = dial_in.arrive(f"sip:{host.access_code}-0@podium.test", CALLER, "")
    assert step.lobby is not None and step.lobby.asking == "host"
    HostService(session, scene.settings).delete(scene.ca, host.id)
    _refused(_enter(dial_in, step.lobby, ""), f"{CLOSED} {GOODBYE}")
    _refused(dial_in.timed_out(step.lobby, OWNER, _until()), f"{CLOSED} {GOODBYE}")
    # Its code opens nothing any more.
    assert dial_in.arrive(f"sip:{host.access_code}@podium.test", CALLER, "").say == ASK_CODE

    # A one-time code whose meeting ended: a visit within its validity is a new instance, as on the
    # web (one_time_access_code_reused); past its validity the meeting is closed.
    scheduling = SchedulingService(session, scene.settings)
    given = ConferenceOptions(
        duration=60, time_zone=ZoneInfo("UTC"), one_time_access_code=True, security_pin=PIN
    )
    pinned = scheduling.create_reservationless(scene.ca, other.id, given)
    assert pinned.access_code is not None
    stop_live(session, pinned, utcnow(), actor_label="test", reason="ended")
    lobby = _lobby("pin", pinned.access_code)
    reused = _enter(dial_in, lobby, PIN)
    assert reused.leg is not None and reused.leg.conference_id != pinned.id
    reuse = session.get(Conference, reused.leg.conference_id)
    assert reuse is not None and reuse.access_code == pinned.access_code
    stop_live(session, reuse, utcnow(), actor_label="test", reason="ended")
    for conference in (pinned, reuse):
        conference.code_valid_until = utcnow() - timedelta(seconds=1)
    session.flush()
    _refused(_enter(dial_in, lobby, PIN), f"{CLOSED} {GOODBYE}")
