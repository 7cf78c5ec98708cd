"""The room page as people use it (issue #15), in real headless Chromiums through the live server and
its Janus: the lobby's preview, devices and level meter; a four-person stage at desktop and phone
sizes; the active speaker following the loud microphone; raised hands in the moderator's queue;
keyboard shortcuts; a screen share on the stage; accessible names; a reconnect without a reload.
Screenshots land in test-artifacts/room/ at the repository root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import (
    CHROMIUM_FLAGS,
    LiveServer,
    boomstream_call,
    chromium_path,
    chromium_with_tone,
)
from tests.fixtures.tenants import TenantFactory
from tests.fixtures.waiting import wait_until

# Real browsers, real WebRTC and Janus on two loaded cores: one retry absorbs a scheduling hiccup.
pytestmark = pytest.mark.flaky(reruns=1, reruns_delay=2)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "room"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _invites(server: LiveServer, tenants: TenantFactory, title: str, *people: tuple[str, bool]) -> list[str]:
    """Invitation links of a new conference, one per (name, moderator?)."""
    key = tenants().boomstream_apikey
    code = boomstream_call(server, "conference/create", apikey=key, title=title)["Code"]
    return [
        boomstream_call(
            server,
            "conference/invite",
            apikey=key,
            code=code,
            email=f"{name.lower()}@example.com",
            name=name,
            moderator="yes" if moderator else "no",
        )["inviteLink"]
        for name, moderator in people
    ]


@pytest.fixture(scope="module")
def loud(playwright_driver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Chromium whose microphone plays a loud, steady tone (the default fake one beeps briefly
    once a second: quiet on average)."""
    launched = chromium_with_tone(playwright_driver, tmp_path_factory.mktemp("audio"), 330)
    yield launched
    launched.close()


def _until(page: Any, script: str, timeout: float, message: str) -> Any:
    """Poll ``script`` (a function, evaluated in the page: its CSP forbids string evaluation)."""
    return wait_until(lambda: page.evaluate(script), timeout, message)


def _join(page: Any, link: str, *, muted: bool = False) -> None:
    page.goto(link)
    _until(page, "() => document.querySelectorAll('#mic-select option').length > 0", 20, "the device lists")
    if muted:
        page.click("#lobby-audio")
    page.click("#join")
    page.wait_for_selector("#room:not([hidden])")


def _tile_of(page: Any, name: str) -> Any:
    return page.locator("#videos .tile.remote", has=page.locator(".name", has_text=name))


ACCESSIBLE_NAMES = """() => [...document.querySelectorAll(
    'button, select, input:not([type=hidden]), [role=meter]')]
  .map((el) => {
    const by = el.getAttribute('aria-labelledby');
    const label = el.id && document.querySelector(`label[for="${el.id}"]`);
    const name = el.getAttribute('aria-label') || (by && document.getElementById(by).textContent)
      || (label && label.textContent) || el.textContent || el.title || '';
    return [el.id || el.className || el.outerHTML.slice(0, 60), name.trim()];
  })"""


def test_lobby_preview_devices_and_meter(
    live_server: LiveServer, chromium: Any, tenants: TenantFactory
) -> None:
    (link,) = _invites(live_server, tenants, "Lobby check", ("Lou", False))
    context = chromium.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(link)
        # The fake camera plays in the preview; the device lists are filled; the meter moves.
        _until(
            page,
            "() => { const v = document.getElementById('preview-video');"
            " return v.readyState >= 2 && v.videoWidth > 0 && !v.paused; }",
            20,
            "the camera preview playing",
        )
        for select in ("#camera-select", "#mic-select"):
            values = page.locator(f"{select} option").evaluate_all("os => os.map(o => o.value)")
            assert values and all(values), (select, values)
        assert page.locator("#speaker-select option").count() >= 1
        wait_until(
            lambda: int(page.get_attribute("#mic-meter", "aria-valuenow") or 0) > 0,
            10,
            "the microphone level meter to move",
        )
        _shot(page, "lobby")
        # Microphone off: the meter falls silent; camera off: the preview says so (camera released).
        page.click("#lobby-audio")
        page.click("#lobby-video")
        wait_until(lambda: page.get_attribute("#mic-meter", "aria-valuenow") == "0", 5, "a silent meter")
        assert page.locator("#preview-off").is_visible()
        assert page.evaluate("window.podium.state.local.video") is None
        names = dict(page.evaluate(ACCESSIBLE_NAMES))
        assert all(names.values()), names
        page.close()

        # Denied permission and no device at all: clear messages, and the join stays possible.
        for error, expected in (("NotAllowedError", "blocked"), ("NotFoundError", "No camera or microphone")):
            page = context.new_page()
            page.add_init_script(
                "navigator.mediaDevices.getUserMedia = () =>"
                f" Promise.reject(new DOMException('no', '{error}'));"
            )
            page.goto(link)
            page.wait_for_selector("#device-error:not([hidden])", timeout=10000)
            assert expected in page.locator("#device-error").inner_text()
            assert page.locator("#join").is_enabled()
            if error == "NotAllowedError":
                _shot(page, "lobby-denied")
            page.close()
    finally:
        context.close()


