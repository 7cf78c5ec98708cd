"""Conferences: the one meeting-room model behind Boomstream conferences and LiveMinutes meetings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.conferences import rows
from podium.domain.conferences.emails import ConferenceEmails
from podium.domain.conferences.repository import ConferenceRepository
from podium.kit.clock import utcnow
from podium.kit.errors import InvalidInput, NotFound
from podium.kit.unset import UNSET, Unset  # re-exported: the sentinel lives in kit/unset.py
from podium.kit.uow import Context, WriteKind
from podium.kit.validation import check_length, normalise_email
from podium.models.conference import Conference, Folder

FOLDER_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MEETING_KEY_MAX = 100
TITLE_MAX = 255
DESCRIPTION_MAX = 4000


@dataclass(frozen=True)
class NewConference:
    """A checked creation (``ConferenceService.create``), to be made alone or in a batch."""

    actor: Actor
    folder_code: str
    row: rows.NewRow


def make_conferences(ctx: Context, batch: Sequence[NewConference]) -> list[Conference]:
    """Make checked creations in ``ctx``'s unit of work: each admitted under its company's quota
    (checked once per company, before the commit) and filed in its folder, all inserted with one
    flush (each with what its invitation shows), each announced."""
    service = ConferenceService(ctx.session, ctx.settings)
    made = []
    for new in batch:
        rows.admit(ctx.session, ctx.settings, new.actor.company_id, meeting_key=new.row.meeting_key)
        folder = service.folder_for(new.actor, new.folder_code)
        made.append(replace(new.row, fields={**new.row.fields, "folder_id": folder.id if folder else None}))
    conferences = rows.insert_many(ctx.session, made, before_insert=service.emails.stamp_made)
    for conference in conferences:
        service.emails.announce_made(conference)
    return conferences


CREATIONS = WriteKind("conference creations", make_conferences)


class ConferenceService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ConferenceRepository(session)
        self.emails = ConferenceEmails(session, settings)

    @staticmethod
    def _own(actor: Actor, conference: Conference) -> None:
        """A conference of another company is not found (the tenant rule of both dialects)."""
        if conference.company_id != actor.company_id:
            raise NotFound("Conference not found")

    def folder_for(self, actor: Actor, code: str) -> Folder | None:
        """The company's folder with ``code``, created on first use; empty code means none.

        Folders are created implicitly so that an application migrating from Boomstream
        keeps its folder codes (see docs/compat.md).
        """
        code = code.strip()
        if not code:
            return None
        if not FOLDER_CODE_RE.match(code):
            raise InvalidInput("folderCode must be 1 to 32 letters, digits, '_' or '-'", field="folderCode")
        folder = self.repo.folder(actor.company_id, code)
        if folder is None:
            folder = Folder(company_id=actor.company_id, code=code, name=code)
            self.repo.add(folder)
            log_action(
                self.session,
                "folder.created",
                actor=actor.label,
                ref=f"folder:{folder.id}",
                company_id=actor.company_id,
                code=code,
            )
        return folder

    def folder_code(self, conference: Conference) -> str:
        """The code of the conference's folder; empty when it is in none."""
        if conference.folder_id is None:
            return ""
        folder = self.repo.folder_by_id(conference.folder_id)
        return folder.code if folder else ""

    def checked_creation(
        self,
        actor: Actor,
        *,
        title: str = "",
        description: str = "",
        folder_code: str = "",
        meeting_key: str = "",
        host_external_id: str | None = None,
        host_nickname: str = "",
        host_email: str = "",
        lang: str = "",
        starts_at: datetime | None = None,
        duration_minutes: float | None = None,
        host_id: int | None = None,
    ) -> NewConference:
        """A conference (a Boomstream conference, a LiveMinutes meeting) of the actor's company,
        checked, to be made by ``create`` or, with others, by the group commit (``CREATIONS``).

        Raises:
            InvalidInput: a value is malformed or too long.
        """
        check_length("title", title, TITLE_MAX)
        check_length("description", description, DESCRIPTION_MAX)
        check_length("meetingKey", meeting_key, MEETING_KEY_MAX)
        check_length("hostid", host_external_id or "", 50)
        check_length("hostnickname", host_nickname, 255)
        host_email = normalise_email(host_email, required=False, label="hostemail")
        check_length("lang", lang, 16)
        if duration_minutes is not None and not 0 <= duration_minutes <= 7 * 24 * 60:
            raise InvalidInput("duration must be between 0 and 10080 minutes", field="duration")
        new = NewConference(
            actor,
            folder_code,
            rows.NewRow(
                actor.company_id,
                actor.label,
                host_id,
                meeting_key,
                {
                    "title": title,
                    "description": description,
                    "host_external_id": host_external_id,
                    "host_nickname": host_nickname,
                    "host_email": host_email,
                    "lang": lang,
                    "starts_at": starts_at,
                    "duration_minutes": duration_minutes,
                },
            ),
        )
        return new

    def create(self, new: NewConference) -> Conference:
        """Make a checked creation in this unit of work.

        Returns:
            The conference, with its own public codes.

        Raises:
            Conflict: ``meeting_key`` is already used by a live conference of the company.
            QuotaExceeded: the company holds ``quota_conferences`` live conferences.
        """
        return make_conferences(Context(self.session, self.settings), [new])[0]

    def get(self, actor: Actor, code: str) -> Conference:
        """A live conference of the actor's company by its public (Boomstream) code.

        Raises:
            NotFound: no live conference of the actor's company has ``code``.
        """
        conference = self.repo.live_by_code(actor.company_id, code) if code else None
        if conference is None:
            raise NotFound("Conference not found")
        return conference

    def get_by_meeting_key(self, actor: Actor, meeting_key: str) -> Conference:
        """A live meeting of the actor's company by the key its (LiveMinutes) client gave it.

        Raises:
            NotFound: no live meeting of the actor's company has ``meeting_key``.
        """
        conference = self.repo.live_by_meeting_key(actor.company_id, meeting_key) if meeting_key else None
        if conference is None:
            raise NotFound("Meeting not found")
        return conference

    def list(self, actor: Actor) -> Sequence[Conference]:
        """The live conferences of the actor's company, oldest first."""
        return self.repo.live_for_company(actor.company_id)

    def update(
        self,
        actor: Actor,
        conference: Conference,
        *,
        title: str | Unset = UNSET,
        description: str | Unset = UNSET,
        folder_code: str | Unset = UNSET,
    ) -> Conference:
        """Change the given fields only; an empty ``folder_code`` takes the conference out of its folder.

        Raises:
            NotFound: the conference is another company's.
            InvalidInput: a too long title or description, a malformed folder code.
        """
        self._own(actor, conference)
        changed: list[str] = []
        if not isinstance(title, Unset):
            conference.title = check_length("title", title, TITLE_MAX)
            changed.append("title")
        if not isinstance(description, Unset):
            conference.description = check_length("description", description, DESCRIPTION_MAX)
            changed.append("description")
        if not isinstance(folder_code, Unset):
            folder = self.folder_for(actor, folder_code)
            conference.folder_id = folder.id if folder else None
            changed.append("folder")
        self.session.flush()
        log_action(
            self.session,
            "conference.updated",
            actor=actor.label,
            ref=f"conference:{conference.id}",
            company_id=actor.company_id,
            fields=changed,
        )
        self.emails.announce(conference)
        return conference

    def delete(self, actor: Actor, conference: Conference, *, reason: str = "deleted") -> None:
        """Delete (or cancel) a conference: every link to it stops working, its key is freed, and a
        live one ends first (its room closes, everyone's attendance ends).

        Args:
            actor: Who is calling.
            conference: A conference of the actor's company.
            reason: ``deleted`` (Boomstream) or ``cancelled`` (LiveMinutes), as audited.

        Raises:
            NotFound: the conference is another company's.
        """
        self._own(actor, conference)
        rows.remove(
            self.session, conference, utcnow(), actor_label=actor.label, reason=reason, cancelled=False
        )
        self.session.flush()
        log_action(
            self.session,
            f"conference.{reason}",
            actor=actor.label,
            ref=f"conference:{conference.id}",
            company_id=actor.company_id,
        )
        self.emails.cancelled(conference)
