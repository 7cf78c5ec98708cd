"""media/create: a media fetched from a URL by the worker, then transcoded like an upload; the fetch
never reaches addresses this server should not talk to."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podium.app import create_app
from podium.config import Settings
from podium.domain.media.worker import MediaWorker
from podium.kit.clock import utcnow
from podium.models.media import Media
from tests.conftest import make_settings
from tests.edges.boomstream.helpers import boom, failed
from tests.fixtures.file_host import FileHost, file_host
from tests.fixtures.media import boom_json, local, media_id
from tests.fixtures.tenants import TenantFactory


@pytest.fixture(scope="module")
def host(media_files: dict[str, Path]) -> Iterator[FileHost]:
    files = {"small.mp4": media_files["small"], "broken.mp4": media_files["broken"]}
    with file_host(files) as running:
        yield running


@pytest.fixture(scope="module")
def importing(settings: Settings) -> Iterator[TestClient]:
    """A server that may fetch from private networks: the file host is on 127.0.0.1."""
    allowed = make_settings(
        settings.data_dir, settings.database_url or "", media_import_private_networks=True
    )
    with TestClient(create_app(allowed)) as client:
        yield client


def _run_job(client: TestClient, code: str, **overrides: Any) -> bool:
    """The real worker, once, on one media (with the client's settings, or some changed)."""
    app: Any = client.app
    settings = app.state.settings
    if overrides:
        settings = make_settings(settings.data_dir, settings.database_url or "", **{
            "media_import_private_networks": settings.media_import_private_networks, **overrides
        })  # fmt: skip
    return MediaWorker(settings, app.state.sessions).process(media_id(client, code))


def _make_due(client: TestClient, code: str) -> None:
    app: Any = client.app
    with app.state.sessions() as session:
        media = session.get(Media, media_id(client, code))
        assert media is not None and media.lease_until is not None and media.lease_until > utcnow()
        media.lease_until = utcnow()
        session.commit()


def test_a_media_is_fetched_from_a_url_and_transcoded(
    importing: TestClient,
    tenants: TenantFactory,
    host: FileHost,
    media_files: dict[str, Path],
    tmp_path: Path,
) -> None:
    key = tenants().boomstream_apikey
    folder = boom_json(importing, "media/folder/create", key, name="Imports")["Code"]
    created = boom_json(
        importing,
        "media/create",
        key,
        url=f"{host.url}/files/small.mp4",
        description="From afar",
        folder=folder,
    )
    code = created["Code"]
    assert (created["Title"], created["MediaStatus"], created["FolderCode"]) == (
        "small",
        "Processing",
        folder,
    )
    assert created["Description"] == "From afar" and created["Transcodes"] == []
    progress = importing.get(local(created["ProgressBarUrl"])).json()
    assert (progress["MediaStatus"], progress["UploadPercent"], progress["TranscodePercent"]) == (
        "Processing",
        0,
        0,
    )

    assert _run_job(importing, code)
    info = boom_json(importing, "media/info", key, code=code)
    size = media_files["small"].stat().st_size
    assert (info["MediaStatus"], info["FileName"], info["FileSize"]) == ("Done", "small.mp4", size)
    assert (info["Width"], info["Height"], info["Duration"]) == (320, 240, 4)
    assert [t["Title"] for t in info["Transcodes"]] == ["240p"]
    rendition = tmp_path / "240p.mp4"
    rendition.write_bytes(importing.get(local(info["Transcodes"][0]["PseudoMP4"])).content)
    probed = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,height",
            "-of",
            "csv=p=0",
            str(rendition),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "h264,240" in probed
    assert importing.get(local(info["DownloadLink"])).content == media_files["small"].read_bytes()
    done = importing.get(local(created["ProgressBarUrl"])).json()
    assert (done["UploadedBytes"], done["TotalBytes"], done["UploadPercent"], done["TranscodePercent"]) == (
        size,
        size,
        100,
        100,
    )


def test_an_import_is_announced_as_created_then_completed(
    importing: TestClient, tenants: TenantFactory, host: FileHost
) -> None:
    from podium.domain.webhooks.service import WebhookService
    from tests.fixtures.receiver import receiver

    tenant = tenants()
    app: Any = importing.app
    with receiver() as target:
        with app.state.sessions() as session:
            WebhookService(session).create(
                tenant.company_id, target.url, ["media.created", "media.completed"], allow_private=True
            )
            session.commit()
        code = boom_json(
            importing, "media/create", tenant.boomstream_apikey, url=f"{host.url}/files/small.mp4"
        )["Code"]
        assert _run_job(importing, code)
        app.state.outbox_worker.deliver_due()
        announced = [(r.body["event"], r.body["code"], r.body["status"]) for r in target.requests]
    assert announced == [("media.created", code, "Processing"), ("media.completed", code, "Done")]


def test_redirects_are_followed_and_the_hosts_file_name_is_kept(
    importing: TestClient, tenants: TenantFactory, host: FileHost
) -> None:
    key = tenants().boomstream_apikey
    moved = boom_json(importing, "media/create", key, url=f"{host.url}/moved/small.mp4", title="Moved")
    assert _run_job(importing, moved["Code"])
    info = boom_json(importing, "media/info", key, code=moved["Code"])
    assert (info["MediaStatus"], info["Title"], info["FileName"]) == ("Done", "Moved", "small.mp4")

    named = boom_json(importing, "media/create", key, url=f"{host.url}/named/small.mp4", title="Named")
    assert _run_job(importing, named["Code"])
    assert boom_json(importing, "media/info", key, code=named["Code"])["FileName"] == "Lesson from host.mp4"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.mp4", "the server answered 404"),
        ("/loop/", "more than 5 redirects"),
        ("/elsewhere/", "must be an http or https URL"),
        ("/files/broken.mp4", "not a video or audio file"),
    ],
)
def test_a_file_that_cannot_be_had_fails_the_media_with_a_reason(
    importing: TestClient, tenants: TenantFactory, host: FileHost, path: str, reason: str
) -> None:
    key = tenants().boomstream_apikey
    code = boom_json(importing, "media/create", key, url=f"{host.url}{path}", title="Nope")["Code"]
    assert _run_job(importing, code)
    info = boom_json(importing, "media/info", key, code=code)
    assert info["MediaStatus"] == "Failed" and reason in info["Reason"], info
    assert str(Path(importing.app.state.settings.data_dir)) not in info["Reason"]  # type: ignore[attr-defined]