def test_four_people_on_stage(
    live_server: LiveServer, chromium: Any, loud: Any, tenants: TenantFactory
) -> None:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    links = _invites(
        live_server, tenants, "Stage", ("Mona", True), ("Ann", False), ("Ben", False), ("Cat", False)
    )
    contexts = [
        chromium.new_context(viewport=DESKTOP),  # Mona, the moderator: beeps (quiet on average)
        loud.new_context(viewport=DESKTOP),  # Ann: loud
        loud.new_context(viewport=DESKTOP),  # Ben: loud, joins muted
        chromium.new_context(viewport=PHONE),  # Cat: on a phone
    ]
    try:
        mona, ann, ben, cat = (c.new_page() for c in contexts)
        for page, link in zip((mona, ann, ben, cat), links, strict=True):
            _join(page, link, muted=page is ben)
        for page in (mona, ann, ben, cat):
            wait_until(
                lambda p=page: p.evaluate("window.podium.remoteCount()") >= 3, 60, "three remote tiles"
            )

        # Names and mute state on the tiles; the grid fills the window.
        wait_until(lambda: _tile_of(mona, "Ben").get_attribute("class").count("muted"), 15, "Ben shown muted")
        assert "muted" not in (_tile_of(mona, "Ann").get_attribute("class") or "")
        mona.evaluate("window.podium.state.pinned = null")
        mona.click("#toggle-chat")  # the people panel stays open: the stage is narrower
        area = mona.evaluate(
            "[...document.querySelectorAll('#videos .tile')].reduce((sum, t) =>"
            " { const r = t.getBoundingClientRect(); return sum + r.width * r.height; }, 0)"
        )
        assert mona.locator("#videos .tile").count() == 4
        assert area >= 0.4 * 1280 * 800, area / (1280 * 800)
        _shot(mona, "grid-1280x800")
        mona.click("#toggle-chat")  # open again
        wait_until(lambda: not cat.locator("#side").is_visible(), 5, "no side panel on the phone")
        overflow = cat.evaluate(
            "({doc: document.documentElement.scrollWidth, body: document.body.scrollWidth,"
            " right: Math.max(...[...document.querySelectorAll('#videos .tile, .room-bar')]"
            ".map(t => t.getBoundingClientRect().right))})"
        )
        assert overflow["doc"] <= 375 and overflow["body"] <= 375 and overflow["right"] <= 375, overflow
        assert cat.locator("#toggle-audio").is_visible() and cat.locator("#leave").is_visible()
        _shot(cat, "grid-375x667")

        # The active speaker: Ann's loud tone, not Mona's beeps nor muted Ben.
        wait_until(lambda: mona.evaluate("window.podium.speakers()") == ["Ann"], 20, "Ann highlighted")
        wait_until(lambda: "Ann" in cat.evaluate("window.podium.speakers()"), 20, "Ann highlighted for Cat")
        _shot(mona, "speaker-ann")
        # Keyboard shortcuts: M mutes Ann and unmutes Ben; the highlight follows.
        ann.keyboard.press("m")
        ben.keyboard.press("m")
        assert ann.get_attribute("#toggle-audio", "aria-pressed") == "true"
        assert ben.get_attribute("#toggle-audio", "aria-pressed") == "false"
        wait_until(lambda: mona.evaluate("window.podium.speakers()") == ["Ben"], 20, "Ben highlighted")
        assert "muted" in (_tile_of(mona, "Ann").get_attribute("class") or "")
        _shot(mona, "speaker-ben")

        # Raised hands: the moderator's queue, in order; the moderator lowers one.
        cat.keyboard.press("h")
        wait_until(lambda: "Cat" in mona.locator("#hand-queue").inner_text(), 10, "Cat's hand")
        ben.click("#raise-hand")
        wait_until(lambda: mona.locator("#hand-queue li").count() == 2, 10, "two hands")
        assert mona.locator("#hand-queue li").all_inner_texts() == ["Cat", "Ben"]
        assert mona.locator("#hand-count").inner_text() == "2"
        assert ann.locator("#hand-queue-box").is_hidden()  # not a moderator
        # Everyone's tile of Cat shows the hand (30 s: five browsers share two busy cores in CI).
        wait_until(lambda: "hand-up" in (_tile_of(ann, "Cat").get_attribute("class") or ""), 30, "Cat's hand")
        _shot(mona, "hands")
        mona.click("#people li:has-text('Cat') button.lower")
        wait_until(lambda: cat.get_attribute("#raise-hand", "aria-pressed") == "false", 10, "Cat's hand down")
        wait_until(lambda: mona.locator("#hand-queue li").all_inner_texts() == ["Ben"], 10, "one hand left")

        # Chat with an unread count (Cat's chat is closed on the phone).
        mona.fill("#chat-input", "Welcome all")
        mona.click("#chat-send")
        wait_until(lambda: cat.locator("#chat-unread").is_visible(), 10, "an unread count")
        assert cat.locator("#chat-unread").inner_text() == "1"
        cat.keyboard.press("c")
        assert (
            cat.locator("#chat-unread").is_hidden() and "Welcome all" in cat.locator("#chat-log").inner_text()
        )
        cat.keyboard.press("c")

        # A screen share takes the stage; the others in a strip.
        ann.click("#share-screen")
        wait_until(
            lambda: "main" in (_tile_of(mona, "Ann").get_attribute("class") or ""), 20, "the share on stage"
        )
        assert "screen" in (_tile_of(mona, "Ann").get_attribute("class") or "")
        main = _tile_of(mona, "Ann").bounding_box()
        others = [mona.locator("#tile-local").bounding_box(), _tile_of(mona, "Cat").bounding_box()]
        assert main["width"] * main["height"] > 4 * max(o["width"] * o["height"] for o in others)
        assert all(o["y"] > main["y"] + main["height"] - 1 for o in others)  # the strip below
        _shot(mona, "screen-share")
        # A pin wins over the share; pinning again releases it.
        _tile_of(mona, "Cat").hover()
        _tile_of(mona, "Cat").locator("button.pin").click()
        assert "main" in (_tile_of(mona, "Cat").get_attribute("class") or "")
        _tile_of(mona, "Cat").locator("button.pin").click()
        assert "main" in (_tile_of(mona, "Ann").get_attribute("class") or "")
        ann.click("#share-screen")
        wait_until(
            lambda: "main" not in (_tile_of(mona, "Ann").get_attribute("class") or ""), 20, "the share over"
        )

        # Every control has an accessible name (the moderator's page has the most).
        names = dict(mona.evaluate(ACCESSIBLE_NAMES))
        assert len(names) > 15 and all(names.values()), names
        mona.keyboard.press("?")
        assert mona.locator("#help-dialog").is_visible()
        assert "Raise or lower your hand" in mona.locator("#help-dialog").inner_text()
        mona.keyboard.press("Escape")

        # A network drop of the signaling socket: it reconnects without a reload, and chat works.
        cat.evaluate("window.reloadMarker = 'same page'; window.podium.state.socket.close()")
        wait_until(lambda: cat.evaluate("window.podium.state.welcomes") >= 2, 20, "a second welcome")
        wait_until(lambda: cat.evaluate("window.podium.socketOpen()"), 10, "the socket open again")
        assert cat.evaluate("window.reloadMarker") == "same page"
        cat.keyboard.press("c")
        cat.fill("#chat-input", "back again")
        cat.click("#chat-send")
        wait_until(lambda: "back again" in mona.locator("#chat-log").inner_text(), 10, "chat after reconnect")
        # Its media joins again too (if it lost it): Cat still sees and is seen.
        wait_until(lambda: cat.evaluate("window.podium.remoteCount()") >= 3, 40, "Cat's remote tiles")
        wait_until(lambda: _tile_of(mona, "Cat").count() == 1, 40, "Cat's tile for Mona")
        before = int(cat.evaluate("window.podium.inboundVideoBytes()"))
        wait_until(
            lambda: int(cat.evaluate("window.podium.inboundVideoBytes()")) > before, 20, "video to Cat"
        )
        _shot(cat, "reconnected-375x667")

        # A moderator's command while its own socket is down is not kept for later (the room may have
        # changed by then): the page says so, and the same command works once the socket is back.
        mute_ben = "document.querySelector(\"#people li button.mute[aria-label='Mute Ben']\").click()"
        mona.evaluate(f"window.podium.state.socket.close(); {mute_ben}")
        assert "Not connected" in mona.locator("#toast").inner_text()
        wait_until(lambda: mona.evaluate("window.podium.socketOpen()"), 20, "Mona's socket open again")
        assert ben.get_attribute("#toggle-audio", "aria-pressed") == "false"  # nothing was sent
        mona.evaluate(mute_ben)
        wait_until(lambda: ben.get_attribute("#toggle-audio", "aria-pressed") == "true", 10, "Ben muted")
    finally:
        for context in contexts:
            context.close()


