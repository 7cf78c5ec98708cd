"""Dial-in, end to end (issue #16, ADR 0014): a real SIP user agent calls in through the SIP front.

A server with its own Janus (SIP plugin loaded) and its SIP front (a Kamailio it starts on
``PODIUM_SIP_LISTEN``); ``baresip`` on loopback is the caller, sending its keys as RFC 4733 events.

- A call to the host's SIP URI reaches the host's room, where a Chromium moderator plays a tone; the
  caller types the host's moderator PIN and is in the room as a moderator: the room hears the
  phone, the phone hears the room, it is a CDR with its number as ``ani`` and a phone in the room's
  people panel; the phone hangs up and the call is over everywhere.
- A call to the dial-in number is asked for the access code, then for the conference's security
  PIN: a wrong PIN is refused (and counted by the guard), the right one lets the caller in as a
  guest; the meeting records, and its recording holds the caller's voice; the meeting's end hangs
  the caller up.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from podium.domain.guard.targets import security_pin
from podium.models.activity import Attendance
from podium.models.guard import GuardCounter
from podium.models.phone_leg import PhoneLeg
from podium.rooms.phone.front import SipFront
from tests.e2e.test_metrics import scrape, value
from tests.e2e.test_recordings_browser import _mean_volume, _probe
from tests.fixtures.browser import chromium_with_tone, served
from tests.fixtures.media import server_transcoder_running
from tests.fixtures.phone import (
    dominant_frequency,
    free_sip_port,
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

pytestmark = [
    *MARKS,
    pytest.mark.skipif(not SipFront.available(), reason="kamailio is missing"),
]

CALLER = "15557654321"
ROOM_TONE = 330
PHONE = "\N{TELEPHONE RECEIVER}"  # how the room names a phone's feed
DIALIN_NUMBER = "15555550100"  # the dial-in number tests/conftest configures
RECORDED_SECONDS = 8


@pytest.fixture(scope="module")
def server(
    data_dir: Path, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PhoneServer]:
    folder = tmp_path_factory.mktemp("dialin")
    front = f"127.0.0.1:{free_sip_port()}"
    with (
        phone(folder, speech="Hello, this is the caller speaking. " * 3, user=f"+{CALLER}") as device,
        served(data_dir, database_url, janus=True, sip_listen=front, sip_domain="podium.test") as (base, app),
    ):
        keeper = app.state.phone_keeper
        wait_until(
            lambda: (
                keeper.armed is not None and any(e.get("event") == "armed" for e in keeper.armed.call.events)
            ),
            40,
            "a dial-in gateway registered at the front",
        )
        yield PhoneServer(base, app, device, front)


@pytest.fixture(scope="module")
def singer(playwright_driver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    launched = chromium_with_tone(playwright_driver, tmp_path_factory.mktemp("audio"), ROOM_TONE)
    yield launched
    launched.close()


def _in_room(server: PhoneServer, token: str, conference_id: int) -> list[dict[str, Any]]:
    detail = server.iotum("conference/fetch", token, conference_id=conference_id, output="detail").json()
    return [p for p in detail["participants"] if any(c.get("ani") == CALLER for c in p.get("live_cdrs", []))]


def _role(server: PhoneServer, leg_id: int) -> tuple[str, str]:
    """The caller's role on its call's row and on its attendance (what the room and CDRs go by)."""
    with server.app.state.sessions() as session:
        leg = session.get(PhoneLeg, leg_id)
        assert leg is not None and leg.direction == "in" and leg.attendance_id is not None
        attendance = session.get(Attendance, leg.attendance_id)
        assert attendance is not None and attendance.via == "phone"
        return leg.role, attendance.role


def _call(server: PhoneServer, user: str) -> int:
    """baresip dials ``user`` at the front (after any call an earlier failed test left hangs up); the
    index of its events where the call starts."""
    _no_call_left(server)
    before = len(server.phone.events())
    server.phone.dial(f"sip:{user}@{server.front}")
    server.phone.wait_event("CALL_ESTABLISHED", 20, after=before)
    return before


def _no_call_left(server: PhoneServer) -> None:
    """Hang up what a failed test left behind: its call would be taken for the next test's."""
    keeper = server.app.state.phone_keeper
    if keeper.callers or keeper.calls:
        with contextlib.suppress(AssertionError):
            server.phone.hang_up()
        wait_until(lambda: not keeper.callers and not keeper.calls, 20, "the last test's call over")


