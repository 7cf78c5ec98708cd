"""Who may act on a host's conference: whoever administers its organiser (``AccessPolicy.host``);
the organiser itself may also look at its own conferences (the web app's summary pages).

Built on ``AccessPolicy``, which stays the one place for role and tenant scope.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from podium.domain.access.service import AccessPolicy
from podium.domain.actor import Actor
from podium.domain.conferences.repository import ConferenceRepository
from podium.kit.errors import NotFound
from podium.models.conference import Conference
from podium.models.tenancy import Company, Host


class ConferenceAccess:
    def __init__(self, session: Session, actor: Actor) -> None:
        self.policy = AccessPolicy(session, actor)
        self.actor = actor
        self.repo = ConferenceRepository(session)

    def organiser(self, host_id: int) -> Host:
        """A live host whose conferences the actor may schedule and manage.

        Raises:
            Forbidden: the actor is no admin, or the host is beyond its scope.
            NotFound: no such live host.
        """
        return self.policy.host(host_id)

    def conference(self, conference_id: int) -> tuple[Conference, Host]:
        """A live host's conference the actor may manage, and its organiser.

        Raises:
            NotFound: no such conference (or it is deleted, or no host organises it).
            Forbidden: the actor is no admin, or the organiser is beyond its scope.
        """
        conference = self.repo.by_id(conference_id)
        if conference is None or conference.deleted_at is not None or conference.host_id is None:
            raise NotFound("Conference not found")
        return conference, self.policy.host(conference.host_id)

    def readable(self, conference_id: int) -> Conference:
        """A host's conference (cancelled ones included) its organiser or an admin of it may look at.

        Raises:
            NotFound: no such conference, or no host organises it.
            Forbidden: someone else's conference, and the actor does not administer its organiser.
        """
        conference = self.repo.by_id(conference_id)
        if conference is None or conference.host_id is None:
            raise NotFound("Conference not found")
        if conference.host_id != self.actor.host_id:
            self.policy.host(conference.host_id)
        return conference

    def contacts_company(self, host: Host) -> Company:
        """The company whose books the actor reads the organiser's contacts in."""
        return self.policy.company_or_own(host.company_id)

    def in_console(self, conference_id: int) -> Conference:
        """A live conference the operator console shows the actor and lets it end: its organiser's
        own, one whose organiser the actor administers, or (admins) a company conference without an
        organiser (Boomstream, LiveMinutes) of a company in the actor's scope.

        Raises:
            NotFound: no such live conference.
            Forbidden: beyond the actor's scope.
        """
        conference = self.repo.by_id(conference_id)
        if conference is None or conference.deleted_at is not None:
            raise NotFound("Conference not found")
        if conference.host_id is None:
            self.policy.company_or_own(conference.company_id)
        elif conference.host_id != self.actor.host_id:
            self.policy.host(conference.host_id)
        return conference
