"""Join-link errors → HTTP status of the error page."""

from __future__ import annotations

from podium.kit.errors import DomainError

STATUS_BY_CODE: dict[str, int] = {
    "invalid_input": 400,
    "link_invalid": 403,
    "link_unknown": 404,
    "link_expired": 410,
    "link_revoked": 410,
    "forbidden": 403,
    "wrong_pin": 403,
}

TITLE_BY_CODE: dict[str, str] = {
    "invalid_input": "Incomplete link",
    "link_invalid": "Invalid link",
    "link_unknown": "Unknown link",
    "link_expired": "Link expired",
    "link_revoked": "Link no longer valid",
    "forbidden": "Meeting unavailable",
}


def status_for(error: DomainError) -> int:
    return STATUS_BY_CODE.get(error.code, 400)