def test_media_server_unreachable_notice(
    live_server: LiveServer, chromium: Any, tenants: TenantFactory
) -> None:
    (link,) = _invites(live_server, tenants, "No media", ("Una", True))
    context = chromium.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        api = live_server.app.state.media.clients[0].endpoint.api_url  # type: ignore[attr-defined]

        def janus(url: str) -> bool:
            return url.startswith(api)

        page.route(janus, lambda route: route.abort())  # the media server's address: unreachable
        page.goto(link)
        page.click("#join")
        page.wait_for_selector("#notice:not([hidden])", timeout=20000)
        assert "media server cannot be reached" in page.locator("#notice").inner_text()
        _shot(page, "media-unreachable")
        # The network comes back: the page connects by itself.
        page.unroute(janus)
        wait_until(lambda: page.evaluate("window.podium.state.publisherId"), 30, "the media joined")
        wait_until(lambda: page.locator("#notice").is_hidden(), 10, "the notice gone")
        page.click("#leave")
        wait_until(lambda: page.locator("#gone").is_visible(), 10, "the left screen")
    finally:
        context.close()


# A machine without a camera: the page's browser finds none (its microphone still works).
NO_CAMERA = """(() => {
  const devices = navigator.mediaDevices;
  const ask = devices.getUserMedia.bind(devices), list = devices.enumerateDevices.bind(devices);
  devices.getUserMedia = (constraints) => constraints && constraints.video
    ? Promise.reject(new DOMException("Requested device not found", "NotFoundError"))
    : ask(constraints);
  devices.enumerateDevices = async () => (await list()).filter((d) => d.kind !== "videoinput");
})();"""


