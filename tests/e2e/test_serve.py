"""`podium serve` and `podium admin` as real processes: data directory, secret, migrations,
provisioning while the server runs, and the API answering with the printed credentials."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.fixtures.processes import podium_env, podium_json, run_podium, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = podium_env(tmp_path / "var", PODIUM_PUBLIC_URL="https://meet.example.org/")
    with running_server(env) as base:
        yield base, env


def test_serve_provision_and_call(server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    base, env = server
    data_dir = tmp_path / "var"
    secret = data_dir / "secret_key"
    assert secret.exists()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    if "PODIUM_DATABASE_URL" not in env:
        assert (data_dir / "podium.sqlite3").exists()

    boot = podium_json(env, "admin", "bootstrap")
    assert set(boot) == {
        "reseller_id",
        "company_id",
        "host_id",
        "boomstream_apikey",
        "iotum_api_token",
        "liveminutes_account_sid",
        "liveminutes_auth_token",
    }
    sub = f"second-{os.getpid()}-{time.time_ns()}"
    company = podium_json(
        env,
        "admin",
        "create-company",
        "--reseller-id",
        str(boot["reseller_id"]),
        "--name",
        "Second",
        "--subdomain",
        sub,
    )
    assert set(company) == {
        "company_id",
        "boomstream_apikey",
        "liveminutes_account_sid",
        "liveminutes_auth_token",
    }
    taken = run_podium(
        env,
        "admin",
        "create-company",
        "--reseller-id",
        str(boot["reseller_id"]),
        "--name",
        "Again",
        "--subdomain",
        sub,
        check=False,
    )
    assert taken.returncode != 0 and "Subdomain is already taken" in taken.stderr

    # The running server accepts credentials created after it started.
    created = httpx.get(
        f"{base}/api/conference/create",
        params={"apikey": company["boomstream_apikey"], "title": "Live", "format": "json"},
    ).json()
    assert created["Status"] == "Success"
    invite = httpx.get(
        f"{base}/api/conference/invite",
        params={
            "apikey": company["boomstream_apikey"],
            "code": created["Code"],
            "email": "a@example.com",
            "format": "json",
        },
    ).json()
    assert invite["inviteLink"].startswith("https://meet.example.org/conf/invite.html?jwt=")
    jwt.decode(invite["token"], secret.read_text().strip(), algorithms=["HS256"], audience="podium:invite")
    lobby = httpx.get(f"{base}/conf/invite.html", params={"jwt": invite["token"]})
    assert lobby.status_code == 200 and "Live" in lobby.text

    meeting = httpx.post(
        f"{base}/liveminutes/createMeeting",
        data={"hostid": "h"},
        auth=(str(company["liveminutes_account_sid"]), str(company["liveminutes_auth_token"])),
    )
    assert meeting.json()["meetingUrl"].startswith("https://meet.example.org/m/")

    # The Iotum API token printed by bootstrap opens a session on the running server.
    auth = httpx.post(f"{base}/enterprise_api/authenticate", json={"api_token": boot["iotum_api_token"]})
    assert auth.status_code == 200
    companies = httpx.post(f"{base}/enterprise_api/company/fetch_all", json=auth.json()).json()
    assert {c["id"] for c in companies} == {boot["company_id"], company["company_id"]}

    # The first company's key does not see the second's conference.
    other = httpx.get(
        f"{base}/api/conference/info",
        params={"apikey": boot["boomstream_apikey"], "code": created["Code"], "format": "json"},
    ).json()
    assert other["Status"] == "Failed"


def test_admin_commands_for_iotum(tmp_path: Path) -> None:
    env = podium_env(tmp_path / "var")
    boot = podium_json(env, "admin", "bootstrap", "--email", f"boss-{time.time_ns()}@example.com")
    child = podium_json(
        env,
        "admin",
        "create-reseller",
        "--name",
        "Child",
        "--parent-id",
        str(boot["reseller_id"]),
        "--domain",
        "child.example",
    )
    assert child["parent_id"] == boot["reseller_id"]
    product = podium_json(
        env,
        "admin",
        "create-product",
        "--reseller-id",
        str(boot["reseller_id"]),
        "--slug",
        f"gold_{time.time_ns()}",
        "--kind",
        "plan",
        "--pricing",
        "per_host",
        "--price-cents",
        "1500",
        "--features",
        "recording,sip_gateway",
    )
    assert product["features"] == ["hosting", "recording", "sip_gateway"] and product["plan"] is True
    bad = run_podium(
        env,
        "admin",
        "create-product",
        "--reseller-id",
        str(boot["reseller_id"]),
        "--slug",
        "x",
        "--kind",
        "add-on",
        "--features",
        "teleportation",
        check=False,
    )
    assert bad.returncode == 2 and "Unknown features" in bad.stderr
    token = podium_json(env, "admin", "create-api-token", "--host-id", str(boot["host_id"]))
    assert token["api_token"] != boot["iotum_api_token"]
    assert podium_json(env, "admin", "revoke-api-token", "--api-token-id", str(token["api_token_id"]))[
        "revoked"
    ]
    host = podium_json(
        env,
        "admin",
        "create-host",
        "--company-id",
        str(boot["company_id"]),
        "--email",
        f"plain-{time.time_ns()}@example.com",
    )
    refused = run_podium(env, "admin", "create-api-token", "--host-id", str(host["host_id"]), check=False)
    assert refused.returncode == 2 and "admins" in refused.stderr
    locked = podium_json(env, "admin", "lock-host-limits", "--company-id", str(boot["company_id"]))
    assert locked["host_limits_locked"] is True
    oauth = podium_json(
        env,
        "admin",
        "create-oauth-client",
        "--host-id",
        str(boot["host_id"]),
        "--name",
        "CRM",
        "--grant-types",
        "client_credentials",
        "--scopes",
        "read",
    )
    assert oauth["client_secret"] and oauth["scopes"] == ["read"]


def test_secret_key_from_environment(tmp_path: Path) -> None:
    env = podium_env(tmp_path / "var", PODIUM_SECRET_KEY="from-the-environment-0123456789abcdef")
    boot = podium_json(env, "admin", "bootstrap")
    with running_server(env) as base:
        code = httpx.get(
            f"{base}/api/conference/create",
            params={"apikey": boot["boomstream_apikey"], "title": "T", "format": "json"},
        ).json()["Code"]
        token = httpx.get(
            f"{base}/api/conference/invite",
            params={
                "apikey": boot["boomstream_apikey"],
                "code": code,
                "email": "a@example.com",
                "format": "json",
            },
        ).json()["token"]
    jwt.decode(token, "from-the-environment-0123456789abcdef", algorithms=["HS256"], audience="podium:invite")
    assert not (tmp_path / "var" / "secret_key").exists()
