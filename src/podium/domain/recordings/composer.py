"""From the media server's per-track recordings to one file: janus-pp-rec and ffmpeg.

Janus writes one ``.mjr`` file per track of each publisher while a room records
(``videoroom-<room>-user-<publisher>-<µs>-<audio|video>-<mindex>.mjr``); the header of each says when
its first packet arrived. Here every track is turned into a plain media file, placed on one timeline,
and composed: ``video`` is an MP4 (H.264 + AAC) whose grid follows who is there — each stretch of
time between two arrivals or departures is laid out for the cameras present then — over everyone's
audio mixed; ``audio`` is an MP3 of the mixed audio. Each participant's own audio track is kept (the
transcript is made from them, one speaker per track).

Pure file work with no database: the recording processor calls it and records what it returns.
"""

from __future__ import annotations

import json
import logging
import math
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.domain.media.transcoder import TranscodeError, probe
from podium.domain.recordings.layout import (  # noqa: F401 - the layout's names, read from here too
    AUDIO_KBPS,
    CANVAS,
    FRAME_RATE,
    STAGE,
    VIDEO_KBPS,
    Tile,
    arrange,
    grid,
    strip,
)

log = logging.getLogger(__name__)

MJR_NAME = re.compile(
    r"^videoroom-(?P<room>[^-]+)-user-(?P<publisher>[^-]+)-(?P<at>\d+)-(?P<kind>audio|video)-\d+\.mjr$"
)
# What janus-pp-rec can write for each codec it records.
EXTENSION_BY_CODEC = {"opus": "opus", "vp8": "webm", "vp9": "webm", "av1": "webm", "h264": "mp4"}


@dataclass(frozen=True)
class Track:
    """One converted track on the recording's timeline (seconds from the first packet of any track)."""

    publisher: str
    kind: str  # audio | video
    path: Path
    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Composed:
    path: Path
    duration: float
    has_video: bool
    has_audio: bool
    tracks: list[Track]
    # The wall-clock time (µs since the epoch) of the timeline's zero.
    epoch_us: int


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TranscodeError(f"{Path(command[0]).name} took longer than {timeout:.0f} s") from exc
    except OSError as exc:
        raise TranscodeError(f"{command[0]} is not available: {exc}") from exc


def mjr_header(mjr: Path, timeout: float) -> dict[str, Any] | None:
    """The header Janus wrote at the start of a ``.mjr`` (codec ``c``, first packet ``u`` or ``s``,
    in µs), as ``janus-pp-rec --json`` reads it; None when the file holds no packet."""
    out = _run(["janus-pp-rec", "--json", str(mjr)], timeout)
    try:
        info = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return info if isinstance(info, dict) else None


def convert_tracks(raw: Path, out: Path, *, ffprobe: str, timeout: float) -> tuple[list[Track], int]:
    """Every ``.mjr`` of ``raw`` as a media file in ``out``, with its place on the timeline."""
    out.mkdir(parents=True, exist_ok=True)
    found: list[tuple[str, str, Path, int]] = []
    for mjr in sorted(raw.glob("*.mjr")):
        match = MJR_NAME.match(mjr.name)
        if match is None:
            continue
        if mjr.stat().st_size == 0:
            log.warning("recording track %s left out: the media server wrote nothing", mjr)
            continue
        info = mjr_header(mjr, timeout)
        if info is None:
            log.warning(
                "recording track %s left out: no header (%d bytes, no packet)", mjr, mjr.stat().st_size
            )
            continue
        extension = EXTENSION_BY_CODEC.get(str(info.get("c", "")).lower())
        if extension is None:
            log.warning("recording track %s left out: codec %r", mjr, info.get("c"))
            continue
        first_packet = int(info.get("u") or info.get("s") or match["at"])
        # Named by its first packet, not by when Janus opened the file (the name's time, earlier by
        # the connection's set-up): ``audio_timeline`` reads the same timeline as the composer.
        target = out / f"{match['publisher']}-{first_packet}-{match['kind']}.{extension}"
        converted = _run(["janus-pp-rec", "--disable-colors", str(mjr), str(target)], timeout)
        if converted.returncode != 0 or not target.exists() or target.stat().st_size == 0:
            log.warning(
                "recording track %s left out: janus-pp-rec made nothing (%s)", mjr, converted.returncode
            )
            target.unlink(missing_ok=True)
            continue
        found.append((match["publisher"], match["kind"], target, first_packet))
    if not found:
        return [], 0
    epoch = min(at for *_, at in found)
    tracks = []
    for publisher, kind, path, at in found:
        try:
            duration = probe(path, ffprobe).duration
        except TranscodeError as error:
            log.warning("recording track %s left out: %s", path, error)
            continue
        if duration > 0:
            tracks.append(Track(publisher, kind, path, (at - epoch) / 1_000_000, duration))
        else:
            log.warning("recording track %s left out: no duration", path)
    return tracks, epoch


