"""Domain error codes → Iotum HTTP statuses; every error body is ``{"message": …}``."""

from __future__ import annotations

from podium.kit.errors import DomainError, ErrorCode

STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.QUOTA_EXCEEDED: 403,
    ErrorCode.UNKNOWN_METHOD: 404,
    # Codes of join links, rooms and players, should a service raise one on this API's path.
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


class MalformedRequest(DomainError):
    """The body is not a JSON object at all."""

    code = ErrorCode.MALFORMED_REQUEST


def status_for(error: DomainError) -> int:
    return STATUS_BY_CODE[error.code]
