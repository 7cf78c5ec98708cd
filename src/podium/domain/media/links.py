"""Signed links to media files: upload, progress, and playback (owner links and viewer sessions).

Playback links carry an HS256 token in the path (``/play/<token>/<code>/…``), so playlists can use
relative URIs and every playlist, segment and file request is checked on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from podium.config import Settings
from podium.kit import tokens
from podium.kit.clock import utcnow
from podium.kit.errors import LinkInvalid
from podium.kit.links import Links
from podium.models.media import Media

UPLOAD_AUDIENCE = "podium:media-upload"
PROGRESS_AUDIENCE = "podium:media-progress"
PLAY_AUDIENCE = "podium:play"


@dataclass(frozen=True)
class PlayGrant:
    """What a verified playback token allows."""

    media_code: str
    session_id: int | None  # None: an owner link from the API
    session_key: str | None
    preview_seconds: int | None  # only the first seconds may be fetched


def sign_media_link(settings: Settings, media: Media, audience: str) -> str:
    return tokens.sign(
        {"aud": audience, "sub": media.code, "key": media.storage_key},
        settings.signing_key(),
        expires_at=utcnow() + timedelta(seconds=settings.media_link_seconds),
    )


def verify_media_link(settings: Settings, token: str, audience: str, media: Media | None) -> None:
    claims = tokens.verify(token, settings.signing_key(), audience=audience)
    if media is None or claims.get("sub") != media.code or claims.get("key") != media.storage_key:
        raise LinkInvalid("This link is not valid")


def sign_play(
    settings: Settings,
    media_code: str,
    *,
    session_id: int | None = None,
    session_key: str | None = None,
    preview_seconds: int | None = None,
) -> str:
    """An owner link (no session: lives ``media_link_seconds``) or a viewer's (``play_token_seconds``)."""
    claims: dict[str, Any] = {"aud": PLAY_AUDIENCE, "m": media_code}
    lifetime = settings.media_link_seconds
    if session_id is not None:
        # The session's key is not in the token: only its first characters, to bind the two.
        claims.update({"s": session_id, "k": (session_key or "")[:8]})
        lifetime = settings.play_token_seconds
    if preview_seconds:
        claims["pv"] = preview_seconds
    return tokens.sign(claims, settings.signing_key(), expires_at=utcnow() + timedelta(seconds=lifetime))


def verify_play(settings: Settings, token: str, media_code: str) -> PlayGrant:
    claims = tokens.verify(token, settings.signing_key(), audience=PLAY_AUDIENCE)
    if claims.get("m") != media_code:
        raise LinkInvalid("This link is not valid")
    session = claims.get("s")
    preview = claims.get("pv")
    return PlayGrant(
        media_code=media_code,
        session_id=int(session) if isinstance(session, int) else None,
        session_key=str(claims.get("k", "")) if session is not None else None,
        preview_seconds=int(preview) if isinstance(preview, int) and preview > 0 else None,
    )


def play_base(settings: Settings, token: str, media_code: str) -> str:
    return Links(settings).play(token, media_code)
