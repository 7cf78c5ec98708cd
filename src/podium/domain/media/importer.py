"""Fetching a media file from a URL (``media/create``) without becoming a proxy into our network.

The server fetches what an API caller names, so every address it connects to is checked at connect
time, after DNS resolution (a name that resolves to a private address, or is re-pointed there
between a check and the connection, is refused), and every redirect goes through the same check.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpcore

from podium.domain.media.transcoder import TranscodeError
from podium.kit.errors import InvalidInput

MAX_URL_LENGTH = 2048
MAX_REDIRECTS = 5
CHUNK = 1024 * 1024


class FetchFailed(TranscodeError):
    """The file cannot be had from that URL (refused, missing, too large): the media fails."""


class FetchUnavailable(Exception):
    """The other server did not answer properly this time (network, 5xx): worth another attempt."""


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


class _GuardedBackend(httpcore.SyncBackend):
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
            raise FetchFailed(f"Could not fetch the file: unknown host {host}") from error
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        allowed = [
            a for a in addresses if address_allowed(ipaddress.ip_address(a), allow_private=self.allow_private)
        ]
        if not allowed or len(allowed) != len(addresses):
            raise FetchFailed(f"Could not fetch the file: {host} is not an address this server fetches from")
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


@dataclass
class Fetched:
    file_name: str
    size: int


def fetch(
    url: str,
    destination: Path,
    *,
    max_bytes: int,
    allow_private: bool,
    deadline_seconds: float,
    on_progress: Callable[[int, int | None], None],
) -> Fetched:
    """Stream ``url`` into ``destination`` (through a ``.part`` file), following checked redirects.

    ``on_progress(received, expected)`` is called for every chunk; it may raise to stop.
    """
    deadline = time.monotonic() + deadline_seconds
    timeouts = {"connect": 20.0, "read": 60.0, "write": 20.0, "pool": 20.0}
    part = destination.with_name(destination.name + ".part")
    with httpcore.ConnectionPool(
        ssl_context=ssl.create_default_context(), network_backend=_GuardedBackend(allow_private)
    ) as pool:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                check_url(url, allow_private=allow_private)
            except InvalidInput as error:
                raise FetchFailed(f"Could not fetch the file: {error.message}") from error
            try:
                with pool.stream(
                    "GET",
                    url,
                    headers={"User-Agent": "Podium media import", "Accept": "*/*"},
                    extensions={"timeout": timeouts},
                ) as response:
                    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
                    if response.status in (301, 302, 303, 307, 308) and "location" in headers:
                        url = urljoin(url, headers["location"])
                        continue
                    _check_status(response.status)
                    expected = _content_length(headers)
                    if expected is not None and expected > max_bytes:
                        raise FetchFailed(f"The file is larger than the limit of {max_bytes} bytes")
                    received = 0
                    with part.open("wb") as out:
                        for chunk in response.iter_stream():
                            received += len(chunk)
                            if received > max_bytes:
                                raise FetchFailed(f"The file is larger than the limit of {max_bytes} bytes")
                            if time.monotonic() > deadline:
                                raise FetchFailed("Could not fetch the file: it took too long")
                            out.write(chunk)
                            on_progress(received, expected)
                    if received == 0:
                        raise FetchFailed("Could not fetch the file: it is empty")
                    if expected is not None and received < expected:
                        raise FetchUnavailable("Could not fetch the file: the transfer was cut short")
                    part.rename(destination)
                    return Fetched(_file_name(url, headers), received)
            except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.RemoteProtocolError) as error:
                part.unlink(missing_ok=True)
                raise FetchUnavailable(f"Could not fetch the file: {_describe(error)}") from error
            except httpcore.UnsupportedProtocol as error:
                raise FetchFailed("Could not fetch the file: unsupported URL") from error
            except BaseException:
                part.unlink(missing_ok=True)
                raise
    raise FetchFailed(f"Could not fetch the file: more than {MAX_REDIRECTS} redirects")


def _check_status(status: int) -> None:
    if status >= 500 or status in (408, 429):
        raise FetchUnavailable(f"Could not fetch the file: the server answered {status}")
    if status != 200:
        raise FetchFailed(f"Could not fetch the file: the server answered {status}")


def _content_length(headers: dict[str, str]) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def _file_name(url: str, headers: dict[str, str]) -> str:
    """The name the server gives (Content-Disposition), else the URL path's last segment."""
    disposition = headers.get("content-disposition")
    if disposition:
        message = Message()
        message["content-disposition"] = disposition
        name = message.get_filename()
        if name:
            return name
    return name_in_url(url) or "import"


def name_in_url(url: str) -> str:
    """The last segment of a URL's path, decoded ("" for a bare host)."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def _describe(error: Exception) -> str:
    text = str(error).strip()
    # Socket errors read "[Errno 111] Connection refused": keep the human part.
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text) or type(error).__name__
