"""A meeting leaves real files behind (issue #13): two Chromiums whose cameras and microphones play
files (a coloured clip each, speech made by espeak-ng) meet in an Iotum conference with
``auto_record: video`` and ``auto_transcribe``; the recording is composed by the server's own media
worker and published through the API, its MP4 and MP3 hold both people, the transcript names who
said what, the start_recording webhook leaves, and deleting removes the files."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from podium.domain.outbox.worker import OutboxWorker
from podium.domain.recordings import composer
from podium.domain.recordings.service import RecordingService
from podium.models.recording import Recording
from podium.models.tenancy import Host
from tests.e2e.test_conference_emails import body_of, inbox
from tests.fixtures.browser import CHROMIUM_FLAGS, LiveServer, chromium_path
from tests.fixtures.iotum import PASSWORD, World, api, build_world
from tests.fixtures.media import duration_of, server_transcoder_running
from tests.fixtures.receiver import receiver
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.flaky(reruns=1, reruns_delay=2)

# Sentences and a voice (en-us+f2 at 150 words a minute) that PocketSphinx's English model hears
# well from espeak-ng (tests/kit/test_speech.py); synthetic speech is not a person.
SPEECH = {
    "Alice": "the weather is nice today i would like a cup of coffee",
    "Bob": "thank you all for coming we will meet at the office tomorrow morning",
}
VOICE = ["-v", "en-us+f2", "-s", "150"]
COLOURS = {"Alice": "red", "Bob": "blue"}
MEETING_SECONDS = 20


def _fake_devices(folder: Path, name: str) -> list[str]:
    """Chromium flags that make its camera play a solid colour and its microphone say a sentence
    (then a second of silence), both looped."""
    speech, wav, y4m = folder / f"{name}-speech.wav", folder / f"{name}.wav", folder / f"{name}.y4m"
    subprocess.run(["espeak-ng", *VOICE, "-w", str(speech), SPEECH[name]], check=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(speech), "-af", "apad=pad_dur=1", "-ar", "48000", str(wav)],
        check=True,
    )
    colour = f"color=c={COLOURS[name]}:s=320x240:r=15"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            colour,
            "-t",
            "3",
            "-pix_fmt",
            "yuv420p",
            str(y4m),
        ],
        check=True,
    )
    return [f"--use-file-for-fake-audio-capture={wav}", f"--use-file-for-fake-video-capture={y4m}"]


@pytest.fixture
def people(playwright_driver: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """One Chromium per person (the fake devices are per browser)."""
    browsers = {
        name: playwright_driver.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=[*CHROMIUM_FLAGS, *_fake_devices(tmp_path, name)],
        )
        for name in SPEECH
    }
    yield {name: browser.new_page() for name, browser in browsers.items()}
    for browser in browsers.values():
        browser.close()


def _join(page: Any, url: str, name: str) -> None:
    page.goto(url)
    if page.locator("#display-name").count():
        page.fill("#display-name", name)
    page.click("#join")


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,codec_type:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def _tracks(app: Any, conference_id: int) -> list[str]:  # the failure's message: one line each
    """The conference's recording's tracks as the processor converted them: publisher, kind, start
    and end (seconds on the timeline), and the segment's stop; then the raw files the media server
    wrote (name and size: a track left out of the conversion shows here, and in the server's log),
    and any other segment of the conference (whose folder a late publisher might have gone to)."""
    with app.state.sessions() as session:
        segments = session.scalars(
            select(Recording).where(Recording.conference_id == conference_id).order_by(Recording.id)
        ).all()
        service = RecordingService(session, app.state.settings)
        folders = [(segment.id, segment.state, service.storage_dir(segment)) for segment in segments]
        stored = segments[0]
        folder = folders[0][2]
        ended_at = stored.ended_at
    found = composer.converted(folder / "tracks")
    epoch_us = min((at for _, _, at, _ in found), default=0)
    lines = []
    for sid, state, where in folders:
        lines.append(f"segment {sid} ({state}), raw files:")
        for raw in sorted((where / "raw").glob("*")):
            header = composer.mjr_header(raw, 30) if raw.suffix == ".mjr" else None
            lines.append(f"  {raw.name} {raw.stat().st_size} bytes {header or 'no header'}")
    for publisher, kind, at, path in found:
        start = (at - epoch_us) / 1e6
        lines.append(f"{publisher} {kind} {start:.2f}-{start + duration_of(path):.2f} s")
    if ended_at is not None and epoch_us:
        lines.append(f"stopped at {ended_at.replace(tzinfo=UTC).timestamp() - epoch_us / 1e6:.2f} s")
    return lines


def _mean_volume(path: Path) -> float:
    report = subprocess.run(
        ["ffmpeg", "-v", "info", "-i", str(path), "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True,
        text=True,
    ).stderr
    line = next(line for line in report.splitlines() if "mean_volume" in line)
    return float(line.split("mean_volume:")[1].split("dB")[0])


def _tile_colours(path: Path, at: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The colour at the middle of the left and of the right half of the frame at ``at`` seconds."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    width, height = 1280, 720
    assert len(raw) == width * height * 3

    def pixel(x: int, y: int) -> tuple[int, ...]:
        offset = (y * width + x) * 3
        return tuple(raw[offset : offset + 3])

    return pixel(width // 4, height // 2), pixel(3 * width // 4, height // 2)


def test_a_recorded_and_transcribed_meeting(
    live_server: LiveServer, people: dict[str, Any], tmp_path: Path
) -> None:
    app: Any = live_server.app
    if app.state.media is None:
        pytest.fail("Janus did not start: `make test` installs Debian's janus package")
    client = TestClient(app, base_url=live_server.base_url)  # no lifespan: the live server's own state
    world: World = build_world(client)
    world.subscribe(world.company_id, "large_plan", switch_plan=None, subscribe_all_hosts=True)
    with receiver() as hook:
        assert (
            api(client, "webhook/create", world.ca, url=hook.url, events=["start_recording"]).status_code
            == 200
        )
        created = api(
            client,
            "conference/create/reservationless",
            world.ca,
            host_id=world.host_host_id,
            subject="Recorded standup",
            auto_record="video",
            auto_transcribe=True,
        )
        assert created.status_code == 200, created.text
        conference = created.json()
        conference_id = conference["conference_id"]
        room = httpx.URL(conference["room_url"])
        host_link = (
            f"{live_server.base_url}{room.raw_path.decode()}?moderator_token={conference['moderator_token']}"
        )
        guest_link = f"{live_server.base_url}{room.raw_path.decode()}"

        _join(people["Alice"], host_link, "Alice")
        _join(people["Bob"], guest_link, "Bob")
        for page in people.values():
            wait_until(lambda p=page: p.evaluate("window.podium.remoteCount()") >= 1, 40, "the other's video")
        # Everyone sees that the meeting is being recorded.
        for page in people.values():
            wait_until(
                lambda p=page: p.locator("#recording-indicator").is_visible(), 20, "the recording indicator"
            )
        # People who arrive later are told in the lobby.
        assert "This meeting is being recorded" in httpx.get(guest_link, timeout=10).text
        time.sleep(MEETING_SECONDS)
        assert api(client, "conference/end", world.ca, conference_id=conference_id).status_code == 200

        # The webhook: start_recording with the reference's leading fields.
        OutboxWorker(app.state.settings, app.state.sessions).deliver_due()
        wait_until(lambda: hook.requests, 20, "the start_recording webhook")
        event = hook.requests[0].body
        assert event["event"] == "start_recording"
        payload = json.loads(event["payload"])
        assert list(payload)[:2] == ["host_id", "company_id"] and payload["conference_id"] == conference_id

    def fetched() -> dict[str, Any]:
        answer = api(client, "conference/fetch", world.ca, conference_id=conference_id, output="detail")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    with server_transcoder_running(app):
        detail = wait_until(
            lambda: (
                (d := fetched())["recordings"]
                and d["recordings"][0]["publishing_state"] == "published"
                and d["recordings"][0]["transcription_segments"]
                and d
            ),
            240,
            "the recording and its transcript",
        )
    recording = detail["recordings"][0]
    assert recording["type"] == "video" and detail["has_video"] and detail["has_audio"]
    assert set(recording["size"]) == {"mp4", "mp3"}
    summary = api(client, "conference/fetch", world.ca, conference_id=conference_id).json()
    assert [r["publishing_state"] for r in summary["recordings"]] == ["published"]
    assert summary["recordings"][0]["download_link"].startswith(f"{live_server.base_url}/recordings/")

    # The MP4: H.264 and AAC, as long as the meeting, both people side by side.
    mp4 = tmp_path / "recording.mp4"
    mp4.write_bytes(httpx.get(recording["download_link"], timeout=30).content)
    probe = _probe(mp4)
    assert {(s["codec_type"], s["codec_name"]) for s in probe["streams"]} == {
        ("video", "h264"),
        ("audio", "aac"),
    }
    assert abs(float(probe["format"]["duration"]) - MEETING_SECONDS) < 6, probe["format"]
    left, right = _tile_colours(mp4, float(probe["format"]["duration"]) - 3)
    reds = sorted([left, right], key=lambda rgb: rgb[0] - rgb[2])
    # One blue tile, one red tile; if not, each track's place on the timeline says whose ended early.
    assert reds[0][2] > 100 and reds[1][0] > 100, "\n".join(
        [f"tiles {left} {right}", *_tracks(app, conference_id)]
    )
    assert _mean_volume(mp4) > -45

    # The transcript: lines by speaker, with most of what each said.
    for name, sentence in SPEECH.items():
        said = " ".join(
            s["text"] for s in recording["transcription_segments"] if s["speaker"] == name
        ).split()
        words = set(sentence.split())
        heard = words & set(said)
        speakers = sorted({s["speaker"] for s in recording["transcription_segments"]})
        assert len(heard) >= len(words) // 2, (name, said, speakers)
    vtt = httpx.get(recording["transcript_link"], timeout=30)
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT") and "<v Bob>" in vtt.text

    # The MP3 of the same meeting is not silent either.
    with app.state.sessions() as session:
        stored = RecordingService(session, app.state.settings)
        mp3_link = stored.download_link(stored.of_conference(conference_id)[0], "recording.mp3")
        host_email = session.get(Host, world.host_host_id).email
    assert mp3_link is not None
    mp3 = tmp_path / "recording.mp3"
    mp3.write_bytes(httpx.get(mp3_link, timeout=30).content)
    assert [s["codec_name"] for s in _probe(mp3)["streams"]] == ["mp3"] and _mean_volume(mp3) > -45

    # The summary page plays it with the transcript as captions, and the transcript is searchable.
    with httpx.Client(base_url=live_server.base_url, timeout=30) as web:
        signed_in = web.post("/login", data={"email": host_email, "password": PASSWORD, "next": "/account"})
        assert signed_in.status_code == 303, signed_in.text
        page = web.get(f"/conf/summary/{conference_id}")
        assert page.status_code == 200
        assert 'class="recording-player"' in page.text and '<track kind="captions"' in page.text
        assert page.text.count("<li data-start=") == len(recording["transcription_segments"])
        searched = web.get(f"/conf/summary/{conference_id}", params={"q": "Bob"}).text
        bobs = [s for s in recording["transcription_segments"] if s["speaker"] == "Bob"]
        assert searched.count("<li data-start=") == len(bobs) > 0

    # The host's emails: the summary (it waits for the recording, then links it) and the transcript.
    def mails() -> list[str]:
        OutboxWorker(app.state.settings, app.state.sessions).deliver_due()
        return [str(m["Subject"]) for m in inbox(app.state.settings, host_email)]

    wait_until(lambda: any(s.startswith("Summary:") for s in mails()), 120, "the summary email")
    received = {str(m["Subject"]).split(":")[0]: body_of(m) for m in inbox(app.state.settings, host_email)}
    assert "/recordings/" in received["Summary"] and "Video recording 1" in received["Summary"]
    assert any(key.startswith("Transcript") for key in received), list(received)

    # Deleting removes the files and the rows.
    storage = Path(app.state.settings.data_dir) / "recordings"
    before = {p.name for p in storage.iterdir()}
    assert (
        api(client, "conference/delete_recordings", world.ca, conference_id=conference_id).status_code == 200
    )
    assert fetched()["recordings"] == []
    assert httpx.get(recording["download_link"], timeout=30).status_code == 404
    assert len({p.name for p in storage.iterdir()}) == len(before) - 1
