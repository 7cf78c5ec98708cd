"""Domain error codes → Iotum HTTP statuses; every error body is ``{"message": …}``."""

from __future__ import annotations

from podium.kit.errors import DomainError

STATUS_BY_CODE: dict[str, int] = {
    "invalid_input": 422,
    "malformed_request": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "quota_exceeded": 403,
}


class MalformedRequest(DomainError):
    """The body is not a JSON object at all."""

    code = "malformed_request"


def status_for(error: DomainError) -> int:
    return STATUS_BY_CODE.get(error.code, 400)