def test_without_a_camera_a_screen_share_takes_the_stage(
    live_server: LiveServer, chromium: Any, tenants: TenantFactory
) -> None:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    una, vic = _invites(live_server, tenants, "No camera", ("Una", True), ("Vic", False))
    contexts = [chromium.new_context(viewport=DESKTOP) for _ in range(2)]
    contexts[0].add_init_script(NO_CAMERA)
    try:
        presenter, viewer = (c.new_page() for c in contexts)
        presenter.goto(una)
        wait_until(lambda: "No camera was found" in presenter.locator("#device-error").inner_text(), 20)
        presenter.click("#join")
        presenter.wait_for_selector("#room:not([hidden])")
        _join(viewer, vic)
        for page in (presenter, viewer):
            wait_until(lambda p=page: p.evaluate("window.podium.remoteCount()") >= 1, 60, "the other's tile")
        wait_until(lambda: presenter.evaluate("window.podium.state.published"), 30, "Una publishing")
        # Una shares her screen: it takes Vic's stage, playing.
        presenter.click("#share-screen")
        wait_until(
            lambda: "main" in (_tile_of(viewer, "Una").get_attribute("class") or ""), 20, "the share on stage"
        )
        _until(
            viewer,
            "() => [...document.querySelectorAll('#videos .tile.remote.main video')]"
            ".some((v) => v.videoWidth > 0 && v.readyState >= 2)",
            20,
            "the shared screen playing",
        )
        _shot(viewer, "screen-share-without-camera")
        presenter.click("#share-screen")
        wait_until(
            lambda: "main" not in (_tile_of(viewer, "Una").get_attribute("class") or ""), 20, "the share over"
        )
    finally:
        for context in contexts:
            context.close()


@pytest.fixture(scope="module")
def three_cameras(playwright_driver: Any) -> Iterator[Any]:
    """A Chromium with three fake cameras (and its fake microphones): the second is a depth camera
    (16-bit frames no video encoder takes), the third sends MJPEG."""
    flags = [f for f in CHROMIUM_FLAGS if f != "--use-fake-device-for-media-stream"]
    launched = playwright_driver.chromium.launch(
        executable_path=chromium_path(),
        headless=True,
        args=[*flags, "--use-fake-device-for-media-stream=device-count=3"],
    )
    yield launched
    launched.close()


