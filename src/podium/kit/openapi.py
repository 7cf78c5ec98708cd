"""How a route declares, in the OpenAPI, every status it answers and the body of each.

Routes name their statuses (error statuses come from the same tables their error handlers use, so
the schema and the code cannot drift apart); bodies and headers come from here. The suite runs
schemathesis over the whole schema: an answer with an undeclared status, or a 5xx, fails it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

Responses = dict[int | str, dict[str, Any]]

TEXT: dict[str, Any] = {"type": "string"}
MESSAGE: dict[str, Any] = {
    "type": "object",
    "properties": {"message": TEXT},
    "required": ["message"],
}
# The body every route answers when a request's body is over its limit (web/limits.py and the edges).
TOO_LARGE_JSON: dict[str, Any] = {"application/json": {"schema": MESSAGE}}
HTML: dict[str, Any] = {"text/html": {"schema": TEXT}}
PLAIN: dict[str, Any] = {"text/plain": {"schema": TEXT}}
RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {"description": "Seconds until the next try is accepted", "schema": {"type": "integer"}}
}
LOCATION: dict[str, Any] = {"Location": {"description": "Where to go next", "schema": TEXT}}


def json_body(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": dict(schema)}}


def answer(
    status: int,
    content: Mapping[str, Any] | None = None,
    description: str | None = None,
    headers: Mapping[str, Any] | None = None,
) -> Responses:
    """One declared answer: its status, body (by media type) and headers."""
    declared: dict[str, Any] = {"description": description or HTTPStatus(status).phrase}
    if content:
        declared["content"] = dict(content)
    merged_headers = dict(headers or {}) | (RETRY_AFTER if status == 429 else {})
    if merged_headers:
        declared["headers"] = merged_headers
    return {status: declared}


def errors(statuses: Iterable[int], content: Mapping[str, Any], *, but: Iterable[int] = ()) -> Responses:
    """The error answers of a route: every status in ``statuses`` (except ``but``), one body shape."""
    skipped = set(but)
    declared: Responses = {}
    for status in sorted(set(statuses) - skipped):
        declared |= answer(status, content)
    return declared


def merge(*parts: Responses) -> Responses:
    """Several declarations in one; a later one adds the media types and headers of a status."""
    merged: Responses = {}
    for part in parts:
        for status, declared in part.items():
            current = merged.setdefault(status, {"description": declared["description"]})
            for key in ("content", "headers"):
                if key in declared:
                    current[key] = current.get(key, {}) | declared[key]
    return merged


def status_set(table: Mapping[Any, int]) -> set[int]:
    """The statuses an error table can answer."""
    return set(table.values())
