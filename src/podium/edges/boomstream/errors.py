"""Domain error codes → Boomstream answers.

Boomstream answers every handled failure with HTTP 200 and ``Status: Failed`` plus a
``Message``; clients read ``Status`` (see docs/compat.md). Only an unknown method is a 404.
"""

from __future__ import annotations

from podium.kit.errors import DomainError, ErrorCode

# Every handled failure is 200 with Status: Failed; only a path that names no method is a 404.
# Throttling and oversized bodies keep their HTTP meaning (clients and proxies back off on 429 and
# Retry-After), still with the Boomstream envelope.
STATUS_BY_CODE: dict[ErrorCode, int] = {code: 200 for code in ErrorCode} | {
    ErrorCode.UNKNOWN_METHOD: 404,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
}


class UnknownMethod(DomainError):
    code = ErrorCode.UNKNOWN_METHOD


def status_for(error: DomainError) -> int:
    return STATUS_BY_CODE[error.code]
