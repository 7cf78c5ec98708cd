"""Boomstream authentication: ``apikey`` (query or body) or ``Authorization: Bearer``; the parameter wins."""

from __future__ import annotations

from fastapi import Request

from podium.edges.common import Params


def apikey_from(request: Request, params: Params) -> str:
    explicit = params.text("apikey").strip()
    if explicit:
        return explicit
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return ""
