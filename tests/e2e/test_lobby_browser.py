"""The lobby and link-error pages as a person sees them, in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fixtures.browser import LiveServer, boomstream_call
from tests.fixtures.tenants import TenantFactory


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    page = browser.new_page()
    yield page
    page.close()


def test_invite_link_shows_the_lobby(
    live_server: LiveServer, page, tenants: TenantFactory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    key = tenants().boomstream_apikey
    code = boomstream_call(live_server, "conference/create", apikey=key, title="Quarterly review")["Code"]
    invite = boomstream_call(
        live_server,
        "conference/invite",
        apikey=key,
        code=code,
        email="zoe@example.com",
        name="Zoé",
        moderator="yes",
    )
    response = page.goto(invite["inviteLink"])
    assert response.status == 200
    assert page.title() == "Quarterly review · Podium"
    assert page.locator("#conference-title").inner_text() == "Quarterly review"
    assert page.locator("#participant-name").inner_text() == "Zoé"
    assert page.locator("#participant-role").inner_text().lower() == "moderator"
    assert page.locator("#display-name").count() == 0
    page.screenshot(path=str(tmp_path / "lobby.png"))


def test_meeting_url_asks_a_guest_for_a_name(live_server: LiveServer, page, tenants: TenantFactory) -> None:  # type: ignore[no-untyped-def]
    tenant = tenants()
    meeting = httpx.post(
        f"{live_server.base_url}/liveminutes/createMeeting",
        data={"hostid": "h", "title": "Open"},
        auth=tenant.basic,
    ).json()
    page.goto(meeting["meetingUrl"])
    name = page.locator("#display-name")
    assert name.is_visible()
    name.fill("Walk-in")
    assert name.input_value() == "Walk-in"
    assert page.locator("#participant-role").inner_text().lower() == "guest"


def test_revoked_link_shows_a_clear_error(live_server: LiveServer, page, tenants: TenantFactory) -> None:  # type: ignore[no-untyped-def]
    key = tenants().boomstream_apikey
    code = boomstream_call(live_server, "conference/create", apikey=key, title="Cancelled")["Code"]
    invite = boomstream_call(live_server, "conference/invite", apikey=key, code=code, email="x@example.com")
    boomstream_call(live_server, "conference/delete", apikey=key, code=code)
    response = page.goto(invite["inviteLink"])
    assert response.status == 410
    assert page.locator("h1").inner_text() == "Link no longer valid"
    assert page.locator("#lobby").count() == 0
