"""Join-link errors → HTTP status of the error page."""

from __future__ import annotations

from podium.kit.errors import HTTP_STATUS, DomainError, ErrorCode

# Every page and file route answers with the plain HTTP meaning of each code (watch pages and
# playback adjust one).
STATUS_BY_CODE: dict[ErrorCode, int] = HTTP_STATUS
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
