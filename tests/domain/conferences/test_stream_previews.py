"""A host's ``stream_preview`` (domain/streams/clips.py, previews.py): clips cut from a stream's
sliding HLS playlist by real ffmpeg, an image from its newest segment, the signed links, the refusals,
and the deletion after 24 hours. The whole path through a running meeting's stream is in
tests/e2e/test_conference_streams.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.domain.conferences.lifecycle import mark_started
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions
from podium.domain.hosts.schemas import StreamPreview as PreviewSetting
from podium.domain.lives import paths
from podium.domain.recordings.service import RecordingService
from podium.domain.streams.clips import Clip, ClipCutter, PreviewPlan, grab_image, plan_of
from podium.domain.streams.previews import PreviewService, previews_dir
from podium.domain.streams.service import StreamService
from podium.kit.clock import utcnow
from podium.kit.errors import Conflict, Forbidden, LinkInvalid, NotFound
from podium.models.conference import Conference
from podium.models.media import Media
from podium.models.stream import Stream, StreamPreview, StreamState
from tests.domain.conferences.conftest import Scene, a_live_media

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is missing")

SEGMENTS = 11  # one-second segments, as the RTMP server writes them
WINDOW = 4  # segments a sliding playlist lists (nginx-rtmp lists about ten seconds)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eleven one-second MPEG-TS segments (H.264 + AAC, a key frame each second) and their playlist."""
    folder = tmp_path_factory.mktemp("encoded")
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-loglevel", "error",
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(SEGMENTS), "-c:v", "libx264", "-g", "10", "-keyint_min", "10", "-sc_threshold", "0",
            "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
            "-hls_segment_filename", str(folder / "%d.ts"), str(folder / "full.m3u8"),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return folder


def _slide(encoded: Path, live: Path, upto: int) -> None:
    """The live's playlist as the RTMP server leaves it once segment ``upto`` is written: the last
    WINDOW segments, older ones deleted."""
    first = max(0, upto - WINDOW + 1)
    for number in range(first, upto + 1):
        if not (live / f"{number}.ts").exists():
            shutil.copyfile(encoded / f"{number}.ts", live / f"{number}.ts")
    for old in live.glob("*.ts"):
        if not old.stem.isdigit() or int(old.stem) < first:
            old.unlink()
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-MEDIA-SEQUENCE:{first}", "#EXT-X-TARGETDURATION:1"]
    for number in range(first, upto + 1):
        lines += ["#EXTINF:1.000,", f"{number}.ts"]
    (live / "index.m3u8").write_text("\n".join(lines) + "\n")


def _probe(path: Path) -> dict[str, object]:
    shown = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration,format_name:stream=codec_type,width",
         "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    probe: dict[str, object] = json.loads(shown.stdout)
    return probe


def test_clips_are_cut_every_interval_from_the_sliding_playlist(encoded: Path, tmp_path: Path) -> None:
    live, out = tmp_path / "live", tmp_path / "previews"
    live.mkdir()
    # A segment listed before the stream starts is an earlier run's: never in a clip.
    shutil.copyfile(encoded / "0.ts", live / "earlier.ts")
    (live / "index.m3u8").write_text("#EXTM3U\n#EXTINF:1.000,\nearlier.ts\n")
    cutter = ClipCutter(
        live / "index.m3u8", out, PreviewPlan(duration=2, interval=4, image_preview=False), "clip-7"
    )
    clips: list[Clip] = []
    for upto in range(SEGMENTS):
        _slide(encoded, live, upto)
        clips += cutter.poll()
    clips += cutter.close()
    # Windows [0, 2), [4, 6), [8, 10) of an eleven-second stream; the joins ran while it went on.
    assert [(c.path.name, c.offset, c.duration) for c in clips] == [
        ("clip-7-1.mp4", 0.0, 2.0),
        ("clip-7-2.mp4", 4.0, 2.0),
        ("clip-7-3.mp4", 8.0, 2.0),
    ]
    for clip in clips:
        probe = _probe(clip.path)
        assert clip.size == clip.path.stat().st_size > 0
        assert "mp4" in str(probe["format"])
        assert 1.8 <= float(probe["format"]["duration"]) <= 2.3, probe  # type: ignore[index]
        assert sorted(s["codec_type"] for s in probe["streams"]) == ["audio", "video"]  # type: ignore[attr-defined]
    assert sorted(p.name for p in out.iterdir()) == ["clip-7-1.mp4", "clip-7-2.mp4", "clip-7-3.mp4"]


