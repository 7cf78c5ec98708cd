"""Watch pages in a real headless Chromium against the real server: media uploaded over HTTP and
transcoded by the server's worker, played through hls.js behind the paywall; statistics equal to
the heartbeats the page sent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.browser import LiveServer
from tests.fixtures.media import server_transcoder_running
from tests.fixtures.tenants import TenantFactory
from tests.fixtures.waiting import wait_until


def api(server: LiveServer, key: str, method: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(
        f"{server.base_url}/api/{method}", params={"apikey": key, "format": "json", **params}
    )
    body: dict[str, Any] = response.json()
    assert body["Status"] == "Success", body
    return body


def uploaded(server: LiveServer, key: str, path: Path, title: str) -> str:
    """Upload over HTTP and wait for the server's own worker to finish transcoding."""
    answer = api(server, key, "media/upload", title=title)
    with path.open("rb") as handle:
        response = httpx.post(
            answer["UploadUrl"], files={"file": (path.name, handle, "video/mp4")}, timeout=60
        )
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 90
    while True:
        status = api(server, key, "media/info", code=answer["Code"])["MediaStatus"]
        if status == "Done":
            return str(answer["Code"])
        assert status == "Processing" and time.monotonic() < deadline, status
        time.sleep(0.3)


@pytest.fixture(scope="module", autouse=True)
def server_transcoder(live_server: LiveServer) -> Iterator[None]:
    """The server's own transcoding worker, running in the server process while this module runs."""
    with server_transcoder_running(live_server.app):
        yield


@pytest.fixture(scope="module")
def shop(live_server: LiveServer, media_files: dict[str, Path]) -> dict[str, Any]:
    key = TenantFactory(live_server.app.state.sessions)().boomstream_apikey  # type: ignore[attr-defined]
    return {"key": key, "video": uploaded(live_server, key, media_files["wide"], "Nine seconds")}


@pytest.fixture
def device(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile: a new device, with its own cookies and storage."""
    context = chromium.new_context()
    yield context
    context.close()


def paywall(server: LiveServer, key: str, media: str, **params: Any) -> str:
    values = {"name": "Premiere", "subscription_type": "password", "period": "30", **params}
    code = str(api(server, key, "ppv/create", **values)["Items"][0]["Code"])
    api(server, key, "ppv/addmedia", code=code, media=media)
    return code


def password_for(server: LiveServer, key: str, code: str, media: str, **params: Any) -> str:
    values = {"email": "fan@example.com", "name": "Fan", **params}
    return str(api(server, key, "ppv/addbuyer", code=code, media=media, **values)["Items"][0]["Hash"])


def until(page: Any, expression: str, timeout: float = 30.0) -> Any:
    """Poll ``expression`` in the page from here (the page's CSP forbids Playwright's in-page eval)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.2)


def playing(page: Any, seconds: float = 1.0) -> None:
    until(page, f"document.getElementById('player').currentTime > {seconds}")


def unlock(page: Any, password: str) -> None:
    page.fill("#password", password)
    page.click("#unlock-button")


def error_text(page: Any) -> str:
    page.wait_for_selector("#watch-error:not([hidden])", timeout=15_000)
    return str(page.inner_text("#watch-error"))


def test_a_free_video_plays_and_stats_equal_the_heartbeats(
    live_server: LiveServer, shop: dict[str, Any], media_files: dict[str, Path], device: Any
) -> None:
    key = shop["key"]
    video = uploaded(live_server, key, media_files["small"], "Four seconds")
    page = device.new_page()
    beats: list[int] = []

    def record(response: Any) -> None:
        if response.url.endswith("/watch/heartbeat") and response.status == 200:
            beats.append(int(json.loads(response.request.post_data)["watched"]))

    page.on("response", record)
    page.goto(f"{live_server.base_url}/watch/{video}")
    playing(page, 1.0)
    until(page, "document.getElementById('player').ended")
    # The last beat after the end, then a silent one: every counted millisecond has been sent.
    until(page, "window.podium.state.heartbeats >= 3")
    ended_at = int(page.evaluate("window.podium.state.heartbeats"))
    until(page, f"window.podium.state.heartbeats >= {ended_at + 1}")
    page.close()
    sent = sum(beats)
    assert 2_500 <= sent <= 6_000, beats  # a four-second video, watched once

    def counted() -> int:
        stats = api(live_server, key, "stats", code=video, group="hour")
        return sum(item["time"] for item in stats["Items"])

    # Acknowledged beats are written within a second (domain/viewing/heartbeats.py).
    wait_until(lambda: counted() == sent, 5, f"{sent} ms in the statistics")


