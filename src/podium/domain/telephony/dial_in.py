"""Dial-in: a caller on the phone finds a room by what it dialled and what it types (ADR 0014).

The SIP front hands every call to a gateway; the phone keeper (rooms/phones.py) asks this service
what to do at each step and carries it out. A call dialled to a host's ``sip_uri`` (or to a
conference's access code) knows its room at once; a call to a dial-in number is asked for the
access code. Then, as on the web:

- a conference with a security PIN asks for it (the host's moderator PIN is accepted instead, as
  the web's moderator token is); wrong entries count against the same guard targets as the web
  form's, and three wrong entries end the call;
- a host's own room asks whether the caller is its host ("enter your moderator PIN, or hold"):
  silence or the pound key alone joins as a guest, and so do three wrong PINs (counted against
  that room's moderator PIN target).

The guard's per-client budget is keyed by the caller's SIP From address, which a caller chooses;
the targets (room code prefixes, a conference's PIN, a room's moderator PIN) are what holds.

A caller is in no conference until it is admitted, so only an admitted call has a phone leg row
(``direction`` "in"); the steps before live in the keeper, with the call's media.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.conferences.access_codes import AccessCodes
from podium.domain.guard.service import GuardService
from podium.domain.guard.targets import Target, Targets, moderator_pin, room_code, security_pin
from podium.domain.hosts.repository import HostRepository
from podium.domain.joining.service import GUEST, MODERATOR, JoiningService
from podium.domain.telephony.ending import audit_leg, tell_room
from podium.domain.telephony.repository import PhoneLegRepository
from podium.kit.clock import utcnow
from podium.kit.errors import DomainError, TooManyAttempts
from podium.models.conference import Conference
from podium.models.phone_leg import LegStatus, PhoneLeg

ASK_CODE = "Welcome. Please enter the meeting's access code, followed by the pound key."
ASK_PIN = (
    "Please enter the meeting's security PIN, followed by the pound key. "
    "Hosts may enter their moderator PIN instead."
)
ASK_HOST = (
    "Welcome to {title}. If you are the host, enter your moderator PIN followed by the pound key. "
    "Otherwise, please hold."
)
WRONG_CODE = "That access code is not valid."
WRONG_PIN = "That PIN is not correct."
LOCKED = "There were too many wrong entries. Please try again later."
GOODBYE = "Goodbye."
JOINING = "You are joining the meeting now."
JOINING_AS_HOST = "Welcome back. You are joining the meeting as its moderator."
CLOSED = "This meeting is not open now."

TRIES = 3  # wrong entries before the call ends
HOST_WAIT_SECONDS = 6.0  # a caller in a host's room who types nothing joins as a guest after this
ENTRY_SECONDS = 30.0  # a caller asked for a code or a PIN who types nothing is hung up after this

_DIALLED_CODE = re.compile(r"^\+?(\d{3,16})(?:-\d{1,3})?$")


@dataclass(frozen=True)
class Lobby:
    """A caller not yet in a room: what it dialled, and what it is being asked for."""

    caller: str  # the From URI
    display: str
    asking: str = "code"  # code | pin | host
    access_code: str = ""
    tries: int = 0

    @property
    def guard_client(self) -> str:
        """Who the guard counts a phone caller's wrong entries against."""
        return f"phone:{self.caller[:200]}"


@dataclass(frozen=True)
class Step:
    """What the gateway does next: say something, and then wait for digits (``lobby``), join a room
    (``leg``), or hang up."""

    say: str
    lobby: Lobby | None = None
    leg: PhoneLeg | None = None
    hang_up: bool = False
    wait_seconds: float = ENTRY_SECONDS
    failed: tuple[Target, ...] | None = None  # a wrong entry, for the guard (counted after the step)


def user_part(uri: str) -> str:
    """``1234567-0`` of ``sip:1234567-0@host:port;params`` (or of ``<sip:…>``)."""
    bare = uri.strip().strip("<>").split(";", 1)[0]
    return bare.split(":", 1)[-1].split("@", 1)[0] if "@" in bare else ""


def caller_number(uri: str) -> str:
    """The E.164 digits of a caller's From URI (``sip:+15551234567@…``), else its user part."""
    user = user_part(uri)
    digits = user.removeprefix("+")
    return (digits if digits.isdigit() else user)[:20]


