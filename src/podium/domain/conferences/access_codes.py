"""Room access codes: the one rule that decides whether a code is free.

Room links (`/conf/call/<code>`, dial-in) look a code up among hosts' dedicated codes and among
conferences' codes, so a code is free only when neither knows it: a host may not claim a live
conference's one-time code (every invitee has it, and the link would open the host's room), and a
one-time code is never drawn over a host's. Codes stay reserved after deletion, so an old link never
reaches a new room.

Every other public code of a conference or a participant (Boomstream codes, LiveMinutes keys and
URL tokens) is drawn here too, through the one drawing loop (``kit.ids.unused``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy.orm import Session

from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.hosts.repository import HostRepository
from podium.domain.participants.repository import ParticipantRepository
from podium.kit import ids
from podium.kit.errors import Conflict
from podium.models.conference import Conference
from podium.models.tenancy import Host

DRAW_ATTEMPTS = 50
ONE_TIME_CODE_DIGITS = 9  # the most the reference's 3-9 digit codes allow


class AccessCodes:
    def __init__(self, session: Session) -> None:
        self.hosts = HostRepository(session)
        self.conferences = ConferenceRepository(session)

    def is_free(self, code: str, *, for_host: int | None = None) -> bool:
        """Whether ``code`` is free for ``for_host`` to hold as its dedicated code (its own code and
        its own conferences on it do not count against it), or for a new one-time code (``None``)."""
        if self.hosts.code_taken("access_code", code, except_host=for_host):
            return False
        return not self.conferences.access_code_used(code, dedicated_of=for_host)

    def claim(self, code: str, *, for_host: int | None, field: str = "access_code") -> str:
        """``code`` if it is free, else 409 (the same answer whoever holds it)."""
        if not self.is_free(code, for_host=for_host):
            raise Conflict(f"{field} {code} is already taken", field=field)
        return code

    def draw(self, digits: int) -> str:
        """A random free code of ``digits`` digits (no leading zero)."""
        low = 10 ** (digits - 1)
        return ids.unused(
            lambda: str(secrets.randbelow(9 * low) + low),
            lambda code: not self.is_free(code),
            f"{digits}-digit access code",
            attempts=DRAW_ATTEMPTS,
        )

    def draw_one_time(self) -> str:
        """A conference's one-time code: nine random digits no host or conference has."""
        return self.draw(ONE_TIME_CODE_DIGITS)

    def dedicated_owner(self, code: str) -> Host | None:
        """The live host whose dedicated code ``code`` is: its room links open that host's room."""
        return next(iter(self.hosts.live_with_code(code)), None)

    def conferences_on(self, code: str) -> Sequence[Conference]:
        """The live conferences answering on ``code`` (a one-time code's series and reuses), oldest first."""
        return [c for c in self.conferences.with_access_code(code) if c.deleted_at is None]


def new_conference_codes() -> dict[str, str]:
    """One new conference's public codes (Boomstream code, LiveMinutes meeting code, host token,
    meeting key), drawn and not checked yet."""
    return {
        "code": ids.conference_code(),
        "short_code": ids.meeting_short_code(),
        "host_token": ids.capability_token(),
        "meeting_key": ids.meeting_key(),
    }


def conference_codes(session: Session, company_ids: Sequence[int]) -> list[dict[str, str]]:
    """Fresh public codes for new conference rows of ``company_ids`` (one each): every link to each
    is its own (Boomstream code, LiveMinutes meeting code, host token), and its meeting key is
    unused among its company's live conferences. One query checks them all."""
    companies = set(company_ids)
    return ids.unused_many(
        new_conference_codes,
        lambda drawn: ConferenceRepository(session).any_code_taken(drawn, companies),
        len(company_ids),
        "conference codes",
        attempts=DRAW_ATTEMPTS,
    )


def new_participant_codes() -> dict[str, str]:
    """One new participant's Boomstream client code and personal URL token, drawn and not checked
    yet (``roster.new_participants``' insert skips a participant whose codes another has)."""
    return {"code": ids.client_code(), "url_token": ids.capability_token()}


def participant_url_token(session: Session) -> str:
    """A fresh personal URL token for a participant (a restored participant gets a new one too)."""
    repo = ParticipantRepository(session)
    return ids.unused(
        ids.capability_token, lambda token: repo.any_code_exists([{"url_token": token}]), "url_token"
    )
