"""A host's defaults for its conferences (``host/update`` settings such as ``auto_record``,
``auto_stream``, ``native_streaming``), read by the recordings and streams rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from podium.models.conference import Conference
from podium.models.tenancy import Host


def host_setting(session: Session, conference: Conference, key: str, default: Any) -> Any:
    """The conference's host's ``key`` setting (``default`` without a host or the setting)."""
    host = session.get(Host, conference.host_id) if conference.host_id else None
    return (host.settings or {}).get(key, default) if host is not None else default
