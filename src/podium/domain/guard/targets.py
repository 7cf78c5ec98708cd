"""What a guess is aimed at: the targets whose failures are counted (and locked) for everyone.

Only secrets a person can type and an attacker can enumerate within a lock budget have a target:
a conference's security PIN, a room code (by its prefix: a wrong code names no room), a LiveMinutes
meeting code and a PPV subscription code (by prefix too), a subscription's access passwords (typed,
``id_recovery`` links and protect-list emails) and a login's password. Machine credentials and
signed or long random links (API keys and tokens, OAuth secrets, invite JWTs, ``/e/`` tokens,
secure room URLs, moderator tokens, SSO and password links: 72 bits and more) have no target: the
client's budget stops their brute force, and a per-target lock would only let anyone who knows an
account's name switch its integration off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from podium.domain.auth.repository import AuthRepository
from podium.domain.conferences.access_codes import AccessCodes
from podium.models.paywall import Paywall

# Codes that name nothing are counted per prefix: guesses in one part of the code space lock that
# part, not every room. Three characters: 900 numeric prefixes for access codes.
PREFIX_LENGTH = 3
MAX_REF = 128


class Kind(StrEnum):
    SECURITY_PIN = "security_pin"
    MODERATOR_PIN = "moderator_pin"  # a host's, typed on a phone in its room (dial-in)
    ROOM_CODE = "room_code"
    MEETING_CODE = "meeting_code"
    SUBSCRIPTION_CODE = "subscription_code"
    PPV_ACCESS = "ppv_access"
    LOGIN = "login"


@dataclass(frozen=True)
class Target:
    """One thing guessed at: its kind, what identifies it (hashed into the counter's key), the
    reference its lockout is audited under and the company it belongs to, when one does."""

    kind: Kind
    ident: str
    ref: str
    company_id: int | None = None

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.ident.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return f"{self.kind.value}:{digest}"


def _shown(text: str, *, keep: str = "") -> str:
    """Attacker-chosen text as it may appear in an audit reference: ASCII letters and digits (and
    the characters in ``keep``), anything else as ``?``."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in keep) else "?" for ch in text)


def code_prefix(kind: Kind, code: str) -> Target:
    """The part of a code space a code falls in (room codes, meeting codes, subscription codes)."""
    prefix = code.strip()[:PREFIX_LENGTH]
    return Target(kind, prefix, f"{kind.value}:{_shown(prefix)}*")


def room_code(code: str) -> Target:
    return code_prefix(Kind.ROOM_CODE, code)


def meeting_code(code: str) -> Target:
    return code_prefix(Kind.MEETING_CODE, code)


def subscription_code(code: str) -> Target:
    return code_prefix(Kind.SUBSCRIPTION_CODE, code)


def security_pin(access_code: str) -> Target:
    """The security PIN of the conference on a room code (its owner looked up by ``Targets`` when
    a failure is recorded; checking a lock needs only the key)."""
    return Target(Kind.SECURITY_PIN, access_code, f"room:{_shown(access_code)}")


def moderator_pin(access_code: str) -> Target:
    """The moderator PIN of the host whose room a code opens, as a dial-in caller types it there."""
    return Target(Kind.MODERATOR_PIN, access_code, f"room:{_shown(access_code)}")


def login(email: str) -> Target:
    """The password of a login (web sign-in and Iotum's email and password alike); owner as above."""
    ident = email.strip().lower()
    return Target(Kind.LOGIN, ident, f"login:{_shown(ident, keep='@.+-_')[: MAX_REF - 6]}")


def ppv_access(paywalls: Iterable[Paywall]) -> tuple[Target, ...]:
    """The subscriptions an access password (or ``id_recovery``, or a protect-list email) is tried on."""
    return tuple(
        Target(Kind.PPV_ACCESS, str(p.id), f"ppv_subscription:{p.code}", p.company_id) for p in paywalls
    )


class Targets:
    """Targets with their owner looked up: the reference and company a lockout is audited under
    (the company's admins see it). Only needed when a failure is recorded."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def security_pin(self, access_code: str) -> Target:
        """The security PIN of the conference a room code opens."""
        # Access codes are digits; anything else names no room (nor is it worth a query).
        looks_valid = access_code.isascii() and access_code.isdigit() and len(access_code) <= 16
        series = AccessCodes(self.session).conferences_on(access_code) if looks_valid else []
        if not series:
            return security_pin(access_code)
        latest = series[-1]
        return Target(Kind.SECURITY_PIN, access_code, f"conference:{latest.id}", latest.company_id)

    def login(self, email: str) -> Target:
        """The password of a login, under its host when the email names exactly one."""
        ident = email.strip().lower()
        looks_valid = ident.isprintable() and len(ident) <= 254
        hosts = AuthRepository(self.session).login_hosts(email.strip()) if looks_valid else []
        if len(hosts) == 1:
            return Target(Kind.LOGIN, ident, f"host:{hosts[0].id}", hosts[0].company_id)
        return login(email)
