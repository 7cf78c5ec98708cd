"""The roster of a host's conference: invitees become participants, the organiser always first (a
host and moderator), each with its own links; the participants as contacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from podium.domain.conferences.access_codes import DRAW_ATTEMPTS, new_participant_codes
from podium.domain.conferences.schemas import Invitee
from podium.domain.contacts.service import ContactService
from podium.domain.hosts.repository import HostRepository
from podium.domain.participants.repository import ParticipantRepository
from podium.domain.tenancy import usage
from podium.kit import ids
from podium.kit.clock import utcnow
from podium.kit.db import insert_drawing_again
from podium.kit.errors import InvalidInput, RaceLost
from podium.models.conference import Conference
from podium.models.contact import Contact
from podium.models.participant import Participant, ParticipantRole
from podium.models.tenancy import Host

NOT_IN_CONTACTS = "Participants has one or more contact that does not exist in the host's contact list."
LEADING = (ParticipantRole.HOST, ParticipantRole.MODERATOR)


@dataclass(frozen=True)
class Seat:
    """An invitee resolved to a contact of the organiser (and the host it is, for colleagues)."""

    contact: Contact
    moderator: bool
    host_id: int | None = None


def new_participant(session: Session, conference: Conference, **fields: Any) -> Participant:
    """A participant of ``conference`` with fresh codes (the one place participants are made)."""
    return new_participants(session, [(conference, fields)])[0]


def new_participants(
    session: Session, wanted: Sequence[tuple[Conference, dict[str, Any]]]
) -> list[Participant]:
    """``new_participant`` for several at once, with one INSERT: their codes are drawn, and the
    unique indexes skip any a participant has already (such a one is drawn again and inserted again:
    asking first cost a query every batch). A client's user id a rival gave the conference since it
    was looked up makes the work run again (``RaceLost``), and then it finds that participant."""
    participants = [
        Participant(conference_id=conference.id, **codes, **fields)
        for (conference, fields), codes in zip(wanted, _drawn(len(wanted)), strict=True)
    ]

    def draw_again(skipped: list[Participant]) -> None:
        repo = ParticipantRepository(session)
        for participant in skipped:
            given = participant.external_id
            if given is not None and repo.by_external_id(participant.conference_id, given) is not None:
                raise RaceLost("The same participant was added at the same time; please retry")
        for participant, codes in zip(skipped, _drawn(len(skipped)), strict=True):
            participant.code, participant.url_token = codes["code"], codes["url_token"]

    insert_drawing_again(
        session,
        participants,
        told_by="code",
        draw_again=draw_again,
        attempts=DRAW_ATTEMPTS,
        what="participant codes",
    )
    for (conference, _), participant in zip(wanted, participants, strict=True):
        if participant.deleted_at is None:  # inserted without a flush: counted here (tenancy/usage)
            usage.added(session, conference.company_id, users=1)
    return participants


def _drawn(count: int) -> list[dict[str, str]]:
    return ids.distinct_many(new_participant_codes, count, "participant codes")


class Roster:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.participants = ParticipantRepository(session)
        self.contacts = ContactService(session)
        self.hosts = HostRepository(session)

    def resolve(self, host: Host, invitees: Sequence[Invitee]) -> list[Seat]:
        """The invitees as ``host``'s contacts, in order, once each (moderator if named so anywhere).

        Unknown emails are added to the host's contacts.

        Raises:
            InvalidInput: a contact id outside the host's (or its company's shared) book, or a host of
                another company.
        """
        found: dict[int, Seat] = {}
        for invitee in invitees:
            contact, host_id = self._contact_of(host, invitee)
            previous = found.get(contact.id)
            found[contact.id] = Seat(
                contact,
                invitee.moderator or (previous.moderator if previous else False),
                host_id if host_id is not None else (previous.host_id if previous else None),
            )
        return list(found.values())

    def _contact_of(self, host: Host, invitee: Invitee) -> tuple[Contact, int | None]:
        if invitee.contact_id is not None:
            contact = self.contacts.visible_to(host, invitee.contact_id)
            if contact is None:
                raise InvalidInput(
                    NOT_IN_CONTACTS, field="moderators" if invitee.moderator else "participants"
                )
            return contact, None
        if invitee.host_id is not None:
            other = self.hosts.by_id(invitee.host_id)
            if other is None or other.deleted_at is not None or other.company_id != host.company_id:
                raise InvalidInput(
                    "participant_hosts must be hosts of the same company", field="participant_hosts"
                )
            return self.contacts.find_or_add(host, other.email, other.name), other.id
        return self.contacts.find_or_add(host, invitee.email or "", invitee.name), None

    def organiser_contact(self, host: Host) -> Contact:
        return self.contacts.find_or_add(host, host.email, host.name)

    def seat(self, conference: Conference, host: Host, seats: Sequence[Seat] | None) -> None:
        """Make the conference's participants match: the organiser first, then ``seats``.

        ``None`` keeps the current invitees (the organiser is still made sure of); a list replaces
        them, and whoever drops out has their links revoked.
        """
        existing = {p.contact_id: p for p in self.participants.for_conference(conference.id) if p.contact_id}
        organiser = self.organiser_contact(host)
        wanted: dict[int, tuple[Contact, ParticipantRole, int | None]] = {
            organiser.id: (organiser, ParticipantRole.HOST, host.id)
        }
        if seats is None:
            for participant in existing.values():
                if participant.deleted_at is None and participant.contact_id not in wanted:
                    contact = self.session.get(Contact, participant.contact_id)
                    if contact is not None:
                        wanted[contact.id] = (contact, participant.role, participant.host_id)
        else:
            for seat in seats:
                if seat.contact.id != organiser.id:
                    role = ParticipantRole.MODERATOR if seat.moderator else ParticipantRole.PARTICIPANT
                    wanted[seat.contact.id] = (seat.contact, role, seat.host_id)
        for contact_id, participant in existing.items():
            if contact_id not in wanted and participant.deleted_at is None:
                participant.deleted_at = utcnow()
                participant.token_revision += 1
        for contact_id, (contact, role, host_id) in wanted.items():
            current = existing.get(contact_id)
            if current is None:
                new_participant(
                    self.session,
                    conference,
                    contact_id=contact.id,
                    host_id=host_id,
                    email=contact.email,
                    name=contact.name,
                    role=role,
                )
            else:
                current.deleted_at = None
                current.role, current.host_id = role, host_id
                current.email, current.name = contact.email, contact.name
        self.session.flush()

    def copy(self, source: Conference, target: Conference) -> None:
        """Invite ``source``'s participants to ``target`` (a series' instance), each with its own links."""
        for participant in self.participants.for_conference(source.id):
            if participant.deleted_at is None:
                new_participant(
                    self.session,
                    target,
                    contact_id=participant.contact_id,
                    host_id=participant.host_id,
                    email=participant.email,
                    name=participant.name,
                    role=participant.role,
                )

    def invited(self, conference: Conference) -> list[Participant]:
        """The live participants that are contacts, the organiser first."""
        return [
            p
            for p in self.participants.for_conference(conference.id)
            if p.deleted_at is None and p.contact_id is not None
        ]

    def contacts_of(self, conference: Conference) -> tuple[list[Contact], list[Contact]]:
        """Everyone invited, and the moderators among them, as contacts."""
        participants = self.invited(conference)
        contacts = {c.id: c for c in (self.session.get(Contact, p.contact_id) for p in participants) if c}
        everyone = [contacts[p.contact_id] for p in participants if p.contact_id in contacts]
        moderators = [
            contacts[p.contact_id] for p in participants if p.contact_id in contacts and p.role in LEADING
        ]
        return everyone, moderators