class DialInService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.codes = AccessCodes(session)
        self.hosts = HostRepository(session)

    def arrive(self, dialled: str, caller: str, display: str) -> Step:
        """A call came in for ``dialled`` (the Request-URI the front kept) from ``caller``."""
        lobby = Lobby(caller=caller[:255], display=display.strip().strip('"')[:100])
        match = _DIALLED_CODE.match(user_part(dialled))
        if match is not None and self._opens(match.group(1)):
            return self._opened(lobby, match.group(1))
        return Step(ASK_CODE, lobby)  # a dial-in number, or a code that opens nothing: ask

    def entered(self, lobby: Lobby, digits: str, owner: str, until: datetime) -> Step:
        """The caller typed ``digits`` (ended by the pound key, which is not in them)."""
        if lobby.asking == "host" and not digits:
            return self._admit(lobby, GUEST, owner, until)  # the pound key alone: no secret, no guard
        try:  # the same locks as the web's forms: the room codes, the conference's PIN (and the caller)
            GuardService(self.session, self.settings).check(lobby.guard_client, self._aimed_at(lobby, digits))
        except TooManyAttempts:
            return Step(f"{LOCKED} {GOODBYE}", hang_up=True)
        if lobby.asking == "code":
            # Only access codes here: a host's moderator PIN is asked in its room, never matched
            # against every host's (PINs and codes are unique apart, and a guess would roam tenants).
            if self._opens(digits):
                return self._opened(lobby, digits)
            return self._wrong(lobby, WRONG_CODE, ASK_CODE, (room_code(digits),))
        if lobby.asking == "pin":
            expected = JoiningService(self.session, self.settings).security_pin_for(lobby.access_code) or ""
            if self._is_hosts_pin(lobby.access_code, digits):
                return self._admit(lobby, MODERATOR, owner, until)
            if expected and secrets.compare_digest(digits.encode(), expected.encode()):
                return self._admit(lobby, GUEST, owner, until)
            return self._wrong(
                lobby, WRONG_PIN, ASK_PIN, (Targets(self.session).security_pin(lobby.access_code),)
            )
        # asking whether the caller is the host (the pound key alone was handled above)
        if self._is_hosts_pin(lobby.access_code, digits):
            return self._admit(lobby, MODERATOR, owner, until)
        failed = (moderator_pin(lobby.access_code),)
        if lobby.tries + 1 >= TRIES:  # not the host, it seems: a guest, as holding would make it
            step = self._admit(lobby, GUEST, owner, until)
            return replace(step, say=f"{WRONG_PIN} {step.say}", failed=failed)
        step = self._wrong(lobby, WRONG_PIN, "Enter your moderator PIN, or just hold.", failed)
        return replace(step, wait_seconds=HOST_WAIT_SECONDS)

    def timed_out(self, lobby: Lobby, owner: str, until: datetime) -> Step:
        """The caller typed nothing for a while: a caller holding in a host's room joins as a guest,
        one asked for a code or a PIN is hung up."""
        if lobby.asking == "host":
            return self._admit(lobby, GUEST, owner, until)
        return Step(GOODBYE, hang_up=True)

    # --- steps ----------------------------------------------------------------------------------

    @staticmethod
    def _aimed_at(lobby: Lobby, digits: str) -> tuple[Target, ...]:
        """What an entry guesses at: a room code, a conference's security PIN, a host's moderator PIN."""
        if lobby.asking == "code":
            return (room_code(digits),)
        if lobby.asking == "pin":
            return (security_pin(lobby.access_code),)
        return (moderator_pin(lobby.access_code),)

    def _opens(self, code: str) -> bool:
        return self.codes.dedicated_owner(code) is not None or bool(self.codes.conferences_on(code))

    def _opened(self, lobby: Lobby, code: str) -> Step:
        """The caller's room is known: ask for its PIN, ask whether it is the host, or let it in."""
        lobby = replace(lobby, access_code=code, tries=0)
        if JoiningService(self.session, self.settings).security_pin_for(code):
            return Step(ASK_PIN, replace(lobby, asking="pin"))
        owner = self.codes.dedicated_owner(code)
        title = owner.name if owner is not None and owner.name else "the meeting"
        return Step(
            ASK_HOST.format(title=title), replace(lobby, asking="host"), wait_seconds=HOST_WAIT_SECONDS
        )

    def _wrong(self, lobby: Lobby, wrong: str, again: str, targets: tuple[Target, ...]) -> Step:
        tries = lobby.tries + 1
        if tries >= TRIES:
            return Step(f"{wrong} {GOODBYE}", hang_up=True, failed=targets)
        return Step(f"{wrong} {again}", replace(lobby, tries=tries), failed=targets)

    def _is_hosts_pin(self, code: str, digits: str) -> bool:
        """Whether ``digits`` is the moderator PIN of the host whose room ``code`` opens."""
        owner = self.codes.dedicated_owner(code)
        if owner is None:
            series = self.codes.conferences_on(code)
            host_id = series[-1].host_id if series else None
            owner = self.hosts.by_id(host_id) if host_id is not None else None
        if owner is None or owner.deleted_at is not None:
            return False
        return secrets.compare_digest(digits.encode(), owner.moderator_pin.encode())

    def _admit(self, lobby: Lobby, role: str, owner: str, until: datetime) -> Step:
        """Into the room the code opens now (a host's room opens a reservationless meeting when none
        is scheduled, as its web link does): the call's row, held by the keeper that runs it."""
        try:
            conference = (
                JoiningService(self.session, self.settings).resolve_access_code(lobby.access_code).conference
            )
        except DomainError:  # the code expired, or its host went, meanwhile
            return Step(f"{CLOSED} {GOODBYE}", hang_up=True)
        return Step(
            JOINING_AS_HOST if role == MODERATOR else JOINING,
            leg=self._leg(conference, lobby, role, owner, until),
        )

    def _leg(self, conference: Conference, lobby: Lobby, role: str, owner: str, until: datetime) -> PhoneLeg:
        now = utcnow()
        number = caller_number(lobby.caller)
        leg = PhoneLegRepository(self.session).add(
            PhoneLeg(
                conference_id=conference.id,
                company_id=conference.company_id,
                direction="in",
                phone_number=number,
                country_code="",
                name=(lobby.display or number or "Phone caller")[:255],
                invitation_text="",
                requested_by="",
                status=LegStatus.ANSWERED.value,
                reason="",
                sip_code=0,
                requested_at=now,
                answered_at=now,
                owner=owner,
                lease_until=until,
                role=role,
                caller_uri=lobby.caller,
            )
        )
        audit_leg(self.session, leg, "conference.dialin_answered", "system", role=role)
        tell_room(self.session, leg)
        return leg
