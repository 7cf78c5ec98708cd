"""Conferences: the one meeting-room model behind Boomstream conferences and LiveMinutes meetings."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from podium.config import Settings
from podium.domain.actor import Actor
from podium.domain.audit.service import log_action
from podium.domain.conferences.lifecycle import stop_live
from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.tenancy.repository import TenancyRepository
from podium.kit import ids
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from podium.kit.validation import check_length, normalise_email
from podium.models.conference import Conference, Folder

FOLDER_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MEETING_KEY_MAX = 100
TITLE_MAX = 255
DESCRIPTION_MAX = 4000


@dataclass(frozen=True)
class Unset:
    """Marks an optional argument the caller did not give (distinct from an empty value)."""


UNSET = Unset()


class ConferenceService:
    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ConferenceRepository(session)

    def _unique(self, column: str, make: Callable[[], str]) -> str:
        for _ in range(20):
            value = make()
            if not self.repo.code_exists(column, value):
                return value
        raise RuntimeError(f"could not draw a free {column}")

    def fresh_codes(self) -> dict[str, str]:
        """New public codes for a conference row: every link to it is its own."""
        return {
            "code": self._unique("code", ids.conference_code),
            "short_code": self._unique("short_code", ids.meeting_short_code),
            "host_token": self._unique("host_token", ids.capability_token),
            "meeting_key": self._unique("meeting_key", ids.meeting_key),
        }

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
        if conference.folder_id is None:
            return ""
        folder = self.repo.folder_by_id(conference.folder_id)
        return folder.code if folder else ""

    def create(
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
    ) -> Conference:
        """Create a conference in the actor's company.

        Raises:
            InvalidInput: a value is malformed or too long.
            Conflict: ``meeting_key`` is already used by a live conference of the company.
            QuotaExceeded: the company holds ``quota_conferences`` live conferences.
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
        TenancyRepository(self.session).lock_company(actor.company_id)
        if self.repo.count_live(actor.company_id) >= self.settings.quota_conferences:
            raise QuotaExceeded(
                f"Session limit reached ({self.settings.quota_conferences} sessions per account)"
            )
        if meeting_key and self.repo.live_by_meeting_key(actor.company_id, meeting_key) is not None:
            raise Conflict("meetingKey already exists", field="meetingKey")
        folder = self.folder_for(actor, folder_code)
        codes = self.fresh_codes()
        if meeting_key:
            codes["meeting_key"] = meeting_key
        conference = Conference(
            company_id=actor.company_id,
            host_id=host_id,
            moderator_token=secrets.token_urlsafe(9),
            **codes,
            title=title,
            description=description,
            folder_id=folder.id if folder else None,
            host_external_id=host_external_id,
            host_nickname=host_nickname,
            host_email=host_email,
            lang=lang,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
        )
        self.repo.add(conference)
        log_action(
            self.session,
            "conference.created",
            actor=actor.label,
            ref=f"conference:{conference.id}",
            company_id=actor.company_id,
            host_id=host_id,
            conference_id=conference.id,
            code=conference.code,
        )
        return conference

    def get(self, actor: Actor, code: str) -> Conference:
        """A live conference of the actor's company by its public code; others are not found."""
        conference = self.repo.live_by_code(actor.company_id, code) if code else None
        if conference is None:
            raise NotFound("Conference not found")
        return conference

    def get_by_meeting_key(self, actor: Actor, meeting_key: str) -> Conference:
        conference = self.repo.live_by_meeting_key(actor.company_id, meeting_key) if meeting_key else None
        if conference is None:
            raise NotFound("Meeting not found")
        return conference

    def list(self, actor: Actor) -> Sequence[Conference]:
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
        """Change the given fields only; an empty ``folder_code`` takes the conference out of its folder."""
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
        return conference

    def delete(self, actor: Actor, conference: Conference, *, reason: str = "deleted") -> None:
        """Delete (or cancel) a conference: every link to it stops working, its key is freed, and a
        live one ends first (its room closes, everyone's attendance ends)."""
        now = utcnow()
        stop_live(self.session, conference, now, actor_label=actor.label, reason=reason)
        conference.deleted_at = now
        self.session.flush()
        log_action(
            self.session,
            f"conference.{reason}",
            actor=actor.label,
            ref=f"conference:{conference.id}",
            company_id=actor.company_id,
        )
