"""Iotum request bodies: JSON objects with loose types and, from some clients, camelCase keys."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request

from podium.edges.common import read_limited
from podium.edges.iotum.errors import MalformedRequest
from podium.kit import coerce
from podium.kit.errors import InvalidInput
from podium.kit.jsonbody import check_text, parse_json

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(key: str) -> str:
    return _CAMEL.sub(r"_\1", key).lower()


def _snake_keys(value: Any) -> Any:
    """camelCase keys become snake_case at every level (``disableEmails: {conferenceInvitations}``)."""
    if isinstance(value, dict):
        return {snake(str(k)): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(item) for item in value]
    return value


class Body:
    """The request's parameters: the JSON body over the query string, keys in snake_case."""

    def __init__(self, values: dict[str, Any]) -> None:
        check_text(values)
        self.values = _snake_keys(values)

    def has(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def int_(self, key: str, *, required: bool = True) -> int | None:
        value = self.values.get(key)
        if value is None or value == "":
            if required:
                raise InvalidInput(f"{key} is required", field=key)
            return None
        return coerce.to_int(key, value)

    def id_(self, key: str) -> int:
        value = self.int_(key)
        assert value is not None
        return value

    def str_(self, key: str, *, required: bool = False) -> str:
        value = self.values.get(key)
        text = "" if value is None else coerce.to_str(key, value)
        if required and not text:
            raise InvalidInput(f"{key} is required", field=key)
        return text

    def bool_(self, key: str, default: bool) -> bool:
        value = self.values.get(key)
        return default if value is None else coerce.to_bool(key, value)

    def without(self, *keys: str) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if k not in keys}


async def read_body(request: Request, limit: int) -> Body:
    values: dict[str, Any] = dict(request.query_params)
    raw = await read_limited(request, limit)
    if raw.strip():
        try:
            data = parse_json(raw)
        except InvalidInput as error:
            if error.data.get("kind") == "syntax":
                raise MalformedRequest("Request body must be JSON") from None
            raise
        if not isinstance(data, dict):
            raise MalformedRequest("Request body must be a JSON object")
        values.update(data)
    return Body(values)
