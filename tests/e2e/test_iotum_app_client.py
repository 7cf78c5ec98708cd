"""An automation app written for Iotum, run unchanged against a real `podium serve` on a fresh install
(issue #10): OAuth client credentials, "who am I" with an empty Bearer call, loose types, lists that
stay arrays and are paged through the Link header, the reference's create and update samples."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx

from podium.kit.clock import utcnow
from tests.fixtures.processes import podium_env, podium_json, running_server

NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def test_automation_app_on_a_fresh_install(tmp_path: Path) -> None:
    env = podium_env(tmp_path, PODIUM_JANUS="off")
    boot = podium_json(env, "admin", "bootstrap")
    app = podium_json(
        env, "admin", "create-oauth-client", "--host-id", str(boot["host_id"]), "--name", "Automation"
    )
    with running_server(env) as base, httpx.Client(base_url=base, timeout=30) as http:
        token = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(str(app["client_id"]), str(app["client_secret"])),
        )
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}

        me = http.post("/enterprise_api/host/fetch", headers=bearer)  # no body, no Content-Type
        assert me.status_code == 200, me.text
        assert me.json()["host_id"] == boot["host_id"]

        day = (utcnow() + timedelta(days=2)).date()
        created = []
        for offset in range(11):
            answer = http.post(
                "/enterprise_api/conference/create",
                headers=bearer,
                json={
                    "subject": f"Standup {offset}",
                    "start": f"{day + timedelta(days=offset)}T09:00:00Z",
                    "duration": "15",
                    "autoRecord": False,
                    "one_time_access_code": "true",
                    "security_pin": "123456",
                },
            )
            assert answer.status_code == 200, answer.text
            created.append(answer.json()["conference_id"])

        listed = http.post("/enterprise_api/conference/fetch_all", headers=bearer)
        assert listed.status_code == 200 and isinstance(listed.json(), list)
        seen = [c["conference_id"] for c in listed.json()]
        assert len(seen) == 10 and listed.headers["x-next-page"] == "2"
        match = NEXT.search(listed.headers["link"])
        assert match is not None
        following = httpx.URL(match.group(1))
        # Links are built on PODIUM_PUBLIC_URL (not set here), so follow the path and query.
        assert following.path == "/enterprise_api/conference/fetch_all"
        rest = http.post(f"{following.path}?{following.query.decode()}", headers=bearer)
        seen += [c["conference_id"] for c in rest.json()]
        assert sorted(seen) == sorted(created) and "link" not in rest.headers

        # The reference's update sample turns the one-time code off: its PIN goes with it.
        updated = http.post(
            "/enterprise_api/conference/update",
            headers=bearer,
            json={"conference_id": str(created[0]), "one_time_access_code": False, "duration": 60},
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["security_pin"] is None and updated.json()["duration"] == 60

        detail = http.post(
            "/enterprise_api/conference/fetch",
            headers=bearer,
            json={"conference_id": created[1], "output": "detail"},
        ).json()
        assert detail["moderators"] == [
            {"person_id": boot["host_id"], "name": me.json()["name"], "email": me.json()["email"]}
        ]
