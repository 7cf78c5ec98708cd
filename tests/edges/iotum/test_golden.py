"""Golden JSON for every Iotum endpoint, from one flow a reseller's integration would run."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.golden import assert_golden
from tests.fixtures.iotum import api, build_world

# Values that differ from run to run; their keys are kept, their values replaced.
DYNAMIC_KEYS = {
    "id",
    "host_id",
    "company_id",
    "contact_id",
    "auth_token",
    "login_token_public_key",
    "password_creation_link",
    "number",
    "hosts",
    "subscription_ids",
    "subdomain",
    "meeting_url",
    "sip_uri",
    "domain",
    "access_code",
}
_EMAIL = re.compile(r"^[a-z]+-[0-9a-f]{6,8}@example\.com$")


def normalise(value: Any, dynamic: set[str], blank: tuple[Any, ...], key: str = "") -> Any:
    """Replace the values of ``dynamic`` keys (unless one of ``blank``) by placeholders."""
    if isinstance(value, dict):
        return {k: normalise(v, dynamic, blank, k) for k, v in value.items()}
    if key in dynamic and value not in blank:
        return f"<{key}>"
    if isinstance(value, list):
        return [normalise(item, dynamic, blank, key) for item in value]
    if isinstance(value, str) and _EMAIL.match(value):
        return "<generated-email>"
    return value


def _check(name: str, response: Any, status: int, dynamic: set[str], blank: tuple[Any, ...]) -> Any:
    assert response.status_code == status, response.text
    body = response.json() if response.content else None
    text = json.dumps(normalise(body, dynamic, blank), indent=2, ensure_ascii=False) + "\n"
    assert_golden(f"iotum/{name}.json", text)
    return body


def check(name: str, response: Any, status: int = 200) -> Any:
    return _check(name, response, status, DYNAMIC_KEYS, (None,))


def test_every_endpoint_golden(app_client: TestClient) -> None:
    client, world = app_client, build_world(app_client)
    auth = check("authenticate", api(client, "authenticate", api_token=world.home.ra_api_token))
    ra = auth["auth_token"]
    check("domain_descendants", api(client, "domain/descendants", ra))

    company = check(
        "company_create",
        api(
            client,
            "company/create",
            ra,
            subdomain=f"joe-{secrets.token_hex(3)}",
            name="The Joe Company",
            customer_id="Acme",
            partner_id="77",
            primary_color="#00ff00",
            accent_color="#0000ff",
            currency="usd",
        ),
    )
    company_id = company["id"]
    check("company_fetch", api(client, "company/fetch", ra, company_id=company_id))
    check(
        "company_update",
        api(
            client, "company/update", ra, company_id=company_id, name="The Jane Company", customer_id="Acme 2"
        ),
    )
    check("company_fetch_all", api(client, "company/fetch_all", ra))

    check(
        "subscription_fetch_products",
        api(client, "subscription/fetch_products", ra, include_description=True),
    )
    check(
        "subscription_create",
        api(client, "subscription/create", ra, company_id=company_id, slug="large_plan", host_limit=10),
    )
    check(
        "subscription_create_addon",
        api(
            client,
            "subscription/create",
            ra,
            company_id=company_id,
            slug="recording",
            subscribe_all_hosts=False,
        ),
    )
    check(
        "subscription_update",
        api(
            client,
            "subscription/update",
            ra,
            method="PUT",
            company_id=company_id,
            slug="large_plan",
            host_limit=12,
        ),
    )
    check(
        "subscription_suspend",
        api(client, "subscription/suspend", ra, company_id=company_id, slug="recording"),
    )
    check(
        "subscription_reactivate",
        api(client, "subscription/reactivate", ra, company_id=company_id, slug="recording"),
    )
    check("subscription_suspend_all", api(client, "subscription/suspend_all", ra, company_id=company_id), 202)
    check(
        "subscription_reactivate_all",
        api(client, "subscription/reactivate_all", ra, company_id=company_id),
        202,
    )
    check("subscription_fetch", api(client, "subscription/fetch", ra, company_id=company_id))

    host = check(
        "host_create",
        api(
            client,
            "host/create",
            ra,
            company_id=company_id,
            name="John Host",
            email=f"john-{secrets.token_hex(4)}@example.com",
            password="SoSecret5!",
            no_welcome_email=True,
            role="HOST",
            moderator_pin=None,
            native_streaming=True,
            auto_record="video",
            auto_stream="video",
            host_initiated_recording=True,
            waiting_room=True,
            stream_preview={"duration": 60, "interval": 300, "image_preview": True},
            disable_emails={"conference_invitations": True},
            time_format={"time_24hr": True, "hm_separator": "h"},
            locale="en-US",
            country_code="us",
            time_zone="US/Eastern",
            plan_slug="large_plan",
            add_on_slugs=["recording"],
        ),
    )
    host_id = host["host_id"]
    check("host_fetch", api(client, "host/fetch", ra, host_id=host_id))
    check(
        "host_update",
        api(
            client,
            "host/update",
            ra,
            host_id=host_id,
            name="John ChangedName",
            role="COMPANY_ADMIN",
            image_url="https://example.com/me.png",
            add_on_slugs=[],
        ),
    )
    check("host_fetch_all", api(client, "host/fetch_all", ra, company_id=company_id))
    check("host_resend_invitation", api(client, "host/resend_invitation", ra, host_id=host_id))
    check("host_reset_password", api(client, "host/reset_password", ra, host_id=host_id))

    contacts = check(
        "contact_create",
        api(
            client,
            "contact/create",
            ra,
            host_id=host_id,
            contacts=[
                {
                    "name": "John Smith",
                    "email": "john@smith.com",
                    "business_phone": "+12345678901",
                    "mobile_phone": "+12345678902",
                    "home_phone": "+12345678903",
                    "other_phone": "+12345678904",
                    "time_zone": "US/Eastern",
                },
                {"name": "James Brown", "email": "james@brown.com", "time_zone": "US/Central"},
            ],
        ),
    )
    contact_id = contacts[0]["contact_id"]
    check("contact_fetch", api(client, "contact/fetch", ra, host_id=host_id, contact_id=contact_id))
    check("contact_fetch_all", api(client, "contact/fetch_all", ra, host_id=host_id))
    check(
        "contact_update",
        api(client, "contact/update", ra, host_id=host_id, contact_id=contact_id, name="John Smith Updated"),
    )
    check("contact_delete", api(client, "contact/delete", ra, host_id=host_id, contact_id=contact_id))

    check(
        "subscription_cancel", api(client, "subscription/cancel", ra, company_id=company_id, slug="recording")
    )
    check("host_delete", api(client, "host/delete", ra, host_id=host_id), 202)
    check("company_delete", api(client, "company/delete", ra, company_id=company_id))
    check("error_not_found", api(client, "company/fetch", ra, company_id=company_id), 404)


PART_TWO_DYNAMIC = DYNAMIC_KEYS | {
    "conference_id",
    "moderator_token",
    "room_url",
    "streaming_url",
    "one_time_access_code",
    "start",
    "end_time",
    "start_time",
    "created_at",
    "participants",
    "moderators",
    "master_id",
    "upload_url",
    "download_link",
    "signing_token",
    "day",
    "month",
    "year",
    "meeting_summary_url",
    "person_id",
    "contact_id",
    "to",
}


def check_two(name: str, response: Any, status: int = 200) -> Any:
    return _check(name, response, status, PART_TWO_DYNAMIC, (None, False, [], ""))


def test_part_two_golden(app_client: TestClient) -> None:
    from datetime import timedelta

    from podium.domain.chat.service import ChatService
    from podium.kit.clock import utcnow

    client, world = app_client, build_world(app_client)
    world.subscribe(world.company_id, "large_plan")
    ra = world.home.ra
    host = world.new_host(
        world.company_id, plan_slug="large_plan", name="Gail Golden", time_zone="America/Toronto"
    )
    contact = world.new_contact(world.company_id, host)
    start = (utcnow() + timedelta(days=20)).strftime("%Y-%m-%d 13:00:00")
    created = check_two(
        "conference_create",
        api(
            client,
            "conference/create",
            ra,
            host_id=host,
            subject="Test Conference",
            agenda="An agenda",
            start=start,
            time_zone="America/Toronto",
            duration=60,
            auto_record="none",
            auto_stream="none",
            auto_transcribe=False,
            one_time_access_code=True,
            secure_url=False,
            host_initiated_recording=True,
            security_pin="123456",
            mute_mode="conversation",
            participants=[contact],
            participant_emails=[
                {"email": "bob@iotum.com", "moderator": True},
                {"email": "alice@iotum.com", "moderator": False},
            ],
            broadcast_stream_url="https://cdn.example.com/something.mp4",
        ),
    )
    conference_id = created["conference_id"]
    check_two(
        "conference_create_recurring",
        api(
            client,
            "conference/create",
            ra,
            host_id=host,
            subject="Standup",
            start=start,
            time_zone="America/Toronto",
            duration=15,
            schedule="FREQ=WEEKLY;COUNT=2;BYDAY=MO",
        ),
    )
    check_two(
        "conference_update",
        api(
            client,
            "conference/update",
            ra,
            conference_id=conference_id,
            subject="Renamed",
            mute_mode="presentation",
        ),
    )
    check_two("conference_fetch", api(client, "conference/fetch", ra, conference_id=conference_id))
    check_two(
        "conference_fetch_detail",
        api(client, "conference/fetch", ra, conference_id=conference_id, output="detail"),
    )
    check_two("conference_fetch_all", api(client, "conference/fetch_all", ra, host_id=host))
    check_two(
        "conference_fetch_participant_details",
        api(client, "conference/fetch_participant_details", ra, conference_id=conference_id),
    )
    check_two(
        "conference_fetch_livestream_viewer_count",
        api(client, "conference/fetch_livestream_viewer_count", ra, conference_id=conference_id),
    )
    check_two(
        "conference_stop_streaming", api(client, "conference/stop_streaming", ra, conference_id=conference_id)
    )
    check_two("conference_cancel", api(client, "conference/cancel", ra, conference_id=conference_id))
    live = check_two(
        "conference_create_reservationless",
        api(
            client,
            "conference/create/reservationless",
            ra,
            host_id=host,
            one_time_access_code=True,
            secure_url=False,
        ),
    )
    live_id = live["conference_id"]
    check_two(
        "conference_dial_number",
        api(
            client,
            "conference/dial_number",
            ra,
            conference_id=live_id,
            country_code="CA",
            phone_number="14165551212",
            name="Jane",
            invitation_text="John is bringing you into his meeting",
        ),
    )
    check_two(
        "conference_message_create",
        api(client, "conference/message/create", ra, conference_id=live_id, message="This is a message"),
    )
    check_two("conference_end", api(client, "conference/end", ra, conference_id=live_id))
    check_two(
        "conference_delete_recordings", api(client, "conference/delete_recordings", ra, conference_id=live_id)
    )
    check_two(
        "conference_delete_transcriptions",
        api(client, "conference/delete_transcriptions", ra, conference_id=live_id),
    )
    world.subscribe(world.company_id, "small_plan", switch_plan=None, subscribe_all_hosts=False)
    check_two(
        "conference_error_feature",
        api(
            client,
            "conference/create",
            ra,
            host_id=world.new_host(world.company_id, plan_slug="small_plan"),
            start=start,
            duration=30,
            auto_transcribe=True,
        ),
        403,
    )
    check_two("host_conferences", api(client, "host/conferences", ra, host_id=host, time_zone="UTC"))
    check_two("host_cdrs", api(client, "host/cdrs", ra, host_id=host))
    check_two("host_active_calls", api(client, "host/active_calls", ra, host_id=host))

    file = check_two(
        "drive_create", api(client, "drive/create", ra, host_id=host, filename="presentation.pdf")
    )
    client.put(file["upload_url"].removeprefix("http://podium.test"), content=b"%PDF-1.4 not a real pdf")
    check_two(
        "drive_file_finish_upload", api(client, "drive/file/finish_upload", ra, host_id=host, id=file["id"])
    )
    check_two("drive_file_fetch", api(client, "drive/file/fetch", ra, host_id=host, id=file["id"]))
    check_two("drive_fetch_all", api(client, "drive/fetch_all", ra, host_id=host))
    check_two("drive_file_delete", api(client, "drive/file/delete", ra, host_id=host, id=file["id"]), 204)

    with world.sessions() as session:
        ChatService(session).create_room(world.company_id, "channel", slug="announcements")
        session.commit()
    check_two(
        "chat_create",
        api(
            client,
            "chat/create",
            ra,
            company_id=world.company_id,
            slug="announcements",
            message="This is a message",
        ),
    )
    check_two("chat_fetch", api(client, "chat/fetch", ra, company_id=world.company_id, slug="announcements"))
    hook = check_two(
        "webhook_create",
        api(
            client,
            "webhook/create",
            ra,
            company_id=world.company_id,
            url="https://example.com/hooks",
            events=["conference_start"],
        ),
    )
    check_two("webhook_fetch_all", api(client, "webhook/fetch_all", ra, company_id=world.company_id))
    check_two(
        "webhook_deliveries",
        api(client, "webhook/deliveries", ra, company_id=world.company_id, id=hook["id"]),
    )
    check_two("webhook_delete", api(client, "webhook/delete", ra, company_id=world.company_id, id=hook["id"]))
