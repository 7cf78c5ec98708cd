"""ffprobe / ffmpeg: read a file, make HLS renditions no larger than the source, a poster and screenshots.

Pure file work with no database: the media worker calls it and records what it returns.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The ladder: (height, video kbit/s). Renditions taller than the source are skipped.
LADDER: tuple[tuple[int, int], ...] = ((240, 400), (360, 800), (480, 1200), (720, 2500), (1080, 4500))
AUDIO_KBPS = 96
AUDIO_ONLY_KBPS = 128
SEGMENT_SECONDS = 4
IMAGE_MAX_WIDTH = 1280
SCREENSHOT_POINTS = (0.25, 0.5, 0.75)


class TranscodeError(Exception):
    """The file cannot be turned into media; the message is the reason shown to the owner."""


@dataclass(frozen=True)
class Probe:
    duration: float
    width: int
    height: int
    has_video: bool
    has_audio: bool
    format_name: str


@dataclass(frozen=True)
class Rung:
    title: str
    height: int
    video_kbps: int


@dataclass(frozen=True)
class Rendition:
    title: str
    width: int
    height: int
    bandwidth: int
    codecs: str
    mp4: Path
    playlist: Path


@dataclass(frozen=True)
class Image:
    kind: str  # poster | screenshot
    path: Path
    at_seconds: float
    width: int
    height: int


def available(ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe") -> bool:
    return shutil.which(ffmpeg) is not None and shutil.which(ffprobe) is not None


def probe(path: Path, ffprobe: str = "ffprobe") -> Probe:
    """Duration, display size and streams of ``path``; TranscodeError when it is not audio or video."""
    try:
        result = subprocess.run(
            [
                ffprobe,
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired as exc:
        raise TranscodeError("Reading the file took too long") from exc
    if result.returncode != 0:
        # ffprobe names the file: keep our storage path out of the reason shown to owners.
        reason = _last_line(result.stderr).replace(f"{path}: ", "").replace(str(path), "file")
        raise TranscodeError("The file is not a video or audio file: " + reason)
    info = json.loads(result.stdout or "{}")
    streams = info.get("streams") or []
    # Cover art in an MP3 shows up as a one-frame "video" stream: it is not a video.
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    duration = _float((info.get("format") or {}).get("duration")) or max(
        (_float(s.get("duration")) for s in streams), default=0.0
    )
    if video is None and not has_audio:
        raise TranscodeError("The file has no video or audio stream")
    if not duration or duration <= 0:
        raise TranscodeError("The file has no playable duration")
    width = int(video.get("width") or 0) if video else 0
    height = int(video.get("height") or 0) if video else 0
    if video is not None and _rotation(video) in (90, 270):
        width, height = height, width
    if video is not None and (width <= 0 or height <= 0):
        raise TranscodeError("The video has no picture size")
    return Probe(
        duration=round(duration, 3),
        width=width,
        height=height,
        has_video=video is not None,
        has_audio=has_audio,
        format_name=str((info.get("format") or {}).get("format_name", "")),
    )


def ladder(source: Probe) -> list[Rung]:
    """The renditions to make: every rung no taller than the source, or one at the source's size."""
    if not source.has_video:
        return [Rung("audio", 0, 0)]
    rungs = [Rung(f"{h}p", h, kbps) for h, kbps in LADDER if h <= source.height]
    if not rungs:
        small = max(2, source.height - source.height % 2)
        rungs = [Rung(f"{small}p", small, LADDER[0][1])]
    return rungs


def transcode(
    source_path: Path,
    source: Probe,
    out_dir: Path,
    *,
    ffmpeg: str = "ffmpeg",
    ffprobe: str = "ffprobe",
    on_progress: Callable[[int], None] | None = None,
    timeout: float | None = None,
) -> list[Rendition]:
    """Encode every rung to a fast-start MP4 in one ffmpeg pass, then cut each into HLS segments."""
    rungs = ladder(source)
    mp4_dir = out_dir / "mp4"
    hls_dir = out_dir / "hls"
    for directory in (mp4_dir, hls_dir):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    command = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-i", str(source_path)]
    if source.has_video:
        splits = "".join(f"[v{i}]" for i in range(len(rungs)))
        scales = ";".join(
            f"[v{i}]scale=-2:{rung.height},setsar=1,format=yuv420p[o{i}]" for i, rung in enumerate(rungs)
        )
        command += ["-filter_complex", f"[0:v:0]split={len(rungs)}{splits};{scales}"]
    for i, rung in enumerate(rungs):
        target = mp4_dir / f"{rung.title}.mp4"
        if source.has_video:
            command += ["-map", f"[o{i}]"]
            if source.has_audio:
                command += ["-map", "0:a:0"]
            command += [
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-profile:v",
                "main",
                "-b:v",
                f"{rung.video_kbps}k",
                "-maxrate",
                f"{int(rung.video_kbps * 1.2)}k",
                "-bufsize",
                f"{rung.video_kbps * 2}k",
                # A key frame every segment, so HLS can cut the MP4 without re-encoding.
                "-force_key_frames",
                f"expr:gte(t,n_forced*{SEGMENT_SECONDS})",
                "-sc_threshold",
                "0",
            ]
            if source.has_audio:
                command += ["-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ac", "2"]
        else:
            command += ["-map", "0:a:0", "-vn", "-c:a", "aac", "-b:a", f"{AUDIO_ONLY_KBPS}k", "-ac", "2"]
        command += ["-movflags", "+faststart", str(target)]
    command += ["-progress", "pipe:1", "-nostats", "-loglevel", "error"]
    _run_with_progress(command, source.duration, on_progress, timeout)

    renditions = []
    for rung in rungs:
        mp4 = mp4_dir / f"{rung.title}.mp4"
        rendition_dir = hls_dir / rung.title
        rendition_dir.mkdir()
        playlist = rendition_dir / "index.m3u8"
        _run(
            [
                *_quiet(ffmpeg),
                "-i",
                str(mp4),
                "-c",
                "copy",
                "-f",
                "hls",
                "-hls_time",
                str(SEGMENT_SECONDS),
                "-hls_playlist_type",
                "vod",
                "-hls_segment_filename",
                str(rendition_dir / "seg_%05d.ts"),
                str(playlist),
            ],
            timeout,
        )
        made = probe(mp4, ffprobe)
        size_bits = mp4.stat().st_size * 8
        renditions.append(
            Rendition(
                title=rung.title,
                width=made.width,
                height=made.height,
                bandwidth=max(1, math.ceil(size_bits / max(made.duration, 0.001) * 1.1)),
                codecs=_codecs(source),
                mp4=mp4,
                playlist=playlist,
            )
        )
    return renditions


