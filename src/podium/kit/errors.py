"""Domain errors: a stable code, a human message and data; never an HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    Each edge's ``errors.py`` maps ``code`` to its dialect's status and body.
    """

    code = "error"

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class QuotaExceeded(DomainError):
    code = "quota_exceeded"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class LinkInvalid(DomainError):
    """A join link that is malformed or not signed by us."""

    code = "link_invalid"


class LinkUnknown(DomainError):
    """A join link that names no meeting or invitation we know."""

    code = "link_unknown"


class LinkExpired(DomainError):
    code = "link_expired"


class LinkRevoked(DomainError):
    """A join link whose participant or conference was cancelled or deleted."""

    code = "link_revoked"
