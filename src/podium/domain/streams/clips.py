"""Preview clips and images cut from a running stream's HLS output (a host's ``stream_preview``).

The stream's RTMP server writes one-second MPEG-TS segments and a sliding playlist (streaming/rtmp.py).
A cutter follows that playlist: each segment that starts inside a clip window (``duration`` seconds
every ``interval`` seconds, counted from the stream's first segment) is hard-linked into a work folder
before the playlist slides past it, and once a segment beyond the window arrives the window's segments
are joined into an MP4 by ffmpeg without re-encoding (a stream copy: milliseconds of CPU). An image is
the first frame of the newest segment (segments start on a key frame, so it decodes alone).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FFMPEG = "ffmpeg"
JOIN_TIMEOUT = 60.0  # seconds a join may take before it is given up
IMAGE_TIMEOUT = 15.0
# The playlist lists about ten seconds: remembering a few hundred names is enough to know what is new.
SEEN_NAMES = 512


@dataclass(frozen=True)
class PreviewPlan:
    """A host's ``stream_preview``: a clip of ``duration`` seconds every ``interval`` seconds, and
    whether images may be asked for."""

    duration: int
    interval: int
    image_preview: bool


def plan_of(value: Any) -> PreviewPlan | None:
    """The plan a stored ``stream_preview`` setting describes (None when unset or malformed)."""
    if not isinstance(value, dict):
        return None
    try:
        duration, interval = int(value["duration"]), int(value["interval"])
    except (KeyError, TypeError, ValueError):
        return None
    if duration < 1 or interval < duration:
        return None
    return PreviewPlan(duration, interval, bool(value.get("image_preview", False)))


@dataclass(frozen=True)
class Segment:
    name: str
    duration: float


def read_playlist(path: Path) -> list[Segment]:
    """The segments an HLS media playlist lists, oldest first (empty while it does not exist)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    segments, duration = [], None
    for line in lines:
        line = line.strip()
        if line.startswith("#EXTINF:"):
            try:
                duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
            except ValueError:
                duration = None
        elif line and not line.startswith("#") and duration is not None:
            if "/" not in line and ".." not in line:  # a name beside the playlist, nothing else
                segments.append(Segment(line, duration))
            duration = None
    return segments


@dataclass(frozen=True)
class Clip:
    """A finished clip: its file, where it starts in the stream and how long it lasts (seconds)."""

    path: Path
    offset: float
    duration: float
    size: int


@dataclass
class _Join:
    process: subprocess.Popen[bytes]
    work: Path
    clip: Clip


