"""Country of an IP address from a MaxMind-format database (GeoLite2-Country, DB-IP …), when configured."""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
UNKNOWN = "Unknown"


@lru_cache(maxsize=4)
def _reader(path: str, mtime: float) -> Any:
    import maxminddb

    return maxminddb.open_database(path)


def country_of(database: Path | None, ip: str) -> str:
    """The English country name of ``ip``; "Unknown" without a database or a match."""
    if database is None or not ip:
        return UNKNOWN
    try:
        address = str(ipaddress.ip_address(ip))
        reader = _reader(str(database), database.stat().st_mtime)
        record = reader.get(address)
    except (ValueError, OSError) as exc:
        log.debug("no country for %s: %s", ip, exc)
        return UNKNOWN
    if not isinstance(record, dict):
        return UNKNOWN
    country = record.get("country") or record.get("registered_country") or {}
    if not isinstance(country, dict):
        return UNKNOWN
    names = country.get("names")
    if isinstance(names, dict) and isinstance(names.get("en"), str):
        return str(names["en"])[:64]
    return str(country.get("iso_code") or UNKNOWN)[:64]