def test_a_host_that_is_busy_is_tried_again_later(
    importing: TestClient, tenants: TenantFactory, host: FileHost
) -> None:
    key = tenants().boomstream_apikey
    code = boom_json(importing, "media/create", key, url=f"{host.url}/busy/small.mp4")["Code"]
    host.busy_answers = 1
    assert not _run_job(importing, code), "a 503 is not the end of the job"
    assert boom_json(importing, "media/info", key, code=code)["MediaStatus"] == "Processing"
    assert not _run_job(importing, code), "the retry waits for its time"
    _make_due(importing, code)
    assert _run_job(importing, code)
    assert boom_json(importing, "media/info", key, code=code)["MediaStatus"] == "Done"


def test_a_host_that_never_answers_fails_after_the_last_attempt(
    importing: TestClient, tenants: TenantFactory
) -> None:
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    key = tenants().boomstream_apikey
    code = boom_json(importing, "media/create", key, url=f"http://127.0.0.1:{port}/a.mp4")["Code"]
    for _ in range(2):
        assert not _run_job(importing, code)
        _make_due(importing, code)
    assert _run_job(importing, code)
    info = boom_json(importing, "media/info", key, code=code)
    assert info["MediaStatus"] == "Failed"
    assert "Could not fetch the file" in info["Reason"] and "(3 attempts)" in info["Reason"], info


def test_a_transfer_cut_short_is_retried_not_transcoded(
    importing: TestClient, tenants: TenantFactory, host: FileHost
) -> None:
    key = tenants().boomstream_apikey
    code = boom_json(importing, "media/create", key, url=f"{host.url}/short/small.mp4")["Code"]
    assert not _run_job(importing, code)
    app: Any = importing.app
    with app.state.sessions() as session:
        media = session.get(Media, media_id(importing, code))
        assert media is not None and media.status == "Processing" and media.file_size is None
        storage = Path(app.state.settings.data_dir) / "media" / media.storage_key
    assert not (storage / "source").exists() and not (storage / "source.part").exists()


