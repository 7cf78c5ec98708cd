"""The operator console (`/console`, issue #15) in a real Chromium against the live server: the web
sign-in's roles (a host refused the admin pages), meetings (a live one ended from the console), a
drag-and-drop upload whose progress bar reaches 100%, charts drawn from real heartbeats, a failed
webhook delivery retried from the log; companies with their hosts, plans and host limits (a plan change
the subscription rules refuse shows their message), API credentials issued, rotated and revoked (each
secret tried against the real APIs), and pay-per-view buyers and sales made through the Boomstream API.
Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from podium.domain.auth.passwords import hash_password
from podium.domain.hosts.schemas import HostChanges
from podium.domain.hosts.service import HostService
from podium.domain.media.worker import MediaWorker
from podium.domain.outbox.service import enqueue
from podium.domain.outbox.worker import OutboxWorker
from podium.domain.subscriptions.service import SubscriptionService
from podium.domain.tenancy.companies import CompanyService
from podium.domain.tenancy.service import TenancyService
from podium.domain.webhooks.service import WebhookService
from podium.kit.clock import clock, utcnow
from podium.models.activity import WebhookDelivery
from podium.models.conference import Conference
from podium.models.media import Media
from podium.models.tenancy import Company, Host, Role
from tests.fixtures.browser import LiveServer
from tests.fixtures.receiver import receiver
from tests.fixtures.rooms import in_room, wait_for
from tests.fixtures.waiting import wait_until

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
PASSWORD = "console horse battery"
ADMIN_SECTIONS = ["meetings", "media", "stats", "webhooks", "companies", "credentials", "ppv"]


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def world(live_server: LiveServer) -> dict[str, Any]:
    """A reseller with its admin company: a reseller admin, a company admin and a plain host, all
    with passwords; the company's Boomstream key."""
    app: Any = live_server.app
    suffix = secrets.token_hex(3)
    with app.state.sessions() as session:
        settings = app.state.settings
        made = TenancyService(session, settings).bootstrap(
            reseller_name=f"Console reseller {suffix}",
            company_name=f"Console co {suffix}",
            subdomain=f"console-{suffix}",
            admin_email=f"ra-console-{suffix}@example.com",
        )
        company_id = int(str(made["company_id"]))
        hosts = HostService(session, settings)
        emails = {"RA": f"ra-console-{suffix}@example.com"}
        ids = {"RA": int(str(made["host_id"]))}
        for role, label in ((Role.COMPANY_ADMIN, "CA"), (Role.HOST, "HOST")):
            email = f"{label.lower()}-console-{suffix}@example.com"
            host = hosts.create(
                None,
                company_id,
                HostChanges(name=f"{label} Person", email=email, role=role, no_welcome_email=True),
            )
            emails[label], ids[label] = email, host.id
        for host_id in ids.values():
            row = session.get(Host, host_id)
            assert row is not None
            row.password_hash = hash_password(PASSWORD)
        session.commit()
    return {
        "company_id": company_id,
        "reseller_id": int(str(made["reseller_id"])),
        "apikey": str(made["boomstream_apikey"]),
        "emails": emails,
        "ids": ids,
    }


