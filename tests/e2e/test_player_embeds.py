"""Player embeds as sites write them, in a real headless Chromium: a third-party page (another site,
served from loopback) embeds the player as ``<iframe src="<base>/<code>">``, as
``<iframe src="<base>/player.html?code=<code>">`` and as ``<script src="<base>/<code>/config.jsonp"
async>``; the video really plays, the heartbeats are the statistics, and ``id_recovery`` signs a buyer
in without typing. (The same routes over plain HTTP: test_player_embed_routes.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_watch_browser import api, error_text, playing, unlock, until, uploaded
from tests.fixtures.browser import LiveServer
from tests.fixtures.http_server import QuietHandler, loopback_server
from tests.fixtures.media import server_transcoder_running
from tests.fixtures.tenants import TenantFactory
from tests.fixtures.waiting import wait_until

WRONG_LINK = "This access link is not valid for this video"


@pytest.fixture(scope="module", autouse=True)
def server_transcoder(live_server: LiveServer) -> Iterator[None]:
    """The server's own transcoding worker, running in the server process while this module runs."""
    with server_transcoder_running(live_server.app):
        yield


class Site:
    """A third-party site: static pages on loopback, under ``localhost`` (another site than the
    server's ``127.0.0.1``, so its players are cross-site frames as on a real shop's page)."""

    def __init__(self) -> None:
        self.url = ""
        self.pages: dict[str, str] = {}

    def page(self, name: str, body: str) -> str:
        self.pages[f"/{name}"] = (
            f'<!doctype html>\n<html><head><meta charset="utf-8"></head><body>{body}</body></html>'
        )
        return f"{self.url}/{name}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    state = Site()

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            body = state.pages.get(self.path.split("?")[0])
            data = (body or "").encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with loopback_server(Handler) as base:
        state.url = base.replace("127.0.0.1", "localhost")
        yield state


@pytest.fixture(scope="module")
def key(live_server: LiveServer) -> str:
    return str(TenantFactory(live_server.app.state.sessions)().boomstream_apikey)  # type: ignore[attr-defined]


