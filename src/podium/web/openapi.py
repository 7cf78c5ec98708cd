"""What the pages and file routes declare in the OpenAPI: each route's statuses, bodies and headers.

Error statuses come from the tables the routes answer with (``web/errors.py``); every route may also
answer 413 (``web/limits.py``, or its own upload limit).
"""

from __future__ import annotations

from typing import Any

from podium.kit.openapi import (
    HTML,
    LOCATION,
    MESSAGE,
    PLAIN,
    TEXT,
    TOO_LARGE_JSON,
    Responses,
    answer,
    errors,
    json_body,
    merge,
    status_set,
)
from podium.web.errors import PLAYBACK_STATUS_BY_CODE, STATUS_BY_CODE

PAGE_ERRORS = status_set(STATUS_BY_CODE)
PLAYBACK_ERRORS = status_set(PLAYBACK_STATUS_BY_CODE)
TOO_LARGE = answer(413, TOO_LARGE_JSON, "The request body is over the route's limit")
REDIRECT = answer(303, None, "Redirect (to the next page, or to sign in)", LOCATION)
ERROR_JSON: dict[str, Any] = {
    "type": "object",
    "properties": {"message": TEXT, "error": TEXT, "code": TEXT},
    "required": ["message"],
}
# The statuses of a FileResponse beyond 200: a byte range (seeking in a video), or one it cannot serve.
RANGES = merge(answer(206, None, "Part of the file (a Range request)"), answer(416))


def page(*statuses: int, redirect: bool = False) -> Responses:
    """An HTML page: 200, the link errors (as an error page) and ``statuses``, all HTML."""
    return merge(
        answer(200, HTML),
        errors(PAGE_ERRORS | set(statuses), HTML, but=[413]),
        REDIRECT if redirect else {},
        TOO_LARGE,
    )


def json_call(ok: int = 200, *, errors_from: set[int] = PAGE_ERRORS) -> Responses:
    """A JSON call of a page's script: ``ok`` or an error as ``{"message", "error"|"code"}``."""
    return merge(
        answer(ok, json_body({"type": "object"}) if ok != 204 else None),
        errors(errors_from, json_body(ERROR_JSON), but=[413]),
        TOO_LARGE,
    )


def files(media_type: str, *statuses: int) -> Responses:
    """A file served after a check: the file (or part of it), or plain text saying why not."""
    return merge(
        answer(200, {media_type: {"schema": {"type": "string", "format": "binary"}}}),
        RANGES,
        errors(PLAYBACK_ERRORS | set(statuses), PLAIN, but=[413]),
        TOO_LARGE,
    )


def playlist() -> Responses:
    return merge(
        answer(200, {"application/vnd.apple.mpegurl": {"schema": TEXT}}),
        errors(PLAYBACK_ERRORS, PLAIN, but=[413]),
        TOO_LARGE,
    )


def form(properties: dict[str, str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An ``application/x-www-form-urlencoded`` request body (for ``openapi_extra``)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: {"type": "string", "description": text} for name, text in properties.items()},
    }
    if required:
        schema["required"] = list(required)
    return {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": schema}}}}


def json_request(properties: dict[str, dict[str, Any]], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON request body (for ``openapi_extra``)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


MESSAGE_JSON = json_body(MESSAGE)
