"""Dial-out, end to end (issue #16, ADR 0014): a real SIP user agent plays the phone network.

``baresip`` on loopback is the trunk's far end: it answers as the dialled number, plays speech made
by ``espeak-ng`` and records what it hears. A server with its own Janus (SIP plugin loaded) and that
trunk; a Chromium moderator whose microphone plays a steady 330 Hz tone. ``conference/dial_number``:
the status goes new → ringing → answered; the phone hears the invitation, then the room's tone; the
room hears the phone; the call is a CDR with the number as ``ani`` and in ``host/active_calls``;
the phone hangs up → ended. Then: a refused call is ``busy``; an unknown number ``failed`` with the
SIP reason; a callee who presses two declines; the meeting's end hangs up a call; a trunk that is
down ``failed`` at once. (Pressing one joins before the invitation is over.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.browser import chromium_with_tone, served
from tests.fixtures.phone import (
    dominant_frequency,
    phone,
    wav_samples,
)
from tests.fixtures.phone_rooms import (
    MARKS,
    PhoneServer,
    phone_hears_the_room,
    phone_level,
    samples_heard,
    sip_host,
)
from tests.fixtures.waiting import wait_until

pytestmark = MARKS

NUMBER = "15551234567"
ROOM_TONE = 330


@pytest.fixture(scope="module")
def server(
    data_dir: Path, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PhoneServer]:
    """`podium serve`'s app with its own Janus, whose SIP trunk is a baresip answering as NUMBER."""
    folder = tmp_path_factory.mktemp("phone")
    with (
        phone(folder, speech="Hello, this is the phone speaking. " * 3, user=f"+{NUMBER}") as device,
        served(
            data_dir, database_url, janus=True, sip_trunk=f"sip:{device.host_port}", sip_ring_seconds=6
        ) as (base, app),
    ):
        yield PhoneServer(base, app, device)


