"""First run (issue #10): a fresh data directory, `podium serve`, `podium admin bootstrap`, and the
README's first call of every dialect succeeds with the printed credentials — Iotum conferences too,
since the bootstrap company is on its reseller's default plan."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from podium.kit.clock import utcnow
from tests.fixtures.processes import podium_env, podium_json, running_server


def _lobby(http: httpx.Client, link: str) -> None:
    """A link the API handed out opens the lobby (links are built on PODIUM_PUBLIC_URL: follow the path)."""
    page = http.get(httpx.URL(link).raw_path.decode())
    assert page.status_code == 200, page.text
    assert 'id="lobby"' in page.text


def test_readme_first_calls_on_a_fresh_install(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    # A fresh install; no media server is needed for the API calls.
    env = podium_env(data_dir, PODIUM_JANUS="off")
    with running_server(env) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert (data_dir / "secret_key").exists()
        boot = podium_json(env, "admin", "bootstrap")

        # Boomstream: the API key in the query string.
        created = http.get(
            "/api/conference/create",
            params={"apikey": boot["boomstream_apikey"], "title": "Standup", "format": "json"},
        )
        assert created.status_code == 200, created.text
        assert created.json()["Status"] == "Success", created.text

        # LiveMinutes: HTTP Basic with the account SID and auth token, a form body.
        meeting = http.post(
            "/liveminutes/createMeeting",
            data={"hostid": "42", "title": "Standup"},
            auth=(str(boot["liveminutes_account_sid"]), str(boot["liveminutes_auth_token"])),
        )
        assert meeting.status_code == 200, meeting.text
        assert meeting.json()["resultcode"] == 1, meeting.text
        _lobby(http, meeting.json()["hostUrl"])

        # Iotum: the API token for an auth_token, then conferences for the bootstrap host itself.
        auth = http.post("/enterprise_api/authenticate", json={"api_token": boot["iotum_api_token"]})
        assert auth.status_code == 200, auth.text
        token = auth.json()["auth_token"]
        host = http.post("/enterprise_api/host/fetch", json={"auth_token": token, "host_id": boot["host_id"]})
        assert host.status_code == 200, host.text
        assert host.json()["plan_slug"] == "small_plan"
        start = (utcnow() + timedelta(days=1)).replace(hour=13, minute=0, second=0, microsecond=0)
        scheduled = http.post(
            "/enterprise_api/conference/create",
            json={  # the reference's sample, without its contacts and stream (none exist here)
                "auth_token": token,
                "host_id": boot["host_id"],
                "subject": "Test Conference",
                "agenda": "An agenda",
                "start": start.strftime("%Y-%m-%d %H:%M:%S"),
                "time_zone": "America/Toronto",
                "duration": 60,
                "auto_record": "none",
                "auto_stream": "none",
                "auto_transcribe": False,
                "one_time_access_code": True,
                "secure_url": False,
                "host_initiated_recording": True,
                "security_pin": "123456",
                "mute_mode": "conversation",
            },
        )
        assert scheduled.status_code == 200, scheduled.text
        assert scheduled.json()["subject"] == "Test Conference"
        live = http.post(
            "/enterprise_api/conference/create/reservationless",
            json={
                "auth_token": token,
                "host_id": boot["host_id"],
                "one_time_access_code": True,
                "secure_url": False,
            },
        )
        assert live.status_code == 200, live.text
        assert live.json()["active"] is True
        _lobby(http, live.json()["room_url"])

        # The company holds one subscription, to the reseller's default plan, with its one host.
        subscriptions = http.post(
            "/enterprise_api/subscription/fetch", json={"auth_token": token, "company_id": boot["company_id"]}
        )
        assert subscriptions.status_code == 200, subscriptions.text
        assert [(s["product"]["slug"], s["status"], s["host_limit"]) for s in subscriptions.json()] == [
            ("small_plan", "Active", 1)
        ]