def images(
    source_path: Path, source: Probe, out_dir: Path, *, ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe"
) -> list[Image]:
    """A poster (at a tenth of the duration) and screenshots at a quarter, half and three quarters."""
    if not source.has_video:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    width = min(source.width - source.width % 2, IMAGE_MAX_WIDTH)
    points = [("poster", min(source.duration * 0.1, 10.0))] + [
        ("screenshot", source.duration * p) for p in SCREENSHOT_POINTS
    ]
    made = []
    for index, (kind, at) in enumerate(points):
        target = out_dir / f"{kind}-{index}.jpg"
        _run(
            [
                *_quiet(ffmpeg),
                "-ss",
                f"{at:.3f}",
                "-i",
                str(source_path),
                "-frames:v",
                "1",
                "-vf",
                f"scale={width}:-2",
                "-q:v",
                "3",
                str(target),
            ],
            120,
        )
        if not target.exists() or target.stat().st_size == 0:
            continue  # a seek past the last decodable frame: skip this picture
        picture = probe_image(target, ffprobe)
        made.append(Image(kind, target, round(at, 3), picture[0], picture[1]))
    return made


def probe_image(path: Path, ffprobe: str = "ffprobe") -> tuple[int, int]:
    result = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    streams = json.loads(result.stdout or "{}").get("streams") or [{}]
    return int(streams[0].get("width") or 0), int(streams[0].get("height") or 0)


def _quiet(ffmpeg: str) -> list[str]:
    """An ffmpeg that overwrites its output, reads no keyboard and reports only errors."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]


def _codecs(source: Probe) -> str:
    if not source.has_video:
        return "mp4a.40.2"
    # H.264 Main profile, level 4.0; AAC-LC when there is sound.
    return "avc1.4d4028,mp4a.40.2" if source.has_audio else "avc1.4d4028"


def _run(command: list[str], timeout: float | None) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise TranscodeError("Transcoding took too long") from exc
    if result.returncode != 0:
        raise TranscodeError("Transcoding failed: " + _last_line(result.stderr))


def _run_with_progress(
    command: list[str], duration: float, on_progress: Callable[[int], None] | None, timeout: float | None
) -> None:
    """Run ffmpeg, reading ``-progress`` lines to report the percent done."""
    import time

    deadline = time.monotonic() + timeout if timeout else None
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AV_LOG_FORCE_NOCOLOR": "1"},
    )
    assert process.stdout is not None
    last = -1
    try:
        for line in process.stdout:
            if deadline is not None and time.monotonic() > deadline:
                process.kill()
                raise TranscodeError("Transcoding took too long")
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.isdigit() and duration > 0 and on_progress is not None:
                percent = min(99, int(int(value) / 1_000_000 / duration * 100))
                if percent != last:
                    last = percent
                    on_progress(percent)
        stderr = process.stderr.read() if process.stderr else ""
        code = process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if code != 0:
        raise TranscodeError("Transcoding failed: " + _last_line(stderr))


def _rotation(stream: dict[str, object]) -> int:
    tags = stream.get("tags")
    if isinstance(tags, dict) and str(tags.get("rotate", "")).lstrip("-").isdigit():
        return abs(int(str(tags["rotate"]))) % 360
    for side in stream.get("side_data_list") or []:  # type: ignore[attr-defined]
        if isinstance(side, dict) and "rotation" in side:
            return abs(int(side["rotation"])) % 360
    return 0


def _float(value: object) -> float:
    try:
        result = float(str(value))
    except (TypeError, ValueError):
        return 0.0
    return result if math.isfinite(result) else 0.0


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "unknown error")[:500]