def _caller(server: PhoneServer) -> Any:
    """The call the keeper is walking through the prompts, once the caller can hear it: keys pressed
    before the media path is up are lost (Janus drops them), as they would be on any phone line."""
    keeper = server.app.state.phone_keeper
    wait_until(lambda: keeper.callers, 10, "the call in the keeper's lobby")
    caller = keeper.callers[-1]
    wait_until(
        lambda: any(e.get("event") == "connected" for e in caller.call.events), 20, "the media path up"
    )
    return caller


def test_the_host_dials_its_sip_uri_and_joins_as_moderator(
    server: PhoneServer, app_client: TestClient, singer: Any
) -> None:
    host, token = sip_host(app_client)
    fetched = server.iotum("host/fetch", token, host_id=host).json()
    user = fetched["sip_uri"].removeprefix("sip:").split("@")[0]
    assert user == f"{fetched['access_code']['number']}-0"
    conference = server.iotum("conference/create/reservationless", token, host_id=host).json()
    conference_id = conference["conference_id"]
    context = singer.new_context()
    try:
        page = context.new_page()
        page.goto(f"{conference['room_url']}?moderator_token={conference['moderator_token']}")
        page.fill("#display-name", "Mona")
        page.click("#join")
        page.wait_for_selector("#room:not([hidden])")

        _call(server, user)
        caller = _caller(server)
        wait_until(lambda: caller.lobby is not None and caller.lobby.asking == "host", 10, "asked if host")
        server.phone.send_digits(f"{fetched['moderator_pin']['number']}#")
        keeper = server.app.state.phone_keeper
        wait_until(lambda: caller not in keeper.callers, 15, "admitted")
        (leg_id,) = [k for k, c in keeper.calls.items() if c.call is caller.call]
        wait_until(lambda: any(e.get("event") == "joined" for e in caller.call.events), 30, "in the room")
        # What the caller heard so far: prompts (how long they last depends on the machine's load).
        heard_before = samples_heard(server.phone)

        # The room hears the caller, the caller hears the room's tone.
        wait_until(lambda: phone_level(page, PHONE) > 0.01, 20, "the caller's voice on the room page")
        heard = phone_hears_the_room(server.phone, caller.call, page, after_samples=heard_before)
        samples, rate = wav_samples(heard)
        assert abs(dominant_frequency(heard, skip_seconds=len(samples) / rate - 3) - ROOM_TONE) < 15

        # A moderator of the meeting, with its number as ani; a phone in the people panel.
        (attendee,) = _in_room(server, token, conference_id)
        cdr = attendee["live_cdrs"][0]
        assert cdr["is_internet?"] is False and cdr["end_time"] is None
        assert _role(server, leg_id) == ("moderator", "moderator")
        if page.locator("#people-panel").is_hidden():
            page.click("#toggle-people")
        row = page.locator("#people li.phone")
        wait_until(lambda: "(phone, answered)" in row.inner_text(), 10, "the caller in the people panel")
        # /metrics counts it among the calls in progress.
        assert value(scrape(server.base), "podium_phone_calls", direction="in") >= 1
        # Not a dial-out: Iotum's dial_outs lists only the calls the meeting placed.
        detail = server.iotum("conference/fetch", token, conference_id=conference_id, output="detail").json()
        assert detail["dial_outs"] == []

        # The caller hangs up: the call is over everywhere.
        server.phone.hang_up()
        wait_until(lambda: leg_id not in keeper.calls, 20, "the call over")
        wait_until(lambda: row.count() == 0, 10, "gone from the panel")
        (attendee,) = _in_room(server, token, conference_id)
        assert attendee["live_cdrs"][0]["end_time"] is not None
    finally:
        context.close()


