"""A beat's playback token (domain/viewing/heartbeats.HeartbeatLedger.token): signing one costs
about a bare request, so a session gets the token it was last answered while that token outlives
two more beats, and a fresh one after — never a token that lives longer than its lifetime from its
signing, and never one that expires before the next beat could renew it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from podium.config import Settings
from podium.domain.media import links
from podium.domain.viewing.heartbeats import HeartbeatLedger, LiveView
from podium.kit import tokens
from podium.kit.clock import utcnow


def _expiry(settings: Settings, token: str) -> int:
    return int(tokens.verify(token, settings.signing_key(), audience=links.PLAY_AUDIENCE)["exp"])


def test_a_token_is_reused_while_it_outlives_two_beats(app_client: TestClient, frozen: Any) -> None:
    settings: Settings = app_client.app.state.settings  # type: ignore[attr-defined]
    ledger = HeartbeatLedger(app_client.app.state.sessions, settings)  # type: ignore[attr-defined]
    view = LiveView(
        session_id=7,
        key="k" * 32,
        company_id=1,
        media_id=1,
        media_code="ABCDEFGH",
        preview_seconds=None,
        last_seen=utcnow(),
        generation=0,
    )
    life, beat = settings.play_token_seconds, settings.heartbeat_seconds
    keep = max(2 * beat, life / 3)
    first = ledger.token(view)
    frozen(0.5)
    assert ledger.token(view) == first  # a beat half a second later: the same token
    frozen(life - keep - 1)
    assert ledger.token(view) == first
    frozen(life - keep + 1)  # it would not outlive two more beats: a new one, which lives longer
    renewed = ledger.token(view)
    assert renewed != first and _expiry(settings, renewed) > _expiry(settings, first)
    # Whatever a beat gets is still valid when the next two beats come.
    for second in range(int(life - keep + 1), 3 * life):
        frozen(second)
        answered = ledger.token(view)
        assert _expiry(settings, answered) >= _epoch(utcnow() + timedelta(seconds=2 * beat))
        assert _expiry(settings, answered) <= _epoch(utcnow() + timedelta(seconds=life))


def _epoch(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())
