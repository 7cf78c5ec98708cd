"""How a Boomstream method is declared: its path, parameters (for checks and OpenAPI) and handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podium.domain.actor import Actor
from podium.edges.boomstream.errors import STATUS_BY_CODE
from podium.edges.common import MethodSpec, Param, Params, Payload
from podium.kit.openapi import answer, errors, merge, status_set
from podium.kit.uow import Context


@dataclass(frozen=True)
class Call:
    ctx: Context
    actor: Actor
    params: Params


def Method(  # noqa: N802 - reads as the declaration it is, in every route table
    path: str,
    summary: str,
    handler: Callable[[Call], Payload],
    params: tuple[Param, ...] = (),
    *,
    cached: bool = False,
) -> MethodSpec:
    """A Boomstream method: answered on GET (query string) and POST (form or JSON body)."""
    return MethodSpec(path, summary, handler, params, verbs=("GET", "POST"), cached=cached)


COMMON_PARAMS = (
    Param("apikey", "Project API key (or header Authorization: Bearer <apikey>)"),
    Param("format", "json or xml; XML when absent unless the request is a JSON POST"),
    Param("ver", "API version: 1.0 (default), 1.1 or 1.2"),
)


def openapi_parameters(method: MethodSpec) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": p.schema or {"type": "string"},
        }
        for p in (*COMMON_PARAMS, *method.params)
    ]


def openapi_request_body(method: MethodSpec) -> dict[str, Any]:
    """A POST's body: the same parameters as a form or a JSON object (each may come in the query
    string instead, so none is required here)."""
    schema = {
        "type": "object",
        "properties": {p.name: p.json_schema for p in (*COMMON_PARAMS, *method.params)},
    }
    return {
        "content": {
            "application/x-www-form-urlencoded": {"schema": schema},
            "application/json": {"schema": schema},
        }
    }


# Boomstream's envelope, in JSON or XML as asked (``format``): Status Success with the method's
# fields, or Status Failed with a Message. Handled failures are 200 (errors.py).
_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "Status": {"type": "string", "enum": ["Success", "Failed"]},
        "Message": {"type": "string"},
    },
    "required": ["Status"],
}
ENVELOPE_CONTENT: dict[str, Any] = {
    "application/json": {"schema": _ENVELOPE},
    "application/xml": {"schema": {"type": "string"}},
}
ANSWERS = merge(
    answer(200, ENVELOPE_CONTENT, "Status Success with the method's fields, or Status Failed with a Message"),
    errors(status_set(STATUS_BY_CODE), ENVELOPE_CONTENT, but=[200]),
)