def test_a_caller_on_the_dialin_number_gives_the_code_then_the_pin(
    server: PhoneServer, app_client: TestClient, tmp_path: Path
) -> None:
    host, token = sip_host(app_client)
    created = server.iotum(
        "conference/create/reservationless",
        token,
        host_id=host,
        one_time_access_code=True,
        security_pin="4321",
        auto_record="audio",
    ).json()
    code, conference_id = str(created["one_time_access_code"]), created["conference_id"]

    _call(server, f"+{DIALIN_NUMBER}")
    caller = _caller(server)
    wait_until(lambda: caller.lobby is not None and caller.lobby.asking == "code", 10, "asked for the code")
    server.phone.send_digits(f"{code}#")
    wait_until(lambda: caller.lobby is not None and caller.lobby.asking == "pin", 15, "asked for the PIN")

    # A wrong PIN: refused, asked again, and counted against the conference's PIN like the web form's.
    server.phone.send_digits("9999#")
    wait_until(lambda: caller.lobby is not None and caller.lobby.tries == 1, 15, "a wrong PIN refused")
    with server.app.state.sessions() as session:
        counter = session.scalar(select(GuardCounter).where(GuardCounter.key == security_pin(code).key))
        assert counter is not None and counter.failures == 1, "the wrong PIN counted by the guard"
    keeper = server.app.state.phone_keeper
    assert caller in keeper.callers  # still outside the room

    server.phone.send_digits("4321#")
    wait_until(lambda: caller not in keeper.callers, 15, "admitted with the right PIN")
    wait_until(lambda: any(e.get("event") == "joined" for e in caller.call.events), 30, "in the room")
    wait_until(lambda: _in_room(server, token, conference_id), 10, "a participant of the meeting")
    (leg_id,) = [k for k, c in keeper.calls.items() if c.call is caller.call]
    assert _role(server, leg_id) == ("guest", "guest")

    time.sleep(RECORDED_SECONDS)  # the caller speaks, alone in the recorded meeting

    # The meeting's end hangs the caller up.
    assert server.iotum("conference/end", token, conference_id=conference_id).status_code == 200
    wait_until(lambda: caller.call.events and caller.call.events[-1].get("event") == "ended", 20, "hung up")
    server.phone.wait_event("CALL_CLOSED", 10)

    # The recording holds the caller's voice: the phone is a publisher of the room like anyone.
    def published() -> dict[str, Any] | None:
        answer = server.iotum("conference/fetch", token, conference_id=conference_id, output="detail")
        recordings = answer.json()["recordings"]
        return recordings[0] if recordings and recordings[0]["publishing_state"] == "published" else None

    with server_transcoder_running(server.app):
        recording = wait_until(published, 120, "the recording published")
    audio = tmp_path / "recording"
    audio.write_bytes(httpx.get(recording["download_link"], timeout=30).content)
    assert float(_probe(audio)["format"]["duration"]) > RECORDED_SECONDS / 2
    assert _mean_volume(audio) > -45, "the caller's voice in the recording"


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is missing")
def test_keys_sent_as_sip_info_are_heard(server: PhoneServer, app_client: TestClient, tmp_path: Path) -> None:
    """A caller whose phone sends its keys as SIP INFO (application/dtmf-relay, not RFC 4733): SIPp
    dials the host's SIP URI and, three seconds in, presses the pound key by INFO, which lets it in
    as a guest (holding would take the prompt's seven seconds and six more; SIPp hangs up at eight)."""
    host, token = sip_host(app_client)
    user = (
        server.iotum("host/fetch", token, host_id=host).json()["sip_uri"].removeprefix("sip:").split("@")[0]
    )
    scenario = Path(__file__).parent.parent / "fixtures" / "sipp" / "info_keys.xml"
    keeper = server.app.state.phone_keeper
    heard: list[str] = []
    _no_call_left(server)

    def keys() -> list[str]:
        for running in [*keeper.callers, *keeper.calls.values()]:
            heard[:] = [str(e["digit"]) for e in running.call.events if e.get("event") == "dtmf"] or heard
        return heard

    with subprocess.Popen(
        [
            "sipp",
            server.front,
            "-sf",
            str(scenario),
            "-s",
            user,
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-p",
            str(free_sip_port()),
            "-mp",
            str(free_sip_port()),
            "-key",
            "key",
            "#",
            "-d",
            "3000",
            "-timeout",
            "40s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-error_file",
            str(tmp_path / "sipp-errors.log"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    ) as sipp:
        wait_until(keys, 20, "the pound key sent by SIP INFO")
        out, _ = sipp.communicate(timeout=40)
    errors = (tmp_path / "sipp-errors.log").read_text() if (tmp_path / "sipp-errors.log").exists() else ""
    assert sipp.returncode == 0, f"{out[-2000:]}\n{errors[-2000:]}"
    assert heard == ["#"]

    def legs() -> list[PhoneLeg]:
        with server.app.state.sessions() as session:
            found = select(PhoneLeg).where(
                PhoneLeg.direction == "in", PhoneLeg.caller_uri.contains("+15550009999")
            )
            return list(session.scalars(found))

    wait_until(lambda: [leg.status for leg in legs()] == ["ended"], 10, "the call over")
    (leg,) = legs()
    assert leg.role == "guest" and leg.attendance_id is not None, "the caller was in the room, a guest"