def converted(tracks: Path) -> list[tuple[str, str, int, Path]]:
    """The tracks ``convert_tracks`` left in ``tracks``, from the names it gave them
    (``<publisher>-<first packet, µs>-<kind>.<ext>``): publisher, kind, first packet, path."""
    found = []
    for path in sorted(tracks.glob("*-*-*.*")):
        publisher, at, kind = path.stem.split("-", 2)
        found.append((publisher, kind, int(at), path))
    return found


def audio_timeline(tracks: Path) -> list[tuple[str, float, Path]]:
    """Each participant's converted audio track with its offset on the recording's timeline
    (offsets from the earliest track of any kind, as the composed file's)."""
    found = converted(tracks)
    if not found:
        return []
    epoch = min(at for _, _, at, _ in found)
    return [(p, (at - epoch) / 1_000_000, path) for p, kind, at, path in found if kind == "audio"]


@dataclass(frozen=True)
class Share:
    """A publisher's screen share, on the timeline (seconds)."""

    publisher: str
    start: float
    end: float


def layout(
    videos: list[Track], total: float, shares: Sequence[Share] = ()
) -> list[tuple[float, float, list[tuple[int, Tile]]]]:
    """The stretches of the timeline with the same cameras present (and the same screen shared),
    each with its tile per camera (by index into ``videos``, in order of arrival). While someone
    shares their screen, it takes the stage and the others sit in a strip below."""
    moments = [t.start for t in videos] + [min(t.end, total) for t in videos]
    moments += [moment for share in shares for moment in (share.start, share.end) if 0 < moment < total]
    cuts = sorted({0.0, total, *moments})
    stretches = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        if end - start < 0.05:
            continue
        middle = (start + end) / 2
        present = [i for i, t in enumerate(videos) if t.start <= middle < t.end]
        if not present:
            continue
        sharing = {s.publisher for s in shares if s.start <= middle < s.end}
        staged = next((i for i in present if videos[i].publisher in sharing), None)
        stretches.append((start, end, arrange(present, staged)))
    return stretches


def read_shares(path: Path, epoch_us: int) -> list[Share]:
    """Screen shares from the room's notes (``stage.jsonl``: ``{"publisher", "on", "at"}``, µs since
    the epoch), on the timeline that starts at ``epoch_us``; a share never stopped lasts to the end."""
    if not path.exists() or not epoch_us:
        return []
    opened: dict[str, float] = {}
    shares = []
    for line in path.read_text().splitlines():
        try:
            note = json.loads(line)
            publisher, on, at = str(note["publisher"]), bool(note["on"]), (int(note["at"]) - epoch_us) / 1e6
        except (ValueError, KeyError, TypeError):
            continue
        if on:
            opened.setdefault(publisher, max(at, 0.0))
        elif publisher in opened:
            shares.append(Share(publisher, opened.pop(publisher), at))
    shares += [Share(publisher, start, math.inf) for publisher, start in opened.items()]
    return shares