def test_paywall_password_watermark_and_signed_segments(
    live_server: LiveServer, shop: dict[str, Any], device: Any
) -> None:
    key, video = shop["key"], shop["video"]
    code = paywall(live_server, key, video, watermark="1", watermark_email="1")
    password = password_for(live_server, key, code, video)
    page = device.new_page()
    page.goto(f"{live_server.base_url}/watch/{video}")
    assert page.is_visible("#password-form") and page.inner_text("#paywall-name") == "Premiere"
    unlock(page, "wrong-password")
    assert error_text(page) == "Wrong access password"
    assert page.evaluate("document.getElementById('player').currentTime") == 0
    unlock(page, password)
    playing(page, 1.0)
    page.wait_for_selector("#watermark:not([hidden])")
    assert page.inner_text("#watermark") == "fan@example.com"
    # Segments are fetched with the session's token; the same URL with a forged token is refused.
    segment = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name).find(n => n.endsWith('.ts'))"
    )
    assert segment and "/play/" in segment
    statuses = page.evaluate(
        """async (url) => {
            const parts = url.split('/');
            const index = parts.indexOf('play') + 1;
            const good = await fetch(url);
            parts[index] = parts[index].slice(0, -6) + 'AAAAAA';
            const forged = await fetch(parts.join('/'));
            const unsigned = await fetch(url.replace(/\\/play\\/[^/]+\\//, '/play/x/'));
            return [good.status, forged.status, unsigned.status];
        }""",
        segment,
    )
    assert statuses == [200, 403, 403]


def test_activation_limit_refuses_a_second_device(
    live_server: LiveServer, shop: dict[str, Any], chromium: Any
) -> None:
    key, video = shop["key"], shop["video"]
    code = paywall(live_server, key, video, activation="1")
    password = password_for(live_server, key, code, video)
    first, second = chromium.new_context(), chromium.new_context()
    try:
        page = first.new_page()
        page.goto(f"{live_server.base_url}/watch/{video}")
        unlock(page, password)
        playing(page, 0.5)
        again = first.new_page()  # the same device (cookie and storage) may come back
        again.goto(f"{live_server.base_url}/watch/{video}")
        unlock(again, password)
        playing(again, 0.5)
        other = second.new_page()
        other.goto(f"{live_server.base_url}/watch/{video}")
        unlock(other, password)
        assert error_text(other) == "This access password has no activations left"
    finally:
        first.close()
        second.close()


def test_expired_access_is_refused(live_server: LiveServer, shop: dict[str, Any], device: Any) -> None:
    key, video = shop["key"], shop["video"]
    code = paywall(live_server, key, video)
    password = password_for(
        live_server, key, code, video, access_start="2020-01-01", access_expire="2020-12-31"
    )
    page = device.new_page()
    page.goto(f"{live_server.base_url}/watch/{video}")
    unlock(page, password)
    assert error_text(page) == "Access with this password has expired"
    assert (
        page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.endsWith('.ts')).length")
        == 0
    )


def test_preview_stops_and_asks_for_the_password(
    live_server: LiveServer, shop: dict[str, Any], device: Any
) -> None:
    key, video = shop["key"], shop["video"]
    paywall(live_server, key, video, preview="3")
    page = device.new_page()
    page.goto(f"{live_server.base_url}/watch/{video}")
    page.click("#preview-button")
    playing(page, 1.0)
    until(page, "document.getElementById('watch-status').textContent.includes('preview is over')")
    assert page.evaluate("document.getElementById('player').currentTime") < 4.5
    assert page.is_visible("#password-form")


def test_registration_form_opens_a_collection(
    live_server: LiveServer, shop: dict[str, Any], device: Any, media_files: dict[str, Path]
) -> None:
    key = shop["key"]
    video = uploaded(live_server, key, media_files["small"], "Webinar recording")
    code = paywall(live_server, key, video, subscription_type="collection")
    page = device.new_page()
    page.goto(f"{live_server.base_url}/watch/{video}")
    assert not page.is_visible("#password-form")
    page.fill("#reg-name", "Lena")
    page.fill("#reg-email", "lena@example.com")
    page.click("#register-button")
    playing(page, 0.5)
    buyers = api(live_server, key, "ppv/listbuyers", code=code, media=video, ver="1.1")["Items"]
    assert [(b["Email"], b["Name"]) for b in buyers] == [("lena@example.com", "Lena")]


def test_subscription_link_carries_the_password(
    live_server: LiveServer, shop: dict[str, Any], device: Any
) -> None:
    key, video = shop["key"], shop["video"]
    code = paywall(live_server, key, video, type="group")
    buyer = api(live_server, key, "ppv/addbuyer", code=code, media=video, email="g@example.com")["Items"][0]
    page = device.new_page()
    page.goto(buyer["Recovery"])
    # Asked of the page itself: Playwright's page.url learns of history.replaceState asynchronously.
    assert page.evaluate("location.href") == f"{live_server.base_url}/watch/s/{code}", "the password left"
    page.click(f"a[href='/watch/{video}']")
    page.wait_for_selector("#password-form")
    # The page fills the field once it has read the carried password: wait for it, not just the form.
    wait_until(lambda: page.input_value("#password") == buyer["Hash"], 10, "the carried password")
    page.click("#unlock-button")
    playing(page, 0.5)
