"""Join-link errors → HTTP status of the error page."""

from __future__ import annotations

from podium.kit.errors import DomainError, ErrorCode

# Every page and file route answers from this one table (watch pages and playback adjust a few).
STATUS_BY_CODE: dict[ErrorCode, int] = {
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
# A playback token past its time is refused like any other (the player renews it), not "gone".
PLAYBACK_STATUS_BY_CODE: dict[ErrorCode, int] = STATUS_BY_CODE | {ErrorCode.LINK_EXPIRED: 403}

TITLE_BY_CODE: dict[str, str] = {
    "invalid_input": "Incomplete link",
    "link_invalid": "Invalid link",
    "link_unknown": "Unknown link",
    "link_expired": "Link expired",
    "link_revoked": "Link no longer valid",
    "forbidden": "Meeting unavailable",
    "too_many_attempts": "Too many attempts",
}


def status_for(error: DomainError) -> int:
    return STATUS_BY_CODE[error.code]
