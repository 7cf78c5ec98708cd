"""``broadcast_stream_url`` in the domain (domain/streams/broadcasts.py, conferences/options.py): the URL
waits for the start and stays from then on; one process claims a due broadcast; the states move
NEW → STARTED → STOPPED, or FAILED with the reason (a host without ``native_streaming``, a process
that died while playing, a stream that failed); the file is fetched like ``media/create`` (address
checks, size limit) and must be an MP4. The playout itself runs for real in
tests/e2e/test_broadcast_url.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from podium.domain.conferences.lifecycle import stop_live
from podium.domain.conferences.scheduling import SchedulingService
from podium.domain.conferences.schemas import ConferenceOptions
from podium.domain.streams.broadcasts import (
    PREPARE_AHEAD,
    BroadcastRefused,
    BroadcastService,
    fetch_source,
    fit,
)
from podium.domain.streams.service import StreamService
from podium.kit.clock import clock, utcnow
from podium.kit.errors import Conflict
from podium.models.audit import AuditEntry
from podium.models.conference import Conference
from tests.domain.conferences.conftest import UTC, Scene, a_live_media, options, soon
from tests.fixtures.file_host import FileHost, file_host

URL = "https://cdn.example/premiere.mp4"
LEASE = timedelta(seconds=15)


def _actions(session: Session, conference: Conference) -> list[str]:
    entries = session.query(AuditEntry).filter_by(ref=f"conference:{conference.id}").order_by(AuditEntry.id)
    return [e.action for e in entries if e.action.startswith("conference.broadcast")]


# --- the URL ------------------------------------------------------------------------------------


def test_the_url_waits_for_the_start_and_stays_from_then_on(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    start = soon(hours=1)
    conference = scheduling.create(scene.ca, host, options(start, broadcast_stream_url=URL))
    assert (conference.broadcast_stream_url, conference.broadcast_state) == (URL, "NEW")

    # Before the start: a failed broadcast tries again with the same URL, or with another one.
    conference.broadcast_state, conference.broadcast_reason = "FAILED", "the server answered 404"
    conference.broadcast_owner = "a process"
    scheduling.update(scene.ca, conference.id, ConferenceOptions(broadcast_stream_url=URL))
    assert (conference.broadcast_state, conference.broadcast_reason, conference.broadcast_owner) == (
        "NEW",
        "",
        None,
    )
    other = "https://cdn.example/other.mp4"
    conference.broadcast_owner = "a process"  # claimed: it is fetching the first URL
    scheduling.update(scene.ca, conference.id, ConferenceOptions(broadcast_stream_url=other))
    assert (conference.broadcast_stream_url, conference.broadcast_state) == (other, "NEW")
    assert conference.broadcast_owner is None  # that process's claim is gone with the old URL

    # From the start on, it stays: a change or a removal is refused; the same URL again is no change.
    clock.freeze(start + timedelta(seconds=1))
    conference.broadcast_state = "FAILED"
    scheduling.update(scene.ca, conference.id, ConferenceOptions(broadcast_stream_url=other, subject="S"))
    assert conference.broadcast_state == "FAILED"
    for changed in (URL, None):
        with pytest.raises(Conflict, match="cannot be changed after the conference's start"):
            scheduling.update(scene.ca, conference.id, ConferenceOptions(broadcast_stream_url=changed))
    assert (conference.broadcast_stream_url, conference.broadcast_state) == (other, "FAILED")


def test_a_reservationless_conference_plays_it_now(scene: Scene, scheduling: SchedulingService) -> None:
    host = scene.organiser()
    live = scheduling.create_reservationless(
        scene.ca, host, ConferenceOptions(time_zone=UTC, broadcast_stream_url=URL)
    )
    assert (live.broadcast_state, live.starts_at) == ("NEW", live.started_at)
    clock.freeze(utcnow() + timedelta(seconds=1))
    with pytest.raises(Conflict):
        scheduling.update(scene.ca, live.id, ConferenceOptions(broadcast_stream_url=URL + "?v=2"))


def test_each_instance_of_a_series_plays_it_at_its_own_start(
    scene: Scene, scheduling: SchedulingService
) -> None:
    host = scene.organiser()
    master = scheduling.create(
        scene.ca, host, options(soon(hours=1), schedule="FREQ=DAILY;COUNT=3", broadcast_stream_url=URL)
    )
    instances = [c for c in scheduling.series.members(master) if c.id != master.id]
    assert len(instances) == 2 and {c.broadcast_state for c in instances} == {"NEW"}
    # The master's own broadcast played; its instances still wait for theirs, and follow a new URL.
    master.broadcast_state = "STOPPED"
    scheduling.update(scene.ca, master.id, ConferenceOptions(subject="Renamed"))
    assert {(c.title, c.broadcast_state) for c in instances} == {("Renamed", "NEW")}
    for instance in instances:
        instance.broadcast_state = "FAILED"
    master.broadcast_state = "NEW"
    scheduling.update(scene.ca, master.id, ConferenceOptions(broadcast_stream_url=URL + "?v=2"))
    assert {(c.broadcast_stream_url, c.broadcast_state) for c in instances} == {(URL + "?v=2", "NEW")}


# --- claiming and the states ----------------------------------------------------------------------


def test_one_process_claims_a_due_broadcast(scene: Scene) -> None:
    """Two processes, each in its own transaction: the first claim wins, the second finds it held
    until the lease lapses; a process that lost its claim changes nothing."""
    host = scene.organiser(native_streaming=True)
    sessions, settings = scene.world.sessions, scene.settings
    with sessions() as session:
        scheduling = SchedulingService(session, settings)
        starts = soon(seconds=30)
        conference_id = scheduling.create(scene.ca, host, options(starts, broadcast_stream_url=URL)).id
        far = scheduling.create(scene.ca, host, options(soon(hours=2), broadcast_stream_url=URL)).id
        session.commit()
    now = utcnow()
    with sessions() as a, sessions() as b:
        first, second = BroadcastService(a, settings), BroadcastService(b, settings)
        due = first.due(now)
        assert conference_id in due and far not in due  # not before PREPARE_AHEAD
        assert far in first.due(now + timedelta(hours=2) - PREPARE_AHEAD)
        claimed = first.claim(conference_id, "a", now, now + LEASE)
        assert claimed is not None and (claimed.url, claimed.starts_at) == (URL, starts)
        a.commit()
        assert conference_id not in second.due(now)
        assert second.claim(conference_id, "b", now, now + LEASE) is None
        b.commit()
        assert set(first.renew("a", [conference_id], now + LEASE)) == {conference_id}
        assert first.renew("b", [conference_id], now + LEASE) == {}
        a.commit()
        # "a" stalls past its lease: "b" takes over, and "a" can no longer move it on.
        later = now + LEASE + timedelta(seconds=1)
        assert second.claim(conference_id, "b", later, later + LEASE) is not None
        b.commit()
        assert not first.playing(conference_id, "a")
        first.failed(conference_id, "a", "too late")
        a.commit()
        second.failed(conference_id, "b", "test over")
        b.commit()
    with sessions() as session:
        row = session.get(Conference, conference_id)
        assert row is not None and (row.broadcast_state, row.broadcast_reason) == ("FAILED", "test over")
        for leftover in (far,):
            session.get(Conference, leftover).broadcast_state = "STOPPED"  # type: ignore[union-attr]
        session.commit()


def test_a_broadcast_starts_the_meeting_and_its_stream_then_stops_them(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    host = scene.organiser(native_streaming=True)
    conference = scheduling.create(scene.ca, host, options(soon(seconds=5), broadcast_stream_url=URL))
    broadcasts, streams = BroadcastService(session, scene.settings), StreamService(session, scene.settings)
    now = utcnow()
    assert broadcasts.claim(conference.id, "k", now, now + LEASE) is not None
    assert conference.started_at is None
    # Just before the start: the meeting goes live (nobody has joined), its stream starts.
    assert broadcasts.warm_up(conference.id, "k", now) is conference
    assert conference.started_at == now
    stream = streams.start(
        conference, started_by="broadcast", live_media_id=a_live_media(session, conference)
    )
    assert broadcasts.playing(conference.id, "k")
    assert conference.broadcast_state == "STARTED" and conference.broadcast_owner == "k"
    assert not broadcasts.playing(conference.id, "k")  # once
    held = broadcasts.renew("k", [conference.id], now + LEASE)[conference.id]
    assert (held.state, held.streaming, held.gone) == ("STARTED", True, False)
    # The file ended: STOPPED; the stream it started stops too (nobody is in the room).
    broadcasts.played(conference.id, "k")
    assert (conference.broadcast_state, conference.broadcast_owner) == ("STOPPED", None)
    assert stream.ended_at is not None and conference.is_streaming is False
    assert _actions(session, conference) == ["conference.broadcast_started", "conference.broadcast_stopped"]
    assert broadcasts.renew("k", [conference.id], now + LEASE) == {}


def test_what_a_broadcast_becomes_when_its_stream_or_meeting_stops(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    host = scene.organiser(native_streaming=True)
    broadcasts, streams = BroadcastService(session, scene.settings), StreamService(session, scene.settings)
    now = utcnow()

    def playing(moderator_stream: bool = False) -> Conference:
        conference = scheduling.create(scene.ca, host, options(soon(seconds=5), broadcast_stream_url=URL))
        broadcasts.claim(conference.id, "k", now, now + LEASE)
        broadcasts.warm_up(conference.id, "k", now)
        live = a_live_media(session, conference)
        streams.start(
            conference, started_by="moderator:m" if moderator_stream else "broadcast", live_media_id=live
        )
        assert broadcasts.playing(conference.id, "k")
        return conference

    # stop_streaming while it plays: the playout fails (its room's stream is gone) → STOPPED, not FAILED.
    stopped = playing()
    streams.stop(stopped, actor="api")
    broadcasts.failed(stopped.id, "k", "the playout exited with status 1")
    assert (stopped.broadcast_state, stopped.broadcast_reason) == ("STOPPED", "")

    # The stream failed for good: FAILED with the stream's reason.
    failed = playing()
    stream = streams.running(failed.id)
    assert stream is not None
    stream.attempts = 3
    streams.attempt_failed(stream.id, "the RTMP server refused", attempts=3)
    broadcasts.let_go(failed.id, "k")
    assert (failed.broadcast_state, failed.broadcast_reason) == (
        "FAILED",
        "The stream failed: the RTMP server refused",
    )

    # The file ended while a moderator's stream runs with people in it: the stream goes on.
    shared = playing(moderator_stream=True)
    broadcasts.played(shared.id, "k")
    assert shared.broadcast_state == "STOPPED" and shared.is_streaming is True

    # Waiting, then the meeting ended: FAILED, said so.
    waiting = scheduling.create(scene.ca, host, options(soon(seconds=5), broadcast_stream_url=URL))
    broadcasts.claim(waiting.id, "k", now, now + LEASE)
    broadcasts.warm_up(waiting.id, "k", now)
    stop_live(session, waiting, utcnow(), actor_label="test", reason="ended")
    assert broadcasts.renew("k", [waiting.id], now + LEASE)[waiting.id].gone
    broadcasts.let_go(waiting.id, "k")
    assert (waiting.broadcast_state, waiting.broadcast_reason) == (
        "FAILED",
        "The meeting ended before the broadcast started",
    )


def test_a_host_without_native_streaming_fails_before_anything_is_fetched(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    conference = scheduling.create(
        scene.ca, scene.organiser(), options(soon(seconds=5), broadcast_stream_url=URL)
    )
    now = utcnow()
    assert BroadcastService(session, scene.settings).claim(conference.id, "k", now, now + LEASE) is None
    assert (conference.broadcast_state, conference.broadcast_reason, conference.broadcast_owner) == (
        "FAILED",
        "Live streaming is not enabled for this host (native_streaming)",
        None,
    )
    assert _actions(session, conference) == ["conference.broadcast_failed"]


def test_a_process_that_stops_or_dies_while_playing(
    scene: Scene, scheduling: SchedulingService, session: Session
) -> None:
    host = scene.organiser(native_streaming=True)
    broadcasts, streams = BroadcastService(session, scene.settings), StreamService(session, scene.settings)
    now = utcnow()
    rows = []
    for _ in range(3):
        conference = scheduling.create(scene.ca, host, options(soon(seconds=5), broadcast_stream_url=URL))
        broadcasts.claim(conference.id, "k", now, now + LEASE)
        rows.append(conference)
    killed, stopping, waiting = rows
    for conference in (killed, stopping):
        broadcasts.warm_up(conference.id, "k", now)
        streams.start(conference, started_by="broadcast", live_media_id=a_live_media(session, conference))
        broadcasts.playing(conference.id, "k")
    # A stopping process: what waits is claimed again elsewhere, what played is not resumed.
    broadcasts.release("k", [stopping.id, waiting.id])
    assert (waiting.broadcast_state, waiting.broadcast_owner) == ("NEW", None)
    assert waiting.id in broadcasts.due(now)
    assert (stopping.broadcast_state, stopping.broadcast_reason) == (
        "FAILED",
        "Interrupted: the server stopped while it played",
    )
    # A killed process: its lease lapses, any process's look marks it.
    broadcasts.sweep(now)
    assert killed.broadcast_state == "STARTED"
    broadcasts.sweep(now + LEASE + timedelta(seconds=1))
    assert (killed.broadcast_state, killed.broadcast_reason) == (
        "FAILED",
        "Interrupted: the server process playing it stopped",
    )
    assert streams.running(killed.id) is not None  # the stream goes on (a keeper takes it over)


# --- fetching ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileHost]:
    folder = tmp_path_factory.mktemp("broadcast-sources")
    clip = folder / "wide.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=25",
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(clip),
        ],  # fmt: skip
        check=True,
    )
    flv = folder / "clip.flv"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-i",
            str(clip),
            "-c",
            "copy",
            str(flv),
        ],
        check=True,
    )
    text = folder / "notes.txt"
    text.write_text("not a video\n" * 100)
    with file_host({"wide.mp4": clip, "clip.flv": flv, "notes.mp4": text}) as host:
        yield host


@pytest.mark.once
def test_the_file_is_fetched_like_a_media_import_and_must_be_an_mp4(
    scene: Scene, files: FileHost, tmp_path: Path
) -> None:
    private = scene.settings.model_copy(update={"media_import_private_networks": True})
    source = fetch_source(private, f"{files.url}/files/wide.mp4", tmp_path / "a" / "source.mp4")
    assert (source.width, source.height, source.has_video, source.has_audio) == (960, 540, True, False)
    assert source.path.read_bytes()[4:8] == b"ftyp"
    for url, reason in (
        (f"{files.url}/files/gone.mp4", "Could not fetch the file: the server answered 404"),
        (f"{files.url}/files/notes.mp4", "Not a playable MP4 file: The file is not a video or audio file"),
        (f"{files.url}/files/clip.flv", "Not an MP4 file (ffprobe reads it as flv)"),
        (f"{files.url}/loop/", "Could not fetch the file: more than 5 redirects"),
    ):
        with pytest.raises(BroadcastRefused) as refused:
            fetch_source(private, url, tmp_path / "b" / "source.mp4")
        assert str(refused.value).startswith(reason), refused.value
    small = private.model_copy(update={"media_max_bytes": 1000})
    with pytest.raises(BroadcastRefused, match="larger than the limit of 1000 bytes"):
        fetch_source(small, f"{files.url}/files/wide.mp4", tmp_path / "c" / "source.mp4")
    # The operator's default: public addresses only, checked after resolution and on every redirect.
    public = scene.settings.model_copy(update={"media_import_private_networks": False})
    port = files.url.rsplit(":", 1)[1]
    with pytest.raises(BroadcastRefused, match="localhost is not an address this server connects to"):
        fetch_source(public, f"http://localhost:{port}/files/wide.mp4", tmp_path / "d" / "source.mp4")


@pytest.mark.once
def test_a_picture_is_published_at_most_the_stream_canvas() -> None:
    assert fit(1920, 1080) == (960, 540)
    assert fit(320, 240) == (320, 240)  # never up
    assert fit(1080, 1920) == (302, 540)  # portrait keeps its shape
    assert fit(641, 481) == (640, 480)  # even