@pytest.fixture(scope="module")
def pages(chromium: Any, live_server: LiveServer, world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A signed-in Chromium page per role (each its own cookies), through the real /login form."""
    contexts, opened = [], {}
    for role in ("RA", "CA", "HOST"):
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{live_server.base_url}/login?next=/console")
        page.fill("#email", world["emails"][role])
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url(re.compile(r"/console$"))
        opened[role] = page
    yield opened
    for context in contexts:
        context.close()


def _sections(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all(
            "nav[aria-label='Console sections'] a", "a => a.map(x => x.dataset.section)"
        )
    )


def test_console_shell_by_role(live_server: LiveServer, pages: dict[str, Any]) -> None:
    base = live_server.base_url
    for role, expected in (("RA", "RESELLER_ADMIN"), ("CA", "COMPANY_ADMIN"), ("HOST", "HOST")):
        page = pages[role]
        page.goto(f"{base}/console")
        assert page.text_content("#viewer-role") == expected
        assert _sections(page) == (ADMIN_SECTIONS if role != "HOST" else ["meetings"])
        _shot(page, f"home-{role.lower()}")
    # A plain host is refused every admin page with a clear 403 page.
    host = pages["HOST"]
    for section in ADMIN_SECTIONS[1:]:
        response = host.goto(f"{base}/console/{section}")
        assert response is not None and response.status == 403, section
        assert host.is_visible("#refused")
        assert "role" in (host.text_content("#refused-message") or "").lower()
    _shot(host, "host-refused")
    # Without a session, the console asks to sign in.
    anonymous = httpx.get(f"{base}/console/meetings", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")


def test_live_meeting_seen_and_ended_from_the_console(
    live_server: LiveServer, pages: dict[str, Any], world: dict[str, Any]
) -> None:
    app: Any = live_server.app
    if app.state.media is None:
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    base = live_server.base_url
    params = {"apikey": world["apikey"], "format": "json"}
    code = httpx.get(f"{base}/api/conference/create", params={**params, "title": "Console live"}).json()[
        "Code"
    ]
    link = httpx.get(
        f"{base}/api/conference/invite", params={**params, "code": code, "email": "ann@example.com"}
    ).json()["inviteLink"]
    with app.state.sessions() as session:
        conference_id = session.scalars(select(Conference.id).where(Conference.code == code)).one()
    page = pages["CA"]
    with in_room(base, link, name="Ann Inside") as (socket, _):
        page.goto(f"{base}/console/meetings?kind=live")
        assert page.is_visible(f"tr[data-conference='{conference_id}']")
        # The plain host does not see the company's meetings (only its own).
        pages["HOST"].goto(f"{base}/console/meetings?kind=live")
        assert not pages["HOST"].is_visible(f"tr[data-conference='{conference_id}']")
        page.click(f"tr[data-conference='{conference_id}'] a")
        page.wait_for_selector("#members li[data-member]")
        members = page.text_content("#members") or ""
        assert "ann" in members
        assert page.get_by_role("button", name="Mute ann").is_visible()
        _shot(page, "meeting-live-ca")
        page.click("#end-meeting")
        page.wait_for_selector("#meeting-state[data-state='ended']")
        assert wait_for(socket, "ended")["type"] == "ended"
    page.goto(f"{base}/console/meetings?kind=past")
    assert page.is_visible(f"tr[data-conference='{conference_id}']")
    page.click(f"tr[data-conference='{conference_id}'] a")
    assert "ann" in (page.text_content("#attendance") or "")
    _shot(page, "meeting-past-ca")
    # Its organiser-less meeting is beyond the plain host: refused, not shown.
    refused = pages["HOST"].goto(f"{base}/console/meetings/{conference_id}")
    assert refused is not None and refused.status == 403


def test_upload_by_drag_and_drop_then_charts_from_heartbeats(
    live_server: LiveServer, pages: dict[str, Any], world: dict[str, Any], media_files: dict[str, Path]
) -> None:
    app: Any = live_server.app
    base = live_server.base_url
    page = pages["CA"]
    page.goto(f"{base}/console/media")
    data = list(media_files["small"].read_bytes())
    # A real drop: a DataTransfer holding the file, dispatched on the drop zone.
    transfer = page.evaluate_handle(
        """bytes => { const t = new DataTransfer();
            t.items.add(new File([new Uint8Array(bytes)], 'dropped clip.mp4', {type: 'video/mp4'}));
            return t; }""",
        data,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#upload-percent")).to_have_text("100%", timeout=30_000)
    assert page.eval_on_selector("#upload-progress", "p => p.value") == 100
    page.wait_for_selector("#upload-state[data-status='Processing'], #upload-state[data-status='Done']")
    code = page.get_attribute("#drop-zone", "data-code")
    _shot(page, "media-uploaded")
    with app.state.sessions() as session:
        media = session.scalars(select(Media).where(Media.code == code)).one()
        assert media.company_id == world["company_id"] and media.title == "dropped clip"
        media_id = media.id
    # Transcoded by the real worker (posters too); the library shows it done with its poster.
    assert MediaWorker(app.state.settings, app.state.sessions).process(media_id)
    page.goto(f"{base}/console/media")
    row = f"tr[data-code='{code}']"
    assert page.get_attribute(row, "data-status") == "Done"
    assert page.is_visible(f"{row} img.poster")
    _shot(page, "media-library")

    # Two devices watch it: 6 × 10 s and 3 × 10 s of heartbeats, through the watch API.
    start = utcnow().replace(microsecond=0)
    try:
        for device, beats in (("a" * 32, 6), ("b" * 32, 3)):
            clock.freeze(start)
            opened = httpx.post(f"{base}/watch/{code}/session", json={"device": device}, timeout=10)
            assert opened.status_code == 200, opened.text
            session_id, key = opened.json()["session"], opened.json()["key"]
            for n in range(1, beats + 1):
                clock.freeze(start + timedelta(seconds=10 * n))
                beat = httpx.post(
                    f"{base}/watch/heartbeat",
                    json={"session": session_id, "key": key, "watched": 10_000},
                    timeout=10,
                )
                assert beat.status_code == 200, beat.text
    finally:
        clock.freeze(None)
    app.state.heartbeats.flush()
    today = start.strftime("%m-%d")
    page.goto(f"{base}/console/stats")

    def bar(chart: str, label: str) -> int:
        value = page.get_attribute(f"#{chart} g.bar[data-label='{label}']", "data-value")
        return int(value or -1)

    assert bar("chart-watched", today) == 90_000
    assert bar("chart-viewers", today) == 2
    assert bar("chart-media", "dropped clip") == 90_000
    assert page.locator("#chart-country g.bar").count() >= 1
    # The tallest bar of the day is the full chart height less its margin; the other days are empty.
    heights = page.eval_on_selector_all(
        "#chart-watched rect", "r => r.map(x => Number(x.getAttribute('height')))"
    )
    assert len(heights) == 14 and max(heights) == 160 and sorted(heights)[-2] == 0
    _shot(page, "stats-ca")


def test_failed_webhook_retried_from_the_log(
    live_server: LiveServer, pages: dict[str, Any], world: dict[str, Any]
) -> None:
    app: Any = live_server.app
    sessions, settings = app.state.sessions, app.state.settings
    with receiver() as hooks:
        hooks.statuses = [500]
        with sessions() as session:
            endpoint = WebhookService(session).create(
                world["company_id"], hooks.url, ["conference_created"], allow_private=True
            )
            enqueue(
                session,
                "webhook",
                {
                    "endpoint_id": endpoint.id,
                    "event": "conference_created",
                    "payload": {"company_id": world["company_id"], "conference_id": 1},
                    "timestamp": utcnow().isoformat(timespec="seconds") + "Z",
                    "style": "iotum",
                    "max_attempts": 1,
                },
            )
            session.commit()
            endpoint_id = endpoint.id
        worker = OutboxWorker(settings, sessions)
        worker.deliver_due()
        assert len(hooks.requests) == 1
        page = pages["CA"]
        page.goto(f"{live_server.base_url}/console/webhooks")
        assert page.is_visible(f"tr[data-endpoint='{endpoint_id}']")
        failed = page.locator("tr[data-succeeded='no']").filter(has=page.locator("button.retry"))
        assert failed.count() == 1
        _shot(page, "webhooks-failed")
        failed.locator("button.retry").click()
        page.wait_for_url(re.compile(r"/console/webhooks$"))
        worker.deliver_due()
        wait_until(lambda: len(hooks.requests) == 2, 20, "the retried delivery")
        page.reload()
        assert page.locator("tr[data-succeeded='yes']").count() == 1
        assert page.locator("button.retry").count() == 0
        _shot(page, "webhooks-retried")
    with sessions() as session:
        attempts = session.scalars(
            select(WebhookDelivery.succeeded)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id)
        ).all()
    assert attempts == [False, True]
    # A plain host may not retry (nor see) the log.
    host = pages["HOST"]
    response = host.goto(f"{live_server.base_url}/console/webhooks")
    assert response is not None and response.status == 403


def _posted(page: Any, button: str, path_part: str) -> int:
    """Click a form's submit button; the status of the POST's answer (before any redirect)."""
    with page.expect_response(lambda r: r.request.method == "POST" and path_part in r.url) as info:
        page.click(button)
    page.wait_for_load_state()
    return int(info.value.status)


def test_companies_hosts_and_plans(
    live_server: LiveServer, pages: dict[str, Any], world: dict[str, Any]
) -> None:
    app: Any = live_server.app
    base, company_id = live_server.base_url, world["company_id"]
    suffix = secrets.token_hex(3)
    with app.state.sessions() as session:
        settings = app.state.settings
        customer = TenancyService(session, settings).provision_company(
            world["reseller_id"], f"Customer {suffix}", f"customer-{suffix}"
        )
        customer_id = int(str(customer["company_id"]))
        # A second plan beside small_plan, for one host, with host limits locked: a second host
        # moved onto it is refused by the subscription rules.
        company = session.get(Company, company_id)
        assert company is not None
        SubscriptionService(session).subscribe(
            None, company, "large_plan", switch_plan=None, host_limit=1, subscribe_all_hosts=False
        )
        CompanyService(session, settings).set_host_limits_locked(company_id, True)
        session.commit()
    try:
        # The reseller admin sees its tree's companies and opens one.
        ra = pages["RA"]
        ra.goto(f"{base}/console/companies")
        assert ra.is_visible(f"tr[data-company='{company_id}']")
        assert ra.is_visible(f"tr[data-company='{customer_id}']")
        _shot(ra, "companies-ra")
        ra.click(f"tr[data-company='{customer_id}'] a")
        ra.wait_for_url(re.compile(rf"/console/companies/{customer_id}$"))
        assert (ra.text_content("#company-name") or "").strip() == f"Customer {suffix}"
        _shot(ra, "company-ra")

        # The company admin sees its own company only, and is refused another.
        ca = pages["CA"]
        ca.goto(f"{base}/console/companies")
        assert ca.locator("#companies tr[data-company]").count() == 1
        refused = ca.goto(f"{base}/console/companies/{customer_id}")
        assert refused is not None and refused.status == 403
        ca.goto(f"{base}/console/companies/{company_id}")
        for label in ("RA", "CA", "HOST"):
            row = f"#hosts tr[data-host='{world['ids'][label]}']"
            assert ca.get_attribute(row, "data-plan") == "small_plan", label
        assert ca.text_content(f"#hosts tr[data-host='{world['ids']['CA']}'] .host-role") == "COMPANY_ADMIN"
        assert ca.text_content(f"#hosts tr[data-host='{world['ids']['HOST']}'] .status") == "active"
        small, large = (
            "#subscriptions tr[data-slug='small_plan']",
            "#subscriptions tr[data-slug='large_plan']",
        )
        assert (ca.get_attribute(small, "data-used"), ca.get_attribute(small, "data-limit")) == ("3", "3")
        assert (ca.text_content(f"{large} .usage") or "").strip() == "0 / 1"
        _shot(ca, "company-ca")

        # Move the plain host onto large_plan (the host/update rules, plan_slug).
        host_row = f"#hosts tr[data-host='{world['ids']['HOST']}']"
        ca.select_option(f"{host_row} select[name=plan_slug]", "large_plan")
        assert _posted(ca, f"{host_row} button", "/plan") == 303
        assert ca.get_attribute(host_row, "data-plan") == "large_plan"
        assert (ca.text_content(f"{large} .usage") or "").strip() == "1 / 1"
        assert ca.get_attribute(small, "data-used") == "2"
        # A second host on it would pass the locked limit: refused with the service's message.
        own_row = f"#hosts tr[data-host='{world['ids']['CA']}']"
        ca.select_option(f"{own_row} select[name=plan_slug]", "large_plan")
        assert _posted(ca, f"{own_row} button", "/plan") == 409
        message = ca.text_content("#refused-message") or ""
        assert "Host limit" in message and "locked" in message, message
        _shot(ca, "company-plan-refused")

        # Create a host: it joins the company's first plan and waits for its password.
        email = f"new-{suffix}@example.com"
        ca.goto(f"{base}/console/companies/{company_id}")
        ca.fill("#new-host-name", "New Person")
        ca.fill("#new-host-email", email)
        assert _posted(ca, "#create-host", "/hosts") == 303
        row = f"#hosts tr[data-email='{email}']"
        assert ca.get_attribute(row, "data-plan") == "small_plan"
        assert ca.text_content(f"{row} .status") == "invited"
        assert ca.text_content(f"{row} .host-role") == "HOST"
        _shot(ca, "company-host-created")

        # A plain host is refused the company pages and their forms.
        host = pages["HOST"]
        for path in ("/console/companies", f"/console/companies/{company_id}"):
            response = host.goto(f"{base}{path}")
            assert response is not None and response.status == 403, path
    finally:
        with app.state.sessions() as session:
            CompanyService(session, app.state.settings).set_host_limits_locked(company_id, False)
            session.commit()


def _boomstream_works(base: str, apikey: str) -> bool:
    answer = httpx.get(f"{base}/api/ppv/list", params={"apikey": apikey, "format": "json"}, timeout=10)
    return answer.status_code == 200 and answer.json().get("Status") == "Success"


def _iotum_works(base: str, token: str) -> bool:
    answer = httpx.post(f"{base}/enterprise_api/authenticate", json={"api_token": token}, timeout=10)
    return answer.status_code == 200 and bool(answer.json().get("auth_token"))


def test_credentials_issued_rotated_revoked(
    live_server: LiveServer, pages: dict[str, Any], world: dict[str, Any]
) -> None:
    base = live_server.base_url
    ca = pages["CA"]
    ca.goto(f"{base}/console/credentials")
    assert ca.get_attribute("#credentials-company", "data-company") == str(world["company_id"])
    # The bootstrap's Boomstream key, LiveMinutes account and the reseller admin's Iotum token.
    kinds = ca.eval_on_selector_all("#credentials tr[data-kind]", "r => r.map(x => x.dataset.kind)")
    assert {"boomstream_apikey", "liveminutes", "iotum_api_token"} <= set(kinds)
    assert world["apikey"] not in ca.content()
    _shot(ca, "credentials-ca")

    # A new Boomstream key: shown on the answer only, and it works against the API.
    ca.select_option("#new-credential-kind", "boomstream_apikey")
    assert _posted(ca, "#issue-credential", "/console/credentials") == 200
    first = (ca.text_content("#secret") or "").strip()
    credential_id = ca.get_attribute("#secret-box", "data-credential")
    assert len(first) == 32 and _boomstream_works(base, first)
    _shot(ca, "credential-issued")
    ca.click("#back-to-credentials")
    row = f"#credentials tr[data-credential='{credential_id}']"
    assert ca.get_attribute(row, "data-state") == "active"
    assert first not in ca.content()
    assert (ca.text_content(f"{row} .fingerprint") or "").startswith(
        hashlib.sha256(first.encode()).hexdigest()[:8]
    )

    # Rotated: the old key is refused, the new one works.
    assert _posted(ca, f"{row} button.rotate", "/rotate") == 200
    second = (ca.text_content("#secret") or "").strip()
    assert second != first and ca.get_attribute("#secret-box", "data-credential") == credential_id
    assert not _boomstream_works(base, first) and _boomstream_works(base, second)
    _shot(ca, "credential-rotated")

    # Revoked: refused too.
    ca.goto(f"{base}/console/credentials")
    assert second not in ca.content()
    assert _posted(ca, f"{row} button.revoke", "/revoke") == 303
    assert ca.get_attribute(row, "data-state") == "revoked"
    assert ca.locator(f"{row} button").count() == 0
    assert not _boomstream_works(base, second)
    _shot(ca, "credentials-revoked")

    # An Iotum API token for the company admin's own host: it opens sessions until revoked.
    ca.select_option("#new-credential-kind", "iotum_api_token")
    ca.select_option("#new-credential-host", str(world["ids"]["CA"]))
    assert _posted(ca, "#issue-credential", "/console/credentials") == 200
    token = (ca.text_content("#secret") or "").strip()
    token_id = ca.get_attribute("#secret-box", "data-credential")
    assert _iotum_works(base, token)
    ca.click("#back-to-credentials")
    assert _posted(ca, f"#credentials tr[data-credential='{token_id}'] button.revoke", "/revoke") == 303
    assert not _iotum_works(base, token)
    # The reseller admin's own token is beyond a company admin: refused with the 403 page.
    ra_token = ca.get_attribute(
        "#credentials tr[data-kind='iotum_api_token']:has-text('RESELLER_ADMIN')", "data-credential"
    )
    assert _posted(ca, f"#credentials tr[data-credential='{ra_token}'] button.rotate", "/rotate") == 403
    assert "reseller admin" in (ca.text_content("#refused-message") or "").lower()


def test_ppv_buyers_and_sales(live_server: LiveServer, pages: dict[str, Any], world: dict[str, Any]) -> None:
    base = live_server.base_url

    def boom(method: str, **params: Any) -> dict[str, Any]:
        answer = httpx.get(
            f"{base}/api/{method}", params={"apikey": world["apikey"], "format": "json", **params}, timeout=10
        ).json()
        assert answer["Status"] == "Success", answer
        return dict(answer)

    media = boom("media/upload", title="Paid talk")["Code"]
    code = boom("ppv/create", name="Console paid talk", cost="9.50", period="30")["Items"][0]["Code"]
    boom("ppv/addmedia", code=code, media=media)
    boom("ppv/addbuyer", code=code, media=media, email="fan@example.com", name="Fan One")
    gone = boom("ppv/addbuyer", code=code, media=media, email="gone@example.com", name="Gone")["Hash"]
    boom("ppv/deletebuyer", code=code, hash=gone)

    ca = pages["CA"]
    ca.goto(f"{base}/console/ppv")
    row = f"#paywalls tr[data-paywall='{code}']"
    assert (ca.get_attribute(row, "data-buyers"), ca.get_attribute(row, "data-sales")) == ("1", "2")
    assert ca.text_content(f"{row} .revenue") == "19.00"
    _shot(ca, "ppv-ca")
    ca.click(f"{row} a")
    ca.wait_for_url(re.compile(rf"/console/ppv/{code}"))
    assert ca.text_content("#total-buyers") == "1" and ca.text_content("#total-sales") == "2"
    assert ca.text_content("#total-media") == "1" and ca.text_content("#total-revenue") == "19.00"
    buyers = ca.eval_on_selector_all("#buyers tr[data-email]", "r => r.map(x => x.dataset.email)")
    assert buyers == ["fan@example.com"]
    assert "Fan One" in (ca.text_content("#buyers") or "")
    sales = ca.eval_on_selector_all("#sales tr[data-email]", "r => r.map(x => x.dataset.email)")
    assert sorted(sales) == ["fan@example.com", "gone@example.com"]
    assert media in (ca.text_content("#sales") or "")
    _shot(ca, "ppv-subscription-ca")
    # The reseller admin opens it through the company; a plain host is refused.
    ra = pages["RA"]
    ra.goto(f"{base}/console/ppv/{code}?company={world['company_id']}")
    assert ra.text_content("#total-sales") == "2"
    refused = pages["HOST"].goto(f"{base}/console/ppv/{code}")
    assert refused is not None and refused.status == 403
