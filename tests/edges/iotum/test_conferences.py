"""Iotum conferences: scheduling, reservationless, update, fetch (detail), fetch_all paging, cancel,
end, participants, feature errors word for word, series, access-code life cycle, room URLs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podium.domain.subscriptions.service import SubscriptionService
from podium.kit.clock import clock, utcnow
from podium.models.audit import AuditEntry
from podium.models.subscription import Pricing
from tests.fixtures.iotum import World, api, build_world

BASE = "http://podium.test"


@dataclass
class Setup:
    world: World
    large: int  # host on large_plan: every feature
    small: int  # host on small_plan: hosting and one-time codes
    bare: int  # host on a plan that grants hosting only


@pytest.fixture(scope="module")
def setup(app_client: TestClient) -> Iterator[Setup]:
    world = build_world(app_client)
    with world.sessions() as session:
        SubscriptionService(session).create_product(
            world.home.reseller_id, slug="bare_plan", name="Bare", is_plan=True, pricing=Pricing.FLAT
        )
        session.commit()
    for slug in ("small_plan", "large_plan", "bare_plan"):
        world.subscribe(world.company_id, slug, switch_plan=None, subscribe_all_hosts=False)
    hosts = [
        world.new_host(world.company_id, plan_slug=slug, time_zone="America/Toronto")
        for slug in ("large_plan", "small_plan", "bare_plan")
    ]
    yield Setup(world, *hosts)


def _future(days: int = 10, hour: int = 13) -> str:
    day = (utcnow() + timedelta(days=days)).date()
    return f"{day.isoformat()} {hour:02d}:00:00"


def all_conferences(client: TestClient, setup: Setup, host: int) -> list[dict[str, Any]]:
    """Every page of conference/fetch_all, following X-Next-Page."""
    response = api(client, "conference/fetch_all", setup.world.home.ra, host_id=host)
    found = list(response.json())
    while "x-next-page" in response.headers:
        page = int(response.headers["x-next-page"])
        response = api(client, "conference/fetch_all", setup.world.home.ra, host_id=host, page=page)
        found.extend(response.json())
    return found


def create(client: TestClient, setup: Setup, host: int | None = None, **fields: Any) -> Any:
    body = {
        "host_id": host or setup.large,
        "subject": "Sync",
        "agenda": "Plan",
        "start": _future(),
        "time_zone": "America/Toronto",
        "duration": 60,
        **fields,
    }
    return api(client, "conference/create", setup.world.home.ra, **body)


def test_schedule_conference_fields(client: TestClient, setup: Setup) -> None:
    start = _future()
    response = create(
        client,
        setup,
        start=start,
        duration=45,
        mute_mode="q&a",
        auto_record="video",
        auto_stream="video",
        auto_transcribe=True,
        broadcast_stream_url="https://cdn.example/v.mp4",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expected_end = (datetime.fromisoformat(start) + timedelta(minutes=45)).strftime("%Y-%m-%d %H:%M:%S")
    assert (body["start"], body["end_time"], body["active"], body["duration"]) == (
        start,
        expected_end,
        False,
        45,
    )
    assert (body["mute_mode"], body["auto_record"], body["auto_transcribe"]) == ("q&a", "video", True)
    assert body["broadcast_stream_url"] == {"source": "https://cdn.example/v.mp4", "state": "NEW"}
    host = api(client, "host/fetch", setup.world.home.ra, host_id=setup.large).json()
    # Without one_time_access_code the room is the host's dedicated room.
    assert body["one_time_access_code"] is False
    assert body["room_url"] == host["meeting_url"]
    assert len(body["moderator_token"]) >= 12
    # The organiser is always a participant and a moderator.
    assert body["participants"] == body["moderators"] and len(body["participants"]) == 1
    organiser = api(
        client, "contact/fetch", setup.world.home.ra, host_id=setup.large, contact_id=body["participants"][0]
    ).json()
    assert (organiser["email"], organiser["has_host"]) == (host["email"], True)
    # Made by a reseller admin of another company, the conference belongs to the host's company.
    from podium.models.conference import Conference

    with setup.world.sessions() as session:
        stored = session.get(Conference, body["conference_id"])
        assert (
            stored is not None
            and stored.company_id == setup.world.company_id != setup.world.home.admin_company_id
        )


def test_iso_start_and_loose_types(client: TestClient, setup: Setup) -> None:
    day = (utcnow() + timedelta(days=12)).date().isoformat()
    body = create(
        client, setup, start=f"{day}T18:00:00Z", time_zone="EST", duration="30", auto_record=True
    ).json()
    assert body["start"] == f"{day} 13:00:00"  # 18:00 UTC shown in EST
    assert (body["duration"], body["auto_record"]) == (30, "video")


def test_participants_by_contact_email_and_host(client: TestClient, setup: Setup) -> None:
    world = setup.world
    contact = world.new_contact(world.company_id, setup.large)
    shared = world.new_contact(world.company_id)  # the company's shared book counts too
    colleague = api(client, "host/fetch", world.home.ra, host_id=setup.small).json()
    body = create(
        client,
        setup,
        participants=[contact, shared],
        participant_emails=[{"email": "bob@iotum.com", "moderator": True}, {"email": "alice@iotum.com"}],
        participant_hosts=[{"host_id": setup.small, "moderator": True}],
    ).json()
    assert len(body["participants"]) == 6 and len(body["moderators"]) == 3
    emails = {e["email"]: e["moderator"] for e in body["participant_emails"]}
    assert emails["bob@iotum.com"] is True and emails["alice@iotum.com"] is False
    assert emails[colleague["email"]] is True
    # Unknown emails became the host's contacts.
    book = {c["email"] for c in api(client, "contact/fetch_all", world.home.ra, host_id=setup.large).json()}
    assert {"bob@iotum.com", "alice@iotum.com"} <= book
    details = api(
        client, "conference/fetch_participant_details", world.home.ra, conference_id=body["conference_id"]
    ).json()
    assert len(details["participants"]) == 6 and len(details["moderators"]) == 3
    assert {c["email"] for c in details["moderators"]} >= {"bob@iotum.com", colleague["email"]}
    # Updating the list replaces it (the organiser stays).
    updated = api(
        client,
        "conference/update",
        world.home.ra,
        conference_id=body["conference_id"],
        participants=[contact],
    ).json()
    assert len(updated["participants"]) == 2 and updated["participants"][1] == contact


ERRORS: list[tuple[str, dict[str, Any], int, str]] = [
    ("bare", {"auto_record": "audio"}, 403, "Recording feature not enabled"),
    ("bare", {"auto_record": "video"}, 403, "Video recording feature not enabled"),
    ("bare", {"auto_transcribe": True}, 403, "Transcription feature not enabled"),
    ("bare", {"one_time_access_code": True}, 403, "One time access code feature not available"),
    ("small", {"security_pin": "1234"}, 422, "Must enable one_time_access_code to use security_pin"),
    ("large", {"participants": "2,3"}, 422, "Participants must be an array of contacts'"),
    (
        "large",
        {"participants": [10**9]},
        422,
        "Participants has one or more contact that does not exist in the host's contact list.",
    ),
    ("large", {"schedule": "FREQ=YEARLY"}, 422, "Schedule FREQ must be DAILY, WEEKLY or MONTHLY"),
    (
        "large",
        {"schedule": "FREQ=MONTHLY;BYDAY=1MO,2TU"},
        422,
        "Schedule MONTHLY BYDAY only supports one item",
    ),
    (
        "large",
        {"schedule": "FREQ=MONTHLY;BYMONTHDAY=1,2"},
        422,
        "Schedule MONTHLY BYMONTHDAY only supports one item",
    ),
    (
        "large",
        {"schedule": "FREQ=MONTHLY;BYDAY=1MO;BYMONTHDAY=2"},
        422,
        "Schedule MONTHLY supports BYDAY or BYMONTHDAY, cannot use both",
    ),
    (
        "large",
        {"schedule": "FREQ=MONTHLY;BYDAY=MO"},
        422,
        "Schedule MONTHLY BYDAY must include number and day",
    ),
    ("large", {"schedule": "FREQ=MONTHLY"}, 422, "Schedule MONTHLY must include BYDAY or BYMONTHDAY"),
    ("large", {"schedule": "FREQ=WEEKLY"}, 422, "Schedule WEEKLY must include BYDAY"),
    (
        "large",
        {"schedule": "FREQ=DAILY;BYSECOND=1"},
        422,
        "Failed to parse the schedule rule. BYSECOND is not supported.",
    ),
    ("large", {"mute_mode": "silent"}, 422, "mute_mode must be one of conversation, q&a, presentation"),
    (
        "large",
        {"time_zone": "Moon/Base"},
        422,
        "time_zone must be an IANA time zone name (e.g. Europe/London)",
    ),
    ("large", {"start": "next tuesday"}, 422, "start must be a date and time such as 2020-09-19 13:00:00"),
    ("large", {"duration": 0}, 422, "duration must be between 1 and 10080 minutes"),
    (
        "large",
        {"auto_record": "audio", "auto_stream": "video"},
        422,
        "auto_record and auto_stream must be the same when recording and streaming together",
    ),
]


@pytest.mark.parametrize(("who", "fields", "status", "message"), ERRORS)
def test_error_messages_word_for_word(
    client: TestClient, setup: Setup, who: str, fields: dict[str, Any], status: int, message: str
) -> None:
    before = all_conferences(client, setup, getattr(setup, who))
    response = create(client, setup, host=getattr(setup, who), **fields)
    assert (response.status_code, response.json()) == (status, {"message": message})
    assert all_conferences(client, setup, getattr(setup, who)) == before


def test_schedule_only_on_the_master(client: TestClient, setup: Setup) -> None:
    master = create(client, setup, schedule="FREQ=DAILY;COUNT=3").json()
    instances = [
        c
        for c in all_conferences(client, setup, setup.large)
        if c.get("master_id") == master["conference_id"] and not c["is_master"]
    ]
    response = api(
        client,
        "conference/update",
        setup.world.home.ra,
        conference_id=instances[0]["conference_id"],
        schedule="FREQ=DAILY;COUNT=5",
    )
    assert (response.status_code, response.json()["message"]) == (
        422,
        "Can only include schedule details in the master conference",
    )


def _series(client: TestClient, setup: Setup, master_id: int) -> list[dict[str, Any]]:
    return [c for c in all_conferences(client, setup, setup.large) if c.get("master_id") == master_id]


def test_recurring_series_life_cycle(client: TestClient, setup: Setup) -> None:
    ra = setup.world.home.ra
    monday = (utcnow() + timedelta(days=7 - utcnow().weekday() + 7)).date()
    master = create(
        client,
        setup,
        start=f"{monday} 09:00:00",
        schedule="FREQ=WEEKLY;COUNT=4;BYDAY=MO,WE",
        one_time_access_code=True,
        security_pin="2468",
    ).json()
    assert (master["is_master"], master["master_id"], master["schedule"]) == (
        True,
        master["conference_id"],
        "FREQ=WEEKLY;COUNT=4;BYDAY=MO,WE",
    )
    series = _series(client, setup, master["conference_id"])
    assert [c["start"][:10] for c in series] == [str(monday + timedelta(days=d)) for d in (0, 2, 7, 9)]
    assert all(c["start"][11:] == "09:00:00" for c in series)  # wall time kept in the series' zone
    assert {c["moderator_token"] for c in series} == {master["moderator_token"]}  # one token per series
    assert {c["one_time_access_code"] for c in series} == {master["one_time_access_code"]}
    assert [c["is_master"] for c in series] == [True, False, False, False]

    renamed = api(client, "conference/update", ra, conference_id=master["conference_id"], subject="Weekly")
    assert renamed.status_code == 200
    assert {c["subject"] for c in _series(client, setup, master["conference_id"])} == {"Weekly"}
    one = series[2]["conference_id"]
    alone = api(client, "conference/update", ra, conference_id=one, subject="Special")
    assert alone.json()["subject"] == "Special"
    assert [c["subject"] for c in _series(client, setup, master["conference_id"])].count("Special") == 1

    assert api(client, "conference/cancel", ra, conference_id=one).json() == {"message": "OK"}
    assert len(_series(client, setup, master["conference_id"])) == 3
    assert api(client, "conference/fetch", ra, conference_id=one).status_code == 404

    moved = api(
        client, "conference/update", ra, conference_id=master["conference_id"], schedule="FREQ=DAILY;COUNT=2"
    ).json()
    assert moved["schedule"] == "FREQ=DAILY;COUNT=2"
    assert [c["start"][:10] for c in _series(client, setup, master["conference_id"])] == [
        str(monday),
        str(monday + timedelta(days=1)),
    ]

    api(client, "conference/cancel", ra, conference_id=master["conference_id"])
    assert _series(client, setup, master["conference_id"]) == []


def test_unbounded_series_materialise_lazily_within_18_months(client: TestClient, setup: Setup) -> None:
    host = setup.world.new_host(setup.world.company_id, plan_slug="large_plan")
    master = create(
        client, setup, host=host, start=_future(1, 8), schedule="FREQ=MONTHLY;BYMONTHDAY=-3"
    ).json()

    def count() -> int:
        return len(all_conferences(client, setup, host))

    assert 17 <= count() <= 19  # about 18 months of third-to-last days
    clock.freeze(utcnow() + timedelta(days=365))
    world = setup.world
    world.home.ra = api(client, "authenticate", api_token=world.home.ra_api_token).json()["auth_token"]
    later = count()
    assert 17 <= later <= 19  # past ones dropped out of the list, new ones materialised
    starts = [
        c["start"]
        for c in api(client, "conference/fetch_all", setup.world.home.ra, host_id=host, page=2).json()
    ]
    assert starts and all(c.startswith(("20",)) for c in starts)
    assert master["schedule"] == "FREQ=MONTHLY;BYMONTHDAY=-3"


def test_fetch_all_pages_of_ten(client: TestClient, setup: Setup) -> None:
    host = setup.world.new_host(setup.world.company_id, plan_slug="large_plan")
    ids = [
        create(client, setup, host=host, start=_future(day)).json()["conference_id"] for day in range(1, 13)
    ]
    # Real clients iterate on the answer: it is an array on every page; the next page is in headers.
    first = api(client, "conference/fetch_all", setup.world.home.ra, host_id=host)
    assert [c["conference_id"] for c in first.json()] == ids[:10]
    assert first.headers["x-next-page"] == "2"
    assert first.headers["link"] == (
        '<http://podium.test/enterprise_api/conference/fetch_all?page=2>; rel="next"'
    )
    # The Link target works as given: the page travels in the query string of the same POST.
    body = {"auth_token": setup.world.home.ra, "host_id": host}
    second = client.post("/enterprise_api/conference/fetch_all?page=2", json=body)
    assert [c["conference_id"] for c in second.json()] == ids[10:]
    assert "x-next-page" not in second.headers and "link" not in second.headers
    beyond = api(client, "conference/fetch_all", setup.world.home.ra, host_id=host, page=5)
    assert beyond.status_code == 200 and beyond.json() == []
    bad = api(client, "conference/fetch_all", setup.world.home.ra, host_id=host, page=0)
    assert bad.status_code == 422 and bad.json() == {"message": "page must be 1 or more"}
    few = setup.world.new_host(setup.world.company_id, plan_slug="large_plan")
    create(client, setup, host=few)
    assert isinstance(api(client, "conference/fetch_all", setup.world.home.ra, host_id=few).json(), list)
    far = setup.world.new_host(setup.world.company_id, plan_slug="large_plan")
    create(client, setup, host=far, start=_future(600))
    assert (
        api(client, "conference/fetch_all", setup.world.home.ra, host_id=far).json() == []
    )  # beyond 18 months


def test_reservationless_end_and_media_actions(client: TestClient, setup: Setup) -> None:
    ra = setup.world.home.ra
    live = api(
        client, "conference/create/reservationless", ra, host_id=setup.small, one_time_access_code=True
    )
    assert live.status_code == 200
    body = live.json()
    conference_id = body["conference_id"]
    assert body["active"] is True and isinstance(body["one_time_access_code"], int)
    assert api(
        client, "conference/fetch_livestream_viewer_count", ra, conference_id=conference_id
    ).json() == {"count": "0"}
    # Dial-out needs the plan's SIP gateway (the small plan has none); the call itself is placed by
    # a server process with a media server (tests/e2e/test_phone_dialout.py).
    refused = api(
        client,
        "conference/dial_number",
        ra,
        conference_id=conference_id,
        country_code="CA",
        phone_number="+14165551212",
        name="Jane",
    )
    assert (refused.status_code, refused.json()) == (403, {"message": "SIP gateway feature not enabled"})
    dialer = setup.world.new_host(setup.world.company_id, plan_slug="large_plan")
    calling = api(client, "conference/create/reservationless", ra, host_id=dialer).json()["conference_id"]
    dial = {"conference_id": calling, "country_code": "CA", "name": "Jane"}
    assert api(client, "conference/dial_number", ra, **dial, phone_number="+14165551212").json() == {
        "dialout_status": "new"
    }
    bad_phone = api(client, "conference/dial_number", ra, **dial, phone_number="call me")
    assert bad_phone.status_code == 422
    assert api(
        client,
        "conference/message/create",
        ra,
        conference_id=conference_id,
        message="The webinar starts in 5 minutes",
    ).json() == {"message": "OK"}
    assert api(client, "conference/stop_streaming", ra, conference_id=conference_id).json() == {
        "message": "OK"
    }
    early = api(client, "conference/delete_recordings", ra, conference_id=conference_id)
    assert (early.status_code, early.json()["message"]) == (409, "Conference has not ended yet")
    detail = api(client, "conference/fetch", ra, conference_id=conference_id, output="detail").json()
    assert [(m["sender"], m["content"]) for m in detail["chat_messages"]] == [
        ("System", "The webinar starts in 5 minutes")
    ]
    assert api(client, "conference/end", ra, conference_id=conference_id).json() == {"message": "OK"}
    ended = api(client, "conference/fetch", ra, conference_id=conference_id).json()
    assert ended["active"] is False
    again = api(client, "conference/end", ra, conference_id=conference_id)
    assert (again.status_code, again.json()["message"]) == (409, "Conference is not active")
    assert (
        api(client, "conference/message/create", ra, conference_id=conference_id, message="x").status_code
        == 409
    )
    assert api(client, "conference/delete_recordings", ra, conference_id=conference_id).json() == {
        "message": "OK"
    }
    assert api(client, "conference/delete_transcriptions", ra, conference_id=conference_id).json() == {
        "message": "OK"
    }
    assert api(client, "conference/cancel", ra, conference_id=conference_id).status_code == 409


def test_suspended_plan_cannot_host(client: TestClient, setup: Setup) -> None:
    company_id = setup.world.new_company(setup.world.home.reseller_id)
    setup.world.subscribe(company_id, "small_plan")
    host = setup.world.new_host(company_id)
    ra = setup.world.home.ra
    running = api(client, "conference/create/reservationless", ra, host_id=host)
    assert running.status_code == 200
    api(client, "subscription/suspend", ra, company_id=company_id, slug="small_plan")
    # A conference already running ends with the plan (its room closes); nothing new starts.
    conference_id = running.json()["conference_id"]
    assert api(client, "conference/fetch", ra, conference_id=conference_id).json()["active"] is False
    assert api(client, "conference/end", ra, conference_id=conference_id).json() == {
        "message": "Conference is not active"
    }
    refused = api(client, "conference/create/reservationless", ra, host_id=host)
    assert refused.status_code == 403 and "hosting is not available" in refused.json()["message"]
    meeting_url = api(client, "host/fetch", ra, host_id=host).json()["meeting_url"]
    assert client.get(meeting_url.removeprefix(BASE)).status_code == 403


# --- room URLs and the access-code life cycle -------------------------------------------------------


def _audit(setup: Setup, action: str) -> list[AuditEntry]:
    from sqlalchemy import select

    with setup.world.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all())


def test_one_time_code_life_cycle(client: TestClient, setup: Setup) -> None:
    start = utcnow() + timedelta(hours=2)
    body = create(
        client,
        setup,
        start=start.strftime("%Y-%m-%d %H:%M:%S"),
        time_zone="UTC",
        duration=60,
        one_time_access_code=True,
    ).json()
    path = body["room_url"].removeprefix(BASE)
    assert path == f"/conf/call/{body['one_time_access_code']}"
    reused_before = len(_audit(setup, "conference.access_code_reused"))
    # Before its time: a visit makes a new instance (and reports the reuse).
    early = client.get(path)
    assert early.status_code == 200 and "Sync" in early.text
    assert len(_audit(setup, "conference.access_code_reused")) == reused_before + 1
    # During its time: the conference itself.
    clock.freeze(start + timedelta(minutes=10))
    during = client.get(path)
    assert during.status_code == 200
    assert len(_audit(setup, "conference.access_code_reused")) == reused_before + 1
    # Within 72 hours after the end: another instance.
    clock.freeze(start + timedelta(hours=1 + 71))
    assert client.get(path).status_code == 200
    assert len(_audit(setup, "conference.access_code_reused")) == reused_before + 2
    # After that the code has expired.
    clock.freeze(start + timedelta(hours=1 + 73))
    expired = client.get(path)
    assert expired.status_code == 410 and "expired" in expired.text


def test_room_url_roles_pin_and_secure_url(client: TestClient, setup: Setup) -> None:
    body = api(
        client,
        "conference/create/reservationless",
        setup.world.home.ra,
        host_id=setup.small,
        one_time_access_code=True,
        secure_url=True,
        security_pin="97531",
    ).json()
    secure = body["room_url"].removeprefix(BASE)
    assert secure.startswith("/conf/call/s/") and str(body["one_time_access_code"]) not in secure
    prompt = client.get(secure)
    assert prompt.status_code == 200 and 'id="pin"' in prompt.text and "Sync" not in prompt.text
    wrong = client.post(secure, data={"pin": "11111"})
    assert wrong.status_code == 403 and "Wrong security PIN" in wrong.text
    right = client.post(secure, data={"pin": "97531"})
    assert right.status_code == 200 and 'id="participant-role">guest</span>' in right.text
    assert 'id="display-name"' in right.text  # anonymous: asks for a name
    moderator = client.get(f"{secure}?moderator_token={body['moderator_token']}")
    assert moderator.status_code == 200 and 'id="participant-role">moderator</span>' in moderator.text
    tampered = client.get(secure[:-4] + "AAAA")
    assert tampered.status_code == 403
    assert client.get("/conf/call/000").status_code == 404
    assert client.get("/conf/call/not-a-code").status_code == 404


def test_dedicated_meeting_url_opens_a_reservationless_room(client: TestClient, setup: Setup) -> None:
    host = setup.world.new_host(setup.world.company_id, plan_slug="small_plan")
    meeting_url = api(client, "host/fetch", setup.world.home.ra, host_id=host).json()["meeting_url"]
    assert api(client, "conference/fetch_all", setup.world.home.ra, host_id=host).json() == []
    page = client.get(meeting_url.removeprefix(BASE))
    assert page.status_code == 200 and "meeting" in page.text
    live = api(client, "conference/fetch_all", setup.world.home.ra, host_id=host).json()
    assert len(live) == 1 and live[0]["active"] is True
    assert client.get(meeting_url.removeprefix(BASE)).status_code == 200
    assert (
        len(api(client, "conference/fetch_all", setup.world.home.ra, host_id=host).json()) == 1
    )  # same room
