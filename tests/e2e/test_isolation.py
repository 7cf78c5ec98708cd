"""Permission walk: every endpoint of every dialect with a foreign tenant's credentials.

Another tenant's codes are answered exactly as unknown ones, and nothing changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.edges.boomstream.helpers import boom, ok
from tests.fixtures.tenants import Tenant, TenantFactory


def _victim(client: TestClient, tenant: Tenant) -> dict[str, str]:
    key = tenant.boomstream_apikey
    code = ok(boom(client, "conference/create", key, title="Private", description="secret"))["Code"]
    client_code = ok(boom(client, "conference/invite", key, code=code, email="v@example.com"))["clientCode"]
    meeting = client.post(
        "/liveminutes/createMeeting", data={"meetingKey": "private", "hostid": "h"}, auth=tenant.basic
    ).json()
    client.post("/liveminutes/addParticipant", data={"meetingKey": "private", "puid": "p"}, auth=tenant.basic)
    return {"code": code, "client": client_code, "meetingUrl": meeting["meetingUrl"]}


def _snapshot(client: TestClient, tenant: Tenant, victim: dict[str, str]) -> Any:
    key = tenant.boomstream_apikey
    return (
        boom(client, "conference/list", key)["conferences"],
        boom(client, "conference/client/list", key, code=victim["code"])["Clients"],
        client.post(
            "/liveminutes/getParticipantUrl", data={"meetingKey": "private", "puid": "p"}, auth=tenant.basic
        ).json(),
    )


BOOMSTREAM_CALLS = [
    ("conference/info", {"code": "{code}"}),
    ("conference/update", {"code": "{code}", "title": "hacked"}),
    ("conference/invite", {"code": "{code}", "email": "intruder@example.com"}),
    ("conference/client/list", {"code": "{code}"}),
    ("conference/client/info", {"code": "{client}"}),
    ("conference/client/update", {"code": "{client}", "name": "hacked"}),
    ("conference/client/delete", {"code": "{client}"}),
    ("conference/delete", {"code": "{code}"}),
]

LIVEMINUTES_CALLS = [
    ("addParticipant", {"meetingKey": "private", "puid": "intruder"}),
    ("getParticipantUrl", {"meetingKey": "private", "puid": "p"}),
    ("getMeetingUrl", {"meetingKey": "private"}),
    ("cancelMeeting", {"meetingKey": "private"}),
    ("cancelParticipant", {"meetingKey": "private", "puid": "p"}),
    ("getMeetingStatus", {"meetingKey": "private"}),
    ("getParticipantStatus", {"meetingKey": "private", "puid": "p"}),
]


@pytest.mark.parametrize(("method", "params"), BOOMSTREAM_CALLS, ids=[m for m, _ in BOOMSTREAM_CALLS])
def test_boomstream_foreign_codes_are_not_found(
    client: TestClient, tenants: TenantFactory, method: str, params: dict[str, str]
) -> None:
    owner, intruder = tenants(), tenants()
    victim = _victim(client, owner)
    before = _snapshot(client, owner, victim)
    query = {k: v.format(**victim) for k, v in params.items()}
    foreign = boom(client, method, intruder.boomstream_apikey, **query)
    unknown = boom(
        client,
        method,
        intruder.boomstream_apikey,
        **{k: ("zzz-zzzz-zzz" if v.startswith("{") else v) for k, v in params.items()},
    )
    assert foreign["Status"] == "Failed"
    assert foreign["Message"] == unknown["Message"]  # indistinguishable from a code that does not exist
    assert _snapshot(client, owner, victim) == before
    assert ok(boom(client, "conference/list", intruder.boomstream_apikey))["conferences"] == []


@pytest.mark.parametrize(("method", "data"), LIVEMINUTES_CALLS, ids=[m for m, _ in LIVEMINUTES_CALLS])
def test_liveminutes_foreign_keys_are_not_found(
    client: TestClient, tenants: TenantFactory, method: str, data: dict[str, str]
) -> None:
    owner, intruder = tenants(), tenants()
    victim = _victim(client, owner)
    before = _snapshot(client, owner, victim)
    answer = client.post(f"/liveminutes/{method}", data=data, auth=intruder.basic).json()
    assert answer["resultcode"] == 0
    assert answer["message"] == "Meeting not found"
    assert _snapshot(client, owner, victim) == before


def test_liveminutes_create_with_a_foreign_key_is_a_separate_meeting(
    client: TestClient, tenants: TenantFactory
) -> None:
    owner, intruder = tenants(), tenants()
    victim = _victim(client, owner)
    before = _snapshot(client, owner, victim)
    answer = client.post(
        "/liveminutes/createMeeting", data={"meetingKey": "private", "hostid": "x"}, auth=intruder.basic
    ).json()
    assert answer["resultcode"] == 1 and answer["meetingUrl"] != victim["meetingUrl"]
    assert _snapshot(client, owner, victim) == before


def test_boomstream_list_and_create_stay_in_tenant(client: TestClient, tenants: TenantFactory) -> None:
    owner, intruder = tenants(), tenants()
    _victim(client, owner)
    ok(boom(client, "conference/create", intruder.boomstream_apikey, title="Mine"))
    titles = [
        c["title"] for c in ok(boom(client, "conference/list", intruder.boomstream_apikey))["conferences"]
    ]
    assert titles == ["Mine"]
