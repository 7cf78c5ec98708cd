"""The composer with ffmpeg on real tracks (issue #13): people who come and go, and a screen share
that takes the stage; the frames of the MP4 show each layout. Janus's own files (.mjr) converted by
janus-pp-rec keep their place on one timeline, the transcript's as the video's."""

from __future__ import annotations

import fractions
import json
import shutil
import struct
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from podium.domain.recordings.composer import Share, Track, audio_timeline, compose, convert_tracks
from tests.fixtures.media import duration_of

# Nothing here reads the database: the PostgreSQL pass skips it (tests/conftest.py).
pytestmark = pytest.mark.once

COLOURS = {"a": "red", "b": "lime", "c": "blue"}


def _track(folder: Path, publisher: str, start: float, seconds: float) -> list[Track]:
    video, audio = folder / f"{publisher}.webm", folder / f"{publisher}.opus"
    colour = f"color=c={COLOURS[publisher]}:s=320x240:r=20:d={seconds}"
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
            "-c:v",
            "libvpx",
            "-b:v",
            "200k",
            str(video),
        ],
        check=True,
    )
    tone = f"sine=frequency=440:duration={seconds}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", tone, "-c:a", "libopus", str(audio)], check=True
    )
    return [
        Track(publisher, "video", video, start, seconds),
        Track(publisher, "audio", audio, start, seconds),
    ]


def _pixel(path: Path, at: float, x: int, y: int) -> tuple[int, ...]:
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(at), "-i", str(path), "-frames:v", "1", "-f", "rawvideo"]
        + ["-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    offset = (y * 1280 + x) * 3
    return tuple(raw[offset : offset + 3])


def _is(colour: str, rgb: tuple[int, ...]) -> bool:
    index = {"red": 0, "lime": 1, "blue": 2}[colour]
    return rgb[index] > 150 and all(value < 100 for i, value in enumerate(rgb) if i != index)


def test_grid_follows_who_is_there_and_a_share_takes_the_stage(tmp_path: Path) -> None:
    # a for 12 s; b joins at 3 s; c joins at 6 s and shares its screen from 8 s to 11 s.
    tracks = _track(tmp_path, "a", 0, 12) + _track(tmp_path, "b", 3, 9) + _track(tmp_path, "c", 6, 6)
    target = tmp_path / "recording.mp4"
    duration, has_video, has_audio = compose(
        tracks, "video", target, ffmpeg="ffmpeg", timeout=300, shares=[Share("c", 8, 11)]
    )
    assert has_video and has_audio and abs(duration - 12) < 0.5
    assert _is("red", _pixel(target, 1.5, 640, 360))  # a alone, full frame
    assert _is("red", _pixel(target, 4.5, 320, 360)) and _is("lime", _pixel(target, 4.5, 960, 360))
    # c shares: its screen on the stage (top), a and b in the strip below.
    assert _is("blue", _pixel(target, 9.5, 640, 270))
    assert _is("red", _pixel(target, 9.5, 640 - 160, 630)) or _is("red", _pixel(target, 9.5, 640 + 160, 630))
    # After the share: a grid of three again (c no longer on the stage).
    assert not _is("blue", _pixel(target, 11.5, 640, 270))


def test_the_file_ends_at_the_stop_not_at_the_last_page_to_leave(tmp_path: Path) -> None:
    # The meeting ends at 6 s: a's page leaves at once, b's goes on sending for 4 s more; c's page
    # joined only after the stop.
    tracks = _track(tmp_path, "a", 0, 6) + _track(tmp_path, "b", 1, 9) + _track(tmp_path, "c", 6.5, 3)
    target = tmp_path / "recording.mp4"
    duration, has_video, _ = compose(tracks, "video", target, ffmpeg="ffmpeg", timeout=300, until=6.2)
    assert has_video and abs(duration - 6.2) < 0.01
    assert abs(duration_of(target) - 6.2) < 0.3
    # To the end, both side by side (b alone would fill the frame).
    last = duration_of(target) - 0.3
    assert _is("red", _pixel(target, last, 320, 360)) and _is("lime", _pixel(target, last, 960, 360))
    mp3 = tmp_path / "recording.mp3"
    compose(tracks, "audio", mp3, ffmpeg="ffmpeg", timeout=300, until=6.2)
    assert abs(duration_of(mp3) - 6.2) < 0.3


def _opus_packets(seconds: float) -> list[bytes]:
    """A 440 Hz tone as Opus packets of 20 ms (what a browser sends)."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "mono", "s16"  # type: ignore[attr-defined]
    packets = []
    for index in range(int(seconds * 50)):
        at = np.arange(index * 960, (index + 1) * 960)
        tone = (np.sin(2 * np.pi * 440 * at / 48000) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48000, index * 960, fractions.Fraction(1, 48000)
        packets += [bytes(packet) for packet in encoder.encode(frame)]  # type: ignore[attr-defined]
    return packets


def _mjr(path: Path, created_us: int, first_packet_us: int, seconds: float) -> None:
    """An audio recording as Janus writes it (MJR00002: a JSON header with the file's creation and
    its first packet's times, then each RTP packet after "MEET", its milliseconds and its length)."""
    header = json.dumps({"t": "a", "c": "opus", "s": created_us, "u": first_packet_us}).encode()
    body = bytearray(b"MJR00002" + struct.pack(">H", len(header)) + header)
    for index, payload in enumerate(_opus_packets(seconds)):
        rtp = struct.pack(">BBHII", 0x80, 111, index, index * 960, 0x1234) + payload
        body += b"MEET" + struct.pack(">IH", index * 20, len(rtp)) + rtp
    path.write_bytes(bytes(body))


@pytest.mark.skipif(shutil.which("janus-pp-rec") is None, reason="janus-pp-rec is missing")
def test_tracks_keep_their_first_packets_place_for_the_video_and_the_transcript(tmp_path: Path) -> None:
    # Janus opens both files at once (the time in their names), but one connection takes two
    # seconds more to bring its first packet: on the timeline, that person starts two seconds later.
    raw = tmp_path / "raw"
    raw.mkdir()
    opened = 1_700_000_000_000_000
    _mjr(raw / f"videoroom-9-user-11-{opened}-audio-0.mjr", opened, opened + 500_000, 3)
    _mjr(raw / f"videoroom-9-user-22-{opened}-audio-0.mjr", opened, opened + 2_500_000, 3)
    tracks, epoch = convert_tracks(raw, tmp_path / "tracks", ffprobe="ffprobe", timeout=60)
    assert epoch == opened + 500_000
    starts = {t.publisher: round(t.start, 3) for t in tracks}
    assert starts == {"11": 0.0, "22": 2.0}
    assert all(abs(t.duration - 3) < 0.2 for t in tracks)
    # The transcript's offsets are the composed file's: the same two seconds apart.
    assert {
        publisher: round(offset, 3) for publisher, offset, _ in audio_timeline(tmp_path / "tracks")
    } == starts
