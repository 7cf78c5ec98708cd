"""Who may watch: view sessions through the watch API, and every playlist and segment request checked
on its own (passwords, windows, activations, device rules, preview, signatures)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podium.kit.clock import clock, utcnow
from tests.fixtures.media import boom_json, local, ready_media
from tests.fixtures.tenants import TenantFactory

DEVICE_A = "a" * 32
DEVICE_B = "b" * 32


@dataclass
class Shop:
    key: str
    media: str  # a transcoded 9-second video (3 segments of 4, 4 and 1 s)
    other: str  # a second transcoded video


@pytest.fixture(scope="module")
def shop(app_client: TestClient, media_files: dict[str, Path]) -> Iterator[Shop]:
    """One project with two ready videos, shared by the tests here (each adds its own paywalls)."""
    from tests.fixtures.tenants import TenantFactory

    key = TenantFactory(app_client.app.state.sessions)().boomstream_apikey  # type: ignore[attr-defined]
    yield Shop(
        key,
        ready_media(app_client, key, media_files["wide"], title="Main"),
        ready_media(app_client, key, media_files["small"], title="Other"),
    )


def _fresh(client: TestClient, shop: Shop, files: dict[str, Path]) -> str:
    """A ready video of this test's own (paywall state of the shared ones would leak between tests)."""
    return ready_media(client, shop.key, files["wide"], title="Own")


def paywall(client: TestClient, key: str, media: list[str], **params: Any) -> str:
    values = {"name": "Paid", "subscription_type": "password", "period": "30", **params}
    code = str(boom_json(client, "ppv/create", key, **values)["Items"][0]["Code"])
    for item in media:
        boom_json(client, "ppv/addmedia", key, code=code, media=item)
    return code


def buyer(client: TestClient, key: str, code: str, media: str, **params: Any) -> str:
    values = {"email": "viewer@example.com", "name": "Vera", **params}
    return str(boom_json(client, "ppv/addbuyer", key, code=code, media=media, **values)["Items"][0]["Hash"])


def start(client: TestClient, media: str, device: str = DEVICE_A, **body: Any) -> Any:
    return client.post(f"/watch/{media}/session", json={"device": device, **body})


