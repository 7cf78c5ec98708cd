"""Fetching a media file from a URL (``media/create``) without becoming a proxy into our network.

The server fetches what an API caller names, so it connects only through ``kit/outbound`` (every
address checked after DNS resolution, at connect time), and every redirect goes through the same check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpcore

from podium.domain.media.transcoder import TranscodeError
from podium.kit.errors import InvalidInput
from podium.kit.outbound import AddressRefused, check_url, guarded_pool
from podium.kit.text import ascii_digits

MAX_REDIRECTS = 5
CHUNK = 1024 * 1024


class FetchFailed(TranscodeError):
    """The file cannot be had from that URL (refused, missing, too large): the media fails."""


class FetchUnavailable(Exception):
    """The other server did not answer properly this time (network, 5xx): worth another attempt."""


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
    with guarded_pool(allow_private) as pool:
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
            except AddressRefused as error:
                part.unlink(missing_ok=True)
                raise FetchFailed(f"Could not fetch the file: {error}") from error
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
    return int(value) if ascii_digits(value) else None


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
