"""Room access codes: the one rule that decides whether a code is free.

Room links (`/conf/call/<code>`, dial-in) look a code up among hosts' dedicated codes and among
conferences' codes, so a code is free only when neither knows it: a host may not claim a live
conference's one-time code (every invitee has it, and the link would open the host's room), and a
one-time code is never drawn over a host's. Codes stay reserved after deletion, so an old link never
reaches a new room.
"""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from podium.domain.conferences.repository import ConferenceRepository
from podium.domain.hosts.repository import HostRepository
from podium.kit.errors import Conflict

DRAW_ATTEMPTS = 50


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
        for _ in range(DRAW_ATTEMPTS):
            code = str(secrets.randbelow(9 * low) + low)
            if self.is_free(code):
                return code
        raise RuntimeError(f"no free {digits}-digit access code")