SENT_DEVICE = """(kind) => {
  const pc = window.podium.state.publisher.webrtcStuff.pc;
  const sender = pc.getSenders().find((s) => s.track && s.track.kind === kind);
  return sender ? sender.track.getSettings().deviceId : null;
}"""
INBOUND_BYTES = """async (kind) => {
  let total = 0;
  for (const feed of Object.values(window.podium.state.feeds)) {
    const pc = feed.handle && feed.handle.webrtcStuff && feed.handle.webrtcStuff.pc;
    if (!pc) continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === kind) total += s.bytesReceived;
    });
  }
  return total;
}"""


def test_devices_change_in_the_room(
    live_server: LiveServer, three_cameras: Any, chromium: Any, tenants: TenantFactory
) -> None:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    una, vic = _invites(live_server, tenants, "Devices", ("Una", True), ("Vic", False))
    contexts = [three_cameras.new_context(viewport=DESKTOP), chromium.new_context(viewport=DESKTOP)]
    try:
        switcher, watcher = (c.new_page() for c in contexts)
        _join(switcher, una)
        _join(watcher, vic)
        wait_until(lambda: switcher.evaluate("window.podium.state.published"), 30, "Una publishing")
        wait_until(lambda: watcher.evaluate("window.podium.remoteCount()") >= 1, 60, "Una's tile")
        switcher.click("#show-devices")
        # The dialog opens once the page has listed the devices (asynchronously), not with the click.
        wait_until(lambda: switcher.locator("#devices-dialog").is_visible(), 10, "the devices dialog")
        for select, kind in (("#camera-select", "video"), ("#mic-select", "audio")):
            options = switcher.locator(f"{select} option").evaluate_all("os => os.map(o => o.value)")
            sent = switcher.evaluate(SENT_DEVICE, kind)
            others = [value for value in options if value and value != sent]
            assert others, (select, options, sent)
            chosen = others[-1]
            switcher.select_option(select, chosen)
            # What Una sends is now the chosen device, and Vic keeps receiving it.
            wait_until(lambda v=chosen, k=kind: switcher.evaluate(SENT_DEVICE, k) == v, 20, select)
            before = watcher.evaluate(INBOUND_BYTES, kind)
            wait_until(
                lambda k=kind, b=before: watcher.evaluate(INBOUND_BYTES, k) > b + 2000,
                20,
                f"Vic receiving {kind}",
            )
        _shot(switcher, "devices-dialog")
        switcher.click("#devices-close")
        wait_until(lambda: switcher.locator("#devices-dialog").is_hidden(), 10, "the dialog closed")
    finally:
        for context in contexts:
            context.close()


# The lobby's first getUserMedia answers only after a while (a slow machine, a permission prompt the
# person has not answered yet).
SLOW_DEVICES = """(() => {
  const md = navigator.mediaDevices;
  const original = md.getUserMedia.bind(md);
  let first = true;
  md.getUserMedia = (constraints) => {
    if (!first) return original(constraints);
    first = false;
    return new Promise((resolve) => setTimeout(resolve, 4000)).then(() => original(constraints));
  };
})();"""


def test_joining_before_the_camera_and_microphone_are_open_sends_them_once_they_are(
    live_server: LiveServer, chromium: Any, tenants: TenantFactory
) -> None:
    if live_server.app.state.media is None:  # type: ignore[attr-defined]
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    una, vic = _invites(live_server, tenants, "Slow devices", ("Una", True), ("Vic", False))
    contexts = [chromium.new_context(viewport=DESKTOP) for _ in range(2)]
    try:
        hasty, watcher = (c.new_page() for c in contexts)
        hasty.add_init_script(SLOW_DEVICES)
        hasty.goto(una)
        hasty.click("#join")  # at once: the lobby is still opening the camera and microphone
        hasty.wait_for_selector("#room:not([hidden])")
        _join(watcher, vic)
        wait_until(lambda: hasty.evaluate("window.podium.state.published"), 40, "Una publishing")
        sent = "(kind) => window.podium.state.publisher.webrtcStuff.pc.getSenders()" + (
            ".some((s) => s.track && s.track.kind === kind && s.track.readyState === 'live')"
        )
        assert hasty.evaluate(sent, "audio") and hasty.evaluate(sent, "video")
        for kind in ("audio", "video"):
            wait_until(
                lambda k=kind: watcher.evaluate(INBOUND_BYTES, k) > 5000, 40, f"Vic receiving Una's {kind}"
            )
    finally:
        for context in contexts:
            context.close()
