"""Who is asking: the client address that failed attempts are counted against (domain/guard)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import HTTPConnection

MAX_ADDRESS = 64


def client_address(connection: HTTPConnection) -> str:
    """The peer's IP address, an IPv6 one by its /64 (one subscriber's whole network).

    Behind a reverse proxy the server sees the proxy: ``podium serve`` runs uvicorn with
    ``proxy_headers``, so a proxy listed in ``FORWARDED_ALLOW_IPS`` (default 127.0.0.1) is replaced
    by the address it forwards (``X-Forwarded-For``) before this is read.
    """
    return _counted_as(connection.client.host if connection.client else "")


@lru_cache(maxsize=4096)
def _counted_as(host: str) -> str:
    """What a peer's address is counted as (remembered: a client sends many requests, and parsing
    an address is a few microseconds of every one)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:MAX_ADDRESS] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