def started(client: TestClient, media: str, device: str = DEVICE_A, **body: Any) -> dict[str, Any]:
    response = start(client, media, device, **body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def refused(response: Any, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def beat(client: TestClient, session: dict[str, Any], watched: int = 0) -> Any:
    return client.post(
        "/watch/heartbeat", json={"session": session["session"], "key": session["key"], "watched": watched}
    )


def segment_url(src: str, rendition: str = "240p", index: int = 0) -> str:
    return local(src).replace("master.m3u8", f"{rendition}/seg_{index:05d}.ts")


def with_token(url: str, token: str) -> str:
    parts = url.split("/")
    parts[2] = token  # /play/<token>/<code>/…
    return "/".join(parts)


def test_a_free_video_plays_and_its_token_is_renewed_by_heartbeats(client: TestClient, shop: Shop) -> None:
    session = started(client, shop.other)
    assert session["watermark"] == "" and session["preview_seconds"] is None
    master = client.get(local(session["src"]))
    assert master.status_code == 200 and "240p/index.m3u8" in master.text
    playlist = client.get(local(session["src"]).replace("master.m3u8", "240p/index.m3u8"))
    assert "seg_00000.ts" in playlist.text
    assert client.get(segment_url(session["src"])).status_code == 200
    # The token lives play_token_seconds (90): later requests need the one the heartbeat renews.
    clock.freeze(utcnow() + timedelta(seconds=60))
    renewed = beat(client, session, 0)
    assert renewed.status_code == 200
    clock.freeze(utcnow() + timedelta(seconds=60))
    stale = client.get(segment_url(session["src"]))
    assert stale.status_code == 403 and "expired" in stale.text
    fresh = with_token(segment_url(session["src"]), renewed.json()["token"])
    assert client.get(fresh).status_code == 200


def test_signatures_are_checked_on_every_request(client: TestClient, shop: Shop) -> None:
    session = started(client, shop.other)
    url = segment_url(session["src"])
    token = url.split("/")[2]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get(with_token(url, forged)).status_code == 403
    assert client.get(url.replace(f"/play/{token}/", "/play/")).status_code == 404
    other_media = url.replace(f"/{shop.other}/", f"/{shop.media}/")
    assert client.get(other_media).status_code == 403, "a token opens only its own media"
    owner = boom_json(client, "media/info", shop.key, code=shop.media)["Transcodes"][0]["AppleHLS"]
    assert client.get(local(owner)).status_code == 200, "the owner's API link plays"
    wrong_key = client.post(
        "/watch/heartbeat", json={"session": session["session"], "key": "x" * 48, "watched": 1000}
    )
    refused(wrong_key, 403, "Unknown viewing session")
    refused(client.post("/watch/heartbeat", json={"session": "1"}), 400, "session (a number) and key")
    huge = client.post("/watch/heartbeat", json={"session": 2**40, "key": "k", "watched": 1})
    refused(huge, 400, "session (a number) and key")
    endless = client.post(
        "/watch/heartbeat",
        content=f'{{"session": {session["session"]}, "key": "{session["key"]}", "watched": Infinity}}',
        headers={"content-type": "application/json"},
    )
    refused(endless, 400, "watched must be a number")


def test_passwords(client: TestClient, shop: Shop, media_files: dict[str, Path]) -> None:
    media = _fresh(client, shop, media_files)
    code = paywall(client, shop.key, [media])
    password = buyer(client, shop.key, code, media)
    refused(start(client, media), 403, "An access password is required")
    refused(start(client, media, password="wrongpassword"), 403, "Wrong access password")
    session = started(client, media, password=password)
    assert client.get(segment_url(session["src"])).status_code == 200
    # A password of another subscription does not open this media.
    foreign = paywall(client, shop.key, [shop.other])
    refused(start(client, media, password=buyer(client, shop.key, foreign, shop.other)), 403, "Wrong access")
    # Deleting the buyer stops the session already playing.
    boom_json(client, "ppv/deletebuyer", shop.key, code=code, hash=password)
    stopped = client.get(segment_url(session["src"]))
    assert stopped.status_code == 403 and "no longer opens" in stopped.text
    refused(beat(client, session), 403, "no longer opens this video")
    refused(start(client, media, password=password), 403, "Wrong access password")


def test_single_and_group_subscriptions(client: TestClient, shop: Shop, media_files: dict[str, Path]) -> None:
    first, second = _fresh(client, shop, media_files), _fresh(client, shop, media_files)
    single = paywall(client, shop.key, [first, second], type="single")
    group = paywall(client, shop.key, [first, second], type="group")
    single_password = buyer(client, shop.key, single, first)
    group_password = buyer(client, shop.key, group, first)
    started(client, first, password=single_password)
    refused(start(client, second, password=single_password), 403, "Wrong access password")
    started(client, second, password=group_password)


def test_activation_limit_counts_devices(
    client: TestClient, shop: Shop, media_files: dict[str, Path]
) -> None:
    media = _fresh(client, shop, media_files)
    code = paywall(client, shop.key, [media], activation="2")
    password = buyer(client, shop.key, code, media)
    first = started(client, media, DEVICE_A, password=password)
    assert started(client, media, DEVICE_A, password=password)["session"] != first["session"]
    started(client, media, DEVICE_B, password=password)
    refused(start(client, media, "c" * 32, password=password), 403, "no activations left")
    info = boom_json(client, "ppv/info", shop.key, code=code, hash=password)["Items"]["Item"]
    assert (info["Activation"], info["LeftActivations"]) == (2, 0)
    boom_json(client, "ppv/updatebuyer", shop.key, code=code, hash=password, activation="3")
    started(client, media, "c" * 32, password=password)


def test_ip_recovery_lets_the_same_ip_resume(
    client: TestClient, shop: Shop, media_files: dict[str, Path]
) -> None:
    media = _fresh(client, shop, media_files)
    strict = paywall(client, shop.key, [media], activation="1")
    lenient = paywall(client, shop.key, [media], activation="1", ip_recovery="1")
    home = TestClient(client.app, client=("198.51.100.7", 40000))
    away = TestClient(client.app, client=("198.51.100.99", 40000))
    strict_password = buyer(client, shop.key, strict, media)
    started(home, media, DEVICE_A, password=strict_password)
    refused(start(home, media, DEVICE_B, password=strict_password), 403, "no activations left")
    lenient_password = buyer(client, shop.key, lenient, media)
    started(home, media, DEVICE_A, password=lenient_password)
    started(home, media, DEVICE_B, password=lenient_password)  # a lost cookie, the same IP
    refused(start(away, media, "c" * 32, password=lenient_password), 403, "no activations left")


def test_device_ban_allows_one_live_device(
    client: TestClient, shop: Shop, media_files: dict[str, Path]
) -> None:
    media = _fresh(client, shop, media_files)
    code = paywall(client, shop.key, [media], device_ban="1")
    password = buyer(client, shop.key, code, media)
    phone = started(client, media, DEVICE_A, password=password)
    refused(start(client, media, DEVICE_B, password=password), 409, "being used on another device")
    started(client, media, DEVICE_A, password=password)  # the same device may reload
    assert (
        client.post("/watch/end", json={"session": phone["session"], "key": phone["key"]}).status_code == 204
    )
    clock.freeze(utcnow() + timedelta(seconds=46))  # the reload above went silent too
    laptop = started(client, media, DEVICE_B, password=password)
    refused(start(client, media, DEVICE_A, password=password), 409, "another device")
    clock.freeze(utcnow() + timedelta(seconds=46))
    assert beat(client, laptop).status_code == 200, "a silent session may come back"


def test_access_windows(client: TestClient, shop: Shop, media_files: dict[str, Path]) -> None:
    media = _fresh(client, shop, media_files)
    code = paywall(client, shop.key, [media], period="1")
    clock.freeze(datetime(2031, 5, 1, 12, 0, 0))
    # Three buyers (one email again would update the same buyer).
    later = buyer(client, shop.key, code, media, email="later@example.com", access_start="2031-05-02")
    expired = buyer(client, shop.key, code, media, email="expired@example.com", access_expire="2031-04-30")
    by_period = buyer(client, shop.key, code, media, email="period@example.com")
    refused(start(client, media, password=later), 403, "Access opens on 2031-05-02 00:00:01 UTC")
    refused(start(client, media, password=expired), 403, "has expired")
    session = started(client, media, password=by_period)
    clock.freeze(datetime(2031, 5, 2, 11, 59, 0))
    stale = client.get(segment_url(session["src"]))
    assert stale.status_code == 403 and "expired" in stale.text, "yesterday's token"
    renewed = beat(client, session).json()["token"]
    clock.freeze(datetime(2031, 5, 2, 12, 0, 30))  # the period (1 day from the purchase) is over
    late = client.get(with_token(segment_url(session["src"]), renewed))
    assert late.status_code == 403 and "expired" in late.text
    refused(beat(client, session), 403, "has expired")
    clock.freeze(datetime(2031, 5, 2, 12, 0, 0))
    started(client, media, password=later)


def test_preview_is_enforced_by_the_server(
    client: TestClient, shop: Shop, media_files: dict[str, Path]
) -> None:
    media = _fresh(client, shop, media_files)
    assert started(client, media, preview=True)["preview_seconds"] is None, "a free video has no preview"
    paywall(client, shop.key, [media], preview="4")
    preview = started(client, media, preview=True)
    assert preview["preview_seconds"] == 4
    playlist = client.get(local(preview["src"]).replace("master.m3u8", "240p/index.m3u8")).text
    assert [line for line in playlist.splitlines() if line.startswith("seg_")] == ["seg_00000.ts"]
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
    assert client.get(segment_url(preview["src"], index=0)).status_code == 200
    beyond = client.get(segment_url(preview["src"], index=1))
    assert beyond.status_code == 403 and "preview" in beyond.text
    mp4 = local(preview["src"]).replace("master.m3u8", "240p.mp4")
    assert client.get(mp4).status_code == 403
    assert beat(client, preview, 1000).status_code == 200
    no_preview = _fresh(client, shop, media_files)
    paywall(client, shop.key, [no_preview])
    refused(start(client, no_preview, preview=True), 403, "This video has no preview")


def test_registration_forms(client: TestClient, shop: Shop, media_files: dict[str, Path]) -> None:
    media = _fresh(client, shop, media_files)
    collect = paywall(client, shop.key, [media], subscription_type="collection")
    refused(start(client, media, email="new@example.com"), 400, "Your name is required")
    refused(start(client, media, email="not-an-email", name="N"), 400, "email is not a valid address")
    session = started(client, media, email="new@example.com", name="Nina", phone="+1 555 0100")
    assert client.get(segment_url(session["src"])).status_code == 200
    listed = boom_json(client, "ppv/listbuyers", shop.key, code=collect, media=media, ver="1.1")["Items"]
    assert [(b["Email"], b["Name"], b["Phone"]) for b in listed] == [
        ("new@example.com", "Nina", "+1 555 0100")
    ]
    started(client, media, email="NEW@example.com", name="Nina")  # the same person comes back
    assert len(boom_json(client, "ppv/listbuyers", shop.key, code=collect, media=media)["Items"]) == 1

    protected_media = _fresh(client, shop, media_files)
    protect = paywall(
        client, shop.key, [protected_media], subscription_type="collection", collection_type="protect"
    )
    refused(start(client, protected_media, email="stranger@example.com"), 403, "not on the list of viewers")
    buyer(client, shop.key, protect, protected_media, email="member@example.com")
    started(client, protected_media, email="member@example.com")


def test_free_sessions_stop_when_a_paywall_arrives(
    client: TestClient, shop: Shop, media_files: dict[str, Path]
) -> None:
    media = _fresh(client, shop, media_files)
    session = started(client, media)
    code = paywall(client, shop.key, [media])
    assert client.get(segment_url(session["src"])).status_code == 403
    refused(beat(client, session), 403, "now needs an access password")
    boom_json(client, "ppv/deletemedia", shop.key, code=code, media=media)
    started(client, media)


def test_watermark_and_download(client: TestClient, shop: Shop, media_files: dict[str, Path]) -> None:
    media = _fresh(client, shop, media_files)
    code = paywall(
        client,
        shop.key,
        [media],
        watermark="1",
        watermark_email="1",
        watermark_name="1",
        watermark_ip="1",
        downloadable_origin="1",
    )
    password = buyer(client, shop.key, code, media, email="w@example.com", name="Walt")
    viewer = TestClient(client.app, client=("203.0.113.5", 40000))
    session = started(viewer, media, password=password)
    assert session["watermark"] == "w@example.com · Walt · 203.0.113.5"
    assert session["downloadable"] is True
    original = local(session["src"]).replace("master.m3u8", "original")
    refused_download = viewer.get(original)
    assert refused_download.status_code == 403, "only after watching to the end"
    clock.freeze(utcnow() + timedelta(seconds=9))
    renewed = beat(viewer, session, 9000).json()["token"]
    download = viewer.get(with_token(original, renewed))
    assert download.status_code == 200 and download.content == media_files["wide"].read_bytes()
    plain = paywall(client, shop.key, [shop.other], watermark="1")
    plain_session = started(
        viewer, shop.other, password=buyer(client, shop.key, plain, shop.other, email="p@example.com")
    )
    assert plain_session["watermark"] == "p@example.com" and plain_session["downloadable"] is False


def test_pages(client: TestClient, shop: Shop, media_files: dict[str, Path], tenants: TenantFactory) -> None:
    media = _fresh(client, shop, media_files)
    free = client.get(f"/watch/{media}")
    assert free.status_code == 200 and 'data-free="yes"' in free.text
    assert "frame-ancestors *" in free.headers["content-security-policy"], "players embed in other sites"
    code = paywall(client, shop.key, [media], name="Masterclass", preview="5")
    paid = client.get(f"/watch/{media}?embed=1")
    assert 'data-free="no"' in paid.text and "Masterclass" in paid.text and 'id="password-form"' in paid.text
    assert "5-second preview" in paid.text
    subscription = client.get(f"/watch/s/{code}")
    assert subscription.status_code == 200 and f'href="/watch/{media}"' in subscription.text
    missing = client.get("/watch/zzzzzzzz")
    assert missing.status_code == 404 and "Video not found" in missing.text
    waiting = boom_json(client, "media/upload", shop.key)["Code"]
    assert client.get(f"/watch/{waiting}").status_code == 409
    refused(start(client, waiting), 409, "not ready yet")
    assert client.get("/watch/s/nope1234").status_code == 404