def compose(
    tracks: list[Track],
    kind: str,
    target: Path,
    *,
    ffmpeg: str,
    timeout: float,
    shares: list[Share] | None = None,
    until: float | None = None,
    on_progress: Callable[[], None] | None = None,
) -> tuple[float, bool, bool]:
    """Compose ``tracks`` into ``target`` (an MP4 for ``video``, an MP3 for ``audio``), up to
    ``until`` seconds of the timeline when given (the segment's stop).

    Returns the duration and whether the file has video and audio.
    """
    audios = [t for t in tracks if t.kind == "audio"]
    videos = [t for t in tracks if t.kind == "video"] if kind == "video" else []
    if not audios and not videos:
        raise TranscodeError("Nothing was recorded: no participant sent audio or video")
    total = max(t.end for t in (*audios, *videos))
    if until is not None and 0 < until < total:
        total = until
    # A track that starts only after the end is not in the file.
    audios = [t for t in audios if t.start < total]
    videos = [t for t in videos if t.start < total]
    inputs: list[str] = []
    filters: list[str] = []
    for track in (*videos, *audios):
        inputs += ["-i", str(track.path)]
    audio_label = None
    if audios:
        mixed = []
        for offset, track in enumerate(audios, start=len(videos)):
            delay = int(round(track.start * 1000))
            filters.append(f"[{offset}:a]aresample=48000,adelay={delay}:all=1[a{offset}]")
            mixed.append(f"[a{offset}]")
        filters.append(
            f"{''.join(mixed)}amix=inputs={len(mixed)}:duration=longest:normalize=0,"
            f"apad=whole_dur={total:.3f}[mix]"
        )
        audio_label = "[mix]"
    video_label = None
    if kind == "video":
        width, height = CANVAS
        filters.append(f"color=c=black:s={width}x{height}:r={FRAME_RATE}:d={total:.3f}[base]")
        stretches = layout(videos, total, shares or [])
        uses: dict[int, list[tuple[float, float, Tile]]] = {}
        for start, end, tiles in stretches:
            for index, tile in tiles:
                uses.setdefault(index, []).append((start, end, tile))
        current = "[base]"
        step = 0
        for index, placements in uses.items():
            track = videos[index]
            copies = "".join(f"[v{index}c{n}]" for n in range(len(placements)))
            filters.append(
                f"[{index}:v]setpts=PTS+{track.start:.3f}/TB,fps={FRAME_RATE},split={len(placements)}{copies}"
            )
            for n, (start, end, (x, y, w, h)) in enumerate(placements):
                filters.append(
                    f"[v{index}c{n}]scale={w}:{h}:force_original_aspect_ratio=decrease,"
                    f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2[t{index}c{n}]"
                )
                step += 1
                filters.append(
                    f"{current}[t{index}c{n}]overlay=x={x}:y={y}:eof_action=pass:"
                    f"enable='between(t,{start:.3f},{end:.3f})'[o{step}]"
                )
                current = f"[o{step}]"
        video_label = current
    command = [ffmpeg, "-y", "-hide_banner", "-loglevel", "error", *inputs]
    command += ["-filter_complex", ";".join(filters)]
    if video_label is not None:
        command += ["-map", video_label, "-c:v", "libx264", "-preset", "veryfast", "-b:v", f"{VIDEO_KBPS}k"]
        command += ["-pix_fmt", "yuv420p", "-r", str(FRAME_RATE)]
    if audio_label is not None:
        command += ["-map", audio_label]
        if kind == "video":
            command += ["-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k"]
        else:
            command += ["-c:a", "libmp3lame", "-b:a", f"{AUDIO_KBPS}k"]
    command += ["-t", f"{total:.3f}"]
    if kind == "video":
        command += ["-movflags", "+faststart"]
    command.append(str(target))
    if on_progress is not None:
        on_progress()
    result = _run(command, timeout)
    if result.returncode != 0 or not target.exists():
        raise TranscodeError("Composing the recording failed: " + result.stderr.strip()[-500:])
    return total, video_label is not None, audio_label is not None