class ClipCutter:
    """Follows one stream's playlist and cuts its clips into ``out_dir`` (named ``<prefix>-<n>.mp4``)."""

    def __init__(self, playlist: Path, out_dir: Path, plan: PreviewPlan, prefix: str) -> None:
        self.playlist, self.out_dir, self.plan, self.prefix = playlist, out_dir, plan, prefix
        # Segments listed before the stream starts belong to an earlier run of the same live.
        self.seen: dict[str, None] = dict.fromkeys(s.name for s in read_playlist(playlist))
        self.elapsed = 0.0  # seconds of this stream seen so far
        self.count = 0
        self.work: Path | None = None  # the open window's folder of linked segments
        self.window_start = 0.0
        self.window_offset = 0.0  # where its first segment starts
        self.window_duration = 0.0
        self.joins: list[_Join] = []

    def poll(self) -> list[Clip]:
        """Take the playlist's new segments; the clips whose joins finished since the last poll."""
        for segment in read_playlist(self.playlist):
            if segment.name in self.seen:
                continue
            self._remember(segment.name)
            start = self.elapsed
            self.elapsed += segment.duration
            if self.work is not None and start >= self.window_start + self.plan.duration:
                self._join()
            window = math.floor(start / self.plan.interval) * self.plan.interval
            if start < window + self.plan.duration:
                self._take(segment, start, window)
        return self._finished(wait=False)

    def close(self) -> list[Clip]:
        """The stream stopped: the open window becomes a (shorter) clip; waits for every join."""
        if self.work is not None:
            self._join()
        return self._finished(wait=True)

    # --- steps ----------------------------------------------------------------------------------

    def _remember(self, name: str) -> None:
        self.seen[name] = None
        if len(self.seen) > SEEN_NAMES:
            del self.seen[next(iter(self.seen))]

    def _take(self, segment: Segment, start: float, window: float) -> None:
        if self.work is None:
            self.work = self.out_dir / f".{self.prefix}-{self.count + 1}.parts"
            shutil.rmtree(self.work, ignore_errors=True)
            self.work.mkdir(parents=True)
            self.window_start, self.window_offset, self.window_duration = window, start, 0.0
        source = self.playlist.parent / segment.name
        target = self.work / f"{len(list(self.work.iterdir())):06d}.ts"
        try:
            os.link(source, target)  # the RTMP server deletes its segments as the playlist slides
        except FileNotFoundError:
            return  # already gone: the clip is a second shorter
        except OSError:
            try:
                shutil.copyfile(source, target)
            except OSError:
                return
        self.window_duration += segment.duration

    def _join(self) -> None:
        work, self.work = self.work, None
        assert work is not None
        parts = sorted(work.iterdir())
        if not parts:
            shutil.rmtree(work, ignore_errors=True)
            return
        self.count += 1
        out = self.out_dir / f"{self.prefix}-{self.count}.mp4"
        command = [
            FFMPEG, "-nostdin", "-loglevel", "error", "-y",
            "-i", "concat:" + "|".join(str(part) for part in parts),
            "-c", "copy", "-bsf:a", "aac_adtstoasc", "-movflags", "+faststart", str(out),
        ]  # fmt: skip
        try:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as exc:
            log.warning("preview clip %s: ffmpeg did not start: %s", out.name, exc)
            shutil.rmtree(work, ignore_errors=True)
            return
        self.joins.append(_Join(process, work, Clip(out, self.window_offset, self.window_duration, 0)))

    def _finished(self, *, wait: bool) -> list[Clip]:
        done: list[Clip] = []
        for join in list(self.joins):
            if wait:
                try:
                    join.process.wait(timeout=JOIN_TIMEOUT)
                except subprocess.TimeoutExpired:
                    join.process.kill()
                    join.process.wait()
            elif join.process.poll() is None:
                continue
            self.joins.remove(join)
            shutil.rmtree(join.work, ignore_errors=True)
            errors = join.process.stderr.read().decode(errors="replace") if join.process.stderr else ""
            if join.process.returncode == 0 and join.clip.path.is_file():
                clip = join.clip
                done.append(Clip(clip.path, clip.offset, clip.duration, clip.path.stat().st_size))
            else:
                log.warning("preview clip %s was not made: %s", join.clip.path.name, errors.strip()[:300])
                join.clip.path.unlink(missing_ok=True)
        return done


def grab_image(playlist: Path, out: Path) -> int:
    """The newest segment's first frame as a JPEG at ``out``; its size in bytes.

    Raises:
        FileNotFoundError: the stream has no segment yet.
        RuntimeError: ffmpeg could not read a picture from it.
    """
    segments = read_playlist(playlist)
    for segment in reversed(segments[-3:]):  # the newest may be deleted as the playlist slides
        source = playlist.parent / segment.name
        if not source.is_file():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        command = [
            FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-i", str(source),
            "-frames:v", "1", "-q:v", "3", "-f", "image2", str(out),
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=IMAGE_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"ffmpeg could not take an image: {exc}") from exc
        if done.returncode == 0 and out.is_file() and out.stat().st_size > 0:
            return out.stat().st_size
        out.unlink(missing_ok=True)
        raise RuntimeError(done.stderr.decode(errors="replace").strip()[:300] or "no picture in the stream")
    raise FileNotFoundError("the stream has no segment yet")
