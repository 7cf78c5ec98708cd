"""Participants: invitations that can join a conference, whichever dialect issued them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.conferences.access_codes import participant_url_token
from podium.domain.conferences.emails import ConferenceEmails
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.conferences.roster import new_participant, new_participants
from podium.domain.participants.repository import ParticipantRepository
from podium.domain.tenancy import usage
from podium.kit import tokens, uow
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, NotFound, QuotaExceeded, RaceLost
from podium.kit.links import Links
from podium.kit.unset import UNSET, Unset
from podium.kit.validation import check_length, normalise_email
from podium.models.conference import Conference
from podium.models.participant import Participant, ParticipantRole

INVITE_AUDIENCE = "podium:invite"
MIN_TIMEOUT = 60
MAX_TIMEOUT = 366 * 24 * 3600


@dataclass(frozen=True)
class Invitation:
    participant: Participant
    conference: Conference
    token: str
    link: str


@dataclass(frozen=True)
class NewInvitation:
    """A checked invitation (``ParticipantService.invite``), to be made alone or in a batch."""

    actor: Actor
    conference_code: str
    email: str
    name: str | None
    moderator: bool | None
    avatar_url: str | None
    timeout: int
    notify_email: bool


def make_invitations(ctx: uow.Context, batch: Sequence[NewInvitation]) -> list[Invitation | uow.Refused]:
    return ParticipantService(ctx.session, ctx.settings).make_invitations(batch)


INVITATIONS = uow.WriteKind("invitations", make_invitations)


class ParticipantService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ParticipantRepository(session)

    def _check_user_quota(self, company_id: int, identity: str) -> None:
        """A new person beyond ``quota_users`` distinct users of the company is refused: checked when
        the work is done, just before the commit, under the company's lock (``uow.before_commit``),
        so the counts see every rival that committed first and include this transaction's rows."""
        quota = self.settings.quota_users

        def within_quota() -> None:
            # Under the company's lock (taken by reading its bounds); this transaction's own included.
            bound = usage.bounds(self.session, company_id).user_rows
            if bound is not None and bound <= quota:
                return
            rows = self.repo.count_user_rows(company_id, up_to=quota + 1)
            if rows <= quota:  # far from the limit: skip the exact (DISTINCT) count
                usage.rebase(self.session, company_id, user_rows=rows)
                return
            if identity and self.repo.identity_rows(company_id, identity) > 1:
                return  # a person the company already had: no new user
            if self.repo.count_users(company_id, up_to=quota + 1) > quota:
                raise QuotaExceeded(f"User limit reached ({quota} users per account)")

        uow.before_commit(self.session, ("company", company_id, "users", identity), within_quota)

    def _one_per_email(self, given: Mapping[tuple[int, str], Participant]) -> None:
        """``given``: participants that got an email (by conference id and lower-cased email) no
        other participant of their conference had when it was looked up, without a lock. Checked
        again under the conference's emails' lock just before the commit: a rival that invited the
        same person meanwhile makes this work run again, and then it finds that participant
        (``RaceLost``, ADR 0017)."""
        by_conference: dict[int, dict[str, int]] = {}
        for (conference_id, email), participant in given.items():
            by_conference.setdefault(conference_id, {})[email] = participant.id
        for conference_id, mine in by_conference.items():

            def alone(conference_id: int = conference_id, mine: dict[str, int] = mine) -> None:
                self.repo.hold_emails(conference_id)
                if self.repo.someone_else_has(conference_id, set(mine), set(mine.values())):
                    raise RaceLost("The same person was invited at the same time; please retry")

            key = "|".join(sorted(mine))
            uow.before_commit(self.session, ("conference", conference_id, "emails", key), alone)

    def _restore(self, participant: Participant) -> None:
        """Bring a removed participant back with fresh links; the old ones stay revoked."""
        participant.deleted_at = None
        participant.url_token = participant_url_token(self.session)

    @staticmethod
    def _own(actor: Actor, conference: Conference) -> None:
        """A conference of another company is not found (the one tenant rule of both dialects)."""
        if conference.company_id != actor.company_id:
            raise NotFound("Conference not found")

    def _own_participant(self, actor: Actor, participant: Participant) -> Conference:
        conference = self.session.get(Conference, participant.conference_id)
        if conference is None or conference.company_id != actor.company_id:
            raise NotFound("Client not found")
        return conference

    # --- invitations (Boomstream) -----------------------------------------------------

    def checked_invitation(
        self,
        actor: Actor,
        conference_code: str,
        *,
        email: str,
        name: str | None = None,
        moderator: bool | None = None,
        avatar_url: str | None = None,
        timeout: int | None = None,
        notify_email: bool = False,
    ) -> NewInvitation:
        """An invitation of ``email`` to a conference of the actor's company, checked, to be made
        by ``invite`` or, with others, by the group commit (``INVITATIONS``): the same email invited
        again updates that participant (a removed one comes back with fresh links).

        Args:
            actor: Who is calling.
            conference_code: A live conference of the actor's company (its Boomstream code).
            email: Who is invited.
            name: The display name (the email's local part when new and not given).
            moderator: Whether the participant moderates (unchanged when ``None``).
            avatar_url: An http(s) URL of the participant's picture.
            timeout: Seconds the join token is valid (the settings' default when ``None``).
            notify_email: Send the invitation by email too.

        Returns:
            What ``invite`` makes: the participant, its signed join token and the link that carries
            it.

        Raises:
            NotFound: no live conference of the actor's company has that code.
            InvalidInput: a malformed email, name, avatar URL or timeout.
            QuotaExceeded: a new person beyond the company's quota of users.
        """
        email = normalise_email(email, required=True)
        if name is not None:
            check_length("name", name, 255)
        if avatar_url:
            check_length("avatarUrl", avatar_url, 2048)
            if urlparse(avatar_url).scheme not in ("http", "https"):
                raise InvalidInput("avatarUrl must be an http(s) URL", field="avatarUrl")
        timeout = self.settings.invite_default_timeout if timeout is None else timeout
        if not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
            raise InvalidInput(
                f"timeout must be between {MIN_TIMEOUT} and {MAX_TIMEOUT} seconds", field="timeout"
            )
        return NewInvitation(
            actor, conference_code, email, name, moderator, avatar_url, timeout, notify_email
        )

    def invite(self, new: NewInvitation) -> Invitation:
        """Make a checked invitation in this unit of work (see ``checked_invitation``'s errors)."""
        return uow.made(self.make_invitations([new])[0])

    def make_invitations(self, batch: Sequence[NewInvitation]) -> list[Invitation | uow.Refused]:
        """Make checked invitations in this session's unit of work, in order (a later one of the same
        person updates what an earlier one made): one query finds who is invited already, one flush
        adds the new people; each is signed its link, audited and, if asked, emailed."""
        found = ConferenceRepository(self.session).live_by_codes(
            {(new.actor.company_id, new.conference_code) for new in batch}
        )
        # An invitation to no live conference of its company is refused before anything is made.
        asked = batch
        places = [i for i, new in enumerate(asked) if (new.actor.company_id, new.conference_code) in found]
        batch = [asked[i] for i in places]
        conferences = [found[(new.actor.company_id, new.conference_code)] for new in batch]
        invited = self.repo.by_emails([(c.id, new.email) for new, c in zip(batch, conferences, strict=True)])
        making: dict[tuple[int, str], tuple[Conference, dict[str, Any]]] = {}
        for new, conference in zip(batch, conferences, strict=True):
            key = (conference.id, new.email.lower())
            if key not in invited and key not in making:
                self._check_user_quota(new.actor.company_id, new.email.lower())
                making[key] = (
                    conference,
                    {
                        "email": new.email,
                        "name": new.name or new.email.split("@", 1)[0],
                        "role": ParticipantRole.MODERATOR if new.moderator else ParticipantRole.PARTICIPANT,
                        "avatar_url": new.avatar_url or "",
                    },
                )
        made = dict(zip(making, new_participants(self.session, list(making.values())), strict=True))
        self._one_per_email(made)
        actions = []
        for new, conference in zip(batch, conferences, strict=True):
            key = (conference.id, new.email.lower())
            if key in made:
                participant = invited[key] = made.pop(key)
                actions.append((participant, "participant.invited"))
                continue
            participant = invited[key]
            if participant.deleted_at is not None:
                self._check_user_quota(new.actor.company_id, new.email.lower())
                self._restore(participant)
            if new.name:
                participant.name = new.name
            if new.moderator is not None:
                participant.role = ParticipantRole.MODERATOR if new.moderator else ParticipantRole.PARTICIPANT
            if new.avatar_url is not None:
                participant.avatar_url = new.avatar_url
            actions.append((participant, "participant.reinvited"))
        self.session.flush()
        made_at = {
            place: self._invited(new, conference, participant, action)
            for place, new, conference, (participant, action) in zip(
                places, batch, conferences, actions, strict=True
            )
        }
        return [made_at.get(i) or uow.Refused(NotFound("Conference not found")) for i in range(len(asked))]

    def _invited(
        self, new: NewInvitation, conference: Conference, participant: Participant, action: str
    ) -> Invitation:
        """An invitation made: its signed link, its audit entry and, if asked, its email."""
        token = tokens.sign(
            {
                "aud": INVITE_AUDIENCE,
                "sub": participant.code,
                "conf": conference.code,
                "rev": participant.token_revision,
            },
            self.settings.signing_key(),
            expires_at=utcnow() + timedelta(seconds=new.timeout),
        )
        link = Links(self.settings).invite(token)
        log_action(
            self.session,
            action,
            actor=new.actor.label,
            ref=f"participant:{participant.id}",
            company_id=new.actor.company_id,
            conference=conference.code,
            notify=new.notify_email,
        )
        if new.notify_email:
            ConferenceEmails(self.session, self.settings).invited_with_link(
                conference, participant, link, new.timeout
            )
        return Invitation(participant=participant, conference=conference, token=token, link=link)

    # --- external participants (LiveMinutes) ---------------------------------------------

    def add_external(
        self, actor: Actor, conference: Conference, *, external_id: str, nickname: str = "", email: str = ""
    ) -> Participant:
        """Add the client's user ``external_id`` to a meeting of the actor's company; adding it again
        updates it and keeps its URL.

        Raises:
            NotFound: the meeting is another company's.
            InvalidInput: no or a too long ``external_id``, a too long nickname, a malformed email.
            QuotaExceeded: a new person beyond the company's quota of users.
        """
        self._own(actor, conference)
        external_id = external_id.strip()
        if not external_id:
            raise InvalidInput("puid is required", field="puid")
        check_length("puid", external_id, 50)
        check_length("nickname", nickname, 255)
        email = normalise_email(email, required=False)
        participant = self.repo.by_external_id(conference.id, external_id)
        if participant is None:
            self._check_user_quota(actor.company_id, external_id)
            participant = new_participant(
                self.session,
                conference,
                external_id=external_id,
                email=email,
                name=nickname or external_id,
                role=ParticipantRole.PARTICIPANT,
            )
            action = "participant.added"
        else:
            if participant.deleted_at is not None:
                self._check_user_quota(actor.company_id, external_id)
                self._restore(participant)
            if nickname:
                participant.name = nickname
            if email:
                participant.email = email
            action = "participant.updated"
        self.session.flush()
        log_action(
            self.session,
            action,
            actor=actor.label,
            ref=f"participant:{participant.id}",
            company_id=actor.company_id,
            conference=conference.code,
        )
        ConferenceEmails(self.session, self.settings).announce(conference)
        return participant

    def get_external(self, actor: Actor, conference: Conference, external_id: str) -> Participant:
        """A live participant of a meeting of the actor's company by the client's user id.

        Raises:
            NotFound: no such participant (or the meeting is another company's).
        """
        self._own(actor, conference)
        participant = self.repo.by_external_id(conference.id, external_id.strip()) if external_id else None
        if participant is None or participant.deleted_at is not None:
            raise NotFound("Participant not found")
        return participant

    def participant_url(self, participant: Participant) -> str:
        """The participant's personal join URL."""
        return Links(self.settings).personal(participant.url_token)

    # --- common ------------------------------------------------------------------------

    def get(self, actor: Actor, code: str) -> tuple[Participant, Conference]:
        """A participant (removed ones included) of a live conference of the actor's company, by its
        code, and its conference.

        Raises:
            NotFound: no such participant in the actor's company.
        """
        found = self.repo.by_code_in_company(actor.company_id, code) if code else None
        if found is None:
            raise NotFound("Client not found")
        return found

    def list(self, actor: Actor, conference: Conference) -> Sequence[Participant]:
        """Every participant of a conference of the actor's company (removed ones included).

        Raises:
            NotFound: the conference is another company's.
        """
        self._own(actor, conference)
        return self.repo.for_conference(conference.id)

    def update(
        self,
        actor: Actor,
        participant: Participant,
        *,
        email: str | Unset = UNSET,
        name: str | Unset = UNSET,
        moderator: bool | Unset = UNSET,
    ) -> Participant:
        """Change the given fields of a participant of the actor's company.

        Raises:
            NotFound: the participant is another company's.
            Conflict: the participant is removed, or another one of its conference has ``email``.
            InvalidInput: a malformed email, an empty or too long name.
        """
        self._own_participant(actor, participant)
        if participant.deleted_at is not None:
            raise Conflict("Client is deleted")
        if not isinstance(email, Unset):
            email = normalise_email(email, required=True)
            other = self.repo.by_email(participant.conference_id, email)
            if other is not None and other.id != participant.id:
                raise Conflict("Another client of this conference has this email", field="email")
            if email.lower() != participant.email.lower():
                self._one_per_email({(participant.conference_id, email.lower()): participant})
            participant.email = email
        if not isinstance(name, Unset):
            if not name.strip():
                raise InvalidInput("name must not be empty", field="name")
            participant.name = check_length("name", name, 255)
        if not isinstance(moderator, Unset):
            participant.role = ParticipantRole.MODERATOR if moderator else ParticipantRole.PARTICIPANT
        self.session.flush()
        log_action(
            self.session,
            "participant.updated",
            actor=actor.label,
            ref=f"participant:{participant.id}",
            company_id=actor.company_id,
        )
        return participant

    def remove(self, actor: Actor, participant: Participant, *, reason: str = "removed") -> None:
        """Remove a participant of the actor's company: every link issued to it so far is revoked.
        Removing twice is a no-op.

        Raises:
            NotFound: the participant is another company's.
        """
        conference = self._own_participant(actor, participant)
        if participant.deleted_at is not None:
            return
        participant.deleted_at = utcnow()
        participant.token_revision += 1
        self.session.flush()
        log_action(
            self.session,
            f"participant.{reason}",
            actor=actor.label,
            ref=f"participant:{participant.id}",
            company_id=actor.company_id,
        )
        ConferenceEmails(self.session, self.settings).uninvited(conference, participant)
