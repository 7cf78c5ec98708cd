"""Reports from recorded attendance; drive files through signed URLs; chat system messages."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfWriter

from podium.domain.attendance.service import AttendanceService
from podium.domain.chat.service import ChatService
from podium.kit.clock import clock, utcnow
from podium.models.conference import Conference
from podium.models.participant import Participant
from tests.fixtures.iotum import World, api, build_world


@pytest.fixture(scope="module")
def world(app_client: TestClient) -> Iterator[World]:
    world = build_world(app_client)
    world.subscribe(world.company_id, "large_plan")
    yield world


def _attend(
    world: World,
    conference_id: int,
    *,
    name: str,
    email: str,
    joined: datetime,
    left: datetime | None,
    host_id: int | None = None,
    via: str = "web",
    caller: str | None = None,
) -> int:
    with world.sessions() as session:
        conference = session.get(Conference, conference_id)
        participant = session.query(Participant).filter_by(conference_id=conference_id, email=email).first()
        service = AttendanceService(session)
        attendance = service.record_join(
            conference,
            participant=participant,
            host_id=host_id,
            name=name,
            email=email,
            via=via,
            caller=caller,
            at=joined,
        )
        if left is not None:
            service.record_leave(attendance.id, left)
        session.commit()
        return attendance.id


def test_reports_come_from_attendance(client: TestClient, world: World) -> None:
    host = world.new_host(world.company_id, plan_slug="large_plan", name="Rita Reporter")
    ra = world.home.ra
    start = (utcnow() - timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
    conference = api(
        client,
        "conference/create",
        ra,
        host_id=host,
        subject="Review",
        time_zone="UTC",
        start=start.strftime("%Y-%m-%d %H:%M:%S"),
        duration=60,
        participant_emails=[{"email": "ann@example.com"}, {"email": "bo@example.com"}],
    ).json()
    cid = conference["conference_id"]
    host_email = api(client, "host/fetch", ra, host_id=host).json()["email"]
    _attend(
        world,
        cid,
        name="Rita Reporter",
        email=host_email,
        host_id=host,
        joined=start,
        left=start + timedelta(minutes=30),
    )
    _attend(
        world,
        cid,
        name="Ann",
        email="ann@example.com",
        joined=start + timedelta(minutes=5),
        left=start + timedelta(minutes=20, seconds=10),
    )
    _attend(
        world,
        cid,
        name="Bo",
        email="bo@example.com",
        joined=start + timedelta(minutes=1),
        left=start + timedelta(minutes=11),
        via="phone",
        caller="+15551236789",
    )
    # Its hour is over and nobody is in: it is no longer active.
    assert api(client, "conference/end", ra, conference_id=cid).status_code == 409
    summary = api(client, "host/conferences", ra, host_id=host, time_zone="Europe/Paris").json()
    assert summary == [
        {
            "conference_id": cid,
            "start_time": (start + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),  # CET
            "end_time": (start + timedelta(hours=1, minutes=30)).strftime("%Y-%m-%d %H:%M:%S"),
            "total_participants": 3,
            "total_participant_minutes": 30 + 16 + 10,
            "meeting_summary_url": f"http://podium.test/conf/summary/{cid}",
        }
    ]
    day = start.date()
    assert (
        api(client, "host/conferences", ra, host_id=host, start_date=str(day + timedelta(days=1))).json()
        == []
    )
    assert (
        len(api(client, "host/conferences", ra, host_id=host, start_date=str(day), end_date=str(day)).json())
        == 1
    )
    detail = api(client, "host/conferences", ra, host_id=host, output="detail").json()[0]
    assert (detail["subject"], detail["invited_count"], detail["attended_count"]) == ("Review", 3, 3)
    assert detail["day"] == start.strftime("%A")
    cdrs = api(client, "host/cdrs", ra, host_id=host, conference_id=cid).json()
    assert [(c["participant_name"], c["minutes"], c["from"]) for c in cdrs] == [
        ("Rita Reporter", 30, None),
        ("Bo", 10, "+15551236789"),
        ("Ann", 16, None),
    ]
    assert (
        cdrs[0]["host_name"] == "Rita Reporter" and cdrs[0]["to"] == conference["room_url"].rsplit("/", 1)[1]
    )
    assert api(client, "host/active_calls", ra, host_id=host).json() == []
    bad = api(client, "host/conferences", ra, host_id=host, start_date="yesterday")
    assert bad.status_code == 422


def test_active_calls_and_live_status(client: TestClient, world: World) -> None:
    host = world.new_host(world.company_id, plan_slug="large_plan")
    ra = world.home.ra
    live = api(client, "conference/create/reservationless", ra, host_id=host).json()
    email = api(client, "host/fetch", ra, host_id=host).json()["email"]
    _attend(world, live["conference_id"], name="Me", email=email, host_id=host, joined=utcnow(), left=None)
    calls = api(client, "host/active_calls", ra, host_id=host, time_zone="UTC").json()
    assert [c["conference_id"] for c in calls] == [live["conference_id"]]
    # Long after its scheduled hour, a conference with someone in it is still active.
    clock.freeze(utcnow() + timedelta(hours=5))
    world.home.ra = ra = api(client, "authenticate", api_token=world.home.ra_api_token).json()["auth_token"]
    assert api(client, "conference/fetch", ra, conference_id=live["conference_id"]).json()["active"] is True
    api(client, "conference/end", ra, conference_id=live["conference_id"])
    assert api(client, "host/active_calls", ra, host_id=host).json() == []
    cdr = api(client, "host/cdrs", ra, host_id=host).json()
    assert cdr[0]["end_time"] is not None and cdr[0]["minutes"] in (300, 301)  # a started minute counts


def test_host_conferences_pages(client: TestClient, world: World) -> None:
    host = world.new_host(world.company_id, plan_slug="large_plan")
    ra = world.home.ra
    base = utcnow() - timedelta(days=30)
    for day in range(12):
        api(
            client,
            "conference/create",
            ra,
            host_id=host,
            subject=f"Past {day}",
            time_zone="UTC",
            duration=30,
            start=(base + timedelta(days=day)).strftime("%Y-%m-%d %H:%M:%S"),
        )
    first = api(client, "host/conferences", ra, host_id=host)
    assert isinstance(first.json(), list) and len(first.json()) == 10
    assert first.headers["x-next-page"] == "2" and 'rel="next"' in first.headers["link"]
    second = api(client, "host/conferences", ra, host_id=host, page=2)
    assert len(second.json()) == 2 and "x-next-page" not in second.headers
    detail = api(client, "host/conferences", ra, host_id=host, output="detail")
    assert isinstance(detail.json(), list) and detail.headers["x-next-page"] == "2"


# --- drive -------------------------------------------------------------------------------------


def _pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d3c4a50000000049454e44ae426082"
)


@pytest.mark.parametrize(
    ("filename", "content", "mimetype", "status", "pages"),
    [
        ("deck.pdf", _pdf(3), "application/pdf", "ready", 3),
        ("photo.png", PNG, "image/png", "ready", 1),
        ("notes.txt", b"hello drive", "application/octet-stream", "unsupported", None),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf", "failed", None),
    ],
)
def test_drive_upload_flow(
    client: TestClient,
    world: World,
    filename: str,
    content: bytes,
    mimetype: str,
    status: str,
    pages: int | None,
) -> None:
    host = world.new_host(world.company_id)
    created = api(client, "drive/create", world.ca, host_id=host, filename=filename).json()
    upload = created["upload_url"].removeprefix("http://podium.test")
    assert client.put(upload, content=content).status_code == 200
    finished = api(client, "drive/file/finish_upload", world.ca, host_id=host, id=created["id"])
    assert finished.status_code == 200, finished.text
    body = finished.json()
    assert (
        body["filename"],
        body["size"],
        body["mimetype"],
        body["presentation_status"],
        body["page_count"],
    ) == (filename, len(content), mimetype, status, pages)
    again = api(client, "drive/file/finish_upload", world.ca, host_id=host, id=created["id"])
    assert (again.status_code, again.json()["message"]) == (409, "The file has already been processed")
    assert client.put(upload, content=b"overwrite").status_code == 409
    fetched = api(client, "drive/file/fetch", world.ca, host_id=host, id=created["id"]).json()
    download = client.get(fetched["download_link"].removeprefix("http://podium.test"))
    assert download.status_code == 200 and download.content == content
    listing = api(client, "drive/fetch_all", world.ca, host_id=host).json()
    assert listing["files"][0]["id"] == created["id"]
    assert (listing["total_pages"], listing["current_page"], listing["next_page"]) == (1, 1, None)
    deleted = api(client, "drive/file/delete", world.ca, host_id=host, id=created["id"])
    assert deleted.status_code == 204 and deleted.content == b""
    assert api(client, "drive/file/fetch", world.ca, host_id=host, id=created["id"]).status_code == 404
    assert client.get(fetched["download_link"].removeprefix("http://podium.test")).status_code == 404


def test_drive_links_are_signed_and_limited(
    client: TestClient, world: World, data_dir: object, database_url: str
) -> None:
    host = world.new_host(world.company_id)
    created = api(client, "drive/create", world.ca, host_id=host, filename="../../etc/passwd").json()
    upload = created["upload_url"].removeprefix("http://podium.test")
    tampered = upload[:-3] + ("AAA" if not upload.endswith("AAA") else "BBB")
    assert client.put(tampered, content=b"x").status_code == 403
    other = api(client, "drive/create", world.ca, host_id=host, filename="b.bin").json()
    swapped = upload.replace(f"/drive/upload/{created['id']}?", f"/drive/upload/{other['id']}?")
    assert client.put(swapped, content=b"x").status_code == 404
    nothing = api(client, "drive/file/finish_upload", world.ca, host_id=host, id=created["id"])
    assert nothing.status_code == 422
    clock.freeze(utcnow() + timedelta(hours=2))
    assert client.put(upload, content=b"late").status_code == 410
    clock.freeze(None)
    fetched = api(client, "drive/file/fetch", world.ca, host_id=host, id=created["id"]).json()
    assert fetched["filename"] == ".._.._etc_passwd"
    from podium.app import create_app
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(data_dir, database_url, drive_max_bytes=10))) as small:
        big = api(small, "drive/create", world.ca, host_id=host, filename="big.bin").json()
        assert (
            small.put(big["upload_url"].removeprefix("http://podium.test"), content=b"x" * 11).status_code
            == 413
        )


def test_drive_pages_of_twenty(client: TestClient, world: World) -> None:
    host = world.new_host(world.company_id)
    for index in range(21):
        created = api(client, "drive/create", world.ca, host_id=host, filename=f"f{index}.txt").json()
        client.put(created["upload_url"].removeprefix("http://podium.test"), content=b"x")
        api(client, "drive/file/finish_upload", world.ca, host_id=host, id=created["id"])
    first = api(client, "drive/fetch_all", world.ca, host_id=host).json()
    assert (len(first["files"]), first["total_pages"], first["next_page"]) == (20, 2, 2)
    second = api(client, "drive/fetch_all", world.ca, host_id=host, page=2).json()
    assert (len(second["files"]), second["current_page"], second["next_page"]) == (1, 2, None)


# --- chat --------------------------------------------------------------------------------------


def test_chat_system_messages(client: TestClient, world: World) -> None:
    with world.sessions() as session:
        chat = ChatService(session)
        channel = chat.create_room(world.company_id, "channel", slug="general", name="General")
        dm = chat.create_room(world.company_id, "dm")
        session.commit()
        channel_id, dm_id = channel.id, dm.id
    ra = world.home.ra
    assert api(
        client, "chat/create", ra, company_id=world.company_id, slug="general", message="Maintenance tonight"
    ).json() == {"message": "OK"}
    assert api(
        client, "chat/create", ra, company_id=world.company_id, id=dm_id, message="Hi there"
    ).json() == {"message": "OK"}
    read = api(client, "chat/fetch", ra, company_id=world.company_id, slug="general").json()
    assert read["id"] == channel_id
    assert [(m["sender"], m["content"]) for m in read["messages"]] == [("System", "Maintenance tonight")]
    assert (
        api(client, "chat/create", ra, company_id=world.company_id, slug="nope", message="x").status_code
        == 404
    )
    assert (
        api(client, "chat/create", ra, company_id=world.company_id, id=channel_id, message="x").status_code
        == 404
    )
    assert (
        api(client, "chat/create", ra, company_id=world.company_id, slug="general", message=" ").status_code
        == 422
    )
    assert (
        api(
            client, "chat/create", world.ca, company_id=world.company_id, slug="general", message="x"
        ).status_code
        == 403
    )  # ResellerAdmin only
    foreign = api(
        client, "chat/create", world.foreign.ra, company_id=world.company_id, slug="general", message="x"
    )
    assert foreign.status_code == 403


def test_meeting_summary_page(client: TestClient, world: World) -> None:
    from tests.fixtures.iotum import PASSWORD

    email = f"summary-{utcnow().timestamp():.0f}@example.com"
    host = world.new_host(world.company_id, plan_slug="large_plan", email=email, password=PASSWORD)
    live = api(client, "conference/create/reservationless", world.ca, host_id=host, subject="Retro").json()
    _attend(world, live["conference_id"], name="Ann", email="ann@example.com", joined=utcnow(), left=None)
    api(
        client, "conference/message/create", world.ca, conference_id=live["conference_id"], message="Welcome!"
    )
    api(client, "conference/end", world.ca, conference_id=live["conference_id"])
    url = api(client, "host/conferences", world.ca, host_id=host).json()[0]["meeting_summary_url"]
    path = url.removeprefix("http://podium.test")
    assert client.get(path, follow_redirects=False).status_code == 303  # sign in first
    client.post("/login", data={"email": email, "password": PASSWORD, "next": path})
    page = client.get(path)
    assert page.status_code == 200
    assert 'id="summary-participants">1</strong>' in page.text and "Welcome!" in page.text
    other = world.new_host(world.company_id, email=f"o-{email}", password=PASSWORD)
    client.post("/logout")
    client.post("/login", data={"email": f"o-{email}", "password": PASSWORD, "next": "/account"})
    assert client.get(path).status_code == 403  # a plain host sees only its own
    assert other
