from __future__ import annotations

from collections.abc import Sequence, Set

from sqlalchemy import func, literal, select, union
from sqlalchemy.orm import Session

from podium.kit.db import HeldKey, any_matches, bounded_count, hold_until_commit
from podium.models.conference import Conference
from podium.models.participant import Participant


class ParticipantRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, participant: Participant) -> None:
        self.session.add(participant)
        self.session.flush()

    def any_code_exists(self, drawn: list[dict[str, str]]) -> bool:
        """Whether any participant has any of the ``drawn`` codes (each a column: value) in its column."""
        return any_matches(self.session, Participant, drawn)

    def by_code_in_company(self, company_id: int, code: str) -> tuple[Participant, Conference] | None:
        stmt = (
            select(Participant, Conference)
            .join(Conference, Conference.id == Participant.conference_id)
            .where(
                Participant.code == code, Conference.company_id == company_id, Conference.deleted_at.is_(None)
            )
        )
        row = self.session.execute(stmt).first()
        return (row[0], row[1]) if row else None

    def by_code(self, code: str) -> Participant | None:
        return self.session.scalar(select(Participant).where(Participant.code == code))

    def by_code_id(self, participant_id: int) -> Participant | None:
        return self.session.get(Participant, participant_id)

    def by_url_token(self, token: str) -> Participant | None:
        return self.session.scalar(select(Participant).where(Participant.url_token == token))

    def by_email(self, conference_id: int, email: str) -> Participant | None:
        """The conference's participant with this email (case-insensitive), a live one first."""
        return self.by_emails([(conference_id, email)]).get((conference_id, email.lower()))

    def by_emails(self, wanted: Sequence[tuple[int, str]]) -> dict[tuple[int, str], Participant]:
        """``by_email`` for several (conference id, email) at once, keyed by (conference id, lowercased
        email); one query (the oldest live participant of each, else the oldest removed one)."""
        conference_ids = {conference_id for conference_id, _ in wanted}
        emails = {email.lower() for _, email in wanted}
        stmt = (
            select(Participant)
            .where(Participant.conference_id.in_(conference_ids), func.lower(Participant.email).in_(emails))
            .order_by(Participant.deleted_at.is_not(None), Participant.id)
        )
        found: dict[tuple[int, str], Participant] = {}
        for participant in self.session.scalars(stmt):
            found.setdefault((participant.conference_id, participant.email.lower()), participant)
        return found

    def hold_emails(self, conference_id: int) -> None:
        """Hold the conference's participants' emails until the commit: one transaction at a time
        checks that nobody else took an email it gave (``kit/db.hold_until_commit``)."""
        hold_until_commit(self.session, HeldKey.CONFERENCE_EMAILS, conference_id)

    def someone_else_has(self, conference_id: int, emails: Set[str], mine: Set[int]) -> bool:
        """Whether a participant of the conference other than ``mine`` (ids), removed ones included,
        has one of the lower-cased ``emails``; one query, stopping at the first."""
        stmt = select(Participant.id).where(
            Participant.conference_id == conference_id,
            func.lower(Participant.email).in_(sorted(emails)),
            Participant.id.not_in(sorted(mine)),
        )
        return self.session.scalar(stmt.limit(1)) is not None

    def by_external_id(self, conference_id: int, external_id: str) -> Participant | None:
        stmt = select(Participant).where(
            Participant.conference_id == conference_id, Participant.external_id == external_id
        )
        return self.session.scalar(stmt)

    def for_conference(self, conference_id: int) -> Sequence[Participant]:
        stmt = select(Participant).where(Participant.conference_id == conference_id).order_by(Participant.id)
        return self.session.scalars(stmt).all()

    def identity_rows(self, company_id: int, identity: str) -> int:
        """The live rows that are the person ``identity`` in the company: participants and hosted
        meetings (at most two are counted: whether the person is there more than once)."""
        participants = self._identities(company_id).where(self._identity() == identity).limit(2)
        hosted = (
            select(Conference.id)
            .where(
                Conference.company_id == company_id,
                Conference.deleted_at.is_(None),
                Conference.host_external_id == identity,
            )
            .limit(2)
        )
        return len(self.session.execute(participants).all()) + len(self.session.execute(hosted).all())

    def count_user_rows(self, company_id: int, *, up_to: int) -> int:
        """Upper bound of count_users without DISTINCT: live participant rows plus hosted meetings,
        each counted up to ``up_to`` (a quota check costs at most the quota, not the company's size)."""
        participants = (
            select(Participant.id)
            .join(Conference, Conference.id == Participant.conference_id)
            .where(
                Conference.company_id == company_id,
                Conference.deleted_at.is_(None),
                Participant.deleted_at.is_(None),
            )
        )
        hosts = select(Conference.id).where(
            Conference.company_id == company_id,
            Conference.deleted_at.is_(None),
            Conference.host_external_id.is_not(None),
        )
        return bounded_count(self.session, participants, up_to) + bounded_count(self.session, hosts, up_to)

    def count_users(self, company_id: int, *, up_to: int) -> int:
        """The company's distinct people (participants and meeting hosts), counted up to ``up_to``."""
        identities = union(self._identities(company_id), self._host_identities(company_id))
        return bounded_count(self.session, identities, up_to)

    @staticmethod
    def _identity():
        # A person is their client-side id when the dialect has one, else their email.
        return func.coalesce(Participant.external_id, func.lower(Participant.email))

    def _identities(self, company_id: int):
        return (
            select(self._identity().label("identity"))
            .join(Conference, Conference.id == Participant.conference_id)
            .where(
                Conference.company_id == company_id,
                Conference.deleted_at.is_(None),
                Participant.deleted_at.is_(None),
            )
        )

    def _host_identities(self, company_id: int):
        return select(func.coalesce(Conference.host_external_id, literal("")).label("identity")).where(
            Conference.company_id == company_id,
            Conference.deleted_at.is_(None),
            Conference.host_external_id.is_not(None),
        )
