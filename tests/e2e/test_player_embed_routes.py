"""Player embeds as sites write them (``/<media code>``, ``/player.html?code=``, ``config.jsonp``) over
HTTP: the same watch page, its options, the script's escaping and caching, no shadowed route, and
``id_recovery`` signing a buyer in through the session API. (In a browser: test_player_embeds.py.)"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podium.kit import ids
from tests.fixtures.media import boom_json, ready_media
from tests.fixtures.tenants import TenantFactory

DEVICE_A = "a" * 32
DEVICE_B = "b" * 32
HOSTILE_TITLE = "</script><script>alert(1)</script> \"quotes\" 'single' & \u2028\u2029 \\ end"


@dataclass
class Shop:
    key: str
    free: str  # a ready video in no subscription
    paid: str  # a ready video behind a password subscription (activation 1)
    password: str  # its buyer's access password (``Hash``)
    elsewhere: str  # a buyer's password of another subscription, on another video


@pytest.fixture(scope="module")
def shop(app_client: TestClient, media_files: dict[str, Path]) -> Iterator[Shop]:
    key = TenantFactory(app_client.app.state.sessions)().boomstream_apikey  # type: ignore[attr-defined]
    free = ready_media(app_client, key, media_files["small"], title="Free lesson")
    paid = ready_media(app_client, key, media_files["small"], title="Paid lesson")
    other = ready_media(app_client, key, media_files["small"], title="Other lesson")
    yield Shop(
        key,
        free,
        paid,
        buyer(app_client, key, paywall(app_client, key, paid, activation="1", watermark="1"), paid),
        buyer(app_client, key, paywall(app_client, key, other), other),
    )


def paywall(client: TestClient, key: str, media: str, **params: Any) -> str:
    values = {"name": "Course", "subscription_type": "password", "period": "30", "watermark_email": "1"}
    code = str(boom_json(client, "ppv/create", key, **{**values, **params})["Items"][0]["Code"])
    boom_json(client, "ppv/addmedia", key, code=code, media=media)
    return code


def buyer(client: TestClient, key: str, code: str, media: str) -> str:
    answer = boom_json(client, "ppv/addbuyer", key, code=code, media=media, email="fan@example.com")
    return str(answer["Items"][0]["Hash"])


def script_config(body: str) -> dict[str, Any]:
    """The configuration literal the player script embeds."""
    match = re.search(r"\(document\.currentScript, (.*)\);\s*$", body)
    assert match, body
    config: dict[str, Any] = json.loads(match.group(1))
    return config


def test_every_form_is_the_watch_page(client: TestClient, shop: Shop) -> None:
    for path in (f"/{shop.paid}", f"/player.html?code={shop.paid}", f"/{shop.paid}?title=1&unknown=x"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert f'data-code="{shop.paid}"' in page.text and 'id="password-form"' in page.text
        assert 'class="embed"' in page.text and '<script src="/static/watch.js">' in page.text
        assert '<h1 id="media-title">Paid lesson</h1>' in page.text
        # Embeddable anywhere, and the address (which may carry a password) stays with us.
        assert "frame-ancestors *" in page.headers["content-security-policy"]
        assert "x-frame-options" not in page.headers
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
    plain = client.get(f"/watch/{shop.paid}")
    assert 'class=""' in plain.text and '<h1 id="media-title">' in plain.text
    assert '<h1 id="media-title">' not in client.get(f"/watch/{shop.paid}?embed=1").text
    assert 'data-free="yes"' in client.get(f"/player.html?code={shop.free}").text


def test_options(client: TestClient, shop: Shop) -> None:
    def page(query: str) -> str:
        return client.get(f"/{shop.free}?{query}").text

    for hidden in ("title=0", "title=false", "title=no"):
        assert 'id="media-title"' not in page(hidden)
        assert 'id="media-title"' not in client.get(f"/watch/{shop.free}?{hidden}").text
    assert 'data-autostart=""' in page("")
    assert 'data-autostart="yes"' in page("autostart=1")
    assert 'data-autostart="no"' in page("autostart=0")
    assert 'data-autostart="yes"' in page("autoplay=true")
    assert 'data-autostart="no"' in page("autostart=0&autoplay=1"), "autostart wins"
    assert 'data-autostart=""' in page("autostart=maybe&colour=%3Cb%3E")
    # id_recovery is read by the page itself; the server neither echoes it nor fails on odd ones.
    for odd in ("%00", "x" * 5000, "%3Cscript%3E", "%E2%80%A8"):
        answer = client.get(f"/{shop.paid}?id_recovery={odd}")
        assert answer.status_code == 200 and "<script>" not in answer.text.replace("<script src=", "")


def test_unknown_codes_and_malformed_addresses(client: TestClient, shop: Shop) -> None:
    for path in (
        "/zzzzzzzz",
        "/player.html?code=zzzzzzzz",
        "/player.html",
        "/player.html?code=%00abc",
        "/watch/%00abc",
        "/watch/" + "z" * 300,
    ):
        missing = client.get(path)
        assert missing.status_code == 404, path
        assert missing.headers["content-type"].startswith("text/html") and "Video not found" in missing.text
        assert "frame-ancestors *" in missing.headers["content-security-policy"]
    script = client.get("/zzzzzzzz/config.jsonp")
    assert script.status_code == 404 and script.headers["content-type"].startswith("application/javascript")
    assert script.headers["cache-control"] == "no-store" and "zzzzzzzz" not in script.text
    waiting = boom_json(client, "media/upload", shop.key)["Code"]  # not transcoded yet
    assert client.get(f"/{waiting}").status_code == 409
    assert client.get(f"/player.html?code={waiting}").status_code == 409
    assert client.get(f"/{waiting}/config.jsonp").status_code == 200, "its page says it is not ready"
    gone = boom_json(client, "media/upload", shop.key)["Code"]
    boom_json(client, "media/delete", shop.key, code=gone)
    assert client.get(f"/{gone}").status_code == 404
    assert client.get(f"/{gone}/config.jsonp").status_code == 404
    # Not the media code format: not these routes at all.
    for path in ("/zzzzzzz", "/zzzzzzzzz", "/zzzz-zzz", f"/{shop.free}/other", f"/{shop.free}/config.json"):
        assert client.get(path).json() == {"detail": "Not Found"}, path
    assert client.post(f"/{shop.free}").status_code == 405


def test_no_route_is_shadowed(client: TestClient, shop: Shop) -> None:
    # Registered last, so everything else keeps its own answer.
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/livez").json() == {"status": "ok"}
    assert "swagger" in client.get("/docs").text.lower()
    assert client.get("/openapi.json").json()["info"]["title"] == "Podium"
    info = client.get("/api/media/info", params={"apikey": shop.key, "format": "json", "code": shop.free})
    assert info.json()["Status"] == "Success" and info.json()["Code"] == shop.free
    assert client.get("/api/whatever", params={"format": "json"}).json()["Status"] == "Failed"
    lobby = client.get("/m/ZZZZZZ")
    assert lobby.status_code == 404 and "Video not found" not in lobby.text
    watch = client.get(f"/watch/{shop.free}")
    assert watch.status_code == 200 and 'class="embed"' not in watch.text
    assert client.get("/watch/s/nope1234").status_code == 404
    assert (
        client.get("/static/watch.js").headers["content-type"].startswith(("text/javascript", "application"))
    )
    for page in ("/login", "/account", "/auth"):
        assert "Video not found" not in client.get(page, follow_redirects=False).text, page
    assert client.get("/logout").status_code == 405, "a POST-only page still answers 405 to GET"

    def flat(routes: list[Any]) -> list[str]:
        paths: list[str] = []
        for route in routes:
            inner = getattr(route, "original_router", None)  # an included router, kept whole
            paths += flat(inner.routes) if inner is not None else [getattr(route, "path", "")]
        return paths

    app: Any = client.app
    assert flat(app.routes)[-3:] == ["/player.html", "/{code:media_code}/config.jsonp", "/{code:media_code}"]


def test_media_codes_match_the_route_format() -> None:
    from podium.web import embeds

    for _ in range(200):
        assert embeds.MEDIA_CODE_RE.fullmatch(ids.client_code())


def test_player_script(client: TestClient, shop: Shop) -> None:
    boom_json(client, "media/update", shop.key, code=shop.free, title=HOSTILE_TITLE)
    try:
        answer = client.get(
            f"/{shop.free}/config.jsonp",
            params={"title": '0"</script>', "autostart": "1", "colour": "red", "callback": "x"},
        )
    finally:
        boom_json(client, "media/update", shop.key, code=shop.free, title="Free lesson")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/javascript"
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cross-origin-resource-policy"] == "cross-origin"
    body = answer.text
    assert "document.currentScript" in body and "insertBefore" in body
    # Nothing embedded can end the script, open a tag or break a line.
    literal = body[body.index("(document.currentScript, ") :]
    assert not any(c in literal for c in "<>&\u2028\u2029'"), literal
    config = script_config(body)
    assert config["title"] == HOSTILE_TITLE
    assert config["src"] == f"http://podium.test/{shop.free}?title=0%22%3C%2Fscript%3E&autostart=1"
    assert config["path"] == f"/{shop.free}/config.jsonp"
    assert config["ratio"] == 75.0  # 320x240
    # Revalidation.
    again = client.get(f"/{shop.free}/config.jsonp", headers={"If-None-Match": answer.headers["etag"]})
    fresh = client.get(f"/{shop.free}/config.jsonp", headers={"If-None-Match": '"other"'})
    assert again.status_code == 200 and again.headers["etag"] != answer.headers["etag"], "title changed back"
    repeat = client.get(f"/{shop.free}/config.jsonp", headers={"If-None-Match": again.headers["etag"]})
    assert (
        repeat.status_code == 304
        and repeat.content == b""
        and repeat.headers["etag"] == again.headers["etag"]
    )
    assert fresh.status_code == 200
    plain = script_config(client.get(f"/{shop.free}/config.jsonp").text)
    assert plain["src"] == f"http://podium.test/{shop.free}"
    # A buyer's own script stays out of shared caches.
    own = client.get(f"/{shop.paid}/config.jsonp", params={"id_recovery": shop.password})
    assert own.headers["cache-control"] == "private, max-age=300"
    assert script_config(own.text)["src"] == f"http://podium.test/{shop.paid}?id_recovery={shop.password}"


def start(client: TestClient, media: str, device: str = DEVICE_A, **body: Any) -> Any:
    return client.post(f"/watch/{media}/session", json={"device": device, **body})


def test_id_recovery_signs_in_like_the_password(
    client: TestClient, shop: Shop, forget_guesses: Callable[[], None]
) -> None:
    wrong = "This access link is not valid for this video"
    for bad in ("nosuchpassword", shop.elsewhere, "x" * 10_000, " ", "\u2028"):
        answer = start(client, shop.paid, id_recovery=bad)
        assert answer.status_code == 403, (bad, answer.text)
        assert answer.json()["message"] == (
            wrong if bad.strip() else "An access password is required to watch this video"
        )
    for odd in (123, None, ["x"], {"a": 1}):
        assert start(client, shop.paid, id_recovery=odd).status_code == 403
    # A NUL is refused by the JSON reader itself (no text column takes one), like in every body.
    for field in ("id_recovery", "password"):
        nul = start(client, shop.paid, **{field: "\x00"})
        assert (nul.status_code, nul.json()["message"]) == (400, "The request contains a NUL character")
    forget_guesses()  # five wrong passwords lock the subscription for everyone (domain/guard)
    session = start(client, shop.paid, id_recovery=shop.password)
    assert session.status_code == 200, session.text
    assert session.json()["watermark"] == "fan@example.com"
    # The same activation counting and device rules as the typed password: one device only.
    assert start(client, shop.paid, id_recovery=shop.password).status_code == 200, "the same device"
    assert start(client, shop.paid, password=shop.password).status_code == 200
    second = start(client, shop.paid, DEVICE_B, id_recovery=f"  {shop.password} ")
    assert (second.status_code, second.json()["message"]) == (
        403,
        "This access password has no activations left",
    )
    # A free video ignores it.
    assert start(client, shop.free, id_recovery="anything").status_code == 200