@pytest.fixture
def device(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile: a new device, with its own cookies and storage."""
    context = chromium.new_context()
    yield context
    context.close()


def heartbeats(page: Any) -> list[int]:
    """The watched milliseconds of every heartbeat the server accepted, from any frame of the page."""
    beats: list[int] = []

    def record(response: Any) -> None:
        if response.url.endswith("/watch/heartbeat") and response.status == 200:
            beats.append(int(json.loads(response.request.post_data)["watched"]))

    page.on("response", record)
    return beats


def player(page: Any, selector: str) -> Any:
    """The watch page inside the frame ``selector`` finds, once it has loaded."""
    frame = page.wait_for_selector(selector, state="attached", timeout=15_000).content_frame()
    assert frame is not None
    frame.wait_for_selector("#player", state="attached", timeout=15_000)
    return frame


def watched_to_the_end(frame: Any) -> None:
    playing(frame, 1.0)
    until(frame, "document.getElementById('player').ended")
    # The last beat after the end, then a silent one: every counted millisecond has been sent.
    until(frame, "window.podium.state.heartbeats >= 3")
    ended_at = int(frame.evaluate("window.podium.state.heartbeats"))
    until(frame, f"window.podium.state.heartbeats >= {ended_at + 1}")


def counted(server: LiveServer, key: str, video: str) -> int:
    return sum(item["time"] for item in api(server, key, "stats", code=video, group="hour")["Items"])


def paywall(server: LiveServer, key: str, media: str, **params: Any) -> str:
    values = {"name": "Course", "subscription_type": "password", "period": "30", **params}
    code = str(api(server, key, "ppv/create", **values)["Items"][0]["Code"])
    api(server, key, "ppv/addmedia", code=code, media=media)
    return code


def buyer(server: LiveServer, key: str, code: str, media: str) -> str:
    answer = api(server, key, "ppv/addbuyer", code=code, media=media, email="fan@example.com", name="Fan")
    return str(answer["Items"][0]["Hash"])


@pytest.mark.parametrize("form", ["iframe", "player.html"])
def test_an_iframe_plays_and_its_heartbeats_are_the_statistics(
    live_server: LiveServer,
    site: Site,
    key: str,
    media_files: dict[str, Path],
    device: Any,
    form: str,
) -> None:
    base = live_server.base_url
    video = uploaded(live_server, key, media_files["small"], "Four seconds")
    src = f"{base}/{video}?title=0&colour=red" if form == "iframe" else f"{base}/player.html?code={video}"
    address = site.page(
        f"{form}.html",
        f'<h1>A shop</h1><iframe id="embedded" src="{src}" width="640" height="480" '
        'allow="autoplay; fullscreen" allowfullscreen></iframe>',
    )
    page = device.new_page()
    beats = heartbeats(page)
    page.goto(address)
    frame = player(page, "#embedded")
    assert frame.evaluate("location.origin") == base and page.evaluate("location.host").startswith(
        "localhost"
    )
    assert frame.is_visible("#media-title") is (form == "player.html"), "title=0 hides the title"
    watched_to_the_end(frame)
    page.close()
    assert 2_500 <= sum(beats) <= 6_000, beats  # a four-second video, watched once
    # Acknowledged beats are written within a second (domain/viewing/heartbeats.py).
    wait_until(lambda: counted(live_server, key, video) == sum(beats), 5, "the beats in the statistics")


def test_scripts_place_their_players_where_they_stand(
    live_server: LiveServer, site: Site, key: str, media_files: dict[str, Path], device: Any
) -> None:
    base = live_server.base_url
    video = uploaded(live_server, key, media_files["small"], "Two players")
    address = site.page(
        "script.html",
        '<h1>A shop</h1><div id="first"><p>Lesson one</p>'
        f'<script src="{base}/{video}/config.jsonp" async></script><p>Below one</p></div>'
        f'<div id="second"><script src="{base}/{video}/config.jsonp?title=0" async></script></div>',
    )
    page = device.new_page()
    beats = heartbeats(page)
    page.goto(address)
    page.wait_for_function("document.querySelectorAll('.podium-player iframe').length === 2")
    assert page.evaluate(
        """[
            !!document.querySelector('#first > p + .podium-player + script + p'),
            !!document.querySelector('#second > .podium-player:first-child + script'),
            document.querySelectorAll('script[data-podium-player]').length,
        ]"""
    ) == [True, True, 2]
    # The player keeps the video's shape (320x240) at the width of its place.
    width, height = page.evaluate(
        "(() => { const r = document.querySelector('#first iframe').getBoundingClientRect();"
        " return [r.width, r.height]; })()"
    )
    assert width > 300 and abs(height / width - 0.75) < 0.01
    first, second = player(page, "#first iframe"), player(page, "#second iframe")
    assert first.is_visible("#media-title") and not second.is_visible("#media-title")
    assert first.inner_text("#media-title") == "Two players"
    watched_to_the_end(first)
    watched_to_the_end(second)
    page.close()
    assert 5_000 <= sum(beats) <= 12_000, beats  # watched twice, once in each player
    # Acknowledged beats are written within a second (domain/viewing/heartbeats.py).
    wait_until(lambda: counted(live_server, key, video) == sum(beats), 5, "the beats in the statistics")


def test_id_recovery_signs_the_buyer_in_without_typing(
    live_server: LiveServer, site: Site, key: str, media_files: dict[str, Path], chromium: Any
) -> None:
    base = live_server.base_url
    video = uploaded(live_server, key, media_files["small"], "Members only")
    code = paywall(live_server, key, video, activation="1", watermark="1", watermark_email="1")
    password = buyer(live_server, key, code, video)
    framed = site.page(
        "recovery-frame.html",
        f'<iframe id="embedded" src="{base}/player.html?code={video}&id_recovery={password}&autostart=1" '
        'width="640" height="480" allow="autoplay"></iframe>',
    )
    scripted = site.page(
        "recovery-script.html",
        f'<div id="slot"><script src="{base}/{video}/config.jsonp?id_recovery={password}" async>'
        "</script></div>",
    )
    first, second = chromium.new_context(), chromium.new_context()
    try:
        page = first.new_page()
        page.goto(framed)
        frame = player(page, "#embedded")
        playing(frame, 1.0)  # nobody typed anything
        assert not frame.is_visible("#unlock") and frame.input_value("#password") == ""
        frame.wait_for_selector("#watermark:not([hidden])")
        assert frame.inner_text("#watermark") == "fan@example.com"
        assert "id_recovery" not in frame.evaluate("location.href"), "the password left the address"
        buyers = api(live_server, key, "ppv/listbuyers", code=code, media=video, ver="1.1")["Items"]
        assert [(b["Hash"], b["LeftActivations"]) for b in buyers] == [(password, 0)], "one activation taken"
        # Another device, through the script form: the same rules as a typed password.
        other = second.new_page()
        other.goto(scripted)
        refused = player(other, "#slot iframe")
        assert error_text(refused) == "This access password has no activations left"
        assert refused.is_visible("#password-form")
        assert refused.evaluate("document.getElementById('player').currentTime") == 0
    finally:
        first.close()
        second.close()


def test_a_wrong_id_recovery_shows_the_password_form(
    live_server: LiveServer, site: Site, key: str, media_files: dict[str, Path], device: Any
) -> None:
    base = live_server.base_url
    video = uploaded(live_server, key, media_files["small"], "Course video")
    password = buyer(live_server, key, paywall(live_server, key, video), video)
    other = uploaded(live_server, key, media_files["small"], "Another course")
    elsewhere = buyer(live_server, key, paywall(live_server, key, other), other)
    address = site.page(
        "wrong.html",
        f'<iframe id="embedded" src="{base}/{video}?id_recovery={elsewhere}" '
        'width="640" height="480"></iframe>',
    )
    page = device.new_page()
    page.goto(address)
    frame = player(page, "#embedded")
    # A password of another subscription: the same words as one that exists nowhere.
    assert error_text(frame) == WRONG_LINK
    assert frame.is_visible("#password-form") and frame.input_value("#password") == ""
    assert frame.evaluate("document.getElementById('player').currentTime") == 0
    unlock(frame, password)
    playing(frame, 0.5)
    # /watch/<code> takes it too, as the top page.
    direct = device.new_page()
    direct.goto(f"{base}/watch/{video}?id_recovery={password}&title=0")
    playing(direct, 0.5)
    assert direct.evaluate("location.href") == f"{base}/watch/{video}?title=0"
    assert not direct.is_visible("#password-form") and not direct.is_visible("#media-title")


def test_autostart_0_waits_for_the_viewer(
    live_server: LiveServer, site: Site, key: str, media_files: dict[str, Path], device: Any
) -> None:
    base = live_server.base_url
    video = uploaded(live_server, key, media_files["small"], "Waits")
    address = site.page(
        "waits.html",
        f'<iframe id="embedded" src="{base}/{video}?autostart=0" width="640" height="480"></iframe>',
    )
    page = device.new_page()
    page.goto(address)
    frame = player(page, "#embedded")
    until(frame, "window.podium.state.heartbeats >= 2")  # the session is open, the page is alive
    state = "(v => [v.paused, v.currentTime])(document.getElementById('player'))"
    assert frame.evaluate(state) == [True, 0]
