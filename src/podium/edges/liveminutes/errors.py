"""Domain error codes → LiveMinutes answers: always ``resultcode: 0`` with a ``message``.

Bad credentials answer 401 with a Basic challenge; every other failure answers 200, as the
vendor does, because clients branch on ``resultcode`` (see docs/compat.md).
"""

from __future__ import annotations

from podium.kit.errors import DomainError, ErrorCode

STATUS_BY_CODE: dict[ErrorCode, int] = {code: 200 for code in ErrorCode} | {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
}


def status_for(error: DomainError) -> int:
    return STATUS_BY_CODE[error.code]


def body_for(error: DomainError) -> dict[str, object]:
    return {"resultcode": 0, "error": error.code, "message": error.message}