def test_a_stream_that_stops_mid_window_leaves_a_shorter_clip(encoded: Path, tmp_path: Path) -> None:
    live, out = tmp_path / "live", tmp_path / "previews"
    live.mkdir()
    cutter = ClipCutter(
        live / "index.m3u8", out, PreviewPlan(duration=5, interval=10, image_preview=False), "c"
    )
    for upto in range(3):
        _slide(encoded, live, upto)
        assert cutter.poll() == []
    (clip,) = cutter.close()
    assert (clip.offset, clip.duration) == (0.0, 3.0)
    assert 2.8 <= float(_probe(clip.path)["format"]["duration"]) <= 3.3  # type: ignore[index]


def test_an_image_is_the_newest_segments_first_frame(encoded: Path, tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    with pytest.raises(FileNotFoundError):
        grab_image(live / "index.m3u8", tmp_path / "none.jpg")
    _slide(encoded, live, 5)
    size = grab_image(live / "index.m3u8", tmp_path / "now.jpg")
    image = tmp_path / "now.jpg"
    assert size == image.stat().st_size and image.read_bytes()[:2] == b"\xff\xd8"
    assert _probe(image)["streams"] == [{"codec_type": "video", "width": 320}]


def test_a_plan_comes_from_the_hosts_setting() -> None:
    assert plan_of({"duration": 60, "interval": 300, "image_preview": True}) == PreviewPlan(60, 300, True)
    assert plan_of(None) is None
    assert plan_of({"duration": 60}) is None
    assert plan_of({"duration": 90, "interval": 60}) is None  # refused by host/update; never cut


# --- through the database ------------------------------------------------------------------------


def _streaming(scene: Scene, scheduling: SchedulingService, session: Session, organiser: int) -> Conference:
    given = ConferenceOptions(duration=60, time_zone=ZoneInfo("UTC"))
    conference = scheduling.create_reservationless(scene.ca, organiser, given)
    mark_started(session, conference, utcnow(), actor_label="test")
    live_media_id = a_live_media(session, conference)
    StreamService(session, scene.settings).start(conference, started_by="auto", live_media_id=live_media_id)
    return conference


def _running(session: Session, conference: Conference) -> Stream:
    return session.query(Stream).filter_by(conference_id=conference.id, ended_at=None).one()


def _host(scene: Scene, *, images: bool) -> int:
    """A streaming host with previews (hosts first: SQLite has one writer, and the test's session
    writes from the first conference on)."""
    preview = PreviewSetting(duration=2, interval=4, image_preview=images)
    return scene.organiser(native_streaming=True, stream_preview=preview)


def test_previews_are_listed_with_signed_links_and_deleted_after_a_day(
    scene: Scene, scheduling: SchedulingService, session: Session, encoded: Path
) -> None:
    conference = _streaming(scene, scheduling, session, _host(scene, images=True))
    stream = _running(session, conference)
    folder = previews_dir(scene.settings, conference.id)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(encoded / "1.ts", folder / f"clip-{stream.id}-1.mp4")
    previews = PreviewService(session, scene.settings)
    made = previews.clip_made(stream.id, Clip(folder / f"clip-{stream.id}-1.mp4", 0.0, 2.0, 10))
    assert made is not None and made.expires_at - made.created_at == timedelta(hours=24)

    (listed,) = previews.of_conference(conference.id)
    assert (listed.preview.kind, listed.preview.duration_seconds) == ("clip", 2.0)
    link = listed.download_link
    preview_id, file_name = int(link.split("/previews/")[1].split("/")[0]), f"clip-{stream.id}-1.mp4"
    token = link.split("token=")[1]
    path, media_type = previews.file_for_link(preview_id, file_name, token)
    assert (path, media_type) == (folder / file_name, "video/mp4")
    with pytest.raises(LinkInvalid):
        previews.file_for_link(preview_id, file_name, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    with pytest.raises(NotFound):
        previews.file_for_link(preview_id, "other.mp4", token)

    # A day later the sweep deletes the row and the file; before that it keeps them.
    assert previews.sweep(utcnow() + timedelta(hours=23)) == 0
    assert previews.sweep(utcnow() + timedelta(hours=24, seconds=1)) == 1
    assert not (folder / file_name).exists()
    assert session.get(StreamPreview, preview_id) is None
    assert previews.of_conference(conference.id) == []


def test_images_need_image_preview_and_a_live_video_stream(
    scene: Scene, scheduling: SchedulingService, session: Session, encoded: Path
) -> None:
    without, with_images = _host(scene, images=False), _host(scene, images=True)
    no_images = _streaming(scene, scheduling, session, without)
    previews = PreviewService(session, scene.settings)
    with pytest.raises(Forbidden, match="image_preview"):
        previews.take_image(no_images)

    conference = _streaming(scene, scheduling, session, with_images)
    with pytest.raises(Conflict, match="neither streaming nor recording"):
        previews.take_image(conference)  # starting: the compositor does not publish yet
    stream = _running(session, conference)
    stream.state = StreamState.LIVE.value
    with pytest.raises(Conflict, match="no picture yet"):
        previews.take_image(conference)  # live, but its RTMP server wrote nothing yet
    code = session.get(Media, stream.media_id).code  # type: ignore[union-attr]
    hls = paths.hls_dir(scene.settings, code)
    hls.mkdir(parents=True, exist_ok=True)
    _slide(encoded, hls, 3)
    image = previews.take_image(conference)
    assert image.preview.kind == "image" and image.preview.size > 0
    assert (previews_dir(scene.settings, conference.id) / image.preview.file_name).read_bytes()[
        :2
    ] == b"\xff\xd8"
    stream.kind = "audio"
    with pytest.raises(Conflict, match="audio-only"):
        previews.take_image(conference)


def _recording(scene: Scene, scheduling: SchedulingService, session: Session, organiser: int) -> Conference:
    given = ConferenceOptions(duration=60, time_zone=ZoneInfo("UTC"))
    conference = scheduling.create_reservationless(scene.ca, organiser, given)
    mark_started(session, conference, utcnow(), actor_label="test")
    RecordingService(session, scene.settings).begin(conference, started_by="auto", media_server=None)
    return conference


def test_a_recording_without_a_stream_gets_a_private_run_that_gives_way_to_the_stream(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    """``converge`` (every keeper's look): a private run while the conference records without
    streaming and its host asks for previews; the stream replaces it and it comes back when the
    stream stops; it ends with the recording; one that cannot compose is not retried for ever."""
    with_previews = _host(scene, images=True)
    without = scene.organiser(native_streaming=True)
    conference = _recording(scene, scheduling, session, with_previews)
    plain = _recording(scene, scheduling, session, without)
    previews, streams = PreviewService(session, scene.settings), StreamService(session, scene.settings)

    started, ended = previews.converge()
    (run,) = [session.get(Stream, stream_id) for stream_id in started]
    assert run is not None and ended == []
    assert (run.conference_id, run.public, run.media_id, run.kind) == (conference.id, False, None, "video")
    assert previews.playlist_of(run) == scene.settings.data_dir / "preview-runs" / str(run.id) / "index.m3u8"
    assert previews.converge() == ([], [])  # one run per conference; none for a host without previews
    # The database holds that rule too: a second keeper's run for the same conference is refused.
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            Stream(
                conference_id=conference.id,
                company_id=conference.company_id,
                public=False,
                kind="video",
                started_at=utcnow(),
            )
        )
        session.flush()
    # It is not a stream: not streaming, no streaming page, no live.
    assert streams.running(conference.id) is None and conference.is_streaming is False
    assert streams.page(conference.id).streaming is False and streams.live_media_id(conference.id) is None
    streams.publishing(run.id)
    assert run.state == StreamState.LIVE.value

    # The stream starts: the private run ends in the same step (the stream's compositor cuts now).
    stream = streams.start(conference, started_by="api", live_media_id=a_live_media(session, conference))
    assert run.ended_at is not None and stream.public and previews.converge() == ([], [])
    streams.stop(conference, actor="api")
    (again,) = previews.converge()[0]  # still recording: a private run again
    # The recording stops: the private run ends with it.
    RecordingService(session, scene.settings).finish(conference)
    assert previews.converge() == ([], [again])
    assert streams.streams.running_any(conference.id) is None

    # A run that cannot compose ends failed after its attempts, and is not started again while that
    # recording lasts.
    RecordingService(session, scene.settings).finish(plain)
    other = _recording(scene, scheduling, session, with_previews)
    (failing,) = previews.converge()[0]
    stream_row = session.get(Stream, failing)
    assert stream_row is not None
    stream_row.attempts = 3
    streams.attempt_failed(failing, "no room", attempts=3)
    assert stream_row.state == StreamState.FAILED.value and stream_row.failure_reason == "no room"
    assert other.is_streaming is False and previews.converge() == ([], [])