@pytest.fixture(scope="module")
def singer(playwright_driver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    launched = chromium_with_tone(playwright_driver, tmp_path_factory.mktemp("audio"), ROOM_TONE)
    yield launched
    launched.close()


def _dial_outs(server: PhoneServer, token: str, conference_id: int) -> list[dict[str, Any]]:
    answer = server.iotum("conference/fetch", token, conference_id=conference_id, output="detail")
    assert answer.status_code == 200, answer.text
    dial_outs: list[dict[str, Any]] = answer.json()["dial_outs"]
    return dial_outs


def _status(server: PhoneServer, token: str, conference_id: int, index: int = -1) -> str:
    return str(_dial_outs(server, token, conference_id)[index]["dialout_status"])


def _dial(server: PhoneServer, token: str, conference_id: int, number: str = NUMBER, **more: Any) -> None:
    answer = server.iotum(
        "conference/dial_number",
        token,
        conference_id=conference_id,
        country_code="US",
        phone_number=number,
        **more,
    )
    assert answer.json() == {"dialout_status": "new"}, answer.text


def _gateways(keeper: Any, name: str) -> list[Any]:
    """The calls to ``name`` the server's keeper runs (it may also be placing calls that other tests
    left in the shared database)."""
    return [c for c in keeper.calls.values() if c.call.phone_spec.display.endswith(" " + name)]


def _hearing(keeper: Any) -> None:
    """Wait until a call in progress has its media path up: a key the callee presses before it is
    lost (Janus drops it), as on any phone line whose voice has not started."""

    def up(call: Any) -> bool:
        kinds = {e.get("event") for e in call.call.events}
        return "connected" in kinds and not kinds & {"ended", "failed"}

    wait_until(lambda: any(up(c) for c in keeper.calls.values()), 20, "the media path up")


def test_a_phone_dialled_into_a_room_hears_it_and_is_heard(
    server: PhoneServer, app_client: TestClient, singer: Any, tmp_path: Path
) -> None:
    host, token = sip_host(app_client)
    conference = server.iotum(
        "conference/create/reservationless", token, host_id=host, subject="Phones"
    ).json()
    conference_id = conference["conference_id"]
    context = singer.new_context()
    try:
        page = context.new_page()
        page.goto(f"{conference['room_url']}?moderator_token={conference['moderator_token']}")
        page.fill("#display-name", "Mona")
        page.click("#join")
        page.wait_for_selector("#room:not([hidden])")

        keeper = server.app.state.phone_keeper
        if _gateways(keeper, "Pat"):  # an earlier attempt's call, still up: it would be taken for this one
            with contextlib.suppress(AssertionError):
                server.phone.hang_up()
            wait_until(lambda: not _gateways(keeper, "Pat"), 20, "the earlier call to Pat over")
        _dial(server, token, conference_id, name="Pat", invitation_text="Mona invites you to the phone test.")
        seen = set()

        def answered() -> bool:
            seen.add(_status(server, token, conference_id))
            return "answered" in seen

        wait_until(answered, 20, "the call answered")
        assert {"new", "ringing"} & seen or "answered" in seen
        (running,) = _gateways(keeper, "Pat")
        # The invitation and its instructions take about ten seconds; pressing one joins at once.
        _hearing(keeper)
        server.phone.send_digits("1")
        wait_until(
            lambda: any(e.get("event") == "joined" for e in running.call.events),
            5,
            "in the room on pressing one",
        )
        # What the phone heard so far: the invitation (cut short by the key).
        heard_before = samples_heard(server.phone)

        # The room hears the phone (its speech), the phone hears the room (its steady tone).
        wait_until(lambda: phone_level(page, "Pat") > 0.01, 20, "the phone's voice on the room page")
        heard = phone_hears_the_room(server.phone, running.call, page, after_samples=heard_before)
        samples, rate = wav_samples(heard)
        assert abs(dominant_frequency(heard, skip_seconds=len(samples) / rate - 3) - ROOM_TONE) < 15

        # It is a participant of the meeting: a CDR with its number, and one of the host's calls.
        detail = server.iotum("conference/fetch", token, conference_id=conference_id, output="detail").json()
        phones = [p for p in detail["participants"] if p["name"] == "Pat"]
        assert phones and phones[0]["live_cdrs"][0]["ani"] == NUMBER
        assert phones[0]["live_cdrs"][0]["is_internet?"] is False
        active = server.iotum("host/active_calls", token, host_id=host).json()
        assert [d["name"] for call in active for d in call["dial_outs"]] == ["Pat"]

        # The moderator sees the call in the people panel, mutes it (the room stops hearing the
        # phone), lets it through again, and hangs it up.
        if page.locator("#people-panel").is_hidden():
            page.click("#toggle-people")
        row = page.locator("#people li.phone")
        wait_until(lambda: "Pat (phone, answered)" in row.inner_text(), 10, "the phone in the people panel")
        page.click("#people li.phone button.phone-mute")
        wait_until(lambda: row.locator("button.phone-unmute").count() == 1, 10, "muted in the panel")
        wait_until(lambda: phone_level(page, "Pat") < 0.001, 15, "the phone's voice stopped")
        page.click("#people li.phone button.phone-unmute")
        wait_until(lambda: phone_level(page, "Pat") > 0.01, 15, "the phone's voice back")
        page.click("#people li.phone button.phone-hangup")
        try:
            wait_until(lambda: _status(server, token, conference_id) == "ended", 20, "the call ended")
        except AssertionError:
            print("CALLS", {k: (c.call.events, c.hanging_up) for k, c in keeper.calls.items()})
            print("DIAL OUTS", _dial_outs(server, token, conference_id))
            raise
        wait_until(lambda: row.count() == 0, 10, "the call gone from the panel")
        assert "CALL_CLOSED" in [e.get("type") for e in server.phone.events()]
        (call,) = _dial_outs(server, token, conference_id)
        assert call["phone_number"] == NUMBER and call["answered_at"] and call["ended_at"]
        wait_until(lambda: not _gateways(keeper, "Pat"), 10, "the gateway gone")
        detail = server.iotum("conference/fetch", token, conference_id=conference_id, output="detail").json()
        cdr = next(p for p in detail["participants"] if p["name"] == "Pat")["live_cdrs"][0]
        assert cdr["end_time"] is not None
    finally:
        context.close()


def test_refused_unknown_ended_and_unreachable_calls(server: PhoneServer, app_client: TestClient) -> None:
    host, token = sip_host(app_client)
    conference_id = server.iotum("conference/create/reservationless", token, host_id=host).json()[
        "conference_id"
    ]
    device = server.phone
    keeper = server.app.state.phone_keeper

    # The phone refuses (a 486): busy.
    device.answer_mode("manual")
    before = len(device.events())
    _dial(server, token, conference_id)
    device.wait_event("CALL_INCOMING", 20, after=before)
    device.hang_up()
    wait_until(lambda: _status(server, token, conference_id, 0) == "busy", 20, "busy")
    assert _dial_outs(server, token, conference_id)[0]["reason"].startswith("486")

    # Nobody answers within the ring time (6 s here): no_answer.
    _dial(server, token, conference_id)
    wait_until(lambda: _status(server, token, conference_id, 1) == "no_answer", 30, "no_answer")
    device.answer_mode("auto")

    # A number the far end does not know: failed, with the SIP reason.
    _dial(server, token, conference_id, number="15550000000")
    wait_until(lambda: _status(server, token, conference_id, 2) == "failed", 20, "failed")
    assert _dial_outs(server, token, conference_id)[2]["reason"].startswith("404")

    # The phone hangs up: ended.
    _dial(server, token, conference_id)
    wait_until(lambda: _status(server, token, conference_id, 3) == "answered", 20, "answered")
    device.hang_up()
    wait_until(lambda: _status(server, token, conference_id, 3) == "ended", 20, "ended by the phone")

    # The callee declines with a key (the invitation's instructions: "press two"): ended, and why.
    _dial(server, token, conference_id)
    wait_until(lambda: _status(server, token, conference_id, 4) == "answered", 20, "answered")
    _hearing(keeper)
    device.send_digits("2")
    wait_until(lambda: _status(server, token, conference_id, 4) == "ended", 20, "declined")
    assert "Declined" in _dial_outs(server, token, conference_id)[4]["reason"]

    # The meeting ends during a call: the call is hung up.
    _dial(server, token, conference_id)
    wait_until(lambda: _status(server, token, conference_id, 5) == "answered", 20, "answered")
    assert server.iotum("conference/end", token, conference_id=conference_id).status_code == 200
    wait_until(
        lambda: _status(server, token, conference_id, 5) == "ended", 20, "hung up by the meeting's end"
    )
    wait_until(lambda: not _gateways(keeper, NUMBER), 15, "the gateway gone")
    assert (
        server.iotum(
            "conference/dial_number",
            token,
            conference_id=conference_id,
            country_code="US",
            phone_number=NUMBER,
        ).status_code
        == 409
    )  # the meeting is over

    # The trunk is down (nothing answers at its address): failed at once, with the reason.
    later = server.iotum("conference/create/reservationless", token, host_id=host).json()["conference_id"]
    device.close()
    _dial(server, token, later)
    wait_until(lambda: _status(server, token, later, 0) == "failed", 30, "failed with the trunk down")
    (down,) = _dial_outs(server, token, later)
    assert down["reason"] and down["answered_at"] is None and down["ended_at"], down
    print("trunk down:", down["reason"])
