"""Connections to addresses an API caller names (``media/create`` imports, webhooks) without
becoming a proxy into our own network.

Every address is checked at connect time, after DNS resolution: a name that resolves to a loopback,
private, link-local or cloud-metadata address (or is re-pointed there between a check and the
connection) is refused, unless the operator allows private networks (an intranet media store, an
intranet webhook receiver).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore

from podium.kit.errors import InvalidInput

MAX_URL_LENGTH = 2048


class AddressRefused(Exception):
    """The host is unknown or resolves to an address this server does not connect to."""


def check_url(url: str, *, allow_private: bool) -> str:
    """An http(s) URL with a host; a literal address we would refuse anyway is refused now."""
    url = url.strip()
    if not url:
        raise InvalidInput("Parameter 'url' is required", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"Parameter 'url' is longer than {MAX_URL_LENGTH} characters", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise InvalidInput("Parameter 'url' is not a valid URL", field="url") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput("Parameter 'url' must be an http or https URL", field="url")
    if parts.username or parts.password:
        raise InvalidInput("Parameter 'url' must not carry a user name or password", field="url")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    if not address_allowed(literal, allow_private=allow_private):
        raise InvalidInput("Parameter 'url' names an address this server does not fetch from", field="url")
    return url


def address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified or address.is_multicast:
        return False
    return allow_private or address.is_global


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses that pass :func:`address_allowed`, checked after resolution."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise AddressRefused(f"unknown host {host}") from error
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        allowed = [
            a for a in addresses if address_allowed(ipaddress.ip_address(a), allow_private=self.allow_private)
        ]
        if not allowed or len(allowed) != len(addresses):
            raise AddressRefused(f"{host} is not an address this server connects to")
        last: Exception | None = None
        for address in allowed:
            try:
                # TLS still checks the certificate against the host name: httpcore passes the URL's
                # host as server_hostname, not the address we connect to.
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as error:
                last = error
        assert last is not None
        raise last


def guarded_pool(allow_private: bool) -> httpcore.ConnectionPool:
    """A connection pool that connects only to addresses :func:`address_allowed` lets through."""
    return httpcore.ConnectionPool(
        ssl_context=ssl.create_default_context(), network_backend=GuardedBackend(allow_private)
    )
