"""How a Boomstream method is declared: its path, parameters (for checks and OpenAPI) and handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podium.domain.actor import Actor
from podium.edges.common import MethodSpec, Param, Params
from podium.kit.uow import Context


@dataclass(frozen=True)
class Call:
    ctx: Context
    actor: Actor
    params: Params


def Method(  # noqa: N802 - reads as the declaration it is, in every route table
    path: str, summary: str, handler: Callable[[Call], dict[str, Any]], params: tuple[Param, ...] = ()
) -> MethodSpec:
    """A Boomstream method: answered on GET (query string) and POST (form or JSON body)."""
    return MethodSpec(path, summary, handler, params, verbs=("GET", "POST"))


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
            "schema": {"type": "string"},
        }
        for p in (*COMMON_PARAMS, *method.params)
    ]
