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


def normalise(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in value.items()}
    if key in DYNAMIC_KEYS and value is not None:
        return f"<{key}>"
    if isinstance(value, list):
        return [normalise(item, key) for item in value]
    if isinstance(value, str) and _EMAIL.match(value):
        return "<generated-email>"
    return value


def check(name: str, response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert_golden(f"iotum/{name}.json", json.dumps(normalise(body), indent=2, ensure_ascii=False) + "\n")
    return body


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
