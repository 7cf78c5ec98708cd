"""Signed addresses of lives: shared segment URLs (cacheable by a CDN) and internal publish URLs.

A viewer's playlist request carries the viewer's own playback token and is checked against the view
session (paywall, password, window) like a video's. The segments it lists carry a *window token*
instead: an HMAC of the live's code and an expiry on a 30-second grid, the same for every viewer in
that window, so a CDN or reverse proxy stores each segment once per window and answers everyone
from its cache. A copied segment URL opens that one segment for at most a minute.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC

from podium.config import Settings
from podium.kit.clock import utcnow
from podium.kit.errors import LinkExpired, LinkInvalid
from podium.kit.text import same_secret

WINDOW_SECONDS = 30
# An internal publisher (a conference's compositor) uses its URL at once; this is ample.
PUBLISH_TOKEN_SECONDS = 3600


def now_epoch() -> int:
    return int(utcnow().replace(tzinfo=UTC).timestamp())


def _mac(settings: Settings, purpose: str, code: str, expires: int) -> str:
    message = f"podium:{purpose}|{code}|{expires}".encode()
    return hmac.new(settings.signing_key().encode(), message, hashlib.sha256).hexdigest()[:32]


def _signed(settings: Settings, purpose: str, code: str, expires: int) -> str:
    return f"{expires}-{_mac(settings, purpose, code, expires)}"


def _check(settings: Settings, purpose: str, token: str, code: str, *, expiry: bool = True) -> int:
    """Seconds the token is still valid for (raises when it is not ours, or past its time)."""
    expires_text, _, mac = token.partition("-")
    if not (expires_text.isascii() and expires_text.isdigit() and len(expires_text) <= 12 and mac):
        raise LinkInvalid("This link is not valid")
    expires = int(expires_text)
    if not same_secret(mac, _mac(settings, purpose, code, expires)):
        raise LinkInvalid("This link is not valid")
    left = expires - now_epoch()
    if expiry and left <= 0:
        raise LinkExpired("This link has expired")
    return left


def segment_token(settings: Settings, code: str) -> str:
    """The window token of the live's playlist now: valid 30 to 60 seconds, shared by all viewers."""
    expires = (now_epoch() // WINDOW_SECONDS + 2) * WINDOW_SECONDS
    return _signed(settings, "live-segment", code, expires)


def segment_token_at(settings: Settings, code: str, made_at: int) -> str:
    """The token of a segment made at ``made_at`` (epoch seconds: its name): derived from the segment's
    own time, not the clock, so its address never changes while playlists list it (a player that saw
    one segment at two addresses stops: hls.js's media sequence mismatch). Valid 60 to 90 seconds
    after the segment was made, the same for every viewer."""
    expires = (made_at // WINDOW_SECONDS + 3) * WINDOW_SECONDS
    return _signed(settings, "live-segment", code, expires)


def check_segment_token(settings: Settings, token: str, code: str) -> int:
    """Seconds left of a segment token (LinkInvalid / LinkExpired otherwise)."""
    return _check(settings, "live-segment", token, code)


def publish_token(settings: Settings, code: str) -> str:
    """What an internal publisher shows instead of the stream key (from loopback only)."""
    return _signed(settings, "live-publish", code, now_epoch() + PUBLISH_TOKEN_SECONDS)


def check_publish_token(settings: Settings, token: str, code: str, *, expiry: bool = True) -> None:
    """A publish token is checked when publishing starts; while on air only its signature is."""
    _check(settings, "live-publish", token, code, expiry=expiry)
