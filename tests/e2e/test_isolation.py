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


def _shop(client: TestClient, tenant: Tenant) -> dict[str, str]:
    """A project with a folder, a media in it behind a subscription, and a buyer."""
    key = tenant.boomstream_apikey
    folder = ok(boom(client, "media/folder/create", key, name="Private"))["Code"]
    media = ok(boom(client, "media/upload", key, title="Secret", folder=folder))["Code"]
    code = ok(boom(client, "ppv/create", key, name="Paid", subscription_type="password", period="5"))[
        "Items"
    ][0]["Code"]
    ok(boom(client, "ppv/addmedia", key, code=code, media=media))
    buyer = ok(boom(client, "ppv/addbuyer", key, code=code, media=media, email="b@example.com"))["Items"][0]
    return {"media": media, "folder": folder, "ppv": code, "hash": buyer["Hash"]}


def _shop_snapshot(client: TestClient, tenant: Tenant, shop: dict[str, str]) -> Any:
    key = tenant.boomstream_apikey
    media = {
        k: v for k, v in ok(boom(client, "media/info", key, code=shop["media"])).items() if "Link" not in k
    }
    media.pop("RequestURI", None)
    return (
        {k: v for k, v in media.items() if k not in ("DownloadLink", "Adaptive", "Transcodes")},
        ok(boom(client, "ppv/list", key))["Items"],
        ok(boom(client, "ppv/listbuyers", key, code=shop["ppv"], media=shop["media"], ver="1.1"))["Items"],
        ok(boom(client, "media/folder", key))["countTotal"],
    )


SHOP_CALLS = [
    ("media/info", {"code": "{media}"}),
    ("media/bulkinfo", {"code": "{media}"}),
    ("media/update", {"code": "{media}", "title": "hacked"}),
    ("media/create", {"url": "https://files.example.com/a.mp4", "folder": "{folder}"}),
    ("media/delete", {"code": "{media}"}),
    ("media/folder", {"code": "{folder}"}),
    ("media/folder/update", {"code": "{folder}", "name": "hacked"}),
    ("media/folder/delete", {"code": "{folder}"}),
    ("ppv/update", {"code": "{ppv}", "name": "hacked"}),
    ("ppv/delete", {"code": "{ppv}"}),
    ("ppv/listmedia", {"code": "{ppv}"}),
    ("ppv/deletemedia", {"code": "{ppv}", "media": "{media}"}),
    ("ppv/addbuyer", {"code": "{ppv}", "media": "{media}", "email": "i@example.com"}),
    ("ppv/updatebuyer", {"code": "{ppv}", "hash": "{hash}", "activation": "1"}),
    ("ppv/deletebuyer", {"code": "{ppv}", "hash": "{hash}"}),
    ("ppv/listbuyers", {"code": "{ppv}", "media": "{media}"}),
    ("ppv/info", {"code": "{ppv}", "hash": "{hash}"}),
    ("ppv/sessions", {"code": "{media}", "hash": "{hash}"}),
    ("stats", {"code": "{media}"}),
]


@pytest.mark.parametrize(("method", "params"), SHOP_CALLS, ids=[m for m, _ in SHOP_CALLS])
def test_boomstream_foreign_media_and_subscriptions_are_not_found(
    client: TestClient, tenants: TenantFactory, method: str, params: dict[str, str]
) -> None:
    owner, intruder = tenants(), tenants()
    shop = _shop(client, owner)
    before = _shop_snapshot(client, owner, shop)
    unknown_values = {"media": "zzzzzzz1", "folder": "zzzzzzz2", "ppv": "zzzzzzz3", "hash": "zzzzzzzzzzz4"}
    foreign = boom(
        client, method, intruder.boomstream_apikey, **{k: v.format(**shop) for k, v in params.items()}
    )
    unknown = boom(
        client,
        method,
        intruder.boomstream_apikey,
        **{k: v.format(**unknown_values) for k, v in params.items()},
    )
    assert foreign["Status"] == unknown["Status"] == "Failed"
    message = foreign["Message"]
    for name, value in shop.items():
        message = message.replace(value, unknown_values[name])
    assert message == unknown["Message"]  # indistinguishable from codes that do not exist
    assert _shop_snapshot(client, owner, shop) == before