def test_deleting_a_media_stops_its_fetch(
    importing: TestClient, tenants: TenantFactory, host: FileHost
) -> None:
    """The host would take a minute; the job stops within its next lease renewal after the delete."""
    import threading
    import time

    key = tenants().boomstream_apikey
    code = boom_json(importing, "media/create", key, url=f"{host.url}/slow/")["Code"]
    outcome: list[bool] = []
    job = threading.Thread(target=lambda: outcome.append(_run_job(importing, code)))
    started = time.monotonic()
    job.start()
    while "/slow/" not in host.requests:
        assert time.monotonic() - started < 10, "the fetch never began"
        time.sleep(0.05)
    boom_json(importing, "media/delete", key, code=code)
    job.join(timeout=15)
    assert not job.is_alive(), "the fetch went on after the media was deleted"
    assert outcome == [False]
    app: Any = importing.app
    with app.state.sessions() as session:
        media = session.get(Media, media_id(importing, code))
        assert media is not None and media.deleted_at is not None and media.status == "Processing"
        storage = Path(app.state.settings.data_dir) / "media" / media.storage_key
    assert not (storage / "source.part").exists() and not (storage / "source").exists()


@pytest.mark.parametrize("path", ["/files/small.mp4", "/endless/"])
def test_a_file_over_the_size_limit_is_refused(
    importing: TestClient, tenants: TenantFactory, host: FileHost, path: str
) -> None:
    """Refused by its Content-Length before reading, or while streaming a body with none."""
    key = tenants().boomstream_apikey
    code = boom_json(importing, "media/create", key, url=f"{host.url}{path}")["Code"]
    assert _run_job(importing, code, media_max_bytes=20_000)
    info = boom_json(importing, "media/info", key, code=code)
    assert info["MediaStatus"] == "Failed" and "larger than the limit of 20000 bytes" in info["Reason"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Parameter 'url' is required"),
        ("ftp://files.example.com/a.mp4", "must be an http or https URL"),
        ("file:///etc/passwd", "must be an http or https URL"),
        ("https:///a.mp4", "must be an http or https URL"),
        ("https://user:secret@files.example.com/a.mp4", "must not carry a user name or password"),
        ("https://files.example.com:99999/a.mp4", "not a valid URL"),
        ("https://files.example.com/" + "a" * 2048, "longer than 2048 characters"),
        # The default: no loopback, private, link-local (cloud metadata) or mapped addresses.
        ("http://127.0.0.1:8000/a.mp4", "an address this server does not fetch from"),
        ("http://10.1.2.3/a.mp4", "an address this server does not fetch from"),
        ("http://169.254.169.254/latest/meta-data/", "an address this server does not fetch from"),
        ("http://[::1]/a.mp4", "an address this server does not fetch from"),
        ("http://[::ffff:192.168.0.1]/a.mp4", "an address this server does not fetch from"),
        ("http://0.0.0.0/a.mp4", "an address this server does not fetch from"),
    ],
)
def test_bad_urls_are_refused_at_once(
    client: TestClient, tenants: TenantFactory, url: str, message: str
) -> None:
    key = tenants().boomstream_apikey
    failed(boom(client, "media/create", key, url=url), message)
    assert boom_json(client, "media/folder", key)["countTotal"] == 0, "nothing was created"


def test_a_name_resolving_to_a_private_address_is_refused_when_connecting(
    client: TestClient, tenants: TenantFactory, host: FileHost
) -> None:
    """`localhost` passes the API's check (it is a name); the worker refuses the address it resolves to."""
    key = tenants().boomstream_apikey
    port = host.url.rsplit(":", 1)[1]
    before = len(host.requests)
    code = boom_json(client, "media/create", key, url=f"http://localhost:{port}/files/small.mp4")["Code"]
    assert _run_job(client, code)
    info = boom_json(client, "media/info", key, code=code)
    assert info["MediaStatus"] == "Failed"
    assert "localhost is not an address this server connects to" in info["Reason"], info
    assert len(host.requests) == before, "the file host was never contacted"


def test_an_import_belongs_to_its_project(
    importing: TestClient, tenants: TenantFactory, host: FileHost
) -> None:
    mine, other = tenants().boomstream_apikey, tenants().boomstream_apikey
    code = boom_json(importing, "media/create", mine, url=f"{host.url}/files/small.mp4")["Code"]
    failed(boom(importing, "media/info", other, code=code), "not found")
    failed(
        boom(importing, "media/create", "wrong-key", url=f"{host.url}/files/small.mp4"), "Invalid credentials"
    )
