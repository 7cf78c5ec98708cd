"""Domain errors: a stable code, a human message and data; never an HTTP status.

The codes are one closed set (``ErrorCode``): every error class names a member, and every edge's
table maps every member (tests/test_error_codes.py fails when one is missing), so a new kind of
error cannot reach a client as an accidental default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    INVALID_INPUT = "invalid_input"
    MALFORMED_REQUEST = "malformed_request"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    QUOTA_EXCEEDED = "quota_exceeded"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    UNKNOWN_METHOD = "unknown_method"
    LINK_INVALID = "link_invalid"
    LINK_UNKNOWN = "link_unknown"
    LINK_EXPIRED = "link_expired"
    LINK_REVOKED = "link_revoked"
    WRONG_PIN = "wrong_pin"
    MEDIA_UNAVAILABLE = "media_unavailable"
    ACCESS_DENIED = "access_denied"
    ACCESS_EXPIRED = "access_expired"
    ACTIVATIONS_EXHAUSTED = "activations_exhausted"
    DEVICE_IN_USE = "device_in_use"
    SESSION_ENDED = "session_ended"
    NOT_READY = "not_ready"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    PAYLOAD_TOO_LARGE = "payload_too_large"


# The plain HTTP meaning of each code; edges start from it and change what their dialect says otherwise.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 400,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.QUOTA_EXCEEDED: 403,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.UNKNOWN_METHOD: 404,
    ErrorCode.LINK_INVALID: 403,
    ErrorCode.LINK_UNKNOWN: 404,
    ErrorCode.LINK_EXPIRED: 410,
    ErrorCode.LINK_REVOKED: 410,
    ErrorCode.WRONG_PIN: 403,
    ErrorCode.MEDIA_UNAVAILABLE: 503,
    ErrorCode.ACCESS_DENIED: 403,
    ErrorCode.ACCESS_EXPIRED: 403,
    ErrorCode.ACTIVATIONS_EXHAUSTED: 403,
    ErrorCode.DEVICE_IN_USE: 409,
    ErrorCode.SESSION_ENDED: 403,
    ErrorCode.NOT_READY: 409,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
}


class DomainError(Exception):
    """Base of every error a service raises on purpose (raise a subclass: each names its code).

    Each edge's ``errors.py`` maps ``code`` to its dialect's status and body.
    """

    code: ClassVar[ErrorCode] = ErrorCode.INVALID_INPUT

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.__dict__.get("code", cls.code), ErrorCode):
            raise TypeError(f"{cls.__name__}.code must be an ErrorCode member")

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class InvalidInput(DomainError):
    code = ErrorCode.INVALID_INPUT


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class RaceLost(Conflict):
    """A check before the commit found a rival's rows that the work, had it seen them, would have
    used instead (the same buyer added twice at once): ``uow.run`` runs the work again, which now
    sees them; elsewhere it is a conflict like any other."""


class QuotaExceeded(DomainError):
    code = ErrorCode.QUOTA_EXCEEDED


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class LinkInvalid(DomainError):
    """A join link that is malformed or not signed by us."""

    code = ErrorCode.LINK_INVALID


class LinkUnknown(DomainError):
    """A join link that names no meeting or invitation we know."""

    code = ErrorCode.LINK_UNKNOWN


class LinkExpired(DomainError):
    code = ErrorCode.LINK_EXPIRED


class LinkRevoked(DomainError):
    """A join link whose participant or conference was cancelled or deleted."""

    code = ErrorCode.LINK_REVOKED


class TooManyAttempts(DomainError):
    """Too many wrong guesses of a secret: refused for a while (``retry_after`` seconds)."""

    code = ErrorCode.TOO_MANY_ATTEMPTS

    def __init__(self, message: str, *, retry_after: int, **data: Any) -> None:
        super().__init__(message, retry_after=retry_after, **data)
        self.retry_after = retry_after


def retry_after_headers(error: DomainError) -> dict[str, str]:
    """The ``Retry-After`` header (RFC 9110, whole seconds) a refusal carries; none for other errors.

    Every edge adds it where it renders its errors, so a throttled client of any dialect is told
    when to come back.
    """
    if isinstance(error, TooManyAttempts):
        return {"Retry-After": str(max(1, int(error.retry_after)))}
    return {}


class PayloadTooLarge(DomainError):
    """A request body over the route's limit (refused while it streams in)."""

    code = ErrorCode.PAYLOAD_TOO_LARGE
