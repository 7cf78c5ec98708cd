"""The rules of lives behind the RTMP server's callbacks (domain/lives): the stream key, one publisher
at a time, a reset key or a deleted live dropping the publisher, the internal publish token (loopback
only), the recordings folder, the viewers watching now, and the restart of the RTMP server. The real
nginx-rtmp calls these through the loopback route in tests/e2e/test_lives.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from podium.config import Settings
from podium.domain.lives.paths import records_dir
from podium.domain.lives.service import LiveService, PublishRefused
from podium.domain.lives.state import STALE_SECONDS
from podium.domain.tenancy.service import TenancyService
from podium.kit.clock import clock, utcnow
from podium.kit.errors import InvalidInput
from podium.kit.uow import Context, run
from podium.models.audit import AuditEntry
from podium.models.live import Live
from podium.models.paywall import ViewSession
from tests.conftest import make_settings
from tests.fixtures.tenants import TenantFactory


@pytest.fixture(scope="module")
def live_settings(data_dir: Path, database_url: str) -> Settings:
    return make_settings(data_dir, database_url, rtmp="external")


@pytest.fixture
def lives(app_client: TestClient, live_settings: Settings) -> Callable[[Callable[[LiveService], Any]], Any]:
    """Run one step with a LiveService in its own committed transaction (as a callback does)."""
    sessions = app_client.app.state.sessions  # type: ignore[attr-defined]
    return lambda step: run(sessions, live_settings, lambda ctx: step(LiveService(ctx.session, ctx.settings)))


@pytest.fixture
def live(app_client: TestClient, lives: Callable[..., Any]) -> Iterator[dict[str, Any]]:
    tenant = TenantFactory(app_client.app.state.sessions)()  # type: ignore[attr-defined]
    actor = _actor(app_client, tenant.boomstream_apikey)

    def create(service: LiveService) -> dict[str, Any]:
        row, media, key = service.create(actor, title="Show")
        return {"code": media.code, "secret": key.split("=", 1)[1], "actor": actor, "media_id": media.id}

    yield lives(create)


def _actor(client: TestClient, apikey: str) -> Any:
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        return TenancyService(session).authenticate_boomstream(apikey)


def _actions(client: TestClient, code: str) -> list[str]:
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [r.action for r in rows if r.action.startswith("live.") and r.data.get("code") == code]


def _state(client: TestClient, code: str) -> Live:
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        live = LiveService(session, client.app.state.settings).repo.by_code(code)  # type: ignore[attr-defined]
        assert live is not None
        return live[0]


def publish(
    lives: Callable[..., Any], code: str, *, key: str = "", token: str = "", who: str = "a:1"
) -> None:
    lives(lambda s: s.publish(code, key=key, token=token, publisher=who, address="127.0.0.1"))


def test_only_the_stream_key_publishes_and_one_publisher_at_a_time(
    app_client: TestClient, lives: Callable[..., Any], live: dict[str, Any]
) -> None:
    code, secret = live["code"], live["secret"]
    for wrong in ("", secret[:-1] + ("0" if secret[-1] != "0" else "1"), secret + "x", "ü" * 10):
        with pytest.raises(PublishRefused, match="Wrong stream key"):
            publish(lives, code, key=wrong)
    with pytest.raises(PublishRefused, match="No such live"):
        publish(lives, "NOPE1234", key=secret)
    assert _state(app_client, code).state == "waiting" and _actions(app_client, code) == ["live.created"]

    publish(lives, code, key=secret, who="a:1")
    assert _state(app_client, code).state == "live"
    with pytest.raises(PublishRefused, match="Another encoder"):
        publish(lives, code, key=secret, who="a:2")
    lives(lambda s: s.still_publishing(code, key=secret, token="", publisher="a:1"))
    with pytest.raises(PublishRefused, match="not the live's publisher"):
        lives(lambda s: s.still_publishing(code, key=secret, token="", publisher="a:2"))
    # Another client's "done" does not end the broadcast; its publisher's does.
    lives(lambda s: s.publish_done(code, publisher="a:2"))
    assert _state(app_client, code).state == "live"
    lives(lambda s: s.publish_done(code, publisher="a:1"))
    ended = _state(app_client, code)
    assert (ended.state, ended.publisher, ended.broadcasts) == ("ended", None, 1)
    assert _actions(app_client, code) == ["live.created", "live.started", "live.stopped"]
    # It may go on air again: a new broadcast.
    publish(lives, code, key=secret, who="a:3")
    assert _state(app_client, code).broadcasts == 2


def test_a_silent_rtmp_server_loses_its_broadcast(
    app_client: TestClient, lives: Callable[..., Any], live: dict[str, Any]
) -> None:
    code, secret = live["code"], live["secret"]
    publish(lives, code, key=secret, who="old:1")
    clock.freeze(utcnow() + timedelta(seconds=STALE_SECONDS - 1))
    with pytest.raises(PublishRefused, match="Another encoder"):
        publish(lives, code, key=secret, who="new:1")  # still reported lately: refused
    clock.freeze(utcnow() + timedelta(seconds=2))
    publish(lives, code, key=secret, who="new:1")  # the old one stopped reporting: taken over
    assert _state(app_client, code).publisher == "new:1"
    assert _actions(app_client, code)[-3:] == ["live.started", "live.stopped", "live.started"]


def test_a_reset_key_or_a_deleted_live_drops_the_publisher(
    app_client: TestClient, lives: Callable[..., Any], live: dict[str, Any]
) -> None:
    code, secret, actor = live["code"], live["secret"], live["actor"]
    publish(lives, code, key=secret)
    new_key = lives(lambda s: s.reset_key(actor, code)[2]).split("=", 1)[1]
    with pytest.raises(PublishRefused, match="stream key has changed"):
        lives(lambda s: s.still_publishing(code, key=secret, token="", publisher="a:1"))
    lives(lambda s: s.still_publishing(code, key=new_key, token="", publisher="a:1"))
    lives(lambda s: s.delete(actor, code))
    with pytest.raises(PublishRefused, match="No such live"):
        lives(lambda s: s.still_publishing(code, key=new_key, token="", publisher="a:1"))
    assert _actions(app_client, code)[-2:] == ["live.key_reset", "live.stopped"]


def test_an_internal_publisher_uses_a_signed_token_from_loopback(
    app_client: TestClient, lives: Callable[..., Any], live: dict[str, Any]
) -> None:
    company = live["actor"].company_id
    made = lives(lambda s: (lambda row: (row.media_id, s.internal_publish_url(row)))(
        s.for_internal_publisher(company, title="Town hall")
    ))  # fmt: skip
    media_id, url = made
    # The same live again for the same media: a conference keeps its live across its streams.
    assert (
        lives(lambda s: s.for_internal_publisher(company, title="", media_id=media_id).media_id) == media_id
    )
    code = url.split("/live/", 1)[1].split("?", 1)[0]
    token = url.split("token=", 1)[1]
    assert url.startswith("rtmp://127.0.0.1:")
    with pytest.raises(PublishRefused):
        lives(lambda s: s.publish(code, key="", token=token, publisher="i:1", address="192.0.2.7"))
    with pytest.raises(PublishRefused):
        publish(lives, live["code"], token=token)  # another live's code
    clock.freeze(utcnow() + timedelta(hours=2))
    with pytest.raises(PublishRefused):
        publish(lives, code, token=token)  # expired
    clock.freeze(None)
    publish(lives, code, token=token, who="i:1")
    # While on air, the token's signature is what is checked (a stream outlives the token's hour).
    clock.freeze(utcnow() + timedelta(hours=2))
    lives(lambda s: s.still_publishing(code, key="", token=token, publisher="i:1"))


def test_recordings_come_only_from_the_recordings_folder(
    app_client: TestClient, lives: Callable[..., Any], live: dict[str, Any], live_settings: Settings
) -> None:
    code = live["code"]
    folder = records_dir(live_settings)
    folder.mkdir(parents=True, exist_ok=True)
    for path in (
        Path("/etc/passwd"),
        folder / "elsewhere.flv",
        folder / f"{code}-1.mp4",
        folder / ".." / "x.flv",
    ):
        with pytest.raises(InvalidInput):
            lives(lambda s, path=path: s.recorded(code, path))
    empty = folder / f"{code}-1.flv"
    empty.write_bytes(b"FLV")
    assert lives(lambda s: s.recorded(code, empty)) is None
    assert lives(lambda s: s.view(*s.get(live["actor"], code)).status.record_status) == "Failed"
    empty.unlink()


def test_viewers_now_count_open_sessions_that_beat_lately(
    app_client: TestClient, lives: Callable[..., Any], live: dict[str, Any], live_settings: Settings
) -> None:
    now = utcnow()
    window = 2 * live_settings.heartbeat_seconds + 2

    def sessions(ctx: Context) -> None:
        for index, (seen, ended) in enumerate(
            [(0, False), (window - 1, False), (window + 5, False), (0, True)]
        ):
            ctx.session.add(
                ViewSession(
                    company_id=live["actor"].company_id,
                    media_id=live["media_id"],
                    kind="free",
                    device_hash=f"{index}" * 64,
                    session_key=f"{live['code']}-{index}",
                    started_at=now - timedelta(minutes=5),
                    last_seen_at=now - timedelta(seconds=seen),
                    ended_at=now if ended else None,
                )
            )

    run(app_client.app.state.sessions, live_settings, sessions)  # type: ignore[attr-defined]
    live_row = _state(app_client, live["code"])
    assert lives(lambda s: s.viewers_now(live_row)) == 2


def test_a_new_rtmp_server_ends_the_broadcasts_of_the_one_before(
    app_client: TestClient, lives: Callable[..., Any], live: dict[str, Any]
) -> None:
    publish(lives, live["code"], key=live["secret"])
    lives(lambda s: s.recover())
    assert _state(app_client, live["code"]).state == "ended"
    assert _actions(app_client, live["code"])[-1] == "live.stopped"
