"""Domain error codes → Boomstream answers.

Boomstream answers every handled failure with HTTP 200 and ``Status: Failed`` plus a
``Message``; clients read ``Status`` (see docs/compat.md). Only an unknown method is a 404.
"""

from __future__ import annotations

from podium.kit.errors import DomainError

STATUS_BY_CODE: dict[str, int] = {
    "invalid_input": 200,
    "not_found": 200,
    "conflict": 200,
    "quota_exceeded": 200,
    "unauthenticated": 200,
    "forbidden": 200,
    "unknown_method": 404,
}


class UnknownMethod(DomainError):
    code = "unknown_method"


def status_for(error: DomainError) -> int:
    return STATUS_BY_CODE.get(error.code, 200)
