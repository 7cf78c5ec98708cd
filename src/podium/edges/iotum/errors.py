"""Domain error codes → Iotum HTTP statuses; every error body is ``{"message": …}``."""

from __future__ import annotations

from podium.kit.errors import HTTP_STATUS, DomainError, ErrorCode

# The plain HTTP meaning of every code, but invalid input is 422 (the reference's validation errors).
STATUS_BY_CODE: dict[ErrorCode, int] = HTTP_STATUS | {ErrorCode.INVALID_INPUT: 422}


class MalformedRequest(DomainError):
    """The body is not a JSON object at all."""

    code = ErrorCode.MALFORMED_REQUEST


def status_for(error: DomainError) -> int:
    return STATUS_BY_CODE[error.code]
